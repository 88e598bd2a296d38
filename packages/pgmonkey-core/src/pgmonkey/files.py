"""Writing files that hold secrets (passwords, private keys): mode 0600 from the start.

Public API: the ``pgmonkey`` command writes configuration files with it, and
:mod:`pgmonkey.testing` its password and key files.

The file is created with mode 0600 and set to exactly 0600 through its descriptor before a
byte is written, so neither the umask nor an existing file's mode can expose its content,
not even for an instant (no ``chmod`` after writing).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["PRIVATE_MODE", "write_private"]

PRIVATE_MODE = 0o600
"""Read and write for the owner only."""


def write_private(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    exclusive: bool = False,
    owner: tuple[int, int] | None = None,
) -> None:
    """Write ``data`` to ``path`` as a file with mode 0600, whatever the umask.

    Args:
        path: The file to write.
        data: Its content (text is encoded as UTF-8).
        exclusive: Create the file and fail if it exists (``O_CREAT | O_EXCL``). Otherwise
            a temporary 0600 file in the same directory replaces ``path`` atomically, so a
            reader sees the old file or the complete new one, never a part.
        owner: ``(uid, gid)`` to give the file before it appears at ``path`` (root only).

    Raises:
        FileExistsError: ``exclusive`` and ``path`` exists.
        OSError: The file cannot be written (nothing is left behind).
    """
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if exclusive:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE)
        try:
            _fill(fd, raw, owner)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        _fill(fd, raw, owner)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fill(fd: int, raw: bytes, owner: tuple[int, int] | None) -> None:
    """Set the mode (and owner), write everything and close ``fd``."""
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fd, PRIVATE_MODE)
        if owner is not None:
            os.fchown(fd, *owner)
        fh.write(raw)
