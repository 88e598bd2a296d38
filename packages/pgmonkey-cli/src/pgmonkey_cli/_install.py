"""What is wrong with the installation, when pgmonkey itself cannot say.

pgmonkey 3.x/4.x was one distribution, ``pgmonkey``; ``pgmonkey-core`` installs the same
``pgmonkey`` import package. Installed side by side they overwrite each other's files, and
``pip uninstall pgmonkey`` then deletes files ``pgmonkey-core`` needs (and the ``pgmonkey``
script), leaving a ``pgmonkey`` folder without ``__init__.py``:
``ImportError: cannot import name 'PGConnectionManager' from 'pgmonkey' (unknown location)``.

The checks read installed metadata only; they run for ``pgmonkey --version``,
``pgmonkey pgconfig test`` and when an import fails, never on every start.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

__all__ = ["FIX", "conflicting_distribution", "damaged_core", "diagnose", "psycopg_problem"]

FIX = (
    "pip uninstall -y pgmonkey pgmonkey-core pgmonkey-cli"
    " && pip install pgmonkey-core pgmonkey-cli"
)
"""Repairs both states; verified in a real virtual environment by tests/install."""


def conflicting_distribution() -> str | None:
    """Describe the 3.x/4.x ``pgmonkey`` distribution installed next to pgmonkey-core."""
    try:
        old = metadata.version("pgmonkey")
    except metadata.PackageNotFoundError:
        return None
    return (
        f"pgmonkey {old} (the old single distribution) is installed next to pgmonkey-core;"
        " both install the 'pgmonkey' import package, and uninstalling either one deletes"
        f" files the other needs\n  fix: {FIX}"
    )


def damaged_core() -> str | None:
    """Describe pgmonkey-core when it is missing or some of its installed files are gone."""
    try:
        dist = metadata.distribution("pgmonkey-core")
    except metadata.PackageNotFoundError:
        return f"pgmonkey-core is not installed\n  fix: {FIX}"
    missing = [
        name
        for name in _recorded_files(dist)
        if name.endswith(".py") and not Path(str(dist.locate_file(name))).exists()
    ]
    if not missing:
        return None
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return (
        f"pgmonkey-core {dist.version} is damaged: {missing[0]}{more} are missing"
        " (`pip uninstall pgmonkey` deletes the files the old distribution shared with it)"
        f"\n  fix: {FIX}"
    )


def _recorded_files(dist: metadata.Distribution) -> list[str]:
    """Every path the installer recorded for ``dist`` (its RECORD file).

    Not ``dist.files``: since Python 3.12 it leaves out the files that no longer exist, which
    are exactly the ones this check looks for.
    """
    import csv

    record = dist.read_text("RECORD") or ""
    return [row[0] for row in csv.reader(record.splitlines()) if row]


def psycopg_problem() -> Exception | None:
    """Return the error that makes psycopg unusable, or ``None`` when it imports.

    Importing :mod:`pgmonkey.connections` imports psycopg and psycopg_pool first and turns
    a failure into a :class:`pgmonkey.errors.PsycopgUnavailableError` saying what to install.
    """
    from pgmonkey.errors import PsycopgUnavailableError

    try:
        import pgmonkey.connections  # noqa: F401
    except PsycopgUnavailableError as exc:
        return exc
    return None


def diagnose() -> str | None:
    """The installation problem to report when an import failed, if one is found."""
    return damaged_core() or conflicting_distribution()
