"""``from_file`` secrets that follow the file: re-read (after a cheap ``stat``) when it changes.

A value resolved from ``{from_file: PATH}`` is a :class:`FileSecret`: a ``str`` equal to the
text read when the configuration was loaded, which also remembers its file. Whatever copies
the configuration (dicts, framework settings) keeps the object, so the code that opens a new
physical connection can ask :meth:`FileSecret.current` for the file's text *now*. That costs
one ``stat`` call while the file is unchanged (same device, inode, size and modification
time); a changed file is read again through the bounded reader. Kubernetes and Docker secrets
and Vault agent files are rotated this way (Kubernetes swaps a symlink: a new inode).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import yaml

from pgmonkey.config._loader import read_file_bytes
from pgmonkey.errors import ConfigFileError, EnvInterpolationError

__all__ = [
    "NUL_MESSAGE",
    "FileIdentity",
    "FileSecret",
    "dotted",
    "file_identity",
    "read_secret_text",
    "secret_file_error",
]

#: Why a value holding NUL is refused, at loading and when a rotated secret file is re-read.
NUL_MESSAGE = (
    "contains a NUL character (\\0), which cannot be sent to PostgreSQL: libpq would cut the "
    "value short there"
)

#: (st_dev, st_ino, st_size, st_mtime_ns) of a secret file, or None when it could not be read.
FileIdentity = tuple[int, int, int, int] | None


def dotted(path: tuple[Any, ...]) -> str:
    """A key path as written in messages: ``connection_settings.password``, ``hosts[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def file_identity(path: str) -> FileIdentity:
    """The identity of the file at ``path`` now (one ``stat``), or ``None`` if it has none."""
    try:
        return _identity(os.stat(path))
    except (OSError, ValueError):
        return None


def read_secret_text(file_path: str) -> tuple[str, FileIdentity]:
    """Read a ``from_file`` secret through the bounded reader; return it and its identity.

    The identity comes from the descriptor that was read (not from a second ``stat`` of the
    path), so a later comparison compares against what was really read.

    Raises:
        ConfigFileError: As :func:`~pgmonkey.config.read_text_file`, with the reason only
            (the caller adds the key).
    """
    identity: FileIdentity = None

    def remember(st: os.stat_result) -> None:
        nonlocal identity
        identity = _identity(st)

    raw = read_file_bytes(file_path, what="secret file", on_open=remember)
    try:
        return raw.decode("utf-8"), identity
    except UnicodeDecodeError:
        raise ConfigFileError("is not UTF-8 text", source=file_path) from None


def secret_file_error(
    exc: ConfigFileError,
    target: str,
    key_path: tuple[Any, ...],
    key: str,
    source: str | None = None,
) -> EnvInterpolationError:
    """The error for a secret file that cannot be used: names the file and key, not the text."""
    reason = exc.message.removeprefix("secret file ")
    return EnvInterpolationError(
        f"secret file '{target}' {reason} (referenced by config key '{key}' via from_file)",
        source=source,
        key_path=key_path,
    )


def _text_of(raw: str) -> str:
    return raw.rstrip("\r\n")


class FileSecret(str):
    """Text read from a ``from_file`` secret, able to re-read its file when it changes.

    It is the text that was read (``==``, hashing, ``json.dumps`` and psycopg see a plain
    ``str``); :meth:`current` returns the file's text now. Copies of a configuration share
    the object, so every pool built from it follows the file.

    Attributes:
        path: The file (``~`` expanded).
        target: The path as written in the configuration, for messages.
        key_path: The configuration key it was written under.
    """

    path: str
    target: str
    key_path: tuple[Any, ...]

    def __new__(
        cls,
        text: str,
        *,
        path: str,
        target: str,
        key_path: tuple[Any, ...],
        identity: FileIdentity,
    ) -> FileSecret:
        """Wrap ``text``, read from ``path`` whose identity was ``identity``."""
        obj = super().__new__(cls, text)
        obj.path = path
        obj.target = target
        obj.key_path = key_path
        obj._latest = (identity, str(text))
        obj._lock = threading.Lock()
        return obj

    _latest: tuple[FileIdentity, str]
    _lock: threading.Lock

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))  # pickled or copied across processes: the text only

    def __deepcopy__(self, memo: dict[int, Any]) -> FileSecret:
        return self  # immutable text; the file it follows is shared on purpose

    def __copy__(self) -> FileSecret:
        return self

    def current(self) -> str:
        """The file's text now: one ``stat`` while unchanged, else a bounded re-read.

        Raises:
            EnvInterpolationError: The file is now missing, empty, too large, not a
                regular file or not UTF-8 (the message names the file and key, never text).
        """
        identity, text = self._latest
        now = file_identity(self.path)
        if now is not None and now == identity:
            return text
        with self._lock:
            key = dotted(self.key_path)
            try:
                raw, identity = read_secret_text(self.path)
            except ConfigFileError as exc:
                raise secret_file_error(exc, self.target, self.key_path, key) from None
            text = _text_of(raw)
            # The same refusals as when the configuration was loaded.
            problem = "is empty" if not text else NUL_MESSAGE if "\0" in text else None
            if problem is not None:
                raise EnvInterpolationError(
                    f"secret file '{self.target}' {problem} "
                    f"(referenced by config key '{key}' via from_file)",
                    key_path=self.key_path,
                )
            self._latest = (identity, text)
        return text


# A resolved configuration dumped with yaml.safe_dump (or yaml.dump) writes a from_file
# secret as text, as it did when the value was a plain str.
def _represent(dumper: Any, data: FileSecret) -> Any:
    return dumper.represent_str(str(data))


yaml.SafeDumper.add_representer(FileSecret, _represent)
yaml.Dumper.add_representer(FileSecret, _represent)
