"""``pgimport --jobs``: parallel COPY streams, all or nothing, against real servers.

One server allows two-phase commit (``max_prepared_transactions``), another does not (the
default): appending with ``--jobs 2`` uses prepared transactions on the first and is refused
on the second; a new table and ``--truncate`` go through a staging table on both.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey.testing import PostgresServer, start_server
from pgmonkey_cli._transfer._split import plan_chunks
from tests.reliability._cli import CliRun, run_cli
from tests.reliability.test_corpus_import import CORPUS, CSV

pytestmark = pytest.mark.reliability


@dataclass
class Db:
    server: PostgresServer
    config: Path

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.server.connect() as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description is not None else []

    def leftovers(self) -> tuple[list[str], list[str]]:
        """(prepared transactions, staging tables) pgimport --jobs may leave."""
        gids = [r[0] for r in self.sql("SELECT gid FROM pg_prepared_xacts")]
        tables = [
            r[0] for r in self.sql("SELECT relname FROM pg_class WHERE relname LIKE 'pgmonkey%'")
        ]
        return gids, tables

    def pgimport(self, path: Path, table: str, *extra: str) -> CliRun:
        return run_cli(
            "pgimport", "--import_file", str(path), "--table", table,
            "--connconfig", str(self.config), "-q", *extra,
        )  # fmt: skip


def _db(server: PostgresServer, folder: Path) -> Db:
    config = folder / "conn.yaml"
    config.write_text(yaml.safe_dump(server.config()), encoding="utf-8")
    return Db(server, config)


@pytest.fixture(scope="module")
def two_phase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """A server that allows prepared transactions."""
    with start_server(settings={"max_prepared_transactions": 10}) as server:
        yield _db(server, tmp_path_factory.mktemp("2pc"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """A server with the default max_prepared_transactions = 0."""
    with start_server() as server:
        yield _db(server, tmp_path_factory.mktemp("plain"))


def _rows(n: int, *, start: int = 0) -> bytes:
    return b"".join(b'%d,"name %d",x\n' % (i, i) for i in range(start, start + n))


def test_append_with_two_phase_commit(two_phase: Db, tmp_path: Path) -> None:
    two_phase.sql("CREATE TABLE app (id int primary key, name text, tag text)")
    data = tmp_path / "app.csv"
    data.write_bytes(b"id,name,tag\n" + _rows(5000))
    result = two_phase.pgimport(data, "app", "--jobs", "2", "--json")
    assert result.status == 0, result.stderr
    assert '"jobs": 2' in result.stdout
    assert '"mechanism": "two-phase"' in result.stdout
    assert two_phase.sql("SELECT count(*), count(DISTINCT id), max(id) FROM app") == [
        (5000, 5000, 4999)
    ]
    assert two_phase.leftovers() == ([], [])


def test_append_refused_without_prepared_transactions(plain: Db, tmp_path: Path) -> None:
    plain.sql("CREATE TABLE refused (id int, name text, tag text)")
    data = tmp_path / "refused.csv"
    data.write_bytes(b"id,name,tag\n" + _rows(100))
    result = plain.pgimport(data, "refused", "--jobs", "2")
    assert result.status == 2
    assert "--jobs 2: appending to an existing table with 2 streams needs two-phase commit" in (
        result.stderr
    )
    assert "max_prepared_transactions = 0" in result.stderr
    assert plain.sql("SELECT count(*) FROM refused") == [(0,)]


@pytest.mark.parametrize("mode", ["new", "truncate"])
def test_staging_table_for_new_table_and_truncate(plain: Db, tmp_path: Path, mode: str) -> None:
    table = f"staged_{mode}"
    if mode == "truncate":
        plain.sql(f"CREATE TABLE {table} (id int NOT NULL, name text, tag text)")
        plain.sql(f"INSERT INTO {table} VALUES (-1, 'old', 'old')")
    data = tmp_path / f"{table}.csv"
    data.write_bytes(b"id,name,tag\n" + _rows(3000))
    extra = ["--truncate"] if mode == "truncate" else []
    result = plain.pgimport(data, table, "--jobs", "3", "--json", *extra)
    assert result.status == 0, result.stderr
    assert '"mechanism": "staging"' in result.stdout
    assert plain.sql(f"SELECT count(*), min(id::int), max(id::int) FROM {table}") == [
        (3000, 0, 2999)
    ]
    assert plain.leftovers() == ([], [])


@pytest.mark.parametrize(
    ("db_name", "mode", "bad", "message"),
    [
        ("two_phase", "append", b'oops,"bad",x\n', "line 4002, column id: invalid input syntax"),
        ("plain", "new", b"1,2,3,4\n", "line 4002: too many fields"),
        ("plain", "truncate", b'1.5,"bad",x\n', "line 4002, column id: invalid input syntax"),
    ],
)
def test_bad_row_at_the_end_of_the_last_stream_imports_nothing(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    db_name: str,
    mode: str,
    bad: bytes,
    message: str,
) -> None:
    db: Db = request.getfixturevalue(db_name)
    table = f"bad_last_{mode}"
    if mode != "new":
        db.sql(f"CREATE TABLE {table} (id int, name text, tag text)")
        db.sql(f"INSERT INTO {table} VALUES (-1, 'kept', 'kept')")
    data = tmp_path / f"{table}.csv"
    data.write_bytes(b"id,name,tag\n" + _rows(4000) + bad)
    plan = plan_chunks(data, encoding="utf-8", quote='"', jobs=2)
    assert len(plan.chunks) == 2
    assert plan.chunks[1].end == data.stat().st_size
    extra = ["--truncate"] if mode == "truncate" else []
    result = db.pgimport(data, table, "--jobs", "2", *extra)
    assert result.status == 1
    assert message in result.stderr, result.stderr
    assert "Nothing was imported" in result.stderr
    if mode == "new":
        assert db.sql("SELECT to_regclass(%s)", [table]) == [(None,)]
    else:  # untouched, the old row included
        assert db.sql(f"SELECT id, name FROM {table}") == [(-1, "kept")]
    assert db.leftovers() == ([], [])


def _parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@pytest.mark.parametrize("shift", range(-3, 4))
def test_quoted_newlines_exactly_at_chunk_edges(two_phase: Db, tmp_path: Path, shift: int) -> None:
    """A quoted newline sits at, just before or just after the point the split aims at."""
    table = f"edges_{shift + 3}"
    two_phase.sql(f"CREATE TABLE {table} (id int, body text)")
    record = b'%d,"x\n""y""\r\n\n,z"\n'
    tail = b"".join(record % i for i in range(100, 300))
    head = b"".join(record % i for i in range(0, 99))
    # record 99 gets padding so that the first quoted newline of record 100 (its 7th byte)
    # lands at size // 2 + shift: the chunk boundary must move past that whole record.
    size_without_pad = len(head) + len(record % 99) + len(tail)
    newline_at = len(head) + len(record % 99) + 6
    pad = size_without_pad + 2 * shift - 2 * newline_at
    assert pad >= 0
    padded = b'99,"' + b"p" * pad + b'x\n""y""\r\n\n,z"\n'
    data = tmp_path / f"{table}.csv"
    data.write_bytes(head + padded + tail)
    raw = data.read_bytes()
    assert raw[len(raw) // 2 + shift : len(raw) // 2 + shift + 1] == b"\n"
    assert raw[: len(raw) // 2 + shift].count(b'"') % 2 == 1  # that newline is quoted
    plan = plan_chunks(data, encoding="utf-8", quote='"', jobs=2)
    assert len(plan.chunks) == 2
    pieces = [_parse(raw[c.start : c.end]) for c in plan.chunks]
    assert pieces[0] + pieces[1] == _parse(raw)  # each chunk is whole records
    result = two_phase.pgimport(data, table, "--jobs", "2", "--no-header", "--json")
    assert result.status == 0, result.stderr
    assert '"jobs": 2' in result.stdout
    assert two_phase.sql(f"SELECT count(*), count(DISTINCT id) FROM {table}") == [(300, 300)]
    assert two_phase.sql(f"SELECT body FROM {table} WHERE id = 150") == [('x\n"y"\r\n\n,z',)]


@pytest.mark.parametrize(("name", "case"), sorted(CSV.items()), ids=sorted(CSV))
def test_corpus_under_two_jobs(plain: Db, tmp_path: Path, name: str, case: dict[str, Any]) -> None:
    """Every file of issue 6's corpus (encodings, delimiters, line endings) with --jobs 2."""
    data = tmp_path / name
    shutil.copyfile(CORPUS / "csv" / name, data)
    table = "jobs_" + Path(name).stem
    result = run_cli(
        "pgimport", "--import_file", str(data), "--table", table,
        "--connconfig", str(plain.config), "--jobs", "2", *case.get("args", []),
    )  # fmt: skip
    assert result.status == case["exit"], result.stderr
    if case["exit"] != 0:
        assert case["message"] in result.stderr
        assert plain.sql("SELECT to_regclass(%s)", [table]) == [(None,)]
    else:
        expected = case.get("rows")
        rows = plain.sql(f'SELECT * FROM "{table}" ORDER BY ctid')
        if isinstance(expected, int):
            assert len(rows) == expected
        elif expected is not None:  # the streams' rows interleave: compare as sets
            assert sorted(map(repr, rows)) == sorted(repr(tuple(r)) for r in expected)
    assert plain.leftovers() == ([], [])


def _big_file(path: Path, rows: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b"id,name,tag\n")
        step = 100_000
        for start in range(0, rows, step):
            fh.write(_rows(min(step, rows - start), start=start))


@pytest.mark.slow
@pytest.mark.parametrize("db_name", ["two_phase", "plain"])
def test_kill_9_in_the_middle_leaves_nothing_after_the_next_run(
    request: pytest.FixtureRequest, tmp_path: Path, db_name: str
) -> None:
    db: Db = request.getfixturevalue(db_name)
    table = f"killed_{db_name}"
    if db_name == "two_phase":
        db.sql(f"CREATE TABLE {table} (id int, name text, tag text)")
    data = tmp_path / "big.csv"
    _big_file(data, 3_000_000)
    argv = [
        sys.executable, "-m", "pgmonkey_cli", "pgimport", "--import-file", str(data),
        "--table", table, "--connconfig", str(db.config), "--jobs", "2", "-q",
    ]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while True:  # both streams are sending COPY data
            copying = db.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %%FROM STDIN%%' "
                "AND state = 'active'"
            )[0][0]
            if copying >= 2:
                break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the streams never started"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if db_name == "two_phase":
        assert db.sql(f"SELECT count(*) FROM {table}") == [(0,)]
    else:
        assert db.sql("SELECT to_regclass(%s)", [table]) == [(None,)]
    # the next run (any pgimport) cleans what the killed one left
    deadline = time.monotonic() + 30
    while db.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %%'")[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    if db_name == "plain":  # the staging table outlived the run...
        assert db.leftovers()[1] != []
    small = tmp_path / "small.csv"
    small.write_bytes(b"id,name,tag\n1,a,b\n")
    result = db.pgimport(small, f"after_{db_name}")
    assert result.status == 0, result.stderr
    assert db.leftovers() == ([], [])


def _crashed_run(db: Db, table: str, *, commit_first: bool) -> list[str]:
    """Leave what a run killed while committing leaves: two prepared streams of run 0x5eed."""
    from psycopg import sql

    from pgmonkey_cli._transfer._leftovers import prepared_gid

    conns = [db.server.connect() for _ in range(2)]
    try:
        for conn in conns:
            conn.autocommit = False
        query = "SELECT pg_current_xact_id()::text"
        xids = [int(c.execute(query).fetchall()[0][0]) for c in conns]
        gids = [prepared_gid(0x5EED, k, xids) for k in range(2)]
        for k, conn in enumerate(conns):
            conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(sql.Identifier(table)), [k])
            conn.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(gids[k])))
    finally:
        for conn in conns:
            conn.close()
    if commit_first:
        db.sql(sql.SQL("COMMIT PREPARED {}").format(sql.Literal(gids[0])).as_string(None))
    return gids


@pytest.mark.parametrize("commit_first", [True, False])
def test_cleanup_finishes_prepared_transactions_as_the_run_decided(
    two_phase: Db, commit_first: bool
) -> None:
    """Once one stream is committed the run had decided to commit: the rest are committed."""
    table = f"crashed_{commit_first}".lower()
    two_phase.sql(f"CREATE TABLE {table} (k int)")
    gids = _crashed_run(two_phase, table, commit_first=commit_first)
    assert two_phase.leftovers()[0] == gids[1:] if commit_first else sorted(gids)
    result = run_cli("pgimport", "--cleanup", "--connconfig", str(two_phase.config))
    assert result.status == 0, result.stderr
    verb = "committed" if commit_first else "rolled back"
    for gid in gids[1:] if commit_first else gids:
        assert f"{verb} prepared transaction {gid}" in result.stdout
    assert two_phase.sql(f"SELECT count(*) FROM {table}") == [(2 if commit_first else 0,)]
    assert two_phase.leftovers() == ([], [])
    again = run_cli("pgimport", "--cleanup", "--connconfig", str(two_phase.config))
    assert "No leftovers of interrupted pgimport --jobs runs." in again.stdout


def test_cleanup_leaves_a_running_import_alone(two_phase: Db) -> None:
    """A leftover whose run still holds its advisory lock belongs to a live import."""
    from pgmonkey_cli._transfer._leftovers import RUN_LOCK_CLASS

    two_phase.sql("CREATE TABLE live (k int)")
    gids = _crashed_run(two_phase, "live", commit_first=False)
    with two_phase.server.connect() as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, 0x5EED])
        result = run_cli("pgimport", "--cleanup", "--connconfig", str(two_phase.config))
        assert result.status == 0, result.stderr
        assert sorted(two_phase.leftovers()[0]) == sorted(gids)
    run_cli("pgimport", "--cleanup", "--connconfig", str(two_phase.config))
    assert two_phase.leftovers() == ([], [])


def test_duplicate_key_across_streams_is_an_error_not_a_hang(
    two_phase: Db, tmp_path: Path
) -> None:
    """Stream 2 waits for stream 1's uncommitted key, which waits for stream 2 to finish."""
    two_phase.sql("CREATE TABLE dup (id int PRIMARY KEY, name text, tag text)")
    data = tmp_path / "dup.csv"
    data.write_bytes(b"id,name,tag\n" + _rows(3000) + b'0,"again",x\n')
    result = two_phase.pgimport(data, "dup", "--jobs", "2")
    assert result.status == 1, result.stderr
    assert "two parts of the file conflict (a duplicate key?)" in result.stderr
    assert "Nothing was imported" in result.stderr
    assert two_phase.sql("SELECT count(*) FROM dup") == [(0,)]
    assert two_phase.leftovers() == ([], [])


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "expected 1 to 8 (or auto), got 0"), ("9", "got 9"), ("two", "got 'two'")],
)
def test_jobs_flag_is_validated(tmp_path: Path, value: str, message: str) -> None:
    result = run_cli("pgimport", "--import-file", "x.csv", "--table", "t", "--jobs", value)
    assert result.status == 2
    assert message in result.stderr


def test_import_file_and_table_are_required_without_cleanup() -> None:
    result = run_cli("pgimport", "--table", "t", "--connconfig", "missing.yaml")
    assert result.status == 2
    assert "the following arguments are required: --import-file" in result.stderr


def test_auto_jobs_is_one_for_small_files_and_bounded_by_cores() -> None:
    from pgmonkey_cli._transfer._parallel import AUTO_MIN_BYTES, auto_jobs

    assert auto_jobs(AUTO_MIN_BYTES - 1, 8) == 1
    big = auto_jobs(10 * AUTO_MIN_BYTES, None)
    assert 1 <= big <= min(4, os.cpu_count() or 1)
    assert auto_jobs(10 * AUTO_MIN_BYTES, 1) == 1  # the server's max_parallel_workers


def test_unsplittable_encoding_says_why(tmp_path: Path) -> None:
    data = tmp_path / "u7.csv"
    data.write_bytes("a,b\n1,2\n3,4\n".encode("utf-7"))
    plan = plan_chunks(data, encoding="utf-7", quote='"', jobs=2)
    assert len(plan.chunks) == 1
    assert plan.reason is not None
    assert "cannot be split at record boundaries" in plan.reason


def test_end_of_data_protection_counts_quotes_from_the_file_only_when_needed(
    tmp_path: Path,
) -> None:
    r"""The bytes sent for a file as-is (quote parity counted from the file, on demand) equal
    those sent for the same text transcoded from UTF-16 (parity counted as it streams), for
    every chunk size and for a chunk that starts mid-file."""
    import random

    from pgmonkey_cli._transfer._stream import CopySource

    rnd = random.Random(23)
    pieces = ["\\.", "\n", "\r\n", '"', "a", ",", "\\", ".", '""']
    for _ in range(500):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randrange(0, 40)))
        as_is, transcoded = tmp_path / "a.csv", tmp_path / "b.csv"
        as_is.write_bytes(text.encode())
        transcoded.write_bytes(text.encode("utf-16"))
        size = rnd.choice([1, 2, 3, 5, 1 << 20])
        sent = b"".join(CopySource(as_is, encoding="utf-8", quote='"', chunk_size=size))
        expected = b"".join(
            CopySource(transcoded, encoding="utf-16", quote='"', chunk_size=2 * size)
        )
        assert sent == expected, text
        data = text.encode()
        mid = data.find(b"\n") + 1
        if 0 < mid < len(data):
            part = b"".join(
                CopySource(as_is, encoding="utf-8", quote='"', start=mid, end=len(data))
            )
            (tmp_path / "c.csv").write_bytes(data[mid:])
            alone = b"".join(CopySource(tmp_path / "c.csv", encoding="utf-8", quote='"'))
            assert part == alone, text


def test_truncate_constraint_error_names_the_line(plain: Db, tmp_path: Path) -> None:
    """The staged rows break a CHECK when they move in: one stream then names the line."""
    plain.sql("CREATE TABLE checked (id int CHECK (id >= 0), name text, tag text)")
    plain.sql("INSERT INTO checked VALUES (1, 'kept', 'kept')")
    data = tmp_path / "checked.csv"
    data.write_bytes(b"id,name,tag\n" + _rows(4000) + b'-5,"negative",x\n')
    result = plain.pgimport(data, "checked", "--jobs", "2", "--truncate")
    assert result.status == 1, result.stderr
    assert 'line 4002: new row for relation "checked" violates check constraint' in result.stderr
    assert "Nothing was imported" in result.stderr
    assert plain.sql("SELECT id, name FROM checked") == [(1, "kept")]
    assert plain.leftovers() == ([], [])


def test_split_points_are_record_boundaries_in_every_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random CSV (quoted newlines, CRLF, doubled quotes, astral characters) in UTF-8,
    UTF-16 and UTF-32, with tiny read sizes so that every structure straddles a read: the
    chunks, parsed apart, give the records of the whole file, and each starts after a line
    ending of the file's own style."""
    import random

    from pgmonkey_cli._transfer import _split

    monkeypatch.setattr(_split, "WINDOW", 7)
    monkeypatch.setattr(_split, "BLOCK", 16)
    rnd = random.Random(6)
    path = tmp_path / "r.csv"
    for _ in range(600):
        enc = rnd.choice(["utf-8", "utf-16-le", "utf-16", "utf-32", "latin-1"])
        eol, q = rnd.choice(["\n", "\r\n"]), rnd.choice(['"', "'"])
        alphabet = ["a", "\n", "\r\n", q, ",", "é"] + (["\U0001f600"] if enc != "latin-1" else [])
        rows = []
        for _ in range(rnd.randrange(1, 12)):
            fields = []
            for _ in range(rnd.randrange(1, 4)):
                v = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 4)))
                quoted = rnd.random() < 0.6 or any(c in v for c in "\n\r," + q)
                fields.append(q + v.replace(q, q + q) + q if quoted else v)
            rows.append(",".join(fields))
        text = eol.join(rows) + (eol if rnd.random() < 0.7 else "")
        data = text.encode(enc)
        path.write_bytes(data)
        plan = plan_chunks(path, encoding=enc, quote=q, jobs=rnd.randrange(2, 5))
        whole = list(csv.reader(io.StringIO(text, newline=""), quotechar=q))
        parts: list[list[str]] = []
        for c in plan.chunks:
            piece = data[c.start : c.end].decode(c.codec).removeprefix("\ufeff")
            parts += csv.reader(io.StringIO(piece, newline=""), quotechar=q)
            if not c.first:
                assert data[: c.start].decode(enc).endswith(eol)
                before = _split.count_lines_before(path, codec=c.codec, offset=c.start)
                assert before == data[: c.start].decode(enc).count("\n")
        assert parts == whole, (enc, text)
