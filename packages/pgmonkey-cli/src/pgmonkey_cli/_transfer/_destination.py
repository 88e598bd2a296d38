"""Where ``pgexport`` writes: a regular file replaced atomically, or a stream written as is.

* ``-`` is standard output.
* A regular file (new, or existing with ``--overwrite``) is written under a temporary name
  beside it, flushed to disk and renamed over it: a reader never sees half a file, a failure
  leaves the old file (or none) and no temporary file. Through a symbolic link, the file it
  points to is replaced (the link stays), as ``>`` in a shell would write through it; a link
  to nothing is refused.
* A FIFO, the terminal pgmonkey runs in and ``/dev/null`` are streams: opened (never created
  nor truncated) and written as the rows arrive; ``--overwrite`` is not needed, as nothing is
  replaced.
* Anything else (a directory, a socket, a block device, any other character device) is
  refused: only regular files are ever replaced.
"""

from __future__ import annotations

import contextlib
import enum
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pgmonkey_cli._transfer._copyout import WRITE_BUFFER
from pgmonkey_cli._transfer._errors import TransferUsageError

__all__ = ["STDOUT", "Destination", "DestinationKind", "examine", "opened"]

STDOUT = "-"
"""The ``--export_file`` that means standard output."""

_ACCEPTED = "a regular file, a FIFO, the terminal, /dev/null or - (standard output)"


class DestinationKind(enum.Enum):
    """How a destination is written."""

    FILE = "file"  # a regular file, new or replaced atomically
    STREAM = "stream"  # a FIFO, the terminal, /dev/null
    STDOUT = "stdout"


@dataclass(frozen=True)
class Destination:
    """An examined ``--export_file``.

    Attributes:
        path: As given (for messages and the settings file).
        kind: How it is written.
        target: The file that is replaced (a symbolic link's target); ``path`` otherwise.
        existed: A file was there when examined.
        device: ``(st_dev, st_ino)`` of an examined stream, checked again once opened.
    """

    path: Path
    kind: DestinationKind
    target: Path
    existed: bool = False
    device: tuple[int, int] | None = None

    @property
    def is_file(self) -> bool:
        """A regular file, with a settings file beside it (streams have none)."""
        return self.kind is DestinationKind.FILE

    def __str__(self) -> str:
        return "standard output" if self.kind is DestinationKind.STDOUT else str(self.path)


def examine(path: Path, *, overwrite: bool) -> Destination:
    """Decide how ``path`` is written, or refuse it.

    Raises:
        TransferUsageError: a type of file pgexport does not write, an existing regular
            file without ``overwrite``, a missing directory (exit 2).
    """
    if str(path) == STDOUT:
        return Destination(path, DestinationKind.STDOUT, path)
    try:
        info = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        if os.path.islink(path):
            raise TransferUsageError(
                f"export file {path} is a symbolic link to a missing file "
                f"({os.readlink(path)}); give the file itself"
            ) from None
        parent = path.parent
        if not parent.is_dir():
            raise TransferUsageError(f"directory does not exist: {parent}") from None
        return Destination(path, DestinationKind.FILE, path)
    except OSError as exc:
        raise TransferUsageError(f"cannot use export file {path}: {exc.strerror}") from None
    if stat.S_ISREG(info.st_mode):
        if not overwrite:
            raise TransferUsageError(f"export file already exists: {path} (use --overwrite)")
        target = Path(os.path.realpath(path)) if os.path.islink(path) else path
        return Destination(path, DestinationKind.FILE, target, existed=True)
    if stat.S_ISFIFO(info.st_mode) or _terminal_or_null(info):
        return Destination(
            path, DestinationKind.STREAM, path, existed=True, device=(info.st_dev, info.st_ino)
        )
    raise TransferUsageError(
        f"export file {path} is {_describe(info)}: pgexport writes to {_ACCEPTED}"
    )


@contextlib.contextmanager
def opened(destination: Destination) -> Iterator[BinaryIO]:
    """The open destination; a regular file is put in place only if the block succeeds.

    Raises:
        TransferUsageError: the destination changed type since it was examined, or a file
            appeared at a new destination without ``--overwrite``.
    """
    if destination.kind is DestinationKind.STDOUT:
        sys.stdout.flush()
        out = sys.stdout.buffer
        yield out
        out.flush()
    elif destination.kind is DestinationKind.STREAM:
        with _open_stream(destination) as fh:
            yield fh
    else:
        with _replacing(destination) as fh:
            yield fh


@contextlib.contextmanager
def _open_stream(destination: Destination) -> Iterator[BinaryIO]:
    # No O_CREAT, no O_TRUNC: a stream is written to, never made or emptied. A FIFO blocks
    # here until a reader opens it, as with a shell's ">".
    flags = os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(destination.path, flags)
    except OSError as exc:
        raise TransferUsageError(
            f"cannot open export file {destination.path}: {exc.strerror}"
        ) from None
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != destination.device:
        os.close(fd)
        raise TransferUsageError(f"export file {destination.path} changed while in use")
    with os.fdopen(fd, "wb", buffering=WRITE_BUFFER) as fh:
        yield fh


@contextlib.contextmanager
def _replacing(destination: Destination) -> Iterator[BinaryIO]:
    target = destination.target
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent if str(target.parent) else "."
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=WRITE_BUFFER) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _put_in_place(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    _sync_directory(target.parent)


def _put_in_place(tmp: Path, destination: Destination) -> None:
    target = destination.target
    if not destination.existed:
        # Never replace a file that appeared meanwhile: link() fails if the name is taken.
        try:
            os.link(tmp, target)
            return
        except FileExistsError:
            raise TransferUsageError(
                f"export file appeared meanwhile: {destination.path} (use --overwrite)"
            ) from None
        except OSError:
            pass  # no hard links on this file system: check, then rename
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(target)
        if not stat.S_ISREG(info.st_mode) or not destination.existed:
            raise TransferUsageError(
                f"export file {destination.path} changed while in use; not replaced"
            )
    os.replace(tmp, target)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory if str(directory) else ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _terminal_or_null(info: os.stat_result) -> bool:
    """``/dev/null``, ``/dev/tty`` or the terminal one of the standard streams is on.

    Other character devices are refused without being opened: opening one can have effects
    of its own (a tape rewinds, a watchdog starts).
    """
    if not stat.S_ISCHR(info.st_mode):
        return False
    known: list[os.stat_result] = []
    for name in (os.devnull, "/dev/tty"):
        with contextlib.suppress(OSError):
            known.append(os.stat(name))
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                known.append(os.fstat(fd))
    return any(os.path.samestat(info, other) for other in known)


def _describe(info: os.stat_result) -> str:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISCHR(mode):
        return "a character device (other than a terminal or /dev/null)"
    return "not a regular file"
