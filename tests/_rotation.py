"""Credential rotation helpers shared by the core, reliability and extension tests.

A role with a password, a secret file rewritten as Kubernetes does (a new file moved into
place), and a credential provider that returns a new password on each call and keeps the
server in step (``ALTER ROLE`` through an admin connection before returning).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.testing import PostgresServer
from tests._wait import wait_until

__all__ = [
    "ISSUED",
    "ROTATING_POOL",
    "Load",
    "SecretFileRole",
    "StepState",
    "assert_no_secret_logged",
    "async_stepping_password",
    "drop_role",
    "make_role",
    "new_password",
    "old_backends",
    "prove_app_rotation",
    "prove_rotation",
    "rotate_file",
    "server_now",
    "set_password",
    "stepping_password",
    "use_server",
    "wait_until",
    "write_config",
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


class Load:
    """Operations run continuously by threads (and an asyncio loop) while a test rotates.

    Each operation is recorded with the phase the test had set when it started
    (``"before"``, ``"window"`` between the server change and the new secret, ``"after"``).
    """

    def __init__(self) -> None:
        self.phase = "before"
        self.done: dict[str, int] = {}
        self.failures: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def _record(self, label: str, phase: str, exc: BaseException | None) -> None:
        with self._lock:
            if exc is None:
                self.done[label] = self.done.get(label, 0) + 1
            else:
                self.failures.append((phase, label, f"{type(exc).__name__}: {exc}"))

    def run(self, label: str, op: Callable[[], object]) -> None:
        """Run one operation and record its outcome."""
        phase = self.phase
        try:
            op()
        except Exception as exc:
            self._record(label, phase, exc)
        else:
            self._record(label, phase, None)

    async def arun(self, label: str, op: Callable[[], Awaitable[object]]) -> None:
        """Run one async operation and record its outcome."""
        phase = self.phase
        try:
            await op()
        except Exception as exc:
            self._record(label, phase, exc)
        else:
            self._record(label, phase, None)

    def threads(self, label: str, op: Callable[[], object], count: int = 8) -> None:
        """Start ``count`` threads running ``op`` until :meth:`stop`."""

        def loop() -> None:
            while not self._stop.is_set():
                self.run(label, op)

        for _ in range(count):
            thread = threading.Thread(target=loop, daemon=True)
            thread.start()
            self._threads.append(thread)

    def asyncio_thread(self, main: Callable[[Load], Coroutine[Any, Any, None]]) -> None:
        """Start a thread running ``asyncio.run(main(self))`` (it should stop at ``stopping``)."""

        def target() -> None:
            try:
                asyncio.run(main(self))
            except Exception as exc:
                self._record("asyncio", self.phase, exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def count(self, label: str) -> int:
        """Successful operations of ``label`` so far."""
        with self._lock:
            return self.done.get(label, 0)

    def wait_for(self, more: int, *labels: str, timeout: float = 90.0) -> None:
        """Wait until each label has ``more`` further successes (or fail the test)."""
        targets = {label: self.count(label) + more for label in labels}
        deadline = time.monotonic() + timeout
        while any(self.count(label) < target for label, target in targets.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"operations stalled: {self.done}, {self.failures[:5]}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop every worker and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def server_now(server: PostgresServer) -> Any:
    """The server's clock (``clock_timestamp()``)."""
    return server.execute("SELECT clock_timestamp()")[0][0]


def prove_rotation(
    load: Load,
    server: PostgresServer,
    roles: list[str],
    labels: list[str],
    rotate: Callable[[], None],
) -> None:
    """Run ``rotate`` under load, then wait until every older session of ``roles`` retired.

    Asserts that no operation failed outside the rotation window (``rotate`` itself) and
    that the pools kept serving after all their connections were replaced.
    """
    try:
        load.wait_for(20, *labels)
        since = server_now(server)
        load.phase = "window"
        rotate()
        load.phase = "after"
        wait_until(
            lambda: all(old_backends(server, role, since) == 0 for role in roles),
            "the connections opened before the rotation to retire",
        )
        load.wait_for(50, *labels)
        for role in roles:  # serving through connections opened after the rotation only
            rows = server.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                [role],
            )
            assert rows[0][0] >= 1
            assert old_backends(server, role, since) == 0
    finally:
        load.stop()
    assert [f for f in load.failures if f[0] != "window"] == []


def assert_no_secret_logged(text: str, server: PostgresServer, secrets_: list[str]) -> None:
    """No password in the captured log records, nor in the server's log."""
    server_log = server.logfile.read_text(errors="replace") if server.logfile.exists() else ""
    for secret in secrets_:
        assert secret not in text
        assert secret not in server_log


class SecretFileRole:
    """A role whose password lives in a secret file, and its rotation (server, then file).

    Attributes:
        role: The role's name.
        secret: The secret file (holding ``first`` until :meth:`rotate`).
        first: The password before the rotation.
        second: The password after it.
    """

    def __init__(self, server: PostgresServer, directory: Path, tag: str) -> None:
        self.server = server
        self.first, self.second = new_password(f"{tag}-one"), new_password(f"{tag}-two")
        self.role = make_role(server, self.first)
        self.secret = directory / f"{tag}-password"
        self.secret.write_text(self.first + "\n", encoding="utf-8")

    @property
    def passwords(self) -> list[str]:
        """Both passwords (for the log checks)."""
        return [self.first, self.second]

    def settings(self) -> dict[str, Any]:
        """``connection_settings`` entries: the role and the ``from_file`` password."""
        return {"user": self.role, "password": {"from_file": str(self.secret)}}

    def rotate(self) -> None:
        """``ALTER ROLE ... PASSWORD``, then the secret file replaced."""
        set_password(self.server, self.role, self.second)
        rotate_file(self.secret, self.second)

    def drop(self) -> None:
        """Drop the role."""
        drop_role(self.server, self.role)


def write_config(
    path: Path,
    server: PostgresServer,
    connection_type: str,
    pool: Mapping[str, Any],
    **settings: Any,
) -> None:
    """Write a YAML configuration for ``server`` with these connection and pool settings."""
    import yaml

    raw = server.config(password=None, connection_type=connection_type)
    raw["connection_settings"].pop("password", None)  # the superuser's
    raw["connection_settings"].update(settings)
    raw["pool_settings"] = dict(pool)
    raw["async_pool_settings"] = dict(pool)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")


#: Pool settings of the proofs: a short ``max_lifetime`` so the pools cycle during a test.
ROTATING_POOL: dict[str, Any] = {"min_size": 2, "max_size": 4, "max_lifetime": 1.5, "timeout": 30}


def prove_app_rotation(
    server: PostgresServer,
    directory: Path,
    *,
    connection_type: str,
    label: str,
    start: Callable[[Load, Path, str], Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
    provider: str | None = None,
) -> None:
    """Prove a rotation through an application reading a YAML file, and that no log shows it.

    Without ``provider``, the password is a ``from_file`` secret rotated with ``ALTER ROLE``
    and a replaced file; with one, ``provider`` (a ``tests._rotation`` stepping provider)
    gives each new connection a new password, one pool worker keeping the server in step.

    Args:
        server: The server.
        directory: Where the YAML file and the secret go.
        connection_type: ``pool`` or ``async_pool``.
        label: The label ``start``'s operations record.
        start: Starts the application's load on ``Load`` for the YAML path and the role; it
            returns what stops the application.
        caplog: The test's log capture (set to DEBUG here).
        provider: The ``credential_provider``, or ``None`` for a secret file.
    """
    caplog.set_level(logging.DEBUG)
    if provider is None:
        rot = SecretFileRole(server, directory, label)
        role, settings, pool, rotate = rot.role, rot.settings(), ROTATING_POOL, rot.rotate
    else:
        state = use_server(server)
        role = make_role(server, new_password())
        settings = {"user": role, "credential_provider": provider}
        pool, rotate = {**ROTATING_POOL, "num_workers": 1}, _no_rotation
    path = directory / "db.yaml"
    write_config(path, server, connection_type, pool, **settings)
    load = Load()
    stop = start(load, path, role)
    try:
        prove_rotation(load, server, [role], [label], rotate)
    finally:
        stop()
    drop_role(server, role)
    if provider is None:
        used = rot.passwords
    else:
        used = list(state.issued)
        assert len(used) > 4  # the pool cycled: a provider call per new connection
    assert_no_secret_logged(caplog.text, server, used)


def _no_rotation() -> None:
    """A provider rotates on each call: nothing to do at the rotation point."""
