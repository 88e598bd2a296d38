"""What every test server of :mod:`pgmonkey.testing` offers: configs, connections, DDL helpers.

:class:`pgmonkey.testing.PostgresServer` (a throwaway cluster) and
:class:`pgmonkey.testing.ExternalServer` (``PGMONKEY_TEST_DSN``) both derive from
:class:`ServerBase`; they differ only in where the libpq parameters come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pgmonkey._psycopg import require_psycopg

if TYPE_CHECKING:
    import psycopg

__all__ = ["APPLICATION_NAME", "ServerBase"]

APPLICATION_NAME = "pgmonkey-tests"


def wrap_connection_settings(settings: dict[str, Any], connection_type: str) -> dict[str, Any]:
    """Wrap ``connection_settings`` into a pgmonkey config with small test pool sizes."""
    return {
        "connection_type": connection_type,
        "connection_settings": settings,
        "pool_settings": {"min_size": 1, "max_size": 5, "timeout": 10},
        "async_pool_settings": {"min_size": 1, "max_size": 5, "timeout": 10},
    }


class ServerBase:
    """Shared behaviour of the test servers (not meant to be instantiated directly).

    Subclasses provide ``host``, ``port``, ``superuser``, ``password``, ``roles`` and the
    three hooks :meth:`_superuser_password`, :meth:`_tcp_params` and :meth:`_socket_host`.
    (``password`` is not declared here: a subclass may narrow it to ``str``, which a mutable
    attribute of the base would not allow.)
    """

    host: str
    port: int
    superuser: str
    roles: dict[str, str | None]
    default_dbname: str = "postgres"

    # -- hooks

    def _superuser_password(self) -> str | None:
        """The superuser's password (``None``: unknown, libpq may find one elsewhere)."""
        raise NotImplementedError

    def _tcp_params(self, *, ssl: bool | None, user: str, password: str | None) -> dict[str, Any]:
        """Libpq parameters (other than user, password, dbname) for a TCP connection."""
        raise NotImplementedError

    def _socket_host(self) -> str:
        """The unix-socket directory to use as ``host``."""
        raise NotImplementedError

    # -- configurations

    def config(
        self,
        *,
        dbname: str | None = None,
        user: str | None = None,
        password: str | None = None,
        connection_type: str = "normal",
        unix_socket: bool = False,
        ssl: bool | None = None,
        **connection_settings: Any,
    ) -> dict[str, Any]:
        """Return a pgmonkey configuration dict that connects to this server.

        Args:
            dbname: Database to connect to (default: ``postgres``, or the DSN's database for
                an external server).
            user: Role to connect as; defaults to the superuser.
            password: That role's password. Defaults to the superuser's password when
                ``user`` is not given, and to the password given in ``start_server(roles=...)``
                for such a role.
            connection_type: The configuration's ``connection_type``.
            unix_socket: Connect through the server's unix socket instead of TCP.
            ssl: For a server started with ``ssl=True``: connect with ``sslmode: verify-full``
                and the throwaway CA as ``sslrootcert`` (the default there). A role that has a
                client certificate and no password also gets ``sslcert``/``sslkey``.
            **connection_settings: Extra or overriding ``connection_settings`` entries.
        """
        if user is None:
            user = self.superuser
            if password is None:
                password = self._superuser_password()
        elif password is None:
            password = self.roles.get(user)
        settings: dict[str, Any] = {"user": user}
        if unix_socket:
            settings.update(host=self._socket_host(), port=self.port)
        else:
            settings.update(self._tcp_params(ssl=ssl, user=user, password=password))
        settings["dbname"] = dbname if dbname is not None else self.default_dbname
        settings.setdefault("connect_timeout", 10)
        settings.setdefault("application_name", APPLICATION_NAME)
        if password is not None:
            settings["password"] = password
        settings.update(connection_settings)
        return wrap_connection_settings(settings, connection_type)

    def conninfo(self, *, dbname: str | None = None, **params: Any) -> str:
        """Return a libpq connection string for the superuser (through TCP)."""
        require_psycopg()
        from psycopg.conninfo import make_conninfo

        base = self.config(dbname=dbname)["connection_settings"]
        base.pop("application_name", None)
        base.update(params)
        return make_conninfo("", **base)

    def connect(self, *, dbname: str | None = None, **params: Any) -> psycopg.Connection[Any]:
        """Open an autocommit superuser connection (the caller closes it)."""
        import psycopg

        return psycopg.connect(self.conninfo(dbname=dbname, **params), autocommit=True)

    # -- administration

    def execute(
        self, query: str, params: Sequence[Any] | None = None, *, dbname: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser in autocommit and return its rows."""
        with self.connect(dbname=dbname) as conn:
            cur = conn.execute(query.encode(), params)
            return cur.fetchall() if cur.description is not None else []

    def create_role(
        self,
        name: str,
        *,
        password: str | None = None,
        superuser: bool = False,
        login: bool = True,
    ) -> None:
        """Create a role (the caller chooses a unique name)."""
        from psycopg import sql

        query = sql.SQL("CREATE ROLE {} {} {}").format(
            sql.Identifier(name),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER"),
        )
        with self.connect() as conn:
            conn.execute(query)
            if password is not None:
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(password)
                    )
                )

    def create_database(
        self, name: str, *, owner: str | None = None, template: str | None = None
    ) -> None:
        """Create a database owned by ``owner`` (default: the superuser).

        ``template`` copies that database (``CREATE DATABASE ... TEMPLATE``) instead of the
        default ``template1``.
        """
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner is not None:
            query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        if template is not None:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(query)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
