"""``pgexport --query`` against a corpus of escape attempts: refused, or harmless.

Each entry of ``corpus/queries/export_queries.yaml`` runs through the real command (in this
process) against a real database; whatever its outcome, the database must be unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pgmonkey.testing import PostgresServer
from tests.reliability._cli import run_cli

pytestmark = pytest.mark.reliability

CORPUS = Path(__file__).parent / "corpus" / "queries" / "export_queries.yaml"
ENTRIES: list[dict[str, str]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
SERVER_FILE = Path("/tmp/pgmonkey_pwned")

SETUP = """
CREATE TABLE victim (n int);
INSERT INTO victim VALUES (1), (2);
CREATE SEQUENCE victim_seq;
CREATE FUNCTION sneaky() RETURNS int LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO victim VALUES (99); RETURN 1; END$$;
CREATE FUNCTION sneaky_ddl() RETURNS int LANGUAGE plpgsql AS
  $$BEGIN CREATE TABLE pwned (i int); RETURN 1; END$$;
CREATE PROCEDURE sneaky_proc() LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO victim VALUES (98); END$$;
"""

FINGERPRINT = """
SELECT
  (SELECT string_agg(c.oid::regclass::text || ':' || c.relkind::text, ',' ORDER BY c.oid)
     FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE s.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')),
  (SELECT string_agg(n::text, ',' ORDER BY n) FROM victim),
  (SELECT last_value::text || is_called::text FROM victim_seq),
  (SELECT count(*) FROM pg_largeobject_metadata),
  (SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc
     WHERE pronamespace = 'public'::regnamespace),
  (SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles),
  (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),
  (SELECT count(*) FROM pg_prepared_xacts)
"""


@dataclass
class CorpusDb:
    server: PostgresServer
    dbname: str
    config: Path

    def fingerprint(self) -> tuple[Any, ...]:
        with self.server.connect(dbname=self.dbname) as conn:
            row = conn.execute(FINGERPRINT).fetchone()
        assert row is not None
        return tuple(row)


@pytest.fixture(scope="module")
def corpus_db(
    fault_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CorpusDb]:
    name = f"corpus_{secrets.token_hex(4)}"
    fault_server.create_database(name)
    with fault_server.connect(dbname=name) as conn:
        conn.execute(SETUP)
    config = tmp_path_factory.mktemp("corpus") / "conn.yaml"
    config.write_text(yaml.safe_dump(fault_server.config(dbname=name)), encoding="utf-8")
    yield CorpusDb(fault_server, name, config)
    fault_server.drop_database(name)


def test_corpus_is_well_formed() -> None:
    names = [e["name"] for e in ENTRIES]
    assert len(names) == len(set(names))
    for entry in ENTRIES:
        assert entry["outcome"] in ("refused", "read-only", "exported"), entry
        assert ("output" in entry) == (entry["outcome"] == "exported"), entry
        assert set(entry) <= {"name", "query", "outcome", "output", "error"}, entry


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_query_corpus(entry: dict[str, str], corpus_db: CorpusDb, tmp_path: Path) -> None:
    SERVER_FILE.unlink(missing_ok=True)
    before = corpus_db.fingerprint()
    out = tmp_path / "out.csv"
    run = run_cli(
        "pgexport", "--connconfig", str(corpus_db.config), "--query", entry["query"],
        "--export_file", str(out),
    )  # fmt: skip
    after = corpus_db.fingerprint()
    assert after == before, "the database changed"
    assert not SERVER_FILE.exists()
    if entry["outcome"] == "exported":
        assert run.status == 0, run.stderr
        assert out.read_text(encoding="utf-8") == entry["output"]
        return
    assert run.status == 1, run.stderr
    error = _error_line(run.stderr)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temp or settings file
    if entry["outcome"] == "refused":
        assert error.startswith("pgmonkey: error: --query refused"), error
        assert error.endswith("Nothing was run; no file was written."), error
    else:
        assert entry.get("error", "in a read-only transaction") in error, error
        assert error.endswith("no file was written"), error


def _error_line(stderr: str) -> str:
    """The error (the in-process run also logs DEBUG records to stderr)."""
    errors = [line for line in stderr.splitlines() if line.startswith("pgmonkey: error:")]
    assert len(errors) == 1, stderr
    return errors[0]
