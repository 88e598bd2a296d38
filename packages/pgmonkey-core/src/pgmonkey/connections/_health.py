"""Is an idle connection still alive? A non-blocking look at its socket, no round trip."""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg import pq

__all__ = ["looks_dead"]


def _socket_has_data(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - Windows
    return bool(readable)


def looks_dead(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection was closed by the server (restart, terminated backend).

    A live idle connection has nothing to read; a terminated one has the server's goodbye (or
    end of file) waiting, which libpq turns into a bad status when it reads it. Connections
    inside a transaction are never touched.
    """
    if conn.closed or conn.broken:
        return True
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return False
    pgconn = conn.pgconn
    try:
        # A goodbye is an error message then end of file: read until nothing is left.
        for _ in range(8):
            if not _socket_has_data(pgconn.socket):
                break
            pgconn.consume_input()
            if pgconn.status != pq.ConnStatus.OK:
                return True
    except (psycopg.OperationalError, OSError, ValueError):
        return True
    return pgconn.status != pq.ConnStatus.OK
