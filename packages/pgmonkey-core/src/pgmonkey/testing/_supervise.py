"""Long-running helper processes (etcd, Patroni, HAProxy) that die with the test process.

Each process runs as the child of a small watchdog (started in a new session, so a terminal's
Ctrl-C reaches the test process first). The watchdog stops its child with SIGTERM when
:meth:`Supervised.stop` is called or when the test process goes away for any reason, including
SIGKILL; it then shuts down any PostgreSQL server left behind in the data directories it was
told about (a Patroni killed with SIGKILL leaves its postmaster running) and, when told to,
deletes a directory once no process works inside it any more.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pgmonkey.errors import TestServerError

__all__ = ["Supervised", "kill_postmaster", "postmaster_pid"]

_WATCHDOG_CODE = """
import json, os, signal, subprocess, sys, threading, time
spec = json.loads(sys.argv[1])
with open(spec["log"], "ab") as log:
    child = subprocess.Popen(spec["argv"], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, cwd=spec["cwd"], user=spec["uid"],
                             group=spec["gid"], env=spec["env"])
print("pid", child.pid, flush=True)
def report():
    child.wait()
    print("exited", child.returncode, flush=True)
threading.Thread(target=report, daemon=True).start()
sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
if child.poll() is None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(spec["stop_timeout"])
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
for data_dir in spec["data_dirs"]:
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            pid = int(f.readline())
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError):
        continue
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.05)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
remove = spec["remove"]
if remove:
    # Wait until no process works inside the directory (the other watchdogs stop theirs).
    def busy():
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    if os.readlink(f"/proc/{entry}/cwd").startswith(remove):
                        return True
                except OSError:
                    pass
        return False
    for _ in range(600):
        if not busy():
            break
        time.sleep(0.1)
    import shutil
    shutil.rmtree(remove, ignore_errors=True)
"""


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the postmaster running in ``data_dir``, or ``None``."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def kill_postmaster(data_dir: Path, *, with_children: bool = False) -> int | None:
    """``kill -9`` the postmaster of ``data_dir`` (and its backends too, for a lost machine).

    Returns the pid killed, or ``None`` when no server was running there.
    """
    pid = postmaster_pid(data_dir)
    if pid is None:
        return None
    if with_children:
        os.kill(pid, signal.SIGSTOP)  # no new backend is forked while the others are listed
        for child in _children(pid):
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    return pid


@dataclass
class Supervised:
    """One process run by a watchdog; :meth:`stop` (or the test process's death) ends it.

    Attributes:
        name: What it is, for error messages (``"etcd e0"``, ``"patroni node1"``).
        argv: The command line.
        logfile: Where its standard output and error go.
        pid: Its process id while it runs.
    """

    name: str
    argv: list[str]
    logfile: Path
    cwd: Path
    account: tuple[int, int] | None = None
    env: dict[str, str] | None = None
    data_dirs: Sequence[Path] = ()
    remove: Path | None = None
    stop_timeout: float = 30
    pid: int | None = None
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the process (again, after :meth:`stop` or :meth:`kill`)."""
        self.stop()
        uid, gid = self.account if self.account is not None else (None, None)
        spec = {
            "argv": self.argv,
            "log": str(self.logfile),
            "cwd": str(self.cwd),
            "uid": uid,
            "gid": gid,
            "env": self.env if self.env is not None else dict(os.environ),
            "stop_timeout": self.stop_timeout,
            "data_dirs": [str(d) for d in self.data_dirs],
            "remove": str(self.remove) if self.remove is not None else None,
        }
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG_CODE, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._watchdog = watchdog
        line = self._read_line(30)
        if not line.startswith("pid "):
            self.stop()
            raise TestServerError(f"{self.name} did not start\n{self.log_tail()}")
        self.pid = int(line.split()[1])

    def _read_line(self, timeout: float) -> str:
        watchdog = self._watchdog
        if watchdog is None or watchdog.stdout is None:
            return ""
        ready, _, _ = select.select([watchdog.stdout], [], [], timeout)
        return watchdog.stdout.readline().decode() if ready else ""

    def exited(self) -> bool:
        """Whether the process has ended (by itself, or killed)."""
        watchdog = self._watchdog
        if watchdog is None or watchdog.stdout is None:
            return True
        ready, _, _ = select.select([watchdog.stdout], [], [], 0)
        return bool(ready)

    def check_running(self) -> None:
        """Raise :class:`TestServerError` with the log's tail when the process has ended."""
        if self.exited():
            raise TestServerError(f"{self.name} exited\n{self.log_tail()}")

    def kill(self) -> None:
        """``kill -9`` the process (its watchdog then waits for :meth:`stop` or :meth:`start`)."""
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)

    def signal_stop(self) -> None:
        """Tell the watchdog to stop the process, without waiting (:meth:`stop` then waits)."""
        watchdog = self._watchdog
        if watchdog is not None and watchdog.stdin is not None:
            with contextlib.suppress(OSError):
                watchdog.stdin.close()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after ``stop_timeout``) and its watchdog."""
        self.signal_stop()
        watchdog, self._watchdog = self._watchdog, None
        self.pid = None
        if watchdog is None:
            return
        try:
            watchdog.wait(timeout=self.stop_timeout + 15)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()
        if watchdog.stdout is not None:
            watchdog.stdout.close()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of its log."""
        try:
            text = self.logfile.read_text(errors="replace")
        except OSError:
            return f"--- {self.name}: no log ---"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- {self.name} log ---\n{tail}"


def wait_until(what: str, check: object, timeout: float, interval: float = 0.1) -> None:
    """Poll ``check()`` until it returns true; raise :class:`TestServerError` after timeout."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(interval)
    detail = f" (last error: {last})" if last is not None else ""
    raise TestServerError(f"{what} within {timeout:.0f} s{detail}")
