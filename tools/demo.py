"""The pgmonkey demo run by ``nox -s demo``.

It writes a pgmonkey YAML file, starts a ``pgmonkey sandbox`` made from it (a local
PostgreSQL with the file's role, password, database and port: the system's binaries, or the
embedded ones from PyPI), uses the four connection types, runs the ``pgmonkey`` commands
against it, prints what it did, and stops and destroys the sandbox at the end.
Exit status 0 means every step worked.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

from pgmonkey import PGConnectionManager


def step(title: str) -> None:
    """Print a section title."""
    print(f"\n=== {title}", flush=True)


def pgmonkey(*args: str, cwd: Path) -> None:
    """Run the real ``pgmonkey`` command, echo it, and stop the demo if it fails."""
    print(f"$ pgmonkey {' '.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "pgmonkey_cli", *args], cwd=cwd, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"demo failed: 'pgmonkey {' '.join(args)}' exited {proc.returncode}")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Path) -> tuple[Path, str]:
    """Write the demo's YAML file (a local server, plus session settings); return the password."""
    password = secrets.token_urlsafe(16)
    cfg = {
        "connection_type": "pool",
        "connection_settings": {
            "host": "127.0.0.1",
            "port": free_port(),
            "user": "demo",
            "password": password,
            "dbname": "demo",
            "connect_timeout": 10,
            "application_name": "pgmonkey-demo",
        },
        "pool_settings": {"min_size": 1, "max_size": 4, "timeout": 10},
        "async_pool_settings": {"min_size": 1, "max_size": 4, "timeout": 10},
        "sync_settings": {"statement_timeout": "30s"},
        "async_settings": {"statement_timeout": "30s"},
    }
    path = directory / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)
    return path, password


def use_sync_types(config: Path) -> None:
    """Use the ``normal`` and ``pool`` connection types."""
    manager = PGConnectionManager()
    for kind in ("normal", "pool"):
        with manager.get_database_connection(str(config), kind) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            timeout = conn.execute("SHOW statement_timeout").fetchone()
            print(
                f"{kind:>10}: server {version[0] if version else '?'}, "
                f"statement_timeout={timeout[0] if timeout else '?'}"
            )


async def use_async_types(config: Path) -> None:
    """Use the ``async`` and ``async_pool`` connection types."""
    async with PGConnectionManager() as manager:
        for kind in ("async", "async_pool"):
            conn = await manager.get_database_connection(str(config), kind)
            async with conn as c:
                cur = await c.execute("SELECT current_user, pg_backend_pid()")
                row = await cur.fetchone()
                print(
                    f"{kind:>10}: user {row[0] if row else '?'}, backend {row[1] if row else '?'}"
                )


def main() -> int:
    """Run the demo; return 0 when every step worked."""
    with tempfile.TemporaryDirectory(prefix="pgmonkey-demo-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o711)  # as root, the server runs as 'postgres', which must get through
        step("a pgmonkey YAML file for a local database")
        config, password = write_config(workdir)
        print(f"wrote {config}:")
        print(textwrap.indent(config.read_text().replace(password, "********"), "    "))

        step("pgmonkey sandbox: a local PostgreSQL made from that file")
        sandbox = ("--connconfig", config.name, "--data-dir", "sandboxes")
        pgmonkey("sandbox", "start", *sandbox, cwd=workdir)
        try:
            pgmonkey("sandbox", "status", *sandbox, cwd=workdir)

            step("the four connection types")
            use_sync_types(config)
            asyncio.run(use_async_types(config))

            step("pgmonkey pgconfig: validate, show, test every type, generate code")
            pgmonkey("pgconfig", "validate", "--connconfig", str(config), cwd=workdir)
            pgmonkey("pgconfig", "show", "--connconfig", str(config), cwd=workdir)
            pgmonkey("pgconfig", "test", "--connconfig", str(config), "--all", cwd=workdir)
            pgmonkey(
                "pgconfig",
                "generate-code",
                "--connconfig",
                str(config),
                "--connection-type",
                "pool",
                cwd=workdir,
            )

            step("pgmonkey pgimport and pgexport")
            csv = workdir / "people.csv"
            csv.write_text('id,name,city\n1,Ada,"London, UK"\n2,Linus,Helsinki\n3,,\n')
            pgmonkey(
                "pgimport",
                "--import_file",
                str(csv),
                "--table",
                "people",
                "--connconfig",
                str(config),
                cwd=workdir,
            )
            out = workdir / "people_export.csv"
            pgmonkey(
                "pgexport",
                "--table",
                "people",
                "--connconfig",
                str(config),
                "--export_file",
                str(out),
                cwd=workdir,
            )
            print(out.read_text())

            step("pgmonkey pgserverconfig --audit")
            pgmonkey("pgserverconfig", "--filepath", str(config), "--audit", cwd=workdir)

            step("cleaning up")
            PGConnectionManager().clear_cache()
            pgmonkey("sandbox", "stop", *sandbox, cwd=workdir)
        finally:
            pgmonkey("sandbox", "destroy", "--yes", *sandbox, cwd=workdir)
        print("sandbox stopped and destroyed; demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
