"""Where sandboxes live: one directory per configuration file under a per-user data root."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from pgmonkey.testing import ServerAccount
from pgmonkey_cli._sandbox._errors import SandboxError

__all__ = ["ROOT_FALLBACK", "check_reachable", "data_root", "make_dirs", "sandbox_dir"]

ROOT_FALLBACK = Path("/var/lib/pgmonkey/sandboxes")
"""Root's default when the server account cannot reach root's own data directory."""


def _user_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("pgmonkey", appauthor=False)) / "sandboxes"


def data_root(explicit: str | os.PathLike[str] | None, account: ServerAccount | None) -> Path:
    """Return the directory that holds every sandbox.

    Args:
        explicit: ``--data-dir``: used as given.
        account: The account that runs the servers (``None``: the current user).

    The default is ``<platformdirs user data dir>/pgmonkey/sandboxes``. As root, the server
    runs as an unprivileged account that usually cannot enter ``/root``; the default is then
    :data:`ROOT_FALLBACK` (``/var/lib/pgmonkey/sandboxes``).
    """
    if explicit is not None:
        return Path(explicit).expanduser().absolute()
    root = _user_root()
    if account is None or _unreachable_part(root, account) is None:
        return root
    return ROOT_FALLBACK


def sandbox_dir(root: Path, config_path: Path) -> Path:
    """The directory of the sandbox of ``config_path`` (resolved): ``<stem>-<digest>``.

    The digest covers the configuration file's absolute, resolved path: each file has its own
    sandbox, and editing a file (another port, password or database) keeps its data.
    """
    digest = hashlib.sha256(str(config_path).encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", config_path.stem)[:40] or "config"
    return root / f"{stem}-{digest}"


def _can_search(st: os.stat_result, account: ServerAccount, groups: set[int]) -> bool:
    if st.st_uid == account.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _unreachable_part(path: Path, account: ServerAccount) -> Path | None:
    """The first existing directory on the way to ``path`` that ``account`` cannot enter."""
    try:
        groups = set(os.getgrouplist(account.name, account.gid))
    except OSError:
        groups = {account.gid}
    for part in reversed([path, *path.parents]):
        try:
            st = part.stat()
        except FileNotFoundError:
            return None  # what is missing is created by make_dirs, enterable by everyone
        if not _can_search(st, account, groups):
            return part
    return None


def check_reachable(path: Path, account: ServerAccount | None) -> None:
    """Make sure the server account can reach ``path`` (only matters as root).

    Raises:
        SandboxError: A directory on the way cannot be entered by the server account.
    """
    if account is None:
        return
    blocked = _unreachable_part(path, account)
    if blocked is not None:
        raise SandboxError(
            f"running as root, the sandbox server runs as the {account.name!r} account, which "
            f"cannot enter {blocked} on the way to {path}; pass --data-dir with a directory "
            f"it can reach (e.g. {ROOT_FALLBACK}), or run pgmonkey as an ordinary user"
        )


def make_dirs(path: Path, account: ServerAccount | None) -> None:
    """Create ``path`` and its missing parents.

    As an ordinary user they are private (0700). As root they are 0755 so that the server
    account can pass through them (the sandbox directory itself is made private later).
    """
    mode = 0o755 if account is not None else 0o700
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for part in reversed(missing):
        try:
            part.mkdir(mode=mode)
        except FileExistsError:
            continue
        os.chmod(part, mode)
