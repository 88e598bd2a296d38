"""Credential rotation helpers shared by the core, reliability and extension tests.

A role with a password, a secret file rewritten as Kubernetes does (a new file moved into
place), and a credential provider that returns a new password on each call and keeps the
server in step (``ALTER ROLE`` through an admin connection before returning).
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pgmonkey.testing import PostgresServer

__all__ = [
    "ISSUED",
    "StepState",
    "async_stepping_password",
    "drop_role",
    "make_role",
    "new_password",
    "old_backends",
    "rotate_file",
    "stepping_password",
    "use_server",
]


def new_password(tag: str = "pw") -> str:
    """A fresh password nobody else uses (easy to look for in logs)."""
    return f"{tag}-{secrets.token_hex(8)}"


def make_role(server: PostgresServer, password: str) -> str:
    """Create a login role with ``password``; return its name."""
    name = f"rot_{secrets.token_hex(4)}"
    server.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    return name


def set_password(server: PostgresServer, role: str, password: str) -> None:
    """``ALTER ROLE ... PASSWORD`` as the superuser."""
    server.execute(f"ALTER ROLE {role} PASSWORD '{password}'")


def drop_role(server: PostgresServer, role: str) -> None:
    """End the role's sessions and drop it."""
    server.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
    )
    server.execute(f"DROP ROLE IF EXISTS {role}")


def rotate_file(path: Path, text: str) -> None:
    """Replace the secret file as Kubernetes and Vault agent do: a new file moved in place."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)


def old_backends(server: PostgresServer, role: str, since: Any) -> int:
    """How many sessions of ``role`` started before ``since`` (a server timestamp)."""
    rows = server.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND backend_start < %s",
        [role, since],
    )
    return int(rows[0][0])


class StepState:
    """Where the stepping provider sends its ``ALTER ROLE`` and what it has issued."""

    def __init__(self) -> None:
        self.server: PostgresServer | None = None
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.issued: list[str] = []
        self.calls: list[dict[str, Any]] = []


ISSUED = StepState()


def use_server(server: PostgresServer) -> StepState:
    """Point the stepping providers at ``server`` and forget what they issued."""
    ISSUED.server = server
    ISSUED.issued.clear()
    ISSUED.calls.clear()
    return ISSUED


def stepping_password(settings: Mapping[str, Any]) -> str:
    """A credential provider: a new password on each call, set on the server first."""
    assert ISSUED.server is not None, "call use_server() first"
    with ISSUED.lock:
        password = f"step{next(ISSUED.counter)}-{secrets.token_hex(6)}"
        set_password(ISSUED.server, str(settings["user"]), password)
        ISSUED.issued.append(password)
        ISSUED.calls.append(dict(settings))
    return password


async def async_stepping_password(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The async flavour, returning a mapping of parameters (user and password)."""
    return {"user": settings["user"], "password": stepping_password(settings)}
