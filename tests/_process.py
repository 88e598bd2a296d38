"""Stopping an app server the tests started (gunicorn, uvicorn) and reading what it printed."""

from __future__ import annotations

import signal
import subprocess


def stop_cleanly(proc: subprocess.Popen[str], stop_signal: int = signal.SIGTERM) -> str:
    """Send ``stop_signal`` and return the output; the server must exit 0 without a traceback.

    A server still running 30 s later is killed, and the test fails with its output.
    """
    proc.send_signal(stop_signal)
    try:
        output, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    return output
