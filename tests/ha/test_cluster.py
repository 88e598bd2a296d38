"""The throwaway Patroni cluster of pgmonkey.testing: nothing outlives the test process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgmonkey.testing import require_patroni

pytestmark = pytest.mark.slow

SCRIPT = """
import sys, time
from pgmonkey.testing import start_patroni_cluster
cluster = start_patroni_cluster(haproxy=True)
print(cluster.workdir, flush=True)
time.sleep(600)
"""


def processes_inside(directory: Path) -> list[str]:
    """Command lines of the processes whose working directory is inside ``directory``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd").startswith(str(directory)):
                found.append((entry / "cmdline").read_text().replace("\0", " "))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the processes")
def test_a_killed_test_process_leaves_no_process_and_no_directory() -> None:
    require_patroni(haproxy=True)
    child = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        workdir = Path(child.stdout.readline().strip())
        child.stdout.close()
        assert workdir.name.startswith("pgmonkey-patroni-")
        running = [cmd.split() for cmd in processes_inside(workdir)]
        assert sum(Path(argv[0]).name == "etcd" for argv in running) == 1, running
        assert sum(argv[-1].endswith("patroni.yml") for argv in running) == 3, running
        assert sum(Path(argv[0]).name == "postgres" for argv in running) == 3, running
        assert sum(Path(argv[0]).name == "haproxy" for argv in running) == 1, running
    finally:
        child.send_signal(signal.SIGKILL)  # the test process dies without any clean-up
        child.wait()
    # Patroni stops PostgreSQL first (up to its 30 s stop timeout, then SIGKILL), then the
    # directory goes.
    deadline = time.monotonic() + 120
    while (processes_inside(workdir) or workdir.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_inside(workdir) == []
    assert not workdir.exists(), sorted(str(p) for p in workdir.rglob("*"))[:20]
