r"""Session settings as the libpq ``options`` startup parameter (``-c name=value``).

libpq splits ``options`` on whitespace and lets a backslash escape the next character
(PostgreSQL's ``pg_split_opts``), so ``application_name=my app`` is written
``-c application_name=my\ app``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pgmonkey.errors import ConfigValidationError

__all__ = ["escape", "join_options", "parse_session_options", "render_session_options"]

_GUC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*\Z")
_NEEDS_ESCAPE = re.compile(r"([\\\s])")


def escape(text: str) -> str:
    r"""Escape ``text`` for the libpq ``options`` string (``\`` and whitespace)."""
    return _NEEDS_ESCAPE.sub(r"\\\1", text)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def render_session_options(
    settings: Mapping[Any, Any], *, source: str | None = None, section: str = "sync_settings"
) -> str:
    """Render GUCs as ``-c name=value`` words for the libpq ``options`` parameter.

    Args:
        settings: GUC name -> value (``None`` entries are skipped).
        source: The configuration file, for error messages.
        section: The configuration section the settings came from, for error messages.

    Raises:
        ConfigValidationError: A name is not a valid setting name, or a value holds a NUL.
    """
    words: list[str] = []
    for name, value in settings.items():
        if value is None:
            continue
        if not isinstance(name, str) or not _GUC_NAME.match(name):
            raise ConfigValidationError(
                f"{name!r} is not a valid PostgreSQL setting name "
                "(letters, digits, '_', '$', and '.' for extension settings)",
                source=source,
                key_path=(section, str(name)),
            )
        text = _value_text(value)
        if "\x00" in text:
            raise ConfigValidationError(
                "a setting value cannot contain a NUL character",
                source=source,
                key_path=(section, name),
            )
        words.append(f"-c {name}={escape(text)}")
    return " ".join(words)


def join_options(*parts: str | None) -> str:
    """Join libpq ``options`` strings, skipping empty ones (later words win in PostgreSQL)."""
    return " ".join(p.strip() for p in parts if p and p.strip())


def _split(options: str) -> Iterator[str]:
    """Split like ``pg_split_opts``: whitespace separates, a backslash escapes."""
    word: list[str] = []
    in_word = False
    chars = iter(options)
    for ch in chars:
        if ch == "\\":
            word.append(next(chars, ""))
            in_word = True
        elif ch.isspace():
            if in_word:
                yield "".join(word)
                word, in_word = [], False
        else:
            word.append(ch)
            in_word = True
    if in_word:
        yield "".join(word)


def parse_session_options(options: str) -> dict[str, str]:
    """Return the ``-c name=value`` / ``--name=value`` settings of a libpq ``options`` string.

    Other words are ignored. A later setting of the same name wins, as in PostgreSQL.
    """
    found: dict[str, str] = {}
    words = list(_split(options))
    i = 0
    while i < len(words):
        word = words[i]
        assignment: str | None = None
        if word == "-c" and i + 1 < len(words):
            assignment = words[i + 1]
            i += 1
        elif (word.startswith("-c") and len(word) > 2) or (word.startswith("--") and "=" in word):
            assignment = word[2:]
        if assignment and "=" in assignment:
            name, _, value = assignment.partition("=")
            found[name.replace("-", "_")] = value
        i += 1
    return found
