"""Clearer libpq errors about TLS files (``sslrootcert``, ``sslcert``, ``sslkey``).

libpq reports an unreadable certificate or key with an OpenSSL reason that is often empty or,
with some libpq builds, uninitialised bytes; and a private key with group or world access
without saying what its mode is. :func:`explain_tls_files` rewrites the lines of a libpq
message so that they name the file, the operating system's reason and the fix.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import stat
from collections.abc import Mapping
from typing import Any

from pgmonkey.config._loader import special_file_kind
from pgmonkey.errors import ConfigFileError

__all__ = ["explain_tls_files", "refuse_special_tls_files"]

_NEXT_ATTEMPT = "connection to server"

_UNREADABLE = re.compile(
    r"(?P<head>could not (?:load|read|open) (?:private key|root certificate|certificate) "
    r'file "(?P<path>[^"]+)")(?::.*)?$'
)
_LOOSE_KEY = re.compile(r'private key file "(?P<path>[^"]+)" has group or world access')


#: libpq parameters naming a file that OpenSSL opens and reads with blocking calls.
_TLS_FILE_PARAMETERS = ("sslrootcert", "sslcert", "sslkey", "sslcrl")


def refuse_special_tls_files(params: Mapping[str, Any]) -> None:
    """Refuse a TLS file parameter naming a FIFO, a device or a socket, before libpq opens it.

    OpenSSL opens and reads these files with blocking calls inside libpq's connection
    attempt, where ``connect_timeout`` cannot interrupt them: a FIFO without a writer would
    hang the connection for ever. Missing files and directories are left to libpq, whose
    error :func:`explain_tls_files` makes clear.

    Raises:
        ConfigFileError: Naming the file, the ``connection_settings`` key and what it is.
    """
    for key in _TLS_FILE_PARAMETERS:
        value = params.get(key)
        if not isinstance(value, str) or not value or (key == "sslrootcert" and value == "system"):
            continue
        try:
            mode = os.stat(value).st_mode
        except (OSError, ValueError):
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ConfigFileError(
                f"is not a regular file (it is a {special_file_kind(mode)}); libpq would wait "
                "on it without a timeout",
                source=value,
                key_path=("connection_settings", key),
            )


def _open_error(path: str) -> str | None:
    """Why ``path`` cannot be opened for reading (``None`` when it can)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO cannot block
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return os.strerror(errno.EISDIR)
    finally:
        os.close(fd)
    return None


def _loose_key_hint(path: str) -> str:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return ""
    return f" (its mode is {mode:04o}; fix it with: chmod 600 {shlex.quote(path)})"


def explain_tls_files(lines: list[str]) -> list[str]:
    """Return the lines of a libpq error, with TLS file problems spelled out.

    Args:
        lines: libpq's message, one stripped line each.

    Returns:
        The lines; where one is about an unreadable certificate or key that this process
        cannot open, libpq's OpenSSL reason is replaced by the operating system's
        (``Permission denied``, ``Is a directory``), and the lines that continued that
        reason (uninitialised bytes may hold a newline) are dropped up to libpq's next
        connection attempt; a private key with group or world access gets its current mode
        and the ``chmod 600`` command that fixes it.
    """
    result: list[str] = []
    skipping = False
    for line in lines:
        if skipping and not line.startswith(_NEXT_ATTEMPT):
            continue
        skipping = False
        unreadable = _UNREADABLE.search(line)
        if unreadable is not None:
            reason = _open_error(unreadable.group("path"))
            if reason is not None:
                line = line[: unreadable.start()] + f"{unreadable.group('head')}: {reason}"
                skipping = True
        else:
            loose = _LOOSE_KEY.search(line)
            if loose is not None:
                line += _loose_key_hint(loose.group("path"))
        result.append(line)
    return result
