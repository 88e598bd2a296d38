"""pgserverconfig: recommendations, and the read-only audit against real servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def _recs(run_pgmonkey: Any, path: Path, *args: str) -> dict[str, Any]:
    result = run_pgmonkey("pgserverconfig", "--filepath", str(path), "--json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _setting(data: dict[str, Any], name: str) -> str | None:
    for s in data["postgresql_conf"]:
        if s["name"] == name:
            return str(s["value"])
    return None


def _cfg(**settings: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"user": "app", "password": "pw", "dbname": "appdb"}
    base.update(settings)
    return {
        "connection_settings": {k: v for k, v in base.items() if v is not None},
        "pool_settings": {"min_size": 2, "max_size": 20},
        "async_pool_settings": {"min_size": 2, "max_size": 30},
    }


def test_max_connections_sums_pools_times_processes(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(_cfg(host="10.0.0.5", sslmode="require"))
    data = _recs(run_pgmonkey, path, "--processes", "3")
    mc = data["max_connections"]
    assert mc["application"] == (20 + 30) * 3
    assert mc["superuser_reserved_connections"] == 3
    assert mc["total"] == 150 + 3 + mc["headroom"]
    assert mc["headroom"] >= 5
    assert _setting(data, "max_connections") == str(mc["total"])


def test_client_network_database_and_user_in_hba(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(_cfg(host="db.example.com", sslmode="require"))
    data = _recs(run_pgmonkey, path, "--client-cidr", "10.1.2.3/24")
    (line,) = data["pg_hba_conf"]
    assert line["line"] == "hostssl appdb app 10.1.2.0/24 scram-sha-256"
    assert _setting(data, "ssl") == "on"
    assert _setting(data, "listen_addresses") == "'*'"


def test_unknown_client_network_is_explained(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(_cfg(host="db.example.com", sslmode="require"))
    result = run_pgmonkey("pgserverconfig", "--filepath", str(path))
    assert result.returncode == 0
    assert "CLIENT-CIDR" in result.stdout
    assert "--client-cidr" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()[1:]) <= 80


def test_disable_gives_host_and_no_ssl(run_pgmonkey: Any, write_config: Any) -> None:
    data = _recs(run_pgmonkey, write_config(_cfg(host="127.0.0.1", sslmode="disable")))
    (line,) = data["pg_hba_conf"]
    assert line["line"] == "host appdb app 127.0.0.1/32 scram-sha-256"
    assert _setting(data, "ssl") is None


def test_client_certificate_only_when_the_config_has_one(
    run_pgmonkey: Any, write_config: Any
) -> None:
    no_cert = _recs(run_pgmonkey, write_config(_cfg(host="127.0.0.1", sslmode="verify-full")))
    assert no_cert["pg_hba_conf"][0]["method"] == "scram-sha-256"
    assert no_cert["pg_hba_conf"][0]["options"] == ""
    cert_only = _cfg(host="127.0.0.1", sslmode="verify-full", sslcert="/c.crt", sslkey="/c.key")
    del cert_only["connection_settings"]["password"]
    data = _recs(run_pgmonkey, write_config(cert_only))
    assert data["pg_hba_conf"][0]["line"] == "hostssl appdb app 127.0.0.1/32 cert"
    assert _setting(data, "ssl_ca_file") is not None
    both = _cfg(host="127.0.0.1", sslmode="require", sslcert="/c.crt", sslkey="/c.key")
    line = _recs(run_pgmonkey, write_config(both))["pg_hba_conf"][0]
    assert (line["method"], line["options"]) == ("scram-sha-256", "clientcert=verify-full")


def test_unix_socket_and_missing_host_or_sslmode(run_pgmonkey: Any, write_config: Any) -> None:
    data = _recs(run_pgmonkey, write_config(_cfg(host="/var/run/postgresql")))
    assert [h["line"] for h in data["pg_hba_conf"]] == ["local appdb app scram-sha-256"]
    assert _setting(data, "unix_socket_directories") == "'/var/run/postgresql'"
    data = _recs(run_pgmonkey, write_config(_cfg()))  # no host, no sslmode: no crash
    assert data["pg_hba_conf"][0]["type"] == "local"


def test_ipv6_networks(run_pgmonkey: Any, write_config: Any) -> None:
    data = _recs(run_pgmonkey, write_config(_cfg(host="::1", sslmode="disable")))
    assert data["pg_hba_conf"][0]["address"] == "::1/128"
    data = _recs(
        run_pgmonkey,
        write_config(_cfg(host="db6.example.com", sslmode="require")),
        "--client-cidr",
        "2001:db8::17/64",
    )
    assert data["pg_hba_conf"][0]["address"] == "2001:db8::/64"


def test_names_are_quoted_for_pg_hba(run_pgmonkey: Any, write_config: Any) -> None:
    data = _recs(run_pgmonkey, write_config(_cfg(host="127.0.0.1", dbname="my db", user="all")))
    line = data["pg_hba_conf"][0]
    assert (line["database"], line["user"]) == ('"my db"', '"all"')


def test_hba_lines_are_never_shortened(run_pgmonkey: Any, write_config: Any) -> None:
    # A long database name was once cut to "pgmonkey_test_ffb93f42…" to fit the terminal,
    # so the printed pg_hba.conf line could not be pasted.
    dbname = "pgmonkey_test_ffb93f42c0d94e6b8a1f2e3d4c5b6a79_with_a_long_suffix"
    user = "application_role_with_a_rather_long_name"
    path = write_config(_cfg(host="db.example.com", sslmode="require", dbname=dbname, user=user))
    args = ("pgserverconfig", "--filepath", str(path), "--client-cidr", "10.1.2.3/24")
    result = run_pgmonkey(*args, env={"COLUMNS": "60"})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    hba = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert f"hostssl {dbname} {user} 10.1.2.0/24 scram-sha-256" in hba


def test_bad_client_cidr_is_a_usage_error(run_pgmonkey: Any, write_config: Any) -> None:
    path = write_config(_cfg(host="127.0.0.1"))
    result = run_pgmonkey("pgserverconfig", "--filepath", str(path), "--client-cidr", "10.0.0/x")
    assert result.returncode == 2
    assert "--client-cidr" in result.stderr


# ----------------------------------------------------------------------------- audit


def _audit(run_pgmonkey: Any, path: Path, *args: str) -> dict[str, Any]:
    result = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--audit", "--json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _hba_line_number(server: Any, text: str) -> int:
    lines = (server.datadir / "pg_hba.conf").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if " ".join(line.split()) == text)


def test_audit_is_read_only_and_finds_the_matching_rule(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    path = write_config(pg_server.config())
    data = _audit(run_pgmonkey, path)
    audit = data["audit"]
    assert audit["server"]["default_transaction_read_only"] == "on"
    assert audit["server"]["transaction_read_only"] == "on"
    settings = {s["name"]: s for s in audit["settings"]}
    assert settings["max_connections"]["current"] == "200"
    assert settings["max_connections"]["status"] == "OK"
    assert settings["password_encryption"]["status"] == "OK"
    (verdict,) = audit["hba_verdicts"]
    expected = _hba_line_number(pg_server, "host all all 127.0.0.1/32 scram-sha-256")
    assert verdict["matching_line"] == expected
    assert verdict["method"] == "scram-sha-256"
    assert verdict["status"] == "OK"
    assert audit["hba_rules"]

    text = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--audit")
    assert "default_transaction_read_only = on" in text.stdout


def test_audit_client_cidr_without_a_rule_is_a_mismatch(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    path = write_config(pg_server.config())
    audit = _audit(run_pgmonkey, path, "--client-cidr", "10.9.0.0/16")["audit"]
    other = [v for v in audit["hba_verdicts"] if "10.9.0.0/16" in v["client"]]
    assert other
    assert other[0]["status"] == "MISMATCH"
    assert audit["ok"] is False


def test_audit_over_the_unix_socket_sees_trust(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    path = write_config(pg_server.config(unix_socket=True))
    audit = _audit(run_pgmonkey, path)["audit"]
    assert audit["server"]["connection"] == "unix socket"
    (verdict,) = audit["hba_verdicts"]
    assert verdict["matching_line"] == _hba_line_number(pg_server, "local all all trust")
    assert verdict["status"] == "REVIEW"  # trust instead of a password


def test_audit_over_ipv6(run_pgmonkey: Any, pg_server: Any, write_config: Any) -> None:
    if not pg_server.ipv6:
        pytest.skip("no IPv6 loopback on this machine")
    path = write_config(pg_server.config(host="::1"))
    data = _audit(run_pgmonkey, path)
    assert data["pg_hba_conf"][0]["address"] == "::1/128"
    (verdict,) = data["audit"]["hba_verdicts"]
    assert verdict["matching_line"] == _hba_line_number(
        pg_server, "host all all ::1/128 scram-sha-256"
    )


def test_audit_degrades_without_privileges(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    role = "cli_audit_nopriv"
    if not pg_server.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)):
        pg_server.create_role(role, password="nopriv-pw")
    path = write_config(pg_server.config(user=role, password="nopriv-pw"))
    data = _audit(run_pgmonkey, path)
    audit = data["audit"]
    assert audit["server"]["superuser"] is False
    assert audit["server"]["default_transaction_read_only"] == "on"
    assert audit["hba_rules"] is None
    assert any("pg_hba_file_rules" in n for n in audit["notes"])
    assert {s["name"]: s["status"] for s in audit["settings"]}["max_connections"] == "OK"
    text = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--audit")
    assert text.returncode == 0
    assert "not readable by this role" in text.stdout


@pytest.mark.ssl
def test_audit_with_a_client_certificate(
    run_pgmonkey: Any, pg_ssl_server: Any, write_config: Any
) -> None:
    # The grants the audit's note suggests let a non-superuser read the rules.
    pg_ssl_server.execute("GRANT SELECT ON pg_hba_file_rules TO certuser")
    pg_ssl_server.execute("GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO certuser")
    path = write_config(pg_ssl_server.cert_config())
    data = _audit(run_pgmonkey, path)
    assert data["pg_hba_conf"][0]["line"] == "hostssl postgres certuser 127.0.0.1/32 cert"
    audit = data["audit"]
    assert audit["server"]["ssl"] is True
    settings = {s["name"]: s for s in audit["settings"]}
    assert settings["ssl"]["status"] == "OK"
    assert settings["ssl_ca_file"]["status"] == "OK"
    (verdict,) = audit["hba_verdicts"]
    assert verdict["method"] == "cert"
    assert verdict["status"] == "OK"


def test_audit_connection_failure_exits_1(
    run_pgmonkey: Any, pg_server: Any, write_config: Any
) -> None:
    path = write_config(pg_server.config(password="not-the-password-42"))
    result = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--audit")
    assert result.returncode == 1
    assert result.stderr.startswith("pgmonkey: error: audit failed")
    assert result.stderr.rstrip().endswith(
        "(the recommendations above come from the configuration only)"
    )
    assert len(result.stderr.splitlines()) <= 3
    assert "not-the-password-42" not in result.stdout + result.stderr
    # As 3.x did, the recommendations are still printed: the same as without --audit.
    plain = run_pgmonkey("pgserverconfig", "--connconfig", str(path))
    assert result.stdout == plain.stdout
    assert "max_connections = " in result.stdout

    as_json = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--audit", "--json")
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert "password authentication failed" in data["audit_error"]
    assert data["postgresql_conf"] == json.loads(plain_json(run_pgmonkey, path))["postgresql_conf"]


def test_audit_of_an_unreachable_server_still_recommends(
    run_pgmonkey: Any, write_config: Any
) -> None:
    # Nothing listens on port 1: the audit fails, the recommendations are printed, exit 1.
    path = write_config(
        {"connection_settings": {"host": "127.0.0.1", "port": 1, "connect_timeout": 2}}
    )
    result = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--audit")
    assert result.returncode == 1
    assert "max_connections = " in result.stdout
    assert "pg_hba.conf" in result.stdout
    assert "audit failed" in result.stderr
    assert "Connection refused" in result.stderr or "refused" in result.stderr.lower()


def plain_json(run_pgmonkey: Any, path: Path) -> str:
    result = run_pgmonkey("pgserverconfig", "--connconfig", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return str(result.stdout)
