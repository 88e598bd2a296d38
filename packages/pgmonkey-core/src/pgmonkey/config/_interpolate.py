"""Environment interpolation: ``${VAR}``, ``${VAR:-default}``, ``from_env`` and ``from_file``.

Rules:

* ``${VAR}`` must be set (an empty value is used as is); ``${VAR:-default}`` uses ``default``
  when ``VAR`` is unset *or empty*, as in the shell. Defaults may contain balanced braces and
  further references (``${A:-${B}}``). ``$${`` writes a literal ``${``. A lone ``$`` is kept.
* ``{from_env: NAME}`` and ``{from_file: PATH}`` (a mapping with exactly one of those keys)
  are replaced by the variable's value or the file's text without trailing newlines (a
  :class:`~pgmonkey.config._secret_file.FileSecret`, which connections re-read when the file
  changes).
* Strings inside lists and mappings (also mappings inside lists) are resolved; other values
  are left alone.
* Sensitive keys (:func:`~pgmonkey.config.is_sensitive_key`) refuse ``${VAR:-default}``
  unless ``allow_sensitive_defaults`` is set.

Errors name the variable or file and the configuration key, never a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pgmonkey.config._secret_file import (
    FileIdentity,
    FileSecret,
    dotted,
    read_secret_text,
    secret_file_error,
)
from pgmonkey.config._sensitive import is_sensitive_key
from pgmonkey.errors import ConfigFileError, EnvInterpolationError

__all__ = [
    "Interpolator",
    "is_structured_ref",
    "reference_names",
    "resolve_env_vars",
    "structured_kind",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRUCTURED_KEYS = ("from_env", "from_file")


def is_structured_ref(value: object) -> bool:
    """Tell whether ``value`` is ``{from_env: ...}`` or ``{from_file: ...}``."""
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _STRUCTURED_KEYS


def structured_kind(value: object) -> str | None:
    """``"from_env"`` or ``"from_file"`` for a structured reference, else ``None``."""
    if isinstance(value, Mapping) and is_structured_ref(value):
        return str(next(iter(value)))
    return None


def reference_names(text: str) -> list[str]:
    """The variables ``text`` refers to with ``${NAME}``/``${NAME:-...}`` (``$${`` skipped).

    Used on values taken literally (``resolve_env`` off) to tell that one was probably meant
    as a reference. Only well-formed starts count; a reference inside a default is not listed.

    Example:
        >>> reference_names("$${A} ${B}:${C:-x}")
        ['B', 'C']
    """
    names: list[str] = []
    i = text.find("$")
    while 0 <= i < len(text):
        if text.startswith("$${", i):
            i = text.find("$", i + 3)
            continue
        if text.startswith("${", i):
            match = _NAME.match(text, i + 2)
            if match and text.startswith(("}", ":-"), match.end()):
                names.append(match.group())
        i = text.find("$", i + 1)
    return names


def _sensitive(path: tuple[Any, ...]) -> bool:
    for part in reversed(path):
        if isinstance(part, str):
            return is_sensitive_key(part)
    return False


class Interpolator:
    """Resolves references and records what the result depends on.

    Attributes:
        env_deps: Each variable consulted, with the value it had (``None``: unset).
        file_deps: Each secret file read, with its identity when read.
    """

    def __init__(
        self,
        *,
        allow_sensitive_defaults: bool = False,
        source: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.allow_sensitive_defaults = allow_sensitive_defaults
        self.source = source
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.env_deps: dict[str, str | None] = {}
        self.file_deps: dict[str, FileIdentity] = {}
        #: Where resolved values came from, in order ("environment variable X", ...).
        self.origins: list[str] = []

    def _error(self, message: str, path: tuple[Any, ...]) -> EnvInterpolationError:
        return EnvInterpolationError(message, source=self.source, key_path=path)

    def _getenv(self, name: str) -> str | None:
        try:
            value = self.environ.get(name)
        except (ValueError, UnicodeError):  # e.g. a NUL byte in the name
            value = None
        self.env_deps[name] = value
        self.origins.append(f"environment variable {name}")
        return value

    def resolve(self, value: Any, path: tuple[Any, ...]) -> Any:
        """Return ``value`` with every reference resolved (a new object; input untouched).

        Raises:
            EnvInterpolationError: A reference cannot be resolved.
        """
        if isinstance(value, str):
            return self._expand(value, path, 0) if "$" in value else value
        if isinstance(value, Mapping):
            if is_structured_ref(value):
                return self._structured(value, path)
            return {k: self.resolve(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.resolve(v, (*path, i)) for i, v in enumerate(value))
        return value

    # -- inline references --------------------------------------------------------------

    def _expand(self, text: str, path: tuple[Any, ...], depth: int) -> str:
        if depth > 10:
            raise self._error(
                f"references nested more than 10 deep in config key '{dotted(path)}'", path
            )
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            if text.startswith("$${", j):
                out.append("${")
                i = j + 3
            elif text.startswith("${", j):
                value, i = self._reference(text, j, path, depth)
                out.append(value)
            else:
                out.append("$")
                i = j + 1
        return "".join(out)

    def _reference(
        self, text: str, start: int, path: tuple[Any, ...], depth: int
    ) -> tuple[str, int]:
        """Resolve the reference starting at ``text[start]``; return it and where it ends."""
        key = dotted(path)
        match = _NAME.match(text, start + 2)
        after = match.end() if match else start + 2
        if match and text.startswith("}", after):
            name = match.group()
            value = self._getenv(name)
            if value is None:
                raise self._error(
                    f"environment variable '{name}' is not set and no default was provided "
                    f"(referenced by config key '{key}')",
                    path,
                )
            return value, after + 1
        if match and text.startswith(":-", after):
            name = match.group()
            level, k = 1, after + 2
            while k < len(text):
                if text[k] == "{":
                    level += 1
                elif text[k] == "}":
                    level -= 1
                    if level == 0:
                        break
                k += 1
            else:
                raise self._error(
                    f"unterminated '${{{name}:-' in config key '{key}' (missing '}}')", path
                )
            if _sensitive(path) and not self.allow_sensitive_defaults:
                raise self._error(
                    f"default values are not allowed for sensitive key '{key}'; set the "
                    f"environment variable {name} instead (or allow sensitive defaults)",
                    path,
                )
            value = self._getenv(name)
            if not value:
                value = self._expand(text[after + 2 : k], path, depth + 1)
            return value, k + 1
        if "}" not in text[start:]:
            raise self._error(f"unterminated '${{' in config key '{key}' (missing '}}')", path)
        raise self._error(
            f"invalid reference in config key '{key}': expected ${{NAME}} or "
            "${NAME:-default}; write $${ for a literal '${'",
            path,
        )

    # -- structured references ----------------------------------------------------------

    def _structured(self, ref: Mapping[Any, Any], path: tuple[Any, ...]) -> str:
        kind, target = next(iter(ref.items()))
        key = dotted(path)
        if not isinstance(target, str) or not target:
            raise self._error(
                f"{kind} in config key '{key}' must be a non-empty string "
                f"(found {type(target).__name__})",
                path,
            )
        if kind == "from_env":
            value = self._getenv(target) if "=" not in target and "\0" not in target else None
            if value is None:
                raise self._error(
                    f"environment variable '{target}' is not set "
                    f"(referenced by config key '{key}' via from_env)",
                    path,
                )
            return value
        return self._read_secret_file(target, key, path)

    def _read_secret_file(self, target: str, key: str, path: tuple[Any, ...]) -> str:
        file_path = os.path.expanduser(target)
        identity: FileIdentity = None
        self.origins.append(f"secret file '{target}'")
        try:
            text, identity = read_secret_text(file_path)
        except ConfigFileError as exc:
            raise secret_file_error(exc, target, path, key, self.source) from None
        finally:
            self.file_deps[file_path] = identity
        return FileSecret(
            text.rstrip("\r\n"), path=file_path, target=target, key_path=path, identity=identity
        )


def resolve_env_vars(
    config: Any,
    *,
    allow_sensitive_defaults: bool = False,
    source: str | None = None,
) -> Any:
    """Resolve every environment and secret-file reference in ``config``.

    Args:
        config: Any tree of mappings, lists and scalars (not modified).
        allow_sensitive_defaults: Allow ``${VAR:-default}`` for sensitive keys.
        source: The file the tree came from, for error messages.

    Returns:
        A new tree with the references replaced.

    Raises:
        EnvInterpolationError: A reference cannot be resolved (the message names the
            variable or file and the key, never a value).
    """
    interpolator = Interpolator(allow_sensitive_defaults=allow_sensitive_defaults, source=source)
    return interpolator.resolve(config, ())
