"""``pgmonkey pgconfig test``: connect for real, through the library, and say what happened.

Each connection type is opened with :mod:`pgmonkey.connections` (what applications get),
then probed: server version, role, SSL (protocol, cipher, client certificate), the session
settings in effect and where they came from, autocommit, and the round-trip latency of
``SELECT 1``. Pool types also hold ``min_size + 1`` connections at once (bounded by
``max_size``) and check that they are distinct server backends. The exit status is 0 only
when every requested type worked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK
from pgmonkey_cli._options import CONNECTION_TYPES

__all__ = ["TypeResult", "run_test", "test_type"]

LATENCY_SAMPLES = 5
_PROBE = (
    "SELECT current_setting('server_version'), current_user, session_user,"
    " current_database(), host(inet_server_addr()), inet_server_port(),"
    " s.ssl, s.version, s.cipher, s.bits, s.client_dn, pg_backend_pid()"
    " FROM (SELECT 1) AS one LEFT JOIN pg_stat_ssl AS s ON s.pid = pg_backend_pid()"
)
_READ_SETTING = (
    "SELECT current_setting(%(name)s, true),"
    " (SELECT source FROM pg_settings WHERE name = lower(%(name)s))"
)
_UNDERSTOOD = "SELECT set_config(%s, %s, true)"
_APPLIED_SOURCES = ("client", "session")
_TX_STATUS = {0: "idle", 1: "active", 2: "in transaction", 3: "in failed transaction"}


@dataclass
class TypeResult:
    """What testing one connection type found."""

    connection_type: str
    ok: bool = False
    error: str | None = None
    connect_ms: float | None = None
    server: dict[str, Any] = field(default_factory=dict)
    ssl: dict[str, Any] = field(default_factory=dict)
    autocommit: bool | None = None
    transaction_status: str | None = None
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    pool: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def _session_section(connection_type: str) -> str:
    return "async_settings" if connection_type.startswith("async") else "sync_settings"


def _record_probe(result: TypeResult, row: tuple[Any, ...], autocommit: bool, tx: int) -> None:
    version, user, session_user, db, addr, port, ssl, proto, cipher, bits, client_dn, _ = row
    result.server = {
        "version": version,
        "user": user,
        "session_user": session_user,
        "database": db,
        "address": addr,
        "port": port,
    }
    result.ssl = {"in_use": bool(ssl)}
    if ssl:
        result.ssl.update(protocol=proto, cipher=cipher, bits=bits, client_dn=client_dn or None)
    result.autocommit = autocommit
    result.transaction_status = _TX_STATUS.get(tx, str(tx))


@dataclass(frozen=True)
class _Reading:
    """What the server says about one requested session setting."""

    name: str
    requested: str
    current: str | None  # current_setting(name, true): NULL when the server has no value
    source: str | None  # pg_settings.source; None for custom (dotted) settings
    understood: str | None  # the requested value as the server reads it (None: not checked)


def _requested_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _judge(r: _Reading) -> tuple[dict[str, Any], str | None]:
    """The report entry of one setting and its problem, if any.

    The value in effect is compared with what the server makes of the requested value (the
    result of ``set_config`` in a rolled-back transaction), so units (``30s``/``30000``),
    booleans (``true``/``on``), case and other normalisations never count as a difference.
    When the server would not let the session change the setting (``set_config`` failed),
    the source of the value decides, as for any setting sent at connection start.
    """
    info: dict[str, Any] = {"value": r.current, "source": r.source, "requested": r.requested}
    if r.current is None:
        info["applied"] = False
        if "." in r.name:
            return info, f"setting {r.name!r} has no value on the server (it was not applied)"
        return info, f"setting {r.name!r} is unknown to the server"
    from_client = r.source is None or r.source in _APPLIED_SOURCES
    if r.understood is not None:
        same = r.current == r.understood
    else:
        same = r.source is not None or r.current == r.requested
    info["applied"] = same and from_client
    if not same:
        expected = r.understood if r.understood is not None else r.requested
        return info, (
            f"setting {r.name!r} is {r.current!r} on the server, not {expected!r} "
            f"(requested {r.requested!r})"
        )
    if not from_client:
        return info, f"setting {r.name!r} is not in effect (source: {r.source})"
    return info, None


def _record_settings(result: TypeResult, readings: list[_Reading]) -> None:
    for reading in readings:
        info, problem = _judge(reading)
        result.settings[reading.name] = info
        if problem is not None:
            result.problems.append(problem)


def _latency(samples: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(samples) * 1000, 3),
        "min": round(min(samples) * 1000, 3),
        "samples": len(samples),
    }


# ----------------------------------------------------------------------------- sync


def _probe_sync(conn: Any, result: TypeResult, wanted: Mapping[str, Any]) -> None:
    tx_before = int(conn.info.transaction_status)
    row = conn.execute(_PROBE).fetchone()
    readings = _read_settings_sync(conn, wanted)
    samples = []
    for _ in range(LATENCY_SAMPLES):
        start = time.perf_counter()
        conn.execute("SELECT 1").fetchone()
        samples.append(time.perf_counter() - start)
    if not conn.autocommit:
        conn.rollback()
    _record_probe(result, row, bool(conn.autocommit), tx_before)
    _record_settings(result, readings)
    result.latency_ms = _latency(samples)


def _read_settings_sync(conn: Any, wanted: Mapping[str, Any]) -> list[_Reading]:
    """Read each setting, and what the server makes of its requested value (rolled back)."""
    import psycopg

    readings = []
    with conn.transaction(force_rollback=True):
        for name, value in wanted.items():
            requested = _requested_text(value)
            current, source = conn.execute(_READ_SETTING, {"name": str(name)}).fetchone()
            understood = None
            if current is not None:
                try:
                    with conn.transaction(force_rollback=True):
                        understood = conn.execute(_UNDERSTOOD, (str(name), requested)).fetchone()[
                            0
                        ]
                except psycopg.Error:
                    understood = None
            readings.append(_Reading(str(name), requested, current, source, understood))
    return readings


def _test_normal(cfg: Mapping[str, Any], result: TypeResult) -> None:
    from pgmonkey.connections import connect

    start = time.perf_counter()
    conn = connect(cfg)
    result.connect_ms = round((time.perf_counter() - start) * 1000, 1)
    with conn:
        _probe_sync(conn, result, cfg.get("sync_settings") or {})


def _test_pool(cfg: Mapping[str, Any], result: TypeResult) -> None:
    from pgmonkey.connections import open_pool

    start = time.perf_counter()
    pool = open_pool(cfg, wait=True, name="pgmonkey-cli-test")
    result.connect_ms = round((time.perf_counter() - start) * 1000, 1)
    held: list[Any] = []
    try:
        want = min(pool.min_size + 1, pool.max_size)
        for _ in range(want):
            held.append(pool.getconn())
        pids = {c.info.backend_pid for c in held}
        _probe_sync(held[0], result, cfg.get("sync_settings") or {})
        for conn in held[1:]:
            conn.execute("SELECT 1").fetchone()
            if not conn.autocommit:
                conn.rollback()
        result.pool = _pool_report(pool.min_size, pool.max_size, len(held), len(pids))
    finally:
        for conn in held:
            pool.putconn(conn)
        pool.close()


def _pool_report(min_size: int, max_size: int, held: int, distinct: int) -> dict[str, Any]:
    return {
        "min_size": min_size,
        "max_size": max_size,
        "held_at_once": held,
        "distinct_backends": distinct,
    }


# ----------------------------------------------------------------------------- async


async def _probe_async(conn: Any, result: TypeResult, wanted: Mapping[str, Any]) -> None:
    tx_before = int(conn.info.transaction_status)
    row = await (await conn.execute(_PROBE)).fetchone()
    readings = await _read_settings_async(conn, wanted)
    samples = []
    for _ in range(LATENCY_SAMPLES):
        start = time.perf_counter()
        await (await conn.execute("SELECT 1")).fetchone()
        samples.append(time.perf_counter() - start)
    if not conn.autocommit:
        await conn.rollback()
    _record_probe(result, row, bool(conn.autocommit), tx_before)
    _record_settings(result, readings)
    result.latency_ms = _latency(samples)


async def _read_settings_async(conn: Any, wanted: Mapping[str, Any]) -> list[_Reading]:
    """The async twin of :func:`_read_settings_sync`."""
    import psycopg

    readings = []
    async with conn.transaction(force_rollback=True):
        for name, value in wanted.items():
            requested = _requested_text(value)
            cur = await conn.execute(_READ_SETTING, {"name": str(name)})
            current, source = await cur.fetchone()
            understood = None
            if current is not None:
                try:
                    async with conn.transaction(force_rollback=True):
                        cur = await conn.execute(_UNDERSTOOD, (str(name), requested))
                        understood = (await cur.fetchone())[0]
                except psycopg.Error:
                    understood = None
            readings.append(_Reading(str(name), requested, current, source, understood))
    return readings


async def _test_async(cfg: Mapping[str, Any], result: TypeResult) -> None:
    from pgmonkey.connections import connect_async

    start = time.perf_counter()
    conn = await connect_async(cfg)
    result.connect_ms = round((time.perf_counter() - start) * 1000, 1)
    async with conn:
        await _probe_async(conn, result, cfg.get("async_settings") or {})


async def _test_async_pool(cfg: Mapping[str, Any], result: TypeResult) -> None:
    from pgmonkey.connections import open_async_pool

    start = time.perf_counter()
    pool = await open_async_pool(cfg, wait=True, name="pgmonkey-cli-test-async")
    result.connect_ms = round((time.perf_counter() - start) * 1000, 1)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(pool.close)
        held: list[Any] = []
        want = min(pool.min_size + 1, pool.max_size)
        try:
            for _ in range(want):
                held.append(await pool.getconn())
            pids = {c.info.backend_pid for c in held}
            await _probe_async(held[0], result, cfg.get("async_settings") or {})
            for conn in held[1:]:
                await (await conn.execute("SELECT 1")).fetchone()
                if not conn.autocommit:
                    await conn.rollback()
            result.pool = _pool_report(pool.min_size, pool.max_size, len(held), len(pids))
        finally:
            for conn in held:
                await pool.putconn(conn)


# ----------------------------------------------------------------------------- driver


def test_type(cfg: Mapping[str, Any], connection_type: str) -> TypeResult:
    """Connect with one type, probe it, and return what was found (never raises for I/O)."""
    import psycopg

    from pgmonkey.config import redact_text
    from pgmonkey.errors import PgMonkeyError
    from pgmonkey_cli._errors import format_error

    result = TypeResult(connection_type)
    try:
        if connection_type == "normal":
            _test_normal(cfg, result)
        elif connection_type == "pool":
            _test_pool(cfg, result)
        elif connection_type == "async":
            asyncio.run(_test_async(cfg, result))
        else:
            asyncio.run(_test_async_pool(cfg, result))
    except (PgMonkeyError, psycopg.Error, OSError) as exc:
        result.error = redact_text(format_error(exc), cfg)
        return result
    if result.pool is not None and result.pool["distinct_backends"] != result.pool["held_at_once"]:
        result.problems.append("the pool handed out the same backend twice")
    result.ok = not result.problems
    if result.problems and result.error is None:
        result.error = "; ".join(result.problems)
    return result


def _text(result: TypeResult) -> list[str]:
    if result.error and not result.server:
        return [f"{result.connection_type}: FAILED", f"  error       {result.error}"]
    s = result.server
    status = "OK" if result.ok else "FAILED"
    lines = [f"{result.connection_type}: {status} (connected in {result.connect_ms:g} ms)"]
    where = f"{s['address']}:{s['port']}" if s.get("address") else f"unix socket, port {s['port']}"
    lines.append(f"  server      PostgreSQL {s['version']}")
    lines.append(f"  connected   to {where}, database {s['database']!r}")
    role = str(s["user"])
    if s["session_user"] != s["user"]:
        role += f" (session user {s['session_user']})"
    lines.append(f"  role        {role}")
    if result.ssl.get("in_use"):
        ssl = f"{result.ssl['protocol']}, {result.ssl['cipher']} ({result.ssl['bits']} bits)"
        if result.ssl.get("client_dn"):
            ssl += f", client certificate {result.ssl['client_dn']}"
        lines.append(f"  ssl         {ssl}")
    else:
        lines.append("  ssl         not in use")
    lines.append(
        f"  autocommit  {'on' if result.autocommit else 'off'}"
        f" (connection {result.transaction_status} when handed out)"
    )
    if result.settings:
        first = True
        for name, info in result.settings.items():
            label = "settings    " if first else "            "
            first = False
            value = info["value"] if info["value"] is not None else "(unknown)"
            lines.append(f"  {label}{name} = {value} (source: {info['source']})")
    else:
        lines.append(f"  settings    none in {_session_section(result.connection_type)}")
    lat = result.latency_ms
    lines.append(
        f"  latency     {lat['median']:g} ms median, {lat['min']:g} ms min"
        f" ({lat['samples']} x SELECT 1)"
    )
    if result.pool is not None:
        p = result.pool
        lines.append(
            f"  pool        min_size {p['min_size']}, max_size {p['max_size']}: held "
            f"{p['held_at_once']} at once, {p['distinct_backends']} distinct backends"
        )
    for problem in result.problems:
        lines.append(f"  problem     {problem}")
    return lines


def run_test(args: argparse.Namespace) -> int:
    """Test the chosen connection type(s) of ``args.connconfig``."""
    from pgmonkey_cli._errors import redact_output
    from pgmonkey_cli._options import load_config_from_args, selected_connection_type

    cfg = load_config_from_args(args)
    types = list(CONNECTION_TYPES) if args.all else [selected_connection_type(args, cfg)]
    results = [test_type(cfg, t) for t in types]
    ok = all(r.ok for r in results)

    def show(text: str, *, err: bool = False) -> None:
        # Setting values and errors quote the configuration: shown as every target is.
        print(redact_output(text), file=sys.stderr if err else sys.stdout)

    if args.json:
        show(
            json.dumps(
                {
                    "config": str(args.connconfig),
                    "ok": ok,
                    "results": [r.as_dict() for r in results],
                },
                indent=2,
                default=str,
            )
        )
    else:
        show(f"Testing {args.connconfig}")
        for r in results:
            show("\n".join(_text(r)))
        worked = sum(r.ok for r in results)
        if len(results) > 1:
            show(f"{worked} of {len(results)} connection types worked.")
    for r in results:
        if not r.ok:
            first = (r.error or "failed").splitlines()[0]
            show(
                f"pgmonkey: error: {r.connection_type} connection test failed: {first}",
                err=True,
            )
    return EXIT_OK if ok else EXIT_FAILURE
