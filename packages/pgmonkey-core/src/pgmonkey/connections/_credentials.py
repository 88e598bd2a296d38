"""Credentials resolved for each new physical connection, not once per process.

Two sources change while a process runs:

* ``from_file`` secrets (:class:`~pgmonkey.config._secret_file.FileSecret` values): the file
  is checked with one ``stat`` per connection and re-read when it changed;
* ``connection_settings.credential_provider``: a ``package.module:function`` called with the
  connection's non-secret settings; it returns the password, or a mapping of connection
  parameters (``{"user": ..., "password": ...}``).

:func:`resolve_credentials` (sync) and :func:`resolve_credentials_async` turn the libpq
parameters of a configuration into the ones to connect with *now*. pgmonkey's plain
connections call them before each connect; its pools hand them to psycopg_pool as a
callable ``kwargs`` (psycopg_pool 3.3 and later) and the pooled connection classes call them
too (older psycopg_pool, and pools built by others, such as Django's), so a pool never needs
a restart after a rotation. Resolving is idempotent: resolved parameters resolve to themselves.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any

import psycopg_pool

from pgmonkey.config._provider import ProviderImportError, load_provider
from pgmonkey.config._schema import libpq_keywords
from pgmonkey.config._secret_file import FileSecret
from pgmonkey.config._sensitive import is_sensitive_key
from pgmonkey.errors import ConfigValidationError, CredentialProviderError, PgMonkeyError

__all__ = [
    "PROVIDER_KEY",
    "has_dynamic_credentials",
    "pool_kwargs_param",
    "provider_settings",
    "require_sync_provider",
    "resolve_credentials",
    "resolve_credentials_async",
]

#: The ``connection_settings`` key naming a credential provider.
PROVIDER_KEY = "credential_provider"
_WHERE = f"connection_settings.{PROVIDER_KEY}"


def has_dynamic_credentials(params: Mapping[str, Any]) -> bool:
    """Whether ``params`` hold a credential provider or a ``from_file`` secret.

    Args:
        params: libpq parameters (``connection_settings`` of a loaded configuration).

    Returns:
        ``True`` when connecting with ``params`` needs :func:`resolve_credentials` first.
    """
    return PROVIDER_KEY in params or any(isinstance(v, FileSecret) for v in params.values())


def provider_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """What a credential provider is called with: the non-secret connection settings.

    Args:
        params: libpq parameters.

    Returns:
        A new dict of the libpq parameters that are not sensitive (no ``password``,
        ``sslpassword``...): ``host``, ``port``, ``user``, ``dbname``, ``sslmode``...
        (psycopg arguments such as ``autocommit`` or a framework's ``cursor_factory`` are
        left out).
    """
    keywords = libpq_keywords()
    return {
        key: value
        for key, value in params.items()
        if key in keywords and not is_sensitive_key(key)
    }


def _provider(spec: Any) -> Any:
    try:
        return load_provider(str(spec))
    except ProviderImportError as exc:
        raise ConfigValidationError(
            str(exc), key_path=("connection_settings", PROVIDER_KEY)
        ) from None


def _current(params: Mapping[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    """``params`` with secret files re-read, without the provider key; its name and function.

    Both are ``None`` when there is no provider.
    """
    if not has_dynamic_credentials(params):
        return dict(params), None, None
    out = {k: (v.current() if isinstance(v, FileSecret) else v) for k, v in params.items()}
    spec = out.pop(PROVIDER_KEY, None)
    return out, spec, (None if spec is None else _provider(spec))


def require_sync_provider(params: Mapping[str, Any]) -> None:
    """Refuse an ``async def`` provider for a sync connection type (``normal``, ``pool``).

    Raises:
        ConfigValidationError: The provider is a coroutine function.
    """
    spec = params.get(PROVIDER_KEY)
    if spec is not None and inspect.iscoroutinefunction(_provider(spec)):
        raise _async_for_sync(spec)


def _async_for_sync(spec: Any) -> ConfigValidationError:
    return ConfigValidationError(
        f"credential provider {str(spec)!r} is an async function, which only the async and "
        "async_pool connection types can await; give the normal and pool types a plain "
        "function",
        key_path=("connection_settings", PROVIDER_KEY),
    )


def _failed(spec: Any, exc: BaseException) -> CredentialProviderError:
    return CredentialProviderError(
        f"credential provider {str(spec)!r} ({_WHERE}) raised {type(exc).__name__} (its "
        "message is not shown: it may quote a secret; see the exception's __cause__)"
    )


def _merge(params: dict[str, Any], spec: Any, result: Any) -> dict[str, Any]:
    """Apply what a provider returned: the password, or a mapping of parameters."""
    if isinstance(result, str):
        if not result:
            raise CredentialProviderError(
                f"credential provider {str(spec)!r} ({_WHERE}) returned an empty password"
            )
        params["password"] = result
        return params
    if isinstance(result, Mapping):
        for key in result:
            if not isinstance(key, str) or not key or key == PROVIDER_KEY:
                raise CredentialProviderError(
                    f"credential provider {str(spec)!r} ({_WHERE}) returned a mapping with "
                    f"the key {key!r}; expected libpq parameter names such as 'user' and "
                    "'password'"
                )
        params.update(result)
        return params
    raise CredentialProviderError(
        f"credential provider {str(spec)!r} ({_WHERE}) returned a {type(result).__name__}; "
        "expected the password (text) or a mapping of connection parameters"
    )


def resolve_credentials(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters to open a new physical connection with now (sync types).

    ``from_file`` secrets are re-read if their file changed, and the credential provider (if
    any) is called with the non-secret libpq settings (``host``, ``port``, ``user``,
    ``dbname``...); what it returns wins over the configuration.

    Args:
        params: libpq parameters of a loaded configuration (``connection_settings``).

    Returns:
        A new dict ready for ``psycopg.connect``.

    Raises:
        ConfigValidationError: The provider is an async function, or cannot be imported.
        CredentialProviderError: The provider raised or returned something unusable.
        EnvInterpolationError: A secret file can no longer be used (empty, too large...).
    """
    out, spec, provider = _current(params)
    if provider is None:
        return out
    if inspect.iscoroutinefunction(provider):
        raise _async_for_sync(spec)
    try:
        result = provider(provider_settings(out))
    except PgMonkeyError:
        raise  # pgmonkey's own errors (the built-in providers') quote no secret
    except Exception as exc:
        raise _failed(spec, exc) from exc
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise _async_for_sync(spec)
    return _merge(out, spec, result)


async def resolve_credentials_async(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters to open a new physical connection with now (async types).

    As :func:`resolve_credentials`, but an ``async def`` provider is awaited. A plain
    provider is called in the event loop: keep it fast (signing a token locally, as the AWS
    built-in does, is), or make it ``async`` when it does network I/O.

    Raises:
        ConfigValidationError: The provider cannot be imported.
        CredentialProviderError: The provider raised or returned something unusable.
        EnvInterpolationError: A secret file can no longer be used (empty, too large...).
    """
    out, spec, provider = _current(params)
    if provider is None:
        return out
    try:
        result = provider(provider_settings(out))
        if inspect.isawaitable(result):
            result = await result
    except PgMonkeyError:
        raise  # pgmonkey's own errors (the built-in providers') quote no secret
    except Exception as exc:
        raise _failed(spec, exc) from exc
    return _merge(out, spec, result)


def _version(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in text.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts)


#: psycopg_pool 3.3 added ``kwargs`` given as a callable, called for each new connection.
POOL_TAKES_CALLABLE_KWARGS = _version(psycopg_pool.__version__) >= (3, 3)


def pool_kwargs_param(kwargs: dict[str, Any], *, asynchronous: bool) -> Any:
    """psycopg_pool's ``kwargs`` argument for a pool connecting with ``kwargs``.

    With dynamic credentials and a psycopg_pool that accepts it (3.3+), a callable that
    resolves them for each new connection; otherwise ``kwargs`` as they are, and the pooled
    connection class resolves them in its ``connect`` (the hook every psycopg_pool has).

    Args:
        kwargs: The pool's connection arguments.
        asynchronous: For an ``AsyncConnectionPool`` (an async provider is awaited).
    """
    if not POOL_TAKES_CALLABLE_KWARGS or not has_dynamic_credentials(kwargs):
        return kwargs
    if asynchronous:
        return functools.partial(resolve_credentials_async, kwargs)
    return functools.partial(resolve_credentials, kwargs)
