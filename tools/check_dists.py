"""Check built distributions: each wheel ships exactly its one import package.

Usage: ``python tools/check_dists.py DIST_DIR`` (the ``build`` nox session runs it).
Fails when a wheel contains a second top-level package or module, tests, or stray files, or
when an sdist lacks its README, LICENSE or sources.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

EXPECTED = {
    "pgmonkey_core": "pgmonkey",
    "pgmonkey_cli": "pgmonkey_cli",
    "pgmonkey_flask": "pgmonkey_flask",
    "pgmonkey_fastapi": "pgmonkey_fastapi",
    "pgmonkey_django": "pgmonkey_django",
}


def check_wheel(wheel: Path) -> list[str]:
    """Return the problems found in one wheel."""
    dist = wheel.name.split("-")[0]
    package = EXPECTED[dist]
    problems = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names}
    extra = {t for t in tops if t != package and not t.endswith(".dist-info")}
    if extra:
        problems.append(f"{wheel.name}: unexpected top-level entries {sorted(extra)}")
    if f"{package}/py.typed" not in names:
        problems.append(f"{wheel.name}: missing {package}/py.typed")
    if any("/tests/" in n or n.split("/")[-1].startswith("test_") for n in names):
        problems.append(f"{wheel.name}: contains tests")
    return problems


def check_sdist(sdist: Path) -> list[str]:
    """Return the problems found in one sdist."""
    with tarfile.open(sdist) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    problems = [
        f"{sdist.name}: missing {required}"
        for required in ("README.md", "LICENSE", "pyproject.toml", "CHANGELOG.md")
        if required not in names
    ]
    if not any(n.startswith("src/") and n.endswith(".py") for n in names):
        problems.append(f"{sdist.name}: no sources")
    return problems


def main(dist_dir: str) -> int:
    """Check every wheel and sdist in ``dist_dir``; print problems and return 1 if any."""
    problems: list[str] = []
    for wheel in sorted(Path(dist_dir).glob("*.whl")):
        problems += check_wheel(wheel)
    for sdist in sorted(Path(dist_dir).glob("*.tar.gz")):
        problems += check_sdist(sdist)
    for problem in problems:
        print(problem)
    print("distributions ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
