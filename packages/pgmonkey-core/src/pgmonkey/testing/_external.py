"""An existing PostgreSQL server used in place of a throwaway one (``PGMONKEY_TEST_DSN``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from pgmonkey._psycopg import require_psycopg
from pgmonkey.errors import TestServerError
from pgmonkey.testing._base import ServerBase
from pgmonkey.testing._settings import ENV_TEST_DSN

__all__ = ["ExternalServer"]


# Parameters that ExternalServer keeps in attributes of its own instead of in ``params``.
_OWN_KEYS = ("host", "port", "user", "password", "dbname")


@dataclass
class ExternalServer(ServerBase):
    """A server that was already running, described by a libpq connection string.

    It offers the methods of :class:`pgmonkey.testing.PostgresServer` that make sense for a
    server pgmonkey does not own: :meth:`config`, :meth:`conninfo`, :meth:`connect`,
    :meth:`execute`, :meth:`create_role`, :meth:`create_database`, :meth:`drop_database`.
    :meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`close` (which leaves the server
    alone) and the file locations of a throwaway cluster are not available: they skip the
    calling test (when ``skip_unsupported``, as under the pytest fixtures) or raise
    :class:`~pgmonkey.errors.TestServerError`.

    Attributes:
        dsn: The connection string it was built from (it may contain a password: never log it).
        host: The server's host (a name, an address or a unix-socket directory).
        port: The server's port.
        superuser: The role in the connection string; it needs ``CREATEDB`` (and
            ``CREATEROLE`` for :meth:`create_role`).
        password: That role's password, or ``None`` (libpq may still find one in
            ``PGPASSWORD`` or the password file).
        default_dbname: The database named in the connection string.
        params: Every other libpq parameter of the connection string (``sslmode``, ...).
        roles: Known passwords of other roles (empty unless you fill it).
        skip_unsupported: Whether unavailable operations skip the test instead of raising.
    """

    dsn: str
    host: str = "localhost"
    port: int = 5432
    superuser: str = "postgres"
    password: str | None = None
    default_dbname: str = "postgres"
    params: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str | None] = field(default_factory=dict)
    skip_unsupported: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    ipv6: bool = False
    certificates: None = None

    def __repr__(self) -> str:
        return f"ExternalServer(host={self.host!r}, port={self.port}, user={self.superuser!r})"

    @classmethod
    def from_dsn(cls, dsn: str, *, skip_unsupported: bool = False) -> ExternalServer:
        """Build one from a libpq connection string or URI.

        Raises:
            TestServerError: The string cannot be parsed, or names several hosts.
        """
        import getpass

        require_psycopg()
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            parsed = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
        except psycopg.ProgrammingError as exc:
            # psycopg's message quotes the string back; the string may hold a password.
            raise TestServerError(
                f"{ENV_TEST_DSN} is not a valid libpq connection string or URI "
                f"({type(exc).__name__})"
            ) from None
        host = parsed.get("host", "localhost")
        port = parsed.get("port", "5432")
        if "," in host or "," in port or not port.isdigit():
            raise TestServerError(
                f"{ENV_TEST_DSN} must name exactly one server (host {host!r}, port {port!r})"
            )
        user = parsed.get("user") or getpass.getuser()
        return cls(
            dsn=dsn,
            host=host,
            port=int(port),
            superuser=user,
            password=parsed.get("password"),
            default_dbname=parsed.get("dbname", user),
            params={k: v for k, v in parsed.items() if k not in _OWN_KEYS},
            skip_unsupported=skip_unsupported,
        )

    # -- ServerBase hooks

    def _superuser_password(self) -> str | None:
        return self.password

    def _tcp_params(self, *, ssl: bool | None, user: str, password: str | None) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, **self.params}

    def _socket_host(self) -> str:
        if not self.host.startswith("/"):
            self._unsupported(
                "a unix-socket connection (the DSN's host is not a socket directory)"
            )
        return self.host

    # -- what a borrowed server cannot do

    def _unsupported(self, what: str) -> NoReturn:
        message = f"{what} is not possible on the external server given by {ENV_TEST_DSN}"
        if self.skip_unsupported:
            import pytest

            pytest.skip(message)
        raise TestServerError(message)

    @property
    def socket_dir(self) -> str:
        """The unix-socket directory, when the DSN's host is one."""
        return self._socket_host()

    @property
    def supports_ssl(self) -> bool:
        """Whether the server has SSL turned on."""
        return bool(self.execute("SHOW ssl") == [("on",)])

    @property
    def running(self) -> bool:
        """Whether the server answers."""
        import psycopg

        try:
            self.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def start(self) -> None:
        """Not available: pgmonkey does not control this server."""
        self._unsupported("starting the server")

    def stop(self, mode: str = "fast") -> None:
        """Not available: pgmonkey does not control this server."""
        self._unsupported("stopping the server")

    def restart(self, mode: str = "fast") -> None:
        """Not available: pgmonkey does not control this server."""
        self._unsupported("restarting the server")

    def start_standby(self, **kwargs: Any) -> NoReturn:
        """Not available: pgmonkey does not control this server."""
        self._unsupported("starting a standby")

    def close(self) -> None:
        """Do nothing: the server belongs to someone else."""

    def __enter__(self) -> ExternalServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
