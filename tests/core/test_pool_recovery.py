"""A pool's connection attempt is retried at once while no suitable server is up, and only then.

pgmonkey's pools connect through :class:`~pgmonkey.connections.PooledConnection` (and its
async twin), which retries an attempt that failed for a reason about availability (nothing
listening, ``target_session_attrs`` not met, the server starting or shutting down) for a few
seconds, instead of leaving it to psycopg_pool's 1, 2, 4 s backoff. What is observable:

* psycopg_pool counts its own attempts (``get_stats()["connections_num"]``: one per call of
  the connection class), and the server logs every login (``log_connections``): retries
  inside one pool attempt show as more logins than pool attempts;
* a wrong password is never retried there: every failure the server logs is a pool attempt
  of its own, as before;
* closing the pool stops the retries at once: psycopg_pool waits for its workers, and says
  so in a warning when one did not stop within the ``close()`` timeout;
* a pool opened while its server is down gets its connection once the server starts, within
  the attempt that was running (no attempt failed, as far as psycopg_pool can tell);
* after a restart, the first connection that fails its check at checkout has the pool discard
  all its broken idle connections at once (``pool.check()``, which logs each one), so that
  the request does not check them one by one with psycopg_pool's 1, 2, 4 s pauses between.

The errors themselves are real ones, from real servers (:func:`unavailable` on each).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from pgmonkey.connections import open_async_pool, open_pool
from pgmonkey.connections._availability import unavailable
from pgmonkey.testing import PostgresServer, start_server

LOG_SETTINGS = {"log_connections": "on", "log_line_prefix": "[%p] "}
ROLE, PASSWORD = "recovery_user", "right-password"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A dedicated server that logs every login (one test stops and starts it)."""
    with start_server(settings=LOG_SETTINGS, roles={ROLE: PASSWORD}) as srv:
        yield srv


def logged(server: PostgresServer, pattern: str) -> int:
    """How many lines of the server log match ``pattern``."""
    return len(re.findall(pattern, server.logfile.read_text(errors="replace"), re.MULTILINE))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def pool_config(server: PostgresServer, app: str, **settings: Any) -> dict[str, Any]:
    cfg = server.config(connection_type="pool", application_name=app, **settings)
    cfg["pool_settings"] = {"min_size": 1, "max_size": 1, "timeout": 30}
    cfg["async_pool_settings"] = dict(cfg["pool_settings"])
    return cfg


def logins(server: PostgresServer, app: str) -> Callable[[], int]:
    return lambda: logged(server, rf"connection authorized: .*application_name={app}$")


def stopped_in_time(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if "couldn't stop" in r.getMessage()]


def test_target_session_attrs_not_met_is_retried_within_one_pool_attempt(
    server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """No standby anywhere (no leader, for a writer): retried at once, until the pool closes."""
    app = "pgm-recovery-tsa"
    pool = open_pool(pool_config(server, app, target_session_attrs="standby"), wait=False)
    try:
        wait_until(lambda: logins(server, app)() >= 3, "three logins")
        seen = logins(server, app)()
        assert pool.get_stats()["connections_num"] < seen  # several logins per pool attempt
    finally:
        with caplog.at_level(logging.WARNING, logger="psycopg.pool"):
            pool.close(timeout=2)
    assert stopped_in_time(caplog), caplog.text


def test_async_pool_retries_too_and_stops_when_closed(
    server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = "pgm-recovery-async"

    async def main() -> tuple[int, int]:
        cfg = pool_config(server, app, target_session_attrs="standby")
        pool = await open_async_pool(cfg, wait=False)
        try:
            while logins(server, app)() < 3:
                await asyncio.sleep(0.05)
            return logins(server, app)(), pool.get_stats()["connections_num"]
        finally:
            with caplog.at_level(logging.WARNING, logger="psycopg.pool"):
                await pool.close(timeout=2)

    seen, attempts = asyncio.run(asyncio.wait_for(main(), 60))
    assert attempts < seen
    assert stopped_in_time(caplog), caplog.text


def test_wrong_password_is_not_retried(server: PostgresServer) -> None:
    """Each failed login is one pool attempt (psycopg_pool's backoff), as before."""
    cfg = pool_config(server, "pgm-recovery-auth", user=ROLE, password="wrong")
    failed = rf'password authentication failed for user "{ROLE}"'
    pool = open_pool(cfg, wait=False)
    try:
        # The server logs a failed login before the client gets the error and psycopg_pool
        # counts it: wait for both.
        wait_until(
            lambda: logged(server, failed) >= 2 and pool.get_stats()["connections_errors"] >= 2,
            "two failed logins, seen by the server and counted by the pool",
        )
        seen = logged(server, failed)
        stats = pool.get_stats()
    finally:
        pool.close()
    assert seen <= stats["connections_num"]
    assert stats["connections_errors"] >= 2


def test_pool_opened_while_the_server_is_down_connects_once_it_starts(
    server: PostgresServer,
) -> None:
    app = "pgm-recovery-down"
    server.stop("fast")
    try:
        pool = open_pool(pool_config(server, app), wait=False)
    finally:
        server.start()  # within the first attempt's retries (it takes well under 10 s)
    try:
        pool.wait(timeout=30)
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        stats = pool.get_stats()
    finally:
        pool.close()
    assert stats.get("connections_errors", 0) == 0  # the refused attempts were retried inside
    assert logins(server, app)() == 1


def sweep_records(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    """(failed checks at checkout, broken idle connections discarded by ``pool.check()``)."""
    messages = [r.getMessage() for r in caplog.records if r.name == "psycopg.pool"]
    failed = sum(m.startswith("connection failed check") for m in messages)
    swept = sum(m.startswith("discarding broken connection") for m in messages)
    return failed, swept


def sweep_config(server: PostgresServer, app: str) -> dict[str, Any]:
    cfg = pool_config(server, app)
    settings = {"min_size": 4, "max_size": 4, "timeout": 30, "check_on_checkout": True}
    cfg["pool_settings"] = cfg["async_pool_settings"] = settings
    return cfg


def test_one_broken_connection_at_checkout_sweeps_the_idle_ones(
    server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """After a restart every idle connection is broken: the first failed check discards them
    all (``pool.check()``), so the request waits for a new connection instead of checking the
    next broken one (psycopg_pool waits 1, 2, 4 s between two failed checks of a request)."""
    pool = open_pool(sweep_config(server, "pgm-recovery-sweep"))
    try:
        server.restart("fast")
        with caplog.at_level(logging.INFO, logger="psycopg.pool"):
            with pool.connection() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.close()
    assert sweep_records(caplog) == (1, 3), caplog.text


def test_async_pool_sweeps_too(server: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        pool = await open_async_pool(sweep_config(server, "pgm-recovery-sweep-async"))
        try:
            server.restart("fast")
            with caplog.at_level(logging.INFO, logger="psycopg.pool"):
                async with pool.connection() as conn:
                    cur = await conn.execute("SELECT 1")
                    assert await cur.fetchone() == (1,)
        finally:
            await pool.close()

    asyncio.run(asyncio.wait_for(main(), 60))
    assert sweep_records(caplog) == (1, 3), caplog.text


def test_which_real_errors_are_about_availability(server: PostgresServer) -> None:
    base = {
        "host": server.host,
        "port": server.port,
        "dbname": "postgres",
        "user": ROLE,
        "password": PASSWORD,
    }

    def error(**changes: Any) -> psycopg.OperationalError:
        with pytest.raises(psycopg.OperationalError) as info:
            psycopg.connect(**{**base, **changes}).close()
        return info.value

    closed_port = _closed_port()
    assert unavailable(error(port=closed_port))
    assert unavailable(error(target_session_attrs="standby"))
    both = f"{server.host},{server.host}"
    assert unavailable(
        error(host=both, port=f"{closed_port},{server.port}", target_session_attrs="standby")
    )
    assert not unavailable(error(password="wrong"))
    assert not unavailable(error(host=both, port=f"{closed_port},{server.port}", password="x"))
    assert not unavailable(error(dbname="no_such_database"))
    assert not unavailable(error(options="-c no_such.setting_x=1 -c work_mem=abc"))
    assert not unavailable(error(target_session_attrs="bogus"))


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
