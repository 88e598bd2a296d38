"""pgconfig test: real connections of every type, truthful exit codes, no secrets."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from pgmonkey.config import template_text

TYPES = ("normal", "pool", "async", "async_pool")


def _template_for(server: Any, path: Path, **replace: str) -> Path:
    """The unchanged template from `pgconfig create`, filled with the server's credentials."""
    c = server.config()["connection_settings"]
    values = {
        "user": c["user"],
        "password": c["password"],
        "host": c["host"],
        "port": str(c["port"]),
        "dbname": "postgres",
        **replace,
    }
    text = template_text()
    for key, default in (
        ("user", "postgres"),
        ("password", "password"),
        ("host", "localhost"),
        ("port", "5432"),
        ("dbname", "mydatabase"),
    ):
        old = f"  {key}: '{default}'"
        assert old in text
        text = text.replace(old, f"  {key}: '{values[key]}'", 1)
    path.write_text(text, encoding="utf-8")
    return path


def _json(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_all_types_with_the_template(run_pgmonkey: Any, pg_server: Any, tmp_path: Path) -> None:
    path = _template_for(pg_server, tmp_path / "t.yaml")
    result = run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--all", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = _json(result)
    assert data["ok"] is True
    assert [r["connection_type"] for r in data["results"]] == list(TYPES)
    (version,) = pg_server.execute("SHOW server_version")[0]
    for r in data["results"]:
        assert r["ok"], r
        assert r["server"]["version"] == version
        assert r["server"]["user"] == pg_server.superuser
        assert r["ssl"] == {"in_use": False}
        assert r["latency_ms"]["samples"] == 5
        assert r["transaction_status"] == "idle"
    pools = {r["connection_type"]: r["pool"] for r in data["results"] if r["pool"]}
    for pool in pools.values():  # template: min_size 5, max_size 20
        assert pool["held_at_once"] == 6
        assert pool["distinct_backends"] == 6

    text = run_pgmonkey("pgconfig", "test", "--filepath", str(path), "--all")
    assert text.returncode == 0
    assert "4 of 4 connection types worked." in text.stdout
    assert max(len(x) for x in text.stdout.splitlines()[1:]) <= 80  # after "Testing <path>"


def test_session_settings_and_autocommit_are_reported(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    cfg = pg_server.config(autocommit=True)
    cfg["sync_settings"] = {"statement_timeout": "1234", "work_mem": "8MB"}
    cfg["async_settings"] = {"lock_timeout": "2345"}
    path = write_config(cfg)
    data = _json(run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--all", "--json"))
    assert data["ok"] is True, data
    by_type = {r["connection_type"]: r for r in data["results"]}
    for t in ("normal", "pool"):
        s = by_type[t]["settings"]
        assert s["statement_timeout"]["value"] == "1234ms"
        assert s["work_mem"]["value"] == "8MB"
        assert s["statement_timeout"]["applied"] is True
        assert by_type[t]["autocommit"] is True
    for t in ("async", "async_pool"):
        assert by_type[t]["settings"]["lock_timeout"]["value"] == "2345ms"
        assert by_type[t]["autocommit"] is True


def test_pool_holds_min_size_plus_one(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    cfg = pg_server.config()
    cfg["pool_settings"] = {"min_size": 2, "max_size": 4, "timeout": 10}
    path = write_config(cfg)
    data = _json(
        run_pgmonkey(
            "pgconfig", "test", "--connconfig", str(path), "--connection-type", "pool", "--json"
        )
    )
    (r,) = data["results"]
    assert r["pool"] == {"min_size": 2, "max_size": 4, "held_at_once": 3, "distinct_backends": 3}


def test_unix_socket_config(run_pgmonkey: Any, pg_server: Any, write_config: Any) -> None:
    path = write_config(pg_server.config(unix_socket=True))
    data = _json(run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--json"))
    (r,) = data["results"]
    assert r["ok"], r
    assert r["server"]["address"] is None  # no TCP address: a unix socket


def test_ipv6_host(run_pgmonkey: Any, pg_server: Any, write_config: Any) -> None:
    if not pg_server.ipv6:
        pytest.skip("no IPv6 loopback on this machine")
    path = write_config(pg_server.config(host="::1", connection_type="async"))
    data = _json(run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--json"))
    (r,) = data["results"]
    assert r["ok"], r
    assert r["server"]["address"] == "::1"


@pytest.mark.ssl
def test_ssl_with_client_certificate(
    run_pgmonkey: Any, pg_ssl_server: Any, write_config: Any
) -> None:
    path = write_config(pg_ssl_server.cert_config())
    result = run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--all", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    for r in _json(result)["results"]:
        assert r["ssl"]["in_use"] is True
        assert r["ssl"]["protocol"].startswith("TLS")
        assert r["ssl"]["cipher"]
        assert "certuser" in r["ssl"]["client_dn"]
        assert r["server"]["user"] == "certuser"
    text = run_pgmonkey("pgconfig", "test", "--connconfig", str(path)).stdout
    assert "client certificate" in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SECRET = "Wr0ng-Pa55word-zz9"


def _failing_configs(server: Any, write_config: Any) -> dict[str, Path]:
    wrong = server.config(password=SECRET, user=server.superuser)
    unreachable = server.config(host="127.0.0.1", port=_closed_port(), connect_timeout=3)
    unreachable["connection_settings"]["password"] = SECRET
    bad_name = server.config(host="no-such-host.invalid", connect_timeout=3)
    bad_name["connection_settings"]["password"] = SECRET
    for cfg in (wrong, unreachable, bad_name):
        cfg["pool_settings"] = cfg["async_pool_settings"] = {
            "min_size": 1,
            "max_size": 2,
            "timeout": 3,
        }
    bad_config = (
        "connection_settings:\n"
        f"  password: '{SECRET}'\n"
        "  port: 'eighty'\n"
        "pool_settings: {min_size: 3, max_size: 1}\n"
    )
    return {
        "wrong password": write_config(wrong),
        "unreachable host": write_config(unreachable),
        "unknown host": write_config(bad_name),
        "bad config": write_config(bad_config),
    }


def test_failures_exit_nonzero_without_tracebacks_or_secrets(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    configs = _failing_configs(pg_server, write_config)
    outputs: list[str] = []
    for label, path in configs.items():
        for extra in ((), ("--json",)):
            result = run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--all", *extra)
            outputs += [result.stdout, result.stderr]
            expected = 2 if label == "bad config" else 1
            assert result.returncode == expected, (label, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr
            if label != "bad config":
                # one line per failed type on stderr
                assert len(result.stderr.splitlines()) == 4, result.stderr
                assert "4 of 4" not in result.stdout
            else:
                assert len(result.stderr.splitlines()) <= 2, result.stderr
        for args in (
            ("pgserverconfig", "--filepath", str(path), "--audit"),
            ("pgserverconfig", "--filepath", str(path), "--audit", "--json"),
            ("pgconfig", "show", "--connconfig", str(path)),
            ("pgconfig", "validate", "--connconfig", str(path), "--json"),
            ("pgconfig", "generate-code", "--connconfig", str(path), "--library", "psycopg"),
            ("--debug", "pgconfig", "test", "--connconfig", str(path)),
        ):
            result = run_pgmonkey(*args)
            outputs += [result.stdout, result.stderr]
            assert result.returncode in (0, 1, 2)
    assert len(outputs) == 4 * 2 * 2 + 4 * 6 * 2
    for text in outputs:
        assert SECRET not in text


def test_wrong_password_message_names_the_problem(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    path = write_config(pg_server.config(password=SECRET, user=pg_server.superuser))
    result = run_pgmonkey("pgconfig", "test", "--connconfig", str(path))
    assert result.returncode == 1
    assert "password authentication failed" in result.stdout + result.stderr
    assert result.stderr.startswith("pgmonkey: error: normal connection test failed")


# Settings the server accepts but shows differently: custom (dotted) names, units, booleans,
# case, lists. Each must be verified against what the server understood, never fail falsely.
LEGIT_SETTINGS = {
    "myapp.tenant": "acme",
    "MyApp.Region": "EU West",
    "statement_timeout": "30s",
    "lock_timeout": "30000",
    "jit": "true",
    "enable_seqscan": "yes",
    "DateStyle": "iso, dmy",
    "TimeZone": "utc",
    "search_path": '"$user", public',
    "work_mem": "1024kB",
    "log_connections": "on",  # settable at connection start only: source decides
}


def test_legit_session_settings_pass(run_pgmonkey: Any, pg_server: Any, write_config: Any) -> None:
    for autocommit in (False, True):
        cfg = pg_server.config(autocommit=autocommit)
        cfg["sync_settings"] = dict(LEGIT_SETTINGS)
        cfg["async_settings"] = dict(LEGIT_SETTINGS)
        path = write_config(cfg)
        result = run_pgmonkey("pgconfig", "test", "--connconfig", str(path), "--all", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        for r in _json(result)["results"]:
            assert r["ok"], r
            assert not r["problems"], r
            s = r["settings"]
            assert s["myapp.tenant"] == {
                "value": "acme",
                "source": None,
                "requested": "acme",
                "applied": True,
            }
            assert s["MyApp.Region"]["value"] == "EU West"
            assert s["statement_timeout"]["value"] == "30s"
            assert s["lock_timeout"]["value"] == "30s"
            assert s["jit"]["value"] == "on"
            assert s["DateStyle"]["value"] == "ISO, DMY"
            assert all(v["applied"] for v in s.values()), s
            assert r["transaction_status"] == "idle"
        text = run_pgmonkey("pgconfig", "test", "--connconfig", str(path))
        assert text.returncode == 0, text.stdout + text.stderr
        assert "myapp.tenant = acme (source: None)" in text.stdout


def test_unknown_plain_setting_fails_clearly(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    cfg = pg_server.config()
    cfg["sync_settings"] = {"no_such_setting": "1"}
    result = run_pgmonkey("pgconfig", "test", "--connconfig", str(write_config(cfg)))
    assert result.returncode == 1
    assert 'unrecognized configuration parameter "no_such_setting"' in result.stdout
    assert "sync_settings.no_such_setting was refused by the server" in result.stderr


def test_settings_verified_after_the_fact(pg_server: Any) -> None:
    """A value changed after connecting (as a pooler's connect query could) is reported."""
    from pgmonkey.connections import connect
    from pgmonkey_cli._tester import TypeResult, _probe_sync

    cfg = pg_server.config()
    wanted = {"myapp.tenant": "acme", "statement_timeout": "30s", "myapp.gone": "x"}
    cfg["sync_settings"] = {"myapp.tenant": "acme", "statement_timeout": "30s"}
    with connect(cfg, autocommit=True) as conn:
        conn.execute("SET myapp.tenant = 'other'")
        conn.execute("SET statement_timeout = 1000")
        result = TypeResult("normal")
        _probe_sync(conn, result, wanted)
        (still,) = conn.execute("SELECT current_setting('myapp.tenant')").fetchone() or ("",)
    assert still == "other"  # the check changed nothing
    assert result.problems == [
        "setting 'myapp.tenant' is 'other' on the server, not 'acme' (requested 'acme')",
        "setting 'statement_timeout' is '1s' on the server, not '30s' (requested '30s')",
        "setting 'myapp.gone' has no value on the server (it was not applied)",
    ]
