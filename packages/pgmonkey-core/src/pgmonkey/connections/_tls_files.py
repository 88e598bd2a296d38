"""Clearer libpq errors about TLS files (``sslrootcert``, ``sslcert``, ``sslkey``).

libpq reports an unreadable certificate or key with an OpenSSL reason that is often empty or,
with some libpq builds, uninitialised bytes; and a private key with group or world access
without saying what its mode is. :func:`explain_tls_files` rewrites one line of a libpq
message so that it names the file, the operating system's reason and the fix.
"""

from __future__ import annotations

import os
import re
import shlex
import stat

__all__ = ["explain_tls_files"]

_UNREADABLE = re.compile(
    r"(?P<head>could not (?:load|read|open) (?:private key|root certificate|certificate) "
    r'file "(?P<path>[^"]+)")(?::.*)?$'
)
_LOOSE_KEY = re.compile(r'private key file "(?P<path>[^"]+)" has group or world access')


def _open_error(path: str) -> str | None:
    """Why ``path`` cannot be opened for reading (``None`` when it can)."""
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _loose_key_hint(path: str) -> str:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return ""
    return f" (its mode is {mode:04o}; fix it with: chmod 600 {shlex.quote(path)})"


def explain_tls_files(line: str) -> str:
    """Return one line of a libpq error, with TLS file problems spelled out.

    Args:
        line: One line of libpq's message.

    Returns:
        The line; when it is about an unreadable certificate or key that this process cannot
        open, libpq's OpenSSL reason is replaced by the operating system's (``Permission
        denied``, ``Is a directory``); a private key with group or world access gets its
        current mode and the ``chmod 600`` command that fixes it.
    """
    unreadable = _UNREADABLE.search(line)
    if unreadable is not None:
        reason = _open_error(unreadable.group("path"))
        if reason is not None:
            return line[: unreadable.start()] + f"{unreadable.group('head')}: {reason}"
        return line
    loose = _LOOSE_KEY.search(line)
    if loose is not None:
        return line + _loose_key_hint(loose.group("path"))
    return line
