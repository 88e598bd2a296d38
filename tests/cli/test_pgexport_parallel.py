"""pgexport of a large plain table over two connections: byte-identical to one ``COPY``.

The size threshold is lowered so that a table of a few hundred pages takes the two-connection
path; everything else (server, connections, snapshots) is real.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgmonkey_cli._transfer import _copyout
from pgmonkey_cli._transfer._connect import connect as transfer_connect
from pgmonkey_cli._transfer._exporter import ExportRequest, ExportResult, run_export
from tests.cli.conftest import TransferEnv

ROWS = 6000

TABLE = """
CREATE TABLE big (
    id int,
    t text,
    twice int GENERATED ALWAYS AS (id * 2) STORED,
    gone int,
    ts timestamptz,
    n numeric
);
ALTER TABLE big DROP COLUMN gone;
INSERT INTO big (id, t, ts, n)
SELECT i, CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN '' ELSE repeat('x,"y"', 40) END,
       '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 minute', i / 3.0
FROM generate_series(1, {rows}) AS i;
DELETE FROM big WHERE id % 5 = 0;
UPDATE big SET t = 'updated' WHERE id % 13 = 0;
CREATE TABLE big_child (extra int) INHERITS (big);
INSERT INTO big_child (id, t) VALUES (-1, 'only in the child: COPY big TO leaves it out');
"""


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_copyout, "PARALLEL_MIN_BYTES", 1)


def _single_copy(env: TransferEnv, table: str = "big") -> bytes:
    with env.connect() as conn, conn.cursor() as cur:
        out = bytearray()
        with cur.copy(f"COPY {table} TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
            for data in copy:
                out += data
    return bytes(out)


def _export(
    env: TransferEnv, connect: Callable[[], psycopg.Connection[Any]], **options: Any
) -> tuple[ExportResult, bytes]:
    path = env.workdir / "big.csv"
    request = ExportRequest(table="big", export_file=path, overwrite=True, quiet=True, **options)
    result = run_export(request, connect, io.StringIO())
    return result, path.read_bytes()


class _Connections:
    """Opens real connections for the export and counts them; ``second`` customises #2."""

    def __init__(
        self, env: TransferEnv, second: Callable[[], psycopg.Connection[Any]] | None = None
    ) -> None:
        self.env = env
        self.second = second
        self.opened = 0

    def __call__(self) -> psycopg.Connection[Any]:
        self.opened += 1
        if self.opened == 2 and self.second is not None:
            return self.second()
        return transfer_connect(self.env.cfg, autocommit=False)


def _visible_rows(env: TransferEnv) -> int:
    return int(env.sql("SELECT count(*) FROM ONLY big")[0][0])


def test_two_connections_write_exactly_what_one_copy_writes(transfer_env: TransferEnv) -> None:
    transfer_env.sql(TABLE.format(rows=ROWS))
    pages = transfer_env.sql("SELECT pg_relation_size('big') / 8192")[0][0]
    assert pages > 50  # both halves hold many pages
    expected = _single_copy(transfer_env)
    connections = _Connections(transfer_env)
    result, written = _export(transfer_env, connections)
    assert connections.opened == 2
    assert written == expected
    assert result.rows == _visible_rows(transfer_env)
    assert b"only in the child" not in written
    assert written.startswith(b"id,t,ts,n\n")  # generated and dropped columns left out
    assert not list(transfer_env.workdir.glob("*.part"))


def test_other_formats_over_two_connections(transfer_env: TransferEnv) -> None:
    transfer_env.sql(TABLE.format(rows=ROWS))
    plain, _ = _export(transfer_env, _Connections(transfer_env))
    overrides = {"delimiter": ";", "quote": "'", "null": "\\N", "header": False}
    result, written = _export(transfer_env, _Connections(transfer_env), overrides=overrides)
    with transfer_env.connect() as conn, conn.cursor() as cur:
        expected = bytearray()
        statement = "COPY big TO STDOUT WITH (FORMAT csv, DELIMITER ';', QUOTE '''', NULL '\\N')"
        with cur.copy(statement) as copy:
            for data in copy:
                expected += data
    assert written == bytes(expected)
    assert result.rows == plain.rows


def test_second_connection_sees_the_first_ones_snapshot(transfer_env: TransferEnv) -> None:
    transfer_env.sql(TABLE.format(rows=ROWS))
    expected = _single_copy(transfer_env)

    def second() -> psycopg.Connection[Any]:
        # Committed after the export took its snapshot: it must not appear in the file.
        transfer_env.sql("INSERT INTO big (id, t) SELECT i, 'late' FROM generate_series(1, 500) i")
        transfer_env.sql("DELETE FROM big WHERE id = 1")
        return transfer_connect(transfer_env.cfg, autocommit=False)

    connections = _Connections(transfer_env, second)
    result, written = _export(transfer_env, connections)
    assert connections.opened == 2
    assert written == expected
    assert b"late" not in written
    assert result.rows == expected.count(b"\n") - 1


def test_falls_back_to_one_connection_when_the_second_fails(transfer_env: TransferEnv) -> None:
    transfer_env.sql(TABLE.format(rows=ROWS))
    expected = _single_copy(transfer_env)

    def second() -> psycopg.Connection[Any]:
        bad = dict(transfer_env.cfg)
        bad["connection_settings"] = {**bad["connection_settings"], "password": "wrong"}
        return transfer_connect(bad, autocommit=False)

    connections = _Connections(transfer_env, second)
    result, written = _export(transfer_env, connections)
    assert connections.opened == 2
    assert written == expected
    assert result.rows == _visible_rows(transfer_env)


def test_never_waits_for_a_second_connection_still_logging_in(transfer_env: TransferEnv) -> None:
    """E.g. a pooler queueing the second connection behind the first one's transaction."""
    transfer_env.sql(TABLE.format(rows=ROWS))
    expected = _single_copy(transfer_env)
    export_done = threading.Event()
    released: list[bool] = []
    opened: list[psycopg.Connection[Any]] = []

    def second() -> psycopg.Connection[Any]:
        # Logs in only once the export has returned (an export waiting for it times this out).
        released.append(export_done.wait(30))
        opened.append(transfer_connect(transfer_env.cfg, autocommit=False))
        return opened[0]

    connections = _Connections(transfer_env, second)
    result, written = _export(transfer_env, connections)
    export_done.set()
    assert written == expected
    assert result.rows == _visible_rows(transfer_env)
    for _ in range(600):  # the late connection finds its part taken and closes
        if opened and opened[0].closed:
            break
        time.sleep(0.05)
    assert released == [True]
    assert opened
    assert opened[0].closed
    assert not list(transfer_env.workdir.glob(".*"))


def test_falls_back_when_session_settings_differ(transfer_env: TransferEnv) -> None:
    """Values are written by the session's settings: a second session that differs is unused."""
    transfer_env.sql(TABLE.format(rows=ROWS))
    expected = _single_copy(transfer_env)

    def second() -> psycopg.Connection[Any]:
        conn = transfer_connect(transfer_env.cfg, autocommit=False)
        conn.execute("SET TimeZone = 'Asia/Kathmandu'")
        conn.commit()
        return conn

    connections = _Connections(transfer_env, second)
    _, written = _export(transfer_env, connections)
    assert connections.opened == 2
    assert written == expected


@pytest.mark.parametrize("where", ["first part", "second part"])
def test_failure_in_either_part_leaves_no_file(transfer_env: TransferEnv, where: str) -> None:
    from pgmonkey_cli._transfer._errors import ExportDataError

    if where == "first part":  # the unencodable row is on the first page
        transfer_env.sql("CREATE TABLE big (id int, t text)")
        transfer_env.sql("INSERT INTO big VALUES (0, '漢')")
        transfer_env.sql(
            f"INSERT INTO big SELECT i, repeat('x', 200) FROM generate_series(1, {ROWS}) i"
        )
    else:  # ... on the last page
        transfer_env.sql(TABLE.format(rows=ROWS))
        transfer_env.sql("INSERT INTO big (id, t) VALUES (0, '漢')")
    path = transfer_env.workdir / "big.csv"
    request = ExportRequest(
        table="big", export_file=path, quiet=True, overrides={"encoding": "latin-1"}
    )
    connections = _Connections(transfer_env)
    with pytest.raises(ExportDataError, match="no file was written") as caught:
        run_export(request, connections, io.StringIO())
    assert "LATIN1" in str(caught.value)
    assert connections.opened == 2
    assert not path.exists()
    assert not list(transfer_env.workdir.glob(".*"))
