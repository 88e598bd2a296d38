"""Fresh virtual environments holding the locally built wheels, as users install them.

Each environment is made with ``uv venv`` from the running interpreter; packages come from the
wheels built here (``uv build``) and, for their dependencies, from PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 300


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        pytest.fail("tests/install need the uv executable (nox -s install installs it)")
    return found


@dataclass
class Venv:
    """A virtual environment and the commands that use it."""

    path: Path

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def script(self, name: str) -> Path:
        return self.path / "bin" / name

    @property
    def site_packages(self) -> Path:
        out = self.run("-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
        return Path(out.stdout.strip())

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run this environment's Python with ``args``."""
        return self.command(self.python, *args, env=env, cwd=cwd)

    def command(
        self, *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` with this environment's bin folder first on PATH."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        full_env.pop("VIRTUAL_ENV", None)
        full_env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        full_env.update(env or {})
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
            env=full_env,
            cwd=cwd,
        )

    def uv_pip(self, *args: str) -> None:
        """``uv pip ARGS`` into this environment; fails the test with uv's output on error."""
        proc = subprocess.run(
            [_uv(), "pip", *args, "-p", self.python],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        """This environment's own pip, as a user runs it."""
        return self.run("-m", "pip", "--disable-pip-version-check", *args)


def make_venv(path: Path, *, seed: bool = False) -> Venv:
    """Create an empty virtual environment (``seed``: with pip in it)."""
    args = [_uv(), "venv", "-q", "-p", sys.executable, str(path)]
    subprocess.run([*args, *(["--seed"] if seed else [])], check=True, timeout=INSTALL_TIMEOUT)
    return Venv(path)


@dataclass(frozen=True)
class Wheels:
    """The locally built wheels of pgmonkey-core, pgmonkey-cli and two extensions."""

    core: Path
    cli: Path
    flask: Path
    fastapi: Path


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """Wheels built from this checkout."""
    out = tmp_path_factory.mktemp("wheels")
    for package in ("pgmonkey-core", "pgmonkey-cli", "pgmonkey-flask", "pgmonkey-fastapi"):
        subprocess.run(
            [_uv(), "build", "-q", "--wheel", "-o", str(out), str(ROOT / "packages" / package)],
            check=True,
            timeout=INSTALL_TIMEOUT,
        )
    found = {name: next(out.glob(f"pgmonkey_{name}-*.whl")) for name in Wheels.__annotations__}
    return Wheels(**found)
