"""pgimport when the connection is lost around COMMIT: it reports what the server did.

A real TCP proxy (:mod:`tests.reliability._proxy`) sits between pgimport and the server and
cuts the connection just before or just after it forwards the ``COMMIT``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pgmonkey.connections import connect
from pgmonkey.testing import PostgresServer
from pgmonkey_cli._exit import EXIT_FAILURE, EXIT_OK, EXIT_OUTCOME_UNKNOWN
from pgmonkey_cli._transfer._outcome import CommitOutcome, resolve_outcome, transaction_id
from tests.reliability._proxy import CommitProxy, Cut

pytestmark = pytest.mark.reliability

DATA = b"id,name\n1,ada\n2,grace\n3,alan\n"


class Env:
    def __init__(self, cfg: dict[str, Any], workdir: Path) -> None:
        self.cfg = cfg
        self.workdir = workdir
        (workdir / "people.csv").write_bytes(DATA)
        settings = dict(cfg["connection_settings"])
        settings.pop("autocommit", None)
        self.settings = settings

    def config_through(self, proxy: CommitProxy) -> Path:
        cfg = {**self.cfg, "connection_settings": dict(self.cfg["connection_settings"])}
        cfg["connection_settings"].update(
            host="127.0.0.1", port=proxy.port, sslmode="disable", gssencmode="disable"
        )
        path = self.workdir / f"proxy-{proxy.port}.yaml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        return path

    def pgimport(self, config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable, "-m", "pgmonkey_cli", "pgimport", "--import_file", "people.csv",
                "--table", "people", "--connconfig", str(config), *extra,
            ],
            cwd=self.workdir, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(**self.settings, autocommit=True) as conn:
            cur = conn.execute(query)
            return cur.fetchall() if cur.description else []

    def people(self) -> list[tuple[Any, ...]] | None:
        if not self.sql("SELECT to_regclass('public.people') IS NOT NULL")[0][0]:
            return None
        return self.sql("SELECT id::int, name FROM people ORDER BY 1")


@pytest.fixture
def env(pg_database: dict[str, Any], tmp_path: Path) -> Env:
    return Env(pg_database, tmp_path)


def _import_through_proxy(
    env: Env, cut: Cut | None, *, stop_after_cut: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run pgimport through a :class:`CommitProxy`; check that the cut (if any) happened."""
    target = (env.settings["host"], int(env.settings["port"]))
    with CommitProxy(target, cut=cut, stop_after_cut=stop_after_cut) as proxy:
        result = env.pgimport(env.config_through(proxy))
        assert proxy.cuts == (0 if cut is None else 1)
    return result


IMPORTED = [(1, "ada"), (2, "grace"), (3, "alan")]


def test_through_the_proxy_without_a_cut(env: Env) -> None:
    result = _import_through_proxy(env, None)
    assert result.returncode == EXIT_OK, result.stderr
    assert env.people() == IMPORTED
    assert "warning" not in result.stderr


@pytest.mark.parametrize("cut", ["after", "reply"])
def test_commit_forwarded_then_cut_reports_committed(env: Env, cut: Cut) -> None:
    result = _import_through_proxy(env, cut)
    assert result.returncode == EXIT_OK, result.stderr
    assert "Imported 3 rows into public.people" in result.stdout
    assert "lost during COMMIT" in result.stderr
    assert "the server confirms the import was committed" in result.stderr
    assert "Nothing was imported" not in result.stderr
    assert env.people() == IMPORTED


def test_commit_never_forwarded_reports_rolled_back(env: Env) -> None:
    env.sql("CREATE TABLE people (id int, name text)")
    env.sql("INSERT INTO people VALUES (0, 'before')")
    result = _import_through_proxy(env, "before")
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "lost during COMMIT" in result.stderr
    assert "the server confirms the transaction was rolled back" in result.stderr
    assert "Nothing was imported." in result.stderr
    assert env.people() == [(0, "before")]


@pytest.mark.parametrize("cut", ["after", "before"])
def test_outcome_unknown_when_the_server_cannot_be_asked(env: Env, cut: Cut) -> None:
    """The proxy is gone after the cut and the configuration points at it."""
    result = _import_through_proxy(env, cut, stop_after_cut=True)
    assert result.returncode == EXIT_OUTCOME_UNKNOWN, result.stderr
    assert "whether the import was committed is unknown" in result.stderr
    assert "cannot reconnect" in result.stderr
    assert "Check before retrying" in result.stderr
    assert "SELECT txid_status(" in result.stderr
    assert "Nothing was imported" not in result.stderr
    # The doubt was honest: it went either way.
    assert env.people() == (IMPORTED if cut == "after" else None)
    xid = result.stderr.split("SELECT txid_status(")[1].split(")")[0]
    expected = "committed" if cut == "after" else "aborted"
    assert env.sql(f"SELECT txid_status({int(xid)})") == [(expected,)]


def test_error_reply_to_commit_is_a_confirmed_rollback(env: Env) -> None:
    """A deferred constraint fails at COMMIT: the server said no, nothing was imported."""
    env.sql("CREATE TABLE people (id int UNIQUE DEFERRABLE INITIALLY DEFERRED, name text)")
    env.sql("INSERT INTO people VALUES (2, 'already here')")
    result = _import_through_proxy(env, None)
    assert result.returncode == EXIT_FAILURE
    assert "duplicate key value violates unique constraint" in result.stderr
    assert "Nothing was imported." in result.stderr
    assert env.people() == [(2, "already here")]


def test_a_transaction_still_running_is_unknown(pg_server: PostgresServer) -> None:
    """The server has not noticed the lost client: its transaction is still in progress."""
    cfg = pg_server.config()
    with connect(cfg, autocommit=False) as conn:
        txn = transaction_id(conn)
        resolution = resolve_outcome(txn, lambda: connect(cfg, autocommit=False), wait=0.3)
        assert resolution.outcome is CommitOutcome.UNKNOWN
        assert "still in progress" in resolution.reason
        assert f"backend process {txn.pid}" in resolution.reason
        conn.commit()
    resolution = resolve_outcome(txn, lambda: connect(cfg, autocommit=False), wait=0.3)
    assert resolution.outcome is CommitOutcome.COMMITTED


def test_another_cluster_is_not_asked(
    pg_server: PostgresServer, fault_server: PostgresServer
) -> None:
    """A reconnection that lands on another cluster (a multi-host list) proves nothing."""
    with connect(pg_server.config(), autocommit=False) as conn:
        txn = transaction_id(conn)
        conn.rollback()
    other = fault_server.config()
    resolution = resolve_outcome(txn, lambda: connect(other, autocommit=False), wait=0.3)
    assert resolution.outcome is CommitOutcome.UNKNOWN
    assert "another server" in resolution.reason
