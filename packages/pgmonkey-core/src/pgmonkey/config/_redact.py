"""The one redaction: configurations, free text and connection targets made safe to show.

* :func:`redact_config`: a copy of a configuration with secrets masked (``pgconfig show``).
* :func:`redact_text`: any text (an error message, a server's reply) with the secrets of a
  configuration and every password-looking part (URL user info, ``password=``/``pwd=``
  fragments) masked.
* :func:`describe_target`: where a connection goes (host, port, dbname, user), safe to show.

What counts as a secret comes from the one definition of a sensitive key
(:mod:`pgmonkey.config._sensitive`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from pgmonkey.config._interpolate import is_structured_ref
from pgmonkey.config._sensitive import is_secret_value_key, is_sensitive_key

__all__ = [
    "REDACTED",
    "describe_target",
    "redact_config",
    "redact_exception",
    "redact_text",
    "secret_values",
]

REDACTED = "***REDACTED***"

_MAX_DEPTH = 100
# Secrets this short are masked only as whole words: a password "pw" must not mask "pwd".
_SHORT = 4
# scheme://user:password@host -- greedy up to the last '@' of the run, so an unencoded '@'
# inside the password is masked too (over-masking is the safe side).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#\s@]*:)(?P<secret>[^\s]*)@")
# key=value pairs (libpq conninfo strings, URL query strings, messages quoting them); the
# pair is masked when the key is sensitive. A quoted value runs to its closing quote (or the
# end); an unquoted one to whitespace, '&', ';' or a quote that closes a message's quoting.
# No blanks around '=': "password_encryption = scram-sha-256" in a report is not a secret
# (a configuration's own "password = x" is masked as one of its secret values).
_PAIR = re.compile(
    r"(?P<head>(?<![\w.-])(?P<key>[A-Za-z_][\w.-]*)=)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|[^\s&;\"']+)"
)
# The same pairs as libpq reads them from a conninfo string: an unquoted value runs to
# whitespace (used to find the secrets written inside configuration values).
_CONNINFO_PAIR = re.compile(
    r"(?<![\w.-])(?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'?|[^\s&]+)"
)
_ESCAPE = re.compile(r"\\(.)")
_CUT_ENDS = ('"', "'", "...", "\u2026")


def _pair_value(raw: str) -> str:
    if raw.startswith("'"):
        raw = raw[1:-1] if len(raw) > 1 and raw.endswith("'") else raw[1:]
        return _ESCAPE.sub(r"\1", raw)
    return raw


def _embedded_secrets(text: str) -> set[str]:
    """Passwords written inside a string: URL user info and sensitive ``key=value`` pairs."""
    found: set[str] = set()
    if "://" in text:
        for match in _URL_PASSWORD.finditer(text):
            found.update((match.group("secret"), unquote(match.group("secret"))))
    if "=" in text:
        for match in _CONNINFO_PAIR.finditer(text):
            if is_secret_value_key(match.group("key")):
                value = match.group("value")
                found.update((value, _pair_value(value), unquote(value)))
    return found


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _collect(value: Any, found: set[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            text = _scalar_text(item)
            if text is not None and is_secret_value_key(key):
                found.add(text)
            _collect(item, found, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, found, depth + 1)
    else:
        text = _scalar_text(value)
        if text is not None and ("://" in text or "=" in text):
            found.update(_embedded_secrets(text))


def secret_values(config: Any) -> frozenset[str]:
    """The secret strings a configuration holds, wherever they are written.

    They are the values of keys for which :func:`~pgmonkey.config._sensitive.is_secret_value_key`
    holds (``password``, ``sslpassword``, a ``token`` in a session setting, ...) at any depth,
    and the passwords written inside any string value: the user info of a connection URL
    (``postgresql://user:SECRET@host``) and sensitive ``key=value`` pairs of a conninfo
    fragment (``dbname=app password=SECRET``), as written and unquoted.

    Args:
        config: A configuration, one of its sections or libpq parameters.

    Returns:
        The non-empty secret strings.
    """
    found: set[str] = set()
    _collect(config, found, 0)
    return frozenset(s for s in found if s.strip())


def _forms(secret: str) -> set[str]:
    """``secret`` as it may appear in a message: raw, repr'd, JSON-escaped, URL-encoded."""
    return {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe="")}


class _Masker:
    """Masks a fixed set of secrets (in every form) and the password-looking patterns."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {f for s in secrets for f in _forms(s) if f}
        self._forms = sorted(forms, key=len, reverse=True)
        self._cut = sorted((s for s in secrets if len(s) > _SHORT), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form not in text:
                continue
            if len(form) < _SHORT:
                pattern = rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])"
                text = re.sub(pattern, REDACTED, text)
            else:
                text = text.replace(form, REDACTED)
        for secret in self._cut:
            text = _mask_cut(text, secret)
        return _mask_patterns(text)


def _mask_cut(text: str, secret: str) -> str:
    """Mask the beginnings of ``secret`` that ``text`` cuts short.

    The server truncates names to 63 bytes (a URL written as ``dbname`` is cut inside its
    password, then quoted: ``database "postgresql://app:SECR"``), and long messages are
    shortened with ``...``: a start of ``secret`` (four characters or more) followed by a
    quote or ``...`` is masked.
    """
    head = secret[:_SHORT]
    start = text.find(head)
    while start != -1:
        end = start + _SHORT
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        if text.startswith(_CUT_ENDS, end):
            text = text[:start] + REDACTED + text[end:]
            end = start + len(REDACTED)
        start = text.find(head, end)
    return text


def _mask_patterns(text: str) -> str:
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED + "@", text)
    if "=" in text:
        text = _PAIR.sub(
            lambda m: m.group("head") + REDACTED if is_sensitive_key(m.group("key")) else m[0],
            text,
        )
    return text


def redact_text(text: str, config: Any = None) -> str:
    """Return ``text`` with every secret masked as :data:`REDACTED`.

    This is how pgmonkey shows any text that may quote a configuration: connection targets,
    error messages (libpq and the server quote a misplaced value, such as a connection URL
    written as ``dbname``), log records. It masks

    * every secret value of ``config`` (values of sensitive keys other than file names, and
      passwords written inside its strings), wherever it appears, also in its
      ``repr``, JSON and URL-encoded forms and cut short (the server truncates names to 63
      bytes); secrets shorter than four characters only as whole words;
    * the password of any ``scheme://user:password@host`` URL;
    * the value of any ``key=value`` pair whose key is sensitive
      (:func:`~pgmonkey.config.is_sensitive_key`: ``password=``, ``PWD=``, ``sslpassword=``,
      ``app.token=``, ...), quoted or not, keys compared case-insensitively.

    Masking is idempotent: redacted text passes through unchanged.

    Args:
        text: The text to show.
        config: The configuration the text may quote (any tree of mappings, lists and
            scalars: a whole configuration, ``connection_settings``, libpq parameters).

    Returns:
        The masked text.

    Example:
        >>> redact_text('database "x PWD=s3cret" does not exist')
        'database "x PWD=***REDACTED***" does not exist'
    """
    return _Masker(() if config is None else secret_values(config))(text)


_TARGET_KEYS = ("host", "port", "dbname", "user")


def describe_target(settings: Mapping[str, Any]) -> str:
    """Say where a connection goes, with no secret in it.

    Every description of a connection target that pgmonkey prints (errors, reprs, log
    records, warnings) is made here: ``host=... port=... dbname=... user=...`` with each value
    passed through :func:`redact_text`, so a password written by mistake into one of them
    (``dbname: postgresql://app:SECRET@db/app``, ``host: 'db password=SECRET'``) is masked.

    Args:
        settings: ``connection_settings`` (or the libpq parameters built from them).

    Returns:
        The description, or ``"libpq defaults"`` when none of the four keys is set.

    Example:
        >>> describe_target({"host": "db", "port": 5432, "dbname": "app password=s3cret",
        ...                  "user": "app", "password": "s3cret"})
        'host=db port=5432 dbname=app password=***REDACTED*** user=app'
    """
    mask = _Masker(secret_values(settings))
    parts = []
    for key in _TARGET_KEYS:
        value = settings.get(key)
        if value not in (None, ""):
            parts.append(f"{key}={mask(str(value))}")
    return " ".join(parts) or "libpq defaults"


def redact_exception(exc: BaseException, config: Any) -> BaseException:
    """Mask the secrets of ``config`` in ``exc`` and its chained exceptions, in place.

    psycopg's connection errors quote libpq and the server, which quote misplaced values
    (a URL in ``dbname``, ``password=`` in ``host``). Their arguments and notes are rewritten
    so that a traceback printed later shows no secret.

    Returns:
        ``exc``.
    """
    mask = _Masker(secret_values(config))
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(mask(a) if isinstance(a, str) else a for a in current.args)
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [mask(str(n)) for n in notes]
        current = current.__cause__ or current.__context__
    return exc


def _is_empty(value: Any) -> bool:
    return value is None or (
        isinstance(value, str | bytes | Mapping | list | tuple | set | frozenset)
        and len(value) == 0
    )


def _redact_bytes(value: bytes, mask: _Masker) -> bytes:
    text = value.decode("utf-8", "surrogateescape")
    redacted = mask(text)
    return value if redacted == text else redacted.encode("utf-8", "surrogateescape")


def _redact(value: Any, mask: _Masker, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {key: _redact_entry(key, item, mask, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, mask, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, mask, depth + 1) for item in value)
    if isinstance(value, frozenset):
        return frozenset(_redact(item, mask, depth + 1) for item in value)
    if isinstance(value, set):
        return {_redact(item, mask, depth + 1) for item in value}
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, bytes):
        return _redact_bytes(value, mask)
    return value


def _redact_entry(key: Any, value: Any, mask: _Masker, depth: int) -> Any:
    if not is_sensitive_key(key):
        return _redact(value, mask, depth)
    if _is_empty(value):
        return value
    if is_structured_ref(value) and isinstance(next(iter(value.values())), str):
        return dict(value)  # {from_env: NAME} names a variable or file, not a secret
    return REDACTED


def redact_config(cfg: Any) -> Any:
    """Return a copy of ``cfg`` that is safe to print.

    Values of sensitive keys (:func:`~pgmonkey.config.is_sensitive_key`) become
    :data:`REDACTED`, recursing into mappings, lists, tuples and sets; every other string (or
    bytes) value is shown as :func:`redact_text` shows it, so the passwords inside DSN/URL
    and ``key=value`` strings and any secret of ``cfg`` repeated elsewhere are masked. Empty
    values (``None``, ``''``) and ``from_env``/``from_file`` references are kept, keys that
    are not strings are tolerated, and the input is never modified.

    Args:
        cfg: A configuration (or any tree of mappings, lists and scalars).

    Returns:
        The redacted copy.

    Example:
        >>> redact_config({"connection_settings": {"user": "app", "password": "s3cret"}})
        {'connection_settings': {'user': 'app', 'password': '***REDACTED***'}}
    """
    return _redact(cfg, _Masker(secret_values(cfg)), 0)
