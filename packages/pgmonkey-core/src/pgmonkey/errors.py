"""Every exception pgmonkey raises on purpose.

All of them derive from :class:`PgMonkeyError`, so ``except pgmonkey.errors.PgMonkeyError``
catches everything the library reports deliberately. Configuration errors also derive from
:class:`ValueError`, as they did in earlier pgmonkey releases::

    PgMonkeyError
     ├── ConfigError (ValueError)           a configuration cannot be used
     │    ├── ConfigFileError               missing, unreadable, a directory, empty
     │    ├── ConfigSyntaxError             not valid YAML (carries line and column)
     │    ├── ConfigValidationError         a value or key breaks the schema (carries key path)
     │    └── EnvInterpolationError         ${VAR}, from_env or from_file cannot be resolved
     ├── DatabaseConnectionError            a connection or pool could not be established
     │    ├── SessionSettingError           a sync_settings/async_settings entry was refused
     │    └── CredentialProviderError       a credential provider failed or returned nonsense
     ├── PoolExhaustedError                 no pooled connection became free within ``timeout``
     ├── PsycopgUnavailableError (ImportError)
     │                                      psycopg cannot load libpq, or is not installed
     └── TestServerError                    pgmonkey.testing could not start or stop a server
          └── PostgresNotFoundError         no PostgreSQL server binaries were found

Messages never contain a secret value (passwords, keys, tokens): they name the file, the
key path and the problem instead. Packages built on the core (the CLI, the framework
extensions) derive their own errors from these classes.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "CredentialProviderError",
    "DatabaseConnectionError",
    "EnvInterpolationError",
    "PgMonkeyError",
    "PoolExhaustedError",
    "PostgresNotFoundError",
    "PsycopgUnavailableError",
    "SessionSettingError",
    "TestServerError",
]


def key_text(key: object) -> str:
    """A key as text for a message: control characters (a NUL...) escaped, as ``repr`` does."""
    text = str(key)
    return text if text.isprintable() else repr(text)[1:-1]


def _format_location(source: str | None, key_path: Sequence[str | int] | None) -> str:
    """Render ``file: section.key`` for the start of an error message."""
    parts: list[str] = []
    if source:
        parts.append(str(source))
    if key_path:
        parts.append(".".join(key_text(k) for k in key_path))
    return ": ".join(parts)


class PgMonkeyError(Exception):
    """Base class of every error pgmonkey raises deliberately."""


class ConfigError(PgMonkeyError, ValueError):
    """A configuration cannot be used.

    Attributes:
        source: The file the configuration came from, or ``None`` for a dict.
        key_path: The path of keys leading to the offending value, outermost first.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        key_path: Sequence[str | int] | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.key_path: tuple[str | int, ...] = tuple(key_path or ())
        where = _format_location(source, self.key_path)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigFileError(ConfigError):
    """The configuration file is missing, unreadable, a directory or empty."""


class ConfigSyntaxError(ConfigError):
    """The configuration file is not valid YAML.

    Attributes:
        line: 1-based line of the problem, when known.
        column: 1-based column of the problem, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.line = line
        self.column = column
        position = ""
        if line is not None:
            position = f"line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(f"{position}: {message}" if position else message, source=source)


class ConfigValidationError(ConfigError):
    """A key or value breaks the configuration schema."""


class EnvInterpolationError(ConfigError):
    """An environment or secret-file reference cannot be resolved.

    The message names the variable (or file) and the configuration key, never a value.
    """


class DatabaseConnectionError(PgMonkeyError):
    """A connection or a pool could not be established."""


class CredentialProviderError(DatabaseConnectionError):
    """``connection_settings.credential_provider`` raised, or returned something unusable.

    The message names the provider and the exception type, never the exception's text (a
    provider's error may quote a token); the provider's exception is the ``__cause__``.
    """


class SessionSettingError(DatabaseConnectionError):
    """The server refused a ``sync_settings``/``async_settings`` entry.

    Attributes:
        setting: The name of the refused setting.
    """

    def __init__(self, message: str, *, setting: str) -> None:
        self.setting = setting
        super().__init__(message)


class PoolExhaustedError(PgMonkeyError):
    """No pooled connection became available within the pool's ``timeout``."""


_LIBPQ_HINT = (
    'install psycopg\'s binary build, which brings its own libpq: pip install "psycopg[binary]"'
    " (pgmonkey-cli depends on it where wheels exist); or install the system libpq"
    " (Debian/Ubuntu: apt install libpq5; Fedora/RHEL: dnf install libpq; macOS: brew install"
    " libpq)"
)


class PsycopgUnavailableError(PgMonkeyError, ImportError):
    """psycopg cannot be imported: no libpq wrapper could be loaded, or it is not installed.

    Raised where pgmonkey first imports psycopg (:mod:`pgmonkey.connections`, and with it
    :class:`pgmonkey.PGConnectionManager`), and reported by every ``pgmonkey`` command, instead
    of psycopg's bare ``ImportError: no pq wrapper available``. Plain ``psycopg`` needs the
    system libpq; psycopg's binary build (``psycopg[binary]``) brings its own. The message says
    what to install. It is also an :class:`ImportError`, so ``except ImportError`` still
    catches it.

    Attributes:
        reason: What psycopg (or the import system) reported, on one line.
    """

    def __init__(self, reason: str, *, missing: str | None = None) -> None:
        self.reason = reason
        if missing is not None:
            package = '"psycopg[binary]"' if missing == "psycopg" else "psycopg-pool"
            hint = f"{missing} is not installed: pip install {package}"
        else:
            hint = f"psycopg cannot load libpq: {_LIBPQ_HINT}"
        super().__init__(f"{hint}\npsycopg said: {reason}", name=missing or "psycopg")

    @classmethod
    def from_import_error(cls, exc: ImportError) -> PsycopgUnavailableError:
        """Build the error from the ``ImportError`` that importing psycopg raised."""
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
        if missing not in ("psycopg", "psycopg_pool"):
            missing = None
        return cls(reason, missing=missing)


class TestServerError(PgMonkeyError):
    """:mod:`pgmonkey.testing` could not start, stop or use a throwaway server."""

    __test__ = False  # not a pytest test class, despite the name


class PostgresNotFoundError(TestServerError):
    """No PostgreSQL server binaries (initdb, pg_ctl, postgres) could be found."""


for _cls in (
    PgMonkeyError,
    ConfigError,
    ConfigFileError,
    ConfigSyntaxError,
    ConfigValidationError,
    EnvInterpolationError,
    DatabaseConnectionError,
    SessionSettingError,
    PoolExhaustedError,
    TestServerError,
    PostgresNotFoundError,
    PsycopgUnavailableError,
):
    _cls.__module__ = "pgmonkey.errors"
del _cls
