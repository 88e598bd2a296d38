"""Every package imports where POSIX-only parts of the standard library are missing.

The metadata says "Operating System :: OS Independent": on Windows there is no
``os.register_at_fork``, ``os.geteuid``, ``os.killpg`` or ``os.setsid``, and no ``pwd``,
``grp``, ``fcntl``, ``termios`` or ``resource`` module. A child interpreter removes them
before importing anything of ours, so an unguarded use at import time fails here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

WITHOUT_POSIX = """
import os, sys
for name in ("fork", "register_at_fork", "geteuid", "getuid", "killpg", "setsid", "getpgid"):
    if hasattr(os, name):
        delattr(os, name)
for name in ("pwd", "grp", "fcntl", "termios", "resource"):
    sys.modules[name] = None  # import raises ImportError, as on Windows
"""

MODULES = [
    "pgmonkey",
    "pgmonkey.testing",
    "pgmonkey.manager",
    "pgmonkey.connections",
    "pgmonkey_cli",
    "pgmonkey_cli._app",
    "pgmonkey_flask",
    "pgmonkey_fastapi",
    "pgmonkey_fastapi.testing",
    "pgmonkey_django",
]


@pytest.mark.parametrize("module", MODULES)
def test_imports_without_posix_only_modules(module: str) -> None:
    code = WITHOUT_POSIX + f"import {module}\nprint('imported', {module!r})\n"
    if module == "pgmonkey_cli._app":
        code += "pgmonkey_cli._app.build_parser()\n"  # every command registers too
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"imported {module}"
