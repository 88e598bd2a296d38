"""The ``pgmonkey sandbox`` handlers: parse nothing, print what happened, return exit codes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from pgmonkey.testing import ServerAccount
from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgmonkey_cli._options import load_config_from_args
from pgmonkey_cli._sandbox._cluster import Sandbox
from pgmonkey_cli._sandbox._errors import SandboxError
from pgmonkey_cli._sandbox._paths import data_root, sandbox_dir
from pgmonkey_cli._sandbox._spec import SandboxSpec, spec_from_config

__all__ = ["destroy", "find_psql", "psql", "start", "status", "stop"]


def _account() -> ServerAccount | None:
    return ServerAccount.for_server()


def _sandbox_for(args: argparse.Namespace, account: ServerAccount | None) -> Sandbox:
    """The sandbox of ``args.connconfig`` (the file itself need not exist any more)."""
    config_path = Path(args.connconfig).expanduser().resolve()
    root = data_root(args.data_dir, account)
    return Sandbox(
        sandbox_dir(root, config_path),
        config_path,
        account,
        data_dir_option=args.data_dir,
    )


def _load_spec(args: argparse.Namespace) -> SandboxSpec:
    cfg = load_config_from_args(args)
    return spec_from_config(cfg, args.connconfig)


def _arg(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (for hints)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def start(args: argparse.Namespace) -> int:
    """``pgmonkey sandbox start``."""
    spec = _load_spec(args)
    account = _account()
    sandbox = _sandbox_for(args, account)
    result = sandbox.start(spec, ssl=args.ssl)
    config = _arg(spec.config_path)
    if result.already_running:
        print(f"The sandbox of {config} is already running (role and database checked).")
    else:
        verb = "Created and started" if result.created else "Started"
        print(f"{verb} the sandbox of {config}.")
    runs_as = f", running as the {result.account!r} account" if result.account else ""
    print(f"  PostgreSQL {result.version} from {result.bindir}{runs_as}")
    print(
        f"  listening on {spec.where()}: database {spec.dbname!r}, role {spec.user!r} "
        "(a superuser; password from the config)"
    )
    print(f"  data: {sandbox.directory}")
    if result.ssl and result.ca_cert is not None:
        print("  SSL is on and TCP connections without SSL are refused. In connection_settings:")
        print("      sslmode: verify-full")
        print(f"      sslrootcert: {result.ca_cert}")
    elif spec.wants_ssl:
        print(
            f"note: the config asks for sslmode={spec.sslmode} but SSL is off; start with "
            "--ssl to turn it on",
            file=sys.stderr,
        )
    print(f"Stop it with: pgmonkey sandbox stop {sandbox.options(config)}")
    return EXIT_OK


def _describe(sandbox: Sandbox, meta: dict[str, Any] | None) -> dict[str, Any]:
    pid = sandbox.pid() if meta is not None else None
    info: dict[str, Any] = {
        "config": str(sandbox.config_path),
        "directory": str(sandbox.directory),
        "state": "absent" if meta is None else ("running" if pid else "stopped"),
    }
    if meta is None:
        return info
    ssl = bool(meta.get("ssl"))
    info.update(
        pid=pid,
        host=meta.get("host"),
        port=meta.get("port"),
        dbname=meta.get("dbname"),
        user=meta.get("user"),
        ssl=ssl,
        sslrootcert=str(sandbox.ca_cert) if ssl else None,
        postgres_version=meta.get("postgres_version"),
        bindir=meta.get("bindir"),
        log=str(sandbox.logfile),
        created=meta.get("created"),
    )
    return info


def _print_info(info: dict[str, Any], sandbox: Sandbox) -> None:
    state = info["state"]
    config = _arg(Path(info["config"]))
    if state == "absent":
        hint = f"pgmonkey sandbox start {sandbox.options(config)}"
        print(f"No sandbox for {config} (start one: {hint})")
        return
    pid = f" (pid {info['pid']})" if info.get("pid") else ""
    print(f"The sandbox of {config} is {state}{pid}.")
    print(f"  PostgreSQL {info['postgres_version']} from {info['bindir']}")
    print(
        f"  host {info['host']}, port {info['port']}, database {info['dbname']!r}, "
        f"role {info['user']!r}"
    )
    if info["ssl"]:
        print(f"  SSL on: sslrootcert {info['sslrootcert']}")
    print(f"  data: {info['directory']}")
    print(f"  log:  {info['log']}")


def _all_sandboxes(root: Path, account: ServerAccount | None) -> list[dict[str, Any]]:
    found = []
    for meta_path in sorted(root.glob("*/sandbox.json")):
        try:
            config = Path(str(json.loads(meta_path.read_text(encoding="utf-8"))["config"]))
            sandbox = Sandbox(meta_path.parent, config, account)
            found.append(_describe(sandbox, sandbox.meta()))
        except (OSError, ValueError, KeyError, TypeError, SandboxError):
            continue
    return found


def status(args: argparse.Namespace) -> int:
    """``pgmonkey sandbox status``: 0 when running (or when listing), 1 otherwise."""
    account = _account()
    if args.connconfig is None:
        root = data_root(args.data_dir, account)
        every = _all_sandboxes(root, account)
        if args.json:
            print(json.dumps({"data_dir": str(root), "sandboxes": every}, indent=2))
        elif not every:
            print(f"No sandboxes in {root}.")
        else:
            print(f"Sandboxes in {root}:")
            for info in every:
                where = f"{info.get('host')}:{info.get('port')}"
                print(f"  {info['state']:<8} {where:<22} {info['config']}")
        return EXIT_OK
    sandbox = _sandbox_for(args, account)
    info = _describe(sandbox, sandbox.meta())
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_info(info, sandbox)
    return EXIT_OK if info["state"] == "running" else EXIT_FAILURE


def stop(args: argparse.Namespace) -> int:
    """``pgmonkey sandbox stop`` (idempotent)."""
    sandbox = _sandbox_for(args, _account())
    config = _arg(sandbox.config_path)
    if not sandbox.exists():
        print(f"No sandbox for {config}: nothing to stop.")
    elif sandbox.stop():
        print(f"Stopped the sandbox of {config} (its data is kept).")
    else:
        print(f"The sandbox of {config} was not running.")
    return EXIT_OK


def destroy(args: argparse.Namespace) -> int:
    """``pgmonkey sandbox destroy``: asks first unless ``--yes``; refuses without a TTY."""
    sandbox = _sandbox_for(args, _account())
    config = _arg(sandbox.config_path)
    if not sandbox.exists():
        print(f"No sandbox for {config}: nothing to destroy.")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"pgmonkey: error: refusing to destroy the sandbox of {config} without "
                "confirmation (no terminal to ask on); pass --yes",
                file=sys.stderr,
            )
            return EXIT_USAGE
        answer = input(
            f"Destroy the sandbox of {config} and all its data in {sandbox.directory}? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing destroyed.")
            return EXIT_FAILURE
    sandbox.destroy()
    print(f"Destroyed the sandbox of {config} ({sandbox.directory}).")
    return EXIT_OK


def find_psql(bindir: str | os.PathLike[str] | None) -> str:
    """Return the ``psql`` to run: the sandbox's binaries first, then ``PATH``.

    Raises:
        SandboxError: No ``psql`` anywhere (the message says how to install one).
    """
    looked = []
    if bindir is not None:
        candidate = Path(bindir) / "psql"
        if os.access(candidate, os.X_OK):
            return str(candidate)
        looked.append(str(Path(bindir)))
    found = shutil.which("psql")
    if found is not None:
        return found
    looked.append("PATH")
    raise SandboxError(
        f"psql was not found (looked in {', '.join(looked)}); install the PostgreSQL client "
        "(Debian/Ubuntu: 'apt-get install postgresql-client'; macOS: 'brew install libpq')"
    )


def psql(args: argparse.Namespace) -> int:
    """``pgmonkey sandbox psql [-- PSQL-ARGS]``: replace this process with psql."""
    from psycopg.conninfo import make_conninfo

    spec = _load_spec(args)
    sandbox = _sandbox_for(args, _account())
    config = _arg(sandbox.config_path)
    meta = sandbox.meta()
    if meta is None or sandbox.pid() is None:
        raise SandboxError(
            f"the sandbox of {config} is not running; start it: pgmonkey sandbox start "
            f"{sandbox.options(config)}"
        )
    program = find_psql(meta.get("bindir"))
    extra = list(args.psql_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    conninfo = make_conninfo("", **spec.psql_params())
    env = {**os.environ, "PGPASSWORD": spec.password}
    sys.stdout.flush()
    os.execve(program, [program, conninfo, *extra], env)  # noqa: S606 - no shell wanted
