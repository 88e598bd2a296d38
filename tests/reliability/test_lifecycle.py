"""Process lifecycle: event loops, threads, fork, interpreter exit, a server that goes away.

Every case runs pgmonkey in a real child process started with ``python -W error`` (every
warning, ResourceWarning included, is an error: an unclosed connection shows up on stderr as
"Exception ignored ... ResourceWarning"), and asserts:

* no hang: the child must finish within ``EXIT_LIMIT`` seconds (a subprocess timeout);
* no warnings: stderr is empty (psycopg_pool's own WARNING records about a stopped server go
  to stdout through a handler the child installs: they are the application's business);
* nothing left connected: no backend of the case's ``application_name`` remains.

The time from the child's last checkpoint (its start when it has none) to its exit is
recorded as a figure (``exit_s``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pgmonkey.testing import PostgresServer, start_server
from tests.reliability._helpers import pool_config, sessions
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability

#: Generous: a clean exit takes well under a second; a hang never ends.
EXIT_LIMIT = 30.0

PRELUDE = textwrap.dedent(
    """
    import asyncio, json, logging, os, sys, threading, time, warnings
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="log: %(message)s")
    from pgmonkey import PGConnectionManager
    cfg = json.loads(os.environ["PGMONKEY_TEST_CFG"])
    manager = PGConnectionManager()

    def say(*args):
        print(*args, flush=True)

    def wait_for_parent():
        say("waiting")
        sys.stdin.readline()
    """
)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A dedicated server: the reconnect case stops it."""
    with start_server(settings={"max_connections": 60}) as srv:
        yield srv


def _settled(server: PostgresServer, app: str, limit: float = 5.0) -> int:
    """Sessions of ``app`` once backends that are closing have left (polls until 0)."""
    deadline = time.monotonic() + limit
    while (count := sessions(server, app)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


class Child:
    """A child Python process running PRELUDE + ``body`` with ``-W error``."""

    def __init__(self, server: PostgresServer, app: str, body: str) -> None:
        self.app = app
        cfg = pool_config(server, app, min_size=2, max_size=4, timeout=10)
        cfg["connection_settings"]["connect_timeout"] = 3
        env = {**os.environ, "PGMONKEY_TEST_CFG": json.dumps(cfg)}
        env.pop("PYTHONASYNCIODEBUG", None)
        env.pop("PYTHONWARNINGS", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "error", "-c", PRELUDE + textwrap.dedent(body)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []  # stdout lines consumed by read_until()
        self._stdout: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._stdout.put(line.rstrip("\n"))
        self._stdout.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.append(self.proc.stderr.read())

    def read_until(self, marker: str) -> None:
        """Consume stdout lines until ``marker`` (fails at EOF or after EXIT_LIMIT)."""
        while True:
            try:
                line = self._stdout.get(timeout=EXIT_LIMIT)
            except queue.Empty:
                self.proc.kill()
                pytest.fail(f"{self.app}: no {marker!r} from the child: {self.lines}")
            assert line is not None, (
                f"child ended before {marker!r}: {self.lines}, {self.finish()}"
            )
            self.lines.append(line)
            if line == marker:
                return

    def resume(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[str, str, float]:
        """Wait for the exit (bounded); return the rest of stdout, stderr and the time taken."""
        start = time.monotonic()
        try:
            self.proc.wait(timeout=EXIT_LIMIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
            pytest.fail(f"{self.app}: the child hung at exit; stdout so far: {self.lines}")
        took = time.monotonic() - start
        for reader in self._readers:
            reader.join(timeout=EXIT_LIMIT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        rest = []
        while (
            line := self._stdout.get_nowait() if not self._stdout.empty() else None
        ) is not None:
            rest.append(line)
        return "".join(f"{line}\n" for line in rest), "".join(self._stderr), took

    def assert_clean_exit(
        self,
        server: PostgresServer,
        figures: Figures,
        case: str,
        *,
        before_counting: Any = None,
    ) -> str:
        out, err, took = self.finish()
        if before_counting is not None:
            before_counting()
        assert self.proc.returncode == 0, (out, err)
        assert err == "", err
        left = _settled(server, self.app)
        figures.record(f"lifecycle: {case}", exit_s=took, sessions_after=left)
        assert left == 0, f"{left} sessions of {self.app} left after the child exited"
        return out


def test_asyncio_run_ends_with_cached_async_objects(
    server: PostgresServer, figures: Figures
) -> None:
    """Ending asyncio.run() closes that loop's pools and connections, before exit."""
    child = Child(
        server,
        "pgm-lc-loop-end",
        """
        async def main():
            for ctype in ("async_pool", "async"):
                obj = await manager.get_database_connection_from_dict(cfg, ctype)
                async with obj as c:
                    await c.execute("SELECT 1")

        asyncio.run(main())
        say("cache size", manager.cache_info["size"])
        wait_for_parent()
        """,
    )
    child.read_until("waiting")
    # The process is still alive: its loop's objects were closed when asyncio.run() ended.
    assert _settled(server, child.app) == 0
    assert "cache size 0" in child.lines
    child.resume()
    child.assert_clean_exit(server, figures, "asyncio.run ends with cached async objects")


def test_server_stopped_while_async_pool_reconnects(
    server: PostgresServer, figures: Figures
) -> None:
    """The server goes away; the pool keeps trying to reconnect; asyncio.run() ends anyway."""
    child = Child(
        server,
        "pgm-lc-reconnect",
        """
        async def main():
            pool = await manager.get_database_connection_from_dict(cfg, "async_pool")
            async with pool as c:
                await c.execute("SELECT 1")
            wait_for_parent()  # the parent stops the server
            for _ in range(2):  # both idle connections are dead: two clear failures
                try:
                    async with pool as c:
                        await c.execute("SELECT 1")
                except Exception as exc:
                    say("failed:", type(exc).__name__)
            await asyncio.sleep(0.5)  # the pool's workers are retrying with a backoff now
            say("ending")

        asyncio.run(main())
        say("done")
        """,
    )
    child.read_until("waiting")
    server.stop("immediate")
    try:
        child.resume()
        child.read_until("ending")  # time the exit only, not the failures before it
        out = child.assert_clean_exit(
            server, figures, "server stopped while reconnecting", before_counting=server.start
        )
    finally:
        if not server.running:
            server.start()
    assert out.splitlines()[-1] == "done"
    assert [line for line in child.lines if line.startswith("failed:")] == [
        "failed: OperationalError"
    ] * 2


def test_several_event_loops_in_sequence_and_in_threads(
    server: PostgresServer, figures: Figures
) -> None:
    """Three asyncio.run() in a row, then eight loops at once in threads: no stray sessions."""
    child = Child(
        server,
        "pgm-lc-loops",
        """
        async def use(n):
            pool = await manager.get_database_connection_from_dict(cfg, "async_pool")
            conn = await manager.get_database_connection_from_dict(cfg, "async")
            for _ in range(n):
                async with pool as c:
                    await c.execute("SELECT 1")
                async with conn as c:
                    await c.execute("SELECT 1")
            return pool

        pools = [asyncio.run(use(5)) for _ in range(3)]
        assert len({id(p) for p in pools}) == 3, "each loop gets its own pool"
        errors = []

        def in_thread():
            try:
                asyncio.run(use(20))
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=in_thread) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        say("cache size", manager.cache_info["size"])
        wait_for_parent()
        """,
    )
    child.read_until("waiting")
    assert _settled(server, child.app) == 0
    assert "cache size 0" in child.lines
    child.resume()
    child.assert_clean_exit(server, figures, "several event loops")


def test_threads_then_interpreter_exit(server: PostgresServer, figures: Figures) -> None:
    """32 threads share the cached pool and connection; the program just ends (atexit)."""
    child = Child(
        server,
        "pgm-lc-threads",
        """
        pool = manager.get_database_connection_from_dict(cfg, "pool")
        conn = manager.get_database_connection_from_dict(cfg, "normal")
        errors = []

        def work():
            try:
                for _ in range(20):
                    with pool as c:
                        c.execute("SELECT 1")
                    with conn as c:
                        c.execute("SELECT 1")
            except BaseException as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=work) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        say("done")
        """,
    )
    out = child.assert_clean_exit(server, figures, "threads then interpreter exit")
    assert out.splitlines() == ["done"]


def test_fork_children_and_parent_exit_cleanly(server: PostgresServer, figures: Figures) -> None:
    """Children forked with open pools use fresh ones; everybody exits without leftovers."""
    child = Child(
        server,
        "pgm-lc-fork",
        """
        pool = manager.get_database_connection_from_dict(cfg, "pool")
        with pool as c:
            parent_pid = c.info.backend_pid

        async def use_async():
            p = await manager.get_database_connection_from_dict(cfg, "async_pool")
            async with p as c:
                return c.info.backend_pid

        asyncio.run(use_async())
        kids = []
        for _ in range(3):
            with warnings.catch_warnings():  # 3.12+: fork with threads (psycopg_pool's)
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    with manager.get_database_connection_from_dict(cfg, "pool") as c:
                        assert c.info.backend_pid != parent_pid
                    assert asyncio.run(use_async()) != parent_pid
                    code = 0
                finally:
                    sys.stdout.flush()
                    os._exit(code)  # a forked child skips atexit: close nothing of the parent
            kids.append(pid)
        for pid in kids:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
        with pool as a, pool as b:  # both idle connections: the parent's are untouched
            assert parent_pid in (a.info.backend_pid, b.info.backend_pid)
            a.execute("SELECT 1")
            b.execute("SELECT 1")
        say("done")
        """,
    )
    out = child.assert_clean_exit(server, figures, "fork then exit")
    assert out.splitlines() == ["done"]


def test_forked_child_exits_normally(server: PostgresServer, figures: Figures) -> None:
    """A forked child that ends with sys.exit() (atexit runs) closes only its own objects."""
    child = Child(
        server,
        "pgm-lc-fork-exit",
        """
        pool = manager.get_database_connection_from_dict(cfg, "pool")
        with pool as c:
            parent_pid = c.info.backend_pid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            with manager.get_database_connection_from_dict(cfg, "pool") as c:
                c.execute("SELECT 1")
            sys.exit(0)  # atexit in the child: its own pool is closed, the parent's is not
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        with pool as a, pool as b:  # both idle connections: the parent's are untouched
            assert parent_pid in (a.info.backend_pid, b.info.backend_pid)
            a.execute("SELECT 1")
            b.execute("SELECT 1")
        say("done")
        """,
    )
    out = child.assert_clean_exit(server, figures, "forked child exits normally")
    assert out.splitlines() == ["done"]


def test_async_with_manager_and_repeated_aclose(server: PostgresServer, figures: Figures) -> None:
    """``async with manager:`` closes in the loop; closing again (and at loop end) is harmless."""
    child = Child(
        server,
        "pgm-lc-aclose",
        """
        async def main():
            async with PGConnectionManager() as m:
                pool = await m.get_database_connection_from_dict(cfg, "async_pool")
                conn = await m.get_database_connection_from_dict(cfg, "async")
                async with pool as c, conn as d:
                    await c.execute("SELECT 1")
                    await d.execute("SELECT 1")
            await m.aclose()
            await m.clear_cache_async()
            m.clear_cache()
            await pool.disconnect()
            await conn.disconnect()
            say("closed")

        asyncio.run(main())
        manager.clear_cache()
        say("done")
        """,
    )
    out = child.assert_clean_exit(server, figures, "async with manager + repeated aclose")
    assert out.splitlines() == ["closed", "done"]


def test_loop_left_open_is_closed_at_exit(server: PostgresServer, figures: Figures) -> None:
    """A loop that is never closed or cancelled: the objects are closed at interpreter exit."""
    child = Child(
        server,
        "pgm-lc-open-loop",
        """
        loop = asyncio.new_event_loop()

        async def main():
            for ctype in ("async_pool", "async"):
                obj = await manager.get_database_connection_from_dict(cfg, ctype)
                async with obj as c:
                    await c.execute("SELECT 1")

        loop.run_until_complete(main())
        say("done")
        """,
    )
    out = child.assert_clean_exit(server, figures, "loop never closed")
    assert out.splitlines() == ["done"]
