"""Reading a configuration file: bytes to text to a tree of plain Python values.

YAML is composed (never constructed) with the C loader when PyYAML has it, and the node tree
is turned into dicts, lists, strings and ``None`` by :func:`tree_from_node`. Every scalar keeps
the text exactly as written, so YAML 1.1 coercions cannot change a value behind the user's
back: ``password: 0123`` stays ``"0123"`` (not 83), ``password: off`` stays ``"off"`` (not
``False``) and ``port: 05432`` reaches the schema as ``"05432"``, which rejects it instead of
sending 2842. Only the null forms (``~``, ``null``, an empty value) become ``None``.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pgmonkey.errors import ConfigFileError, ConfigSyntaxError, ConfigValidationError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Marks",
    "ParsedFile",
    "parse_text",
    "parse_yaml",
    "read_file",
    "read_file_bytes",
    "read_text_file",
    "read_yaml_file",
    "special_file_kind",
    "tree_from_node",
]

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_YAML = "tag:yaml.org,2002:"
_NULL = _YAML + "null"
_MERGE = _YAML + "merge"
_SCALAR_TAGS = frozenset(
    _YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp", "value")
)
_MAP_TAG = _YAML + "map"
_SEQ_TAG = _YAML + "seq"

#: Upper bounds that keep a hostile file (alias bombs, deep nesting) cheap to reject.
MAX_NODES = 10_000
MAX_DEPTH = 64
#: The largest file (configuration, secret, settings) pgmonkey reads: 1 MiB.
MAX_FILE_BYTES = 1 << 20

Marks = dict[tuple[Any, ...], tuple[int, int]]


@dataclass
class ParsedFile:
    """A parsed configuration file.

    Attributes:
        data: The document as dicts, lists, strings and ``None``.
        marks: ``(line, column)`` (1-based) of each key, by key path.
    """

    data: Any
    marks: Marks = field(default_factory=dict)


def read_text_file(
    path: str | os.PathLike[str],
    *,
    what: str = "configuration file",
    max_bytes: int = MAX_FILE_BYTES,
    on_open: Callable[[os.stat_result], None] | None = None,
) -> str:
    """Read a small text file that pgmonkey was pointed at, refusing anything unbounded.

    This is the one way pgmonkey reads the files a user names: configurations, ``from_file``
    secrets and the CLI's import/export settings files. The file is opened without blocking
    (a FIFO cannot stall the open), then :func:`os.fstat` on the open descriptor decides (so
    the file checked is the file read): anything but a regular file (a FIFO, a device such as
    ``/dev/zero``, a socket, a directory) is refused, and at most ``max_bytes + 1`` bytes are
    read, so an oversized file is refused without being read whole.

    Args:
        path: The file.
        what: What the file is, for the messages ("configuration file", "secret file"...).
        max_bytes: The largest accepted size (default :data:`MAX_FILE_BYTES`).
        on_open: Called with the ``fstat`` result of the opened regular file (to remember
            which file was read, e.g. for a cache).

    Returns:
        The decoded text (UTF-8, or UTF-16/32 with a byte-order mark).

    Raises:
        ConfigFileError: The file is missing, not a regular file, larger than ``max_bytes``,
            unreadable or not text. The message names the path and the reason.
    """
    source = os.fspath(path)
    return decode(read_file_bytes(source, what=what, max_bytes=max_bytes, on_open=on_open), source)


def read_file_bytes(
    path: str | os.PathLike[str],
    *,
    what: str = "configuration file",
    max_bytes: int = MAX_FILE_BYTES,
    on_open: Callable[[os.stat_result], None] | None = None,
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`read_text_file`).

    Raises:
        ConfigFileError: As :func:`read_text_file`, except for decoding.
    """
    source = os.fspath(path)
    if not isinstance(source, str):
        raise ConfigFileError(f"the {what} path must be text, not bytes")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError:
        raise ConfigFileError(f"{what} not found", source=source) from None
    except IsADirectoryError:
        raise ConfigFileError(f"is a directory, not a {what}", source=source) from None
    except PermissionError:
        raise ConfigFileError("cannot be read: permission denied", source=source) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigFileError(f"cannot be read: {reason}", source=source) from None
    try:
        return _read_regular(fd, source, what, max_bytes, on_open)
    finally:
        os.close(fd)


def _read_regular(
    fd: int,
    source: str,
    what: str,
    max_bytes: int,
    on_open: Callable[[os.stat_result], None] | None,
) -> bytes:
    """At most ``max_bytes`` bytes of the regular file open as ``fd``."""
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise ConfigFileError(f"is a directory, not a {what}", source=source)
    if not stat.S_ISREG(st.st_mode):
        kind = special_file_kind(st.st_mode)
        raise ConfigFileError(
            f"is not a regular file (it is a {kind}); a {what} must be a regular file",
            source=source,
        )
    if st.st_size > max_bytes:
        raise ConfigFileError(_too_large(what, st.st_size, max_bytes), source=source)
    if on_open is not None:
        on_open(st)
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigFileError(f"cannot be read: {reason}", source=source) from None
    if total > max_bytes:  # it grew while being read
        raise ConfigFileError(_too_large(what, None, max_bytes), source=source)
    return b"".join(chunks)


_KINDS = {
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}


def special_file_kind(mode: int) -> str:
    """What a non-regular file is, from its ``st_mode``: ``"FIFO (named pipe)"``, ..."""
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def _too_large(what: str, size: int | None, max_bytes: int) -> str:
    found = f"{size} bytes" if size is not None else f"more than {max_bytes} bytes"
    return f"is too large for a {what} ({found}; the limit is {max_bytes} bytes)"


def read_file(path: str | os.PathLike[str]) -> str:
    """Read a configuration file as text (:func:`read_text_file` with its defaults)."""
    return read_text_file(path)


def decode(raw: bytes, source: str | None) -> str:
    """Decode file bytes, honouring a byte-order mark; UTF-8 otherwise."""
    encoding = "utf-8"
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            encoding = name
            break
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"is not {encoding.upper()} text (undecodable byte at offset {exc.start})",
            source=source,
        ) from None


def parse_text(text: str, source: str | None) -> ParsedFile:
    """Parse a configuration's YAML text into a :class:`ParsedFile`.

    Raises:
        ConfigFileError: The document is empty.
        ConfigSyntaxError: The text is not valid YAML (with line and column).
        ConfigValidationError: Valid YAML that pgmonkey cannot use (tags, duplicate keys...).
    """
    parsed = parse_yaml(text, source)
    if parsed.data is None:
        raise ConfigFileError("configuration file is empty", source=source)
    return parsed


def read_yaml_file(
    path: str | os.PathLike[str],
    *,
    what: str = "configuration file",
    max_bytes: int = MAX_FILE_BYTES,
) -> ParsedFile:
    """Read and parse a YAML file the way pgmonkey reads its configuration files.

    The file is read by :func:`read_text_file` (a regular file of at most ``max_bytes``) and
    parsed by the same rules as a configuration: every scalar stays the text written (no
    YAML 1.1 coercion: ``0123`` stays ``"0123"``, ``on`` stays ``"on"``, ``1:30`` stays
    ``"1:30"``, ``0x1F`` stays ``"0x1F"``); only the null forms become ``None``; keys are
    text (an unquoted ``null:`` key is ``"null"``); aliases may expand to at most
    ``MAX_NODES`` (10,000) values, nested at most ``MAX_DEPTH`` (64) deep; tags other than the
    standard ones and duplicate keys are refused.

    Args:
        path: The file.
        what: What the file is, for the messages.
        max_bytes: The largest accepted size.

    Returns:
        The :class:`ParsedFile`; its ``data`` is ``None`` for an empty document.

    Raises:
        ConfigFileError: The file cannot be read (see :func:`read_text_file`).
        ConfigSyntaxError: The text is not valid YAML (with line and column).
        ConfigValidationError: Valid YAML that pgmonkey cannot use.
    """
    source = os.fspath(path)
    return parse_yaml(read_text_file(source, what=what, max_bytes=max_bytes), str(source))


def parse_yaml(text: str, source: str | None) -> ParsedFile:
    """Parse YAML text into a :class:`ParsedFile` (``data`` is ``None`` when empty).

    Raises:
        ConfigSyntaxError: The text is not valid YAML (with line and column).
        ConfigValidationError: Valid YAML that pgmonkey cannot use (tags, duplicate keys...).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "invalid YAML: " + ("; ".join(parts) or "syntax error")
        raise ConfigSyntaxError(
            message,
            source=source,
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
        ) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a control character, say): say which and where.
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise ConfigSyntaxError(
            f"invalid YAML: the control character {char!r} is not allowed in a YAML file "
            '(write it as an escape in a double-quoted string, e.g. "\\t")',
            source=source,
            line=line,
            column=column,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(f"invalid YAML: {type(exc).__name__}", source=source) from None
    except RecursionError:
        raise ConfigSyntaxError("invalid YAML: nested too deeply", source=source) from None
    finally:
        loader.dispose()
    if node is None:
        return ParsedFile(data=None)
    return tree_from_node(node, source)


def tree_from_node(node: Node, source: str | None = None) -> ParsedFile:
    """Turn an already composed YAML node into a :class:`ParsedFile`."""
    parsed = ParsedFile(data=None)
    parsed.data = _Walker(source, parsed.marks).walk(node, (), 0)
    return parsed


class _Walker:
    """Node tree to plain values, keeping scalars as written and recording key positions."""

    def __init__(self, source: str | None, marks: Marks) -> None:
        self.source = source
        self.marks = marks
        self.count = 0
        self.active: set[int] = set()

    def fail(self, message: str, path: tuple[Any, ...], node: Node) -> ConfigValidationError:
        mark = node.start_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})"
        return ConfigValidationError(message + where, source=self.source, key_path=path)

    def walk(self, node: Node, path: tuple[Any, ...], depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"too many values (more than {MAX_NODES} after aliases)", path, node)
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", path, node)
        if isinstance(node, ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise self.fail(f"unsupported YAML tag {node.tag!r}", path, node)
            if node.tag == _NULL:
                return None
            return str(node.value)
        if id(node) in self.active:
            raise self.fail("an alias refers to an enclosing value (a cycle)", path, node)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self.fail(f"unsupported YAML tag {node.tag!r}", path, node)
                return [
                    self.walk(child, (*path, i), depth + 1) for i, child in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                if node.tag != _MAP_TAG:
                    raise self.fail(f"unsupported YAML tag {node.tag!r}", path, node)
                return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))
        raise self.fail("unsupported YAML node", path, node)  # pragma: no cover

    def mapping(self, node: MappingNode, path: tuple[Any, ...], depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                for source_node in self._merge_sources(value_node, path):
                    for key, value in self.walk(source_node, path, depth + 1).items():
                        merged.setdefault(key, value)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                raise self.fail("keys must be plain text", path, key_node)
            key = str(key_node.value)
            key_path = (*path, key)
            if key in explicit:
                raise self.fail(f"duplicate key {key!r}", key_path, key_node)
            mark = key_node.start_mark
            self.marks[key_path] = (mark.line + 1, mark.column + 1)
            explicit[key] = self.walk(value_node, key_path, depth + 1)
        merged.update(explicit)
        return merged

    def _merge_sources(self, node: Node, path: tuple[Any, ...]) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        raise self.fail("'<<' must merge a mapping or a list of mappings", path, node)
