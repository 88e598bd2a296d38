"""``manage.py pgmonkey_check [--database alias]``: connect and show what is in effect."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from pgmonkey_django._options import parse_session_options
from pgmonkey_django._redact import redact_settings, redact_text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Command(BaseCommand):
    """Connect to one database alias, run a query, show versions and settings."""

    help = (
        "Connect to a database, show the server version, the effective session settings "
        "and the Django settings in use (secrets redacted)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--database``."""
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help='The database alias to check (default: "default").',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Connect, query and report; a failure is a one-line ``CommandError``."""
        alias: str = options["database"]
        if alias not in connections.settings:
            known = ", ".join(sorted(connections.settings)) or "none"
            raise CommandError(f"unknown database alias {alias!r} (configured: {known})")
        wrapper = connections[alias]
        entry = wrapper.settings_dict
        gucs = parse_session_options(str((entry.get("OPTIONS") or {}).get("options") or ""))
        try:
            with wrapper.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('server_version'), "
                    "current_setting('server_version_num')::int, current_database(), "
                    "current_user, pg_backend_pid()"
                )
                version, version_num, database, user, pid = cursor.fetchone()
                effective: dict[str, str] = {}
                for name in gucs:
                    cursor.execute("SELECT current_setting(%s, true)", [name])
                    effective[name] = cursor.fetchone()[0]
            pool = getattr(wrapper, "pool", None)
            stats = dict(pool.get_stats()) if pool is not None else None
        except DatabaseError as exc:
            raise CommandError(
                f"database {alias!r}: could not connect or query: "
                f"{redact_text(_first_line(exc), entry)}"
            ) from None
        finally:
            wrapper.close()

        write = self.stdout.write
        write(f"Database {alias!r}: PostgreSQL {version} (server_version_num {version_num})")
        write(f"  connected to {database!r} as {user!r} (backend pid {pid})")
        if stats is not None:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(stats.items()))
            write(f"  pool: Django native psycopg pool ({shown})")
        else:
            write(f"  pool: none (CONN_MAX_AGE={entry.get('CONN_MAX_AGE')!r})")
        if effective:
            write("Session settings (as the server reports them):")
            for name, value in effective.items():
                write(f"  {name} = {value}")
        write("Settings:")
        for key, value in redact_settings(entry).items():
            write(f"  {key}: {value!r}")
        write(self.style.SUCCESS("OK"))
