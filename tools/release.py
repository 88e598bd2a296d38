"""Versions and changelogs of the five distributions: bump one, and check that all agree.

Usage (also through nox)::

    python tools/release.py bump pgmonkey-core 5.2.0     # nox -s bump -- pgmonkey-core 5.2.0
    python tools/release.py check                        # nox -s release_check

``bump`` sets the version in the package's ``_version.py``, turns the ``[Unreleased]`` section of
its ``CHANGELOG.md`` into ``[X.Y.Z] - today`` under a fresh, empty ``[Unreleased]``, and, for
pgmonkey-core, raises every other distribution's ``pgmonkey-core>=`` requirement to the new
version's ``X.Y`` (a new core minor version brings API the others may use), keeping the
``<X+1`` upper bound. ``check`` fails (exit 1, one line per problem) when:

* a version file and its changelog's newest release disagree, or a changelog has no
  ``[Unreleased]`` section on top;
* a release section holds a breaking change (a ``### Removed`` or ``### Changed`` entry marked
  **Breaking**) while the version did not raise the major (or, below 1.0, the minor) number;
* a distribution's ``pgmonkey-core`` requirement has no upper bound, or admits a core older
  than the lowest the monorepo tests, or excludes the core in this repository;
* the distributions disagree on the ``Development Status`` classifier, or lack an ``Issues``
  URL.
"""

from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "pgmonkey-core": "pgmonkey",
    "pgmonkey-cli": "pgmonkey_cli",
    "pgmonkey-flask": "pgmonkey_flask",
    "pgmonkey-fastapi": "pgmonkey_fastapi",
    "pgmonkey-django": "pgmonkey_django",
}
_VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
_RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\](?: - (\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)
_CORE_REQUIREMENT = re.compile(r'"pgmonkey-core>=(\d+)\.(\d+)(?:\.\d+)?(?:,<(\d+))?"')
_STATUS = re.compile(r'"Development Status :: ([^"]+)"')
_UNRELEASED = "## [Unreleased]"


def _version_file(root: Path, dist: str) -> Path:
    return root / "packages" / dist / "src" / PACKAGES[dist] / "_version.py"


def read_version(root: Path, dist: str) -> str:
    """The version in ``dist``'s ``_version.py``."""
    match = _VERSION_LINE.search(_version_file(root, dist).read_text(encoding="utf-8"))
    if match is None:
        raise SystemExit(f"{dist}: no __version__ line in {_version_file(root, dist)}")
    return match.group(1)


def _parse(version: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        raise SystemExit(f"{version!r} is not a version of the form X.Y.Z")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def bump(root: Path, dist: str, version: str, today: datetime.date | None = None) -> None:
    """Release ``dist`` as ``version``: version file, changelog, dependents' requirements."""
    if dist not in PACKAGES:
        raise SystemExit(f"unknown distribution {dist!r}: one of {', '.join(PACKAGES)}")
    new = _parse(version)
    old = _parse(read_version(root, dist))
    if new <= old:
        raise SystemExit(f"{dist}: {version} is not newer than {'.'.join(map(str, old))}")
    changelog = root / "packages" / dist / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    if _UNRELEASED not in text:
        raise SystemExit(f"{changelog}: no '{_UNRELEASED}' section to release")
    date = (today or datetime.date.today()).isoformat()
    text = text.replace(_UNRELEASED, f"{_UNRELEASED}\n\n## [{version}] - {date}", 1)
    changelog.write_text(text, encoding="utf-8")
    version_file = _version_file(root, dist)
    version_file.write_text(
        _VERSION_LINE.sub(f'__version__ = "{version}"', version_file.read_text("utf-8")),
        encoding="utf-8",
    )
    if dist == "pgmonkey-core":
        for other in PACKAGES:
            if other != dist:
                _require_core(root, other, new)


def _require_core(root: Path, dist: str, core: tuple[int, int, int]) -> None:
    pyproject = root / "packages" / dist / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    wanted = f'"pgmonkey-core>={core[0]}.{core[1]},<{core[0] + 1}"'
    pyproject.write_text(_CORE_REQUIREMENT.sub(wanted, text), encoding="utf-8")


def _breaking(section: str) -> bool:
    return "**Breaking**" in section


def check(root: Path) -> list[str]:
    """Every inconsistency between versions, changelogs and metadata (empty: all agree)."""
    problems: list[str] = []
    core = _parse(read_version(root, "pgmonkey-core"))
    statuses: dict[str, str] = {}
    for dist in PACKAGES:
        version = read_version(root, dist)
        changelog = (root / "packages" / dist / "CHANGELOG.md").read_text(encoding="utf-8")
        releases = list(_RELEASE.finditer(changelog))
        unreleased = changelog.find(_UNRELEASED)
        if unreleased < 0 or (releases and unreleased > releases[0].start()):
            problems.append(f"{dist}: CHANGELOG.md needs '{_UNRELEASED}' above every release")
        if releases and releases[0].group(1) != version:
            problems.append(
                f"{dist}: _version.py says {version}, CHANGELOG.md's newest release is "
                f"{releases[0].group(1)}"
            )
        for index, release in enumerate(releases[:-1]):
            end = releases[index].end()
            body = changelog[end : releases[index + 1].start()]
            newer, older = _parse(release.group(1)), _parse(releases[index + 1].group(1))
            raised = newer[0] > older[0] or (newer[0] == 0 and newer[1] > older[1])
            if _breaking(body) and not raised:
                problems.append(
                    f"{dist}: {release.group(1)} lists a **Breaking** change but does not "
                    f"raise the major version over {releases[index + 1].group(1)}"
                )
        pyproject = (root / "packages" / dist / "pyproject.toml").read_text(encoding="utf-8")
        status = _STATUS.search(pyproject)
        statuses[dist] = status.group(1) if status else "(none)"
        if 'Issues = "' not in pyproject:
            problems.append(f"{dist}: pyproject.toml has no Issues URL")
        if dist == "pgmonkey-core":
            continue
        requirement = _CORE_REQUIREMENT.search(pyproject)
        if requirement is None:
            problems.append(f"{dist}: no pgmonkey-core>=X.Y requirement")
            continue
        low = (int(requirement.group(1)), int(requirement.group(2)))
        if requirement.group(3) is None:
            problems.append(f"{dist}: the pgmonkey-core requirement has no upper bound")
        elif int(requirement.group(3)) <= core[0]:
            problems.append(f"{dist}: pgmonkey-core<{requirement.group(3)} excludes {core}")
        if low > core[:2]:
            problems.append(f"{dist}: requires pgmonkey-core>={low} but the core is {core}")
        if low < core[:2]:
            problems.append(
                f"{dist}: requires pgmonkey-core>={low[0]}.{low[1]}, older than the core it is "
                f"tested with ({core[0]}.{core[1]}): it may use API that version lacks"
            )
    if len(set(statuses.values())) > 1:
        problems.append(f"the Development Status classifiers disagree: {statuses}")
    return problems


def main(argv: list[str]) -> int:
    """``bump DIST VERSION`` or ``check``."""
    if argv[:1] == ["bump"] and len(argv) == 3:
        bump(ROOT, argv[1], argv[2])
        print(f"{argv[1]} is now {argv[2]}; review the changes with git diff")
        return 0
    if argv == ["check"]:
        problems = check(ROOT)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
