"""``flask pgmonkey check | config | stats`` (private)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

import click
import psycopg
import yaml
from flask.cli import AppGroup

from pgmonkey import redact_config
from pgmonkey.config import redact_text
from pgmonkey.errors import PgMonkeyError

if TYPE_CHECKING:
    from flask import Flask

    from pgmonkey_flask._state import AppState

__all__ = ["make_cli"]


class _Extension(Protocol):
    """What the commands use of the ``PGMonkey`` extension they are bound to."""

    def _state(self, app: Flask | None = None, *, what: str = "pg") -> AppState: ...

    def connection(self, name: str = ..., /) -> psycopg.Connection[Any]: ...


_NAME_HELP = "Only this database (default: every configured database)."


def _names(state: AppState, name: str | None) -> list[str]:
    if name is None:
        return list(state.settings.configs)
    state.config(name)  # a clear error for an unknown name
    return [name]


def make_cli(pg: _Extension) -> click.Group:
    """The ``pgmonkey`` command group bound to ``pg``."""
    group = AppGroup("pgmonkey", help="pgmonkey: check and inspect the app's databases.")

    @group.command("check")
    @click.option("--name", default=None, help=_NAME_HELP)
    def check(name: str | None) -> None:
        """Connect to each database and run a query."""
        state = pg._state(what="flask pgmonkey check")
        failed = False
        for db in _names(state, name):
            where = state.settings.sources[db]
            try:
                conn = pg.connection(db)
                row = conn.execute(
                    "SELECT current_setting('server_version'), current_database(), current_user"
                ).fetchone()
            except (psycopg.Error, PgMonkeyError) as exc:
                failed = True
                reason = redact_text(str(exc), state.config(db))
                click.echo(f"{db}: FAILED ({where}): {reason}", err=True)
                continue
            assert row is not None
            click.echo(
                f"{db}: OK ({where}): PostgreSQL {row[0]}, database {row[1]!r}, user {row[2]!r}, "
                f"connection type {state.settings.connection_type!r}"
            )
        if failed:
            raise SystemExit(1)

    @group.command("config")
    @click.option("--name", default=None, help=_NAME_HELP)
    def config(name: str | None) -> None:
        """Print the effective configuration, secrets redacted."""
        state = pg._state(what="flask pgmonkey config")
        settings = state.settings
        out: dict[str, Any] = {
            "connection_type": settings.connection_type,
            "commit_mode": settings.commit_mode,
            "resolve_env": settings.resolve_env,
            "databases": {
                db: {
                    "source": settings.sources[db],
                    "config": redact_config(dict(settings.configs[db])),
                }
                for db in _names(state, name)
            },
        }
        click.echo(yaml.safe_dump(out, sort_keys=False).rstrip())

    @group.command("stats")
    @click.option("--name", default=None, help=_NAME_HELP)
    def stats(name: str | None) -> None:
        """Open the pools in this process and print their statistics as JSON."""
        state = pg._state(what="flask pgmonkey stats")
        out: dict[str, Any] = {}
        for db in _names(state, name):
            if state.settings.connection_type != "pool":
                out[db] = None
                continue
            out[db] = state.pool(db).get_stats()
        click.echo(json.dumps(out, indent=2, sort_keys=True))

    return group
