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
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pgmonkey.errors import ConfigFileError, ConfigSyntaxError, ConfigValidationError

__all__ = ["Marks", "ParsedFile", "parse_text", "read_file", "tree_from_node"]

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


def read_file(path: str | os.PathLike[str]) -> str:
    """Read a configuration file as text.

    Args:
        path: The file.

    Returns:
        The decoded text (UTF-8, or UTF-16/32 with a byte-order mark).

    Raises:
        ConfigFileError: The file is missing, a directory, unreadable or not text.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise ConfigFileError("configuration file not found", source=source) from None
    except IsADirectoryError:
        raise ConfigFileError("is a directory, not a configuration file", source=source) from None
    except PermissionError:
        raise ConfigFileError("cannot be read: permission denied", source=source) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigFileError(f"cannot be read: {reason}", source=source) from None
    return decode(raw, source)


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
    """Parse YAML text into a :class:`ParsedFile`.

    Raises:
        ConfigFileError: The document is empty.
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
        raise ConfigFileError("configuration file is empty", source=source)
    parsed = tree_from_node(node, source)
    if parsed.data is None:
        raise ConfigFileError("configuration file is empty", source=source)
    return parsed


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
