"""Golden tests: pgmonkey configuration -> Django ``DATABASES`` entry.

The expected dicts depend on the running Django on purpose, and say so:

* Django < 5.1 has no pool: the ``pool`` key is never emitted (psycopg would reject it as
  "invalid connection option"), a requested pool falls back to persistent connections with
  a ``PoolFallbackWarning``;
* Django 5.1-6.0 passes ``check=`` itself: a ``check`` key in ``OPTIONS["pool"]`` is refused;
* Django >= 6.1 accepts ``check`` in ``OPTIONS["pool"]``.

The nox matrix runs this module on Django 4.2, 5.2 and 6.x.
"""

from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path
from typing import Any

import django
import psycopg
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pgmonkey.connections import PooledConnection
from pgmonkey.errors import ConfigError, ConfigValidationError
from pgmonkey_django import (
    PgMonkeyDjangoWarning,
    PoolFallbackWarning,
    database_config,
    databases,
)
from pgmonkey_django._compat import (
    FORBIDDEN_POOL_KEYS,
    accepted_pool_keys,
    pool_unavailable_reason,
)

DJANGO = django.VERSION[:2]
HAS_POOL = DJANGO >= (5, 1)
CHECK_IN_POOL = DJANGO >= (6, 1)
POOLING = pool_unavailable_reason() is None  # Django >= 5.1, psycopg_pool >= 3.2, psycopg 3

ENGINE = "django.db.backends.postgresql"


def full_config(connection_type: str = "pool") -> dict[str, Any]:
    """A configuration in the shape of the pgmonkey template (with placeholders)."""
    return {
        "connection_type": connection_type,
        "connection_settings": {
            "user": "app",
            "password": "s3cr3t pass",
            "host": "db.example.com",
            "port": 5432,
            "dbname": "appdb",
            "sslmode": "require",
            "sslcert": "",
            "sslkey": "",
            "sslrootcert": "",
            "connect_timeout": 10,
            "application_name": "my app",
            "keepalives": 1,
            "keepalives_idle": 60,
        },
        "pool_settings": {
            "min_size": 2,
            "max_size": 8,
            "timeout": 30,
            "max_idle": 300,
            "max_lifetime": 1800,
            "check_on_checkout": True,
        },
        "async_pool_settings": {"min_size": 9, "max_size": 99},
        "sync_settings": {"statement_timeout": "30s", "lock_timeout": "10s"},
        "async_settings": {"statement_timeout": "5s"},
    }


BASE_OPTIONS = {
    "sslmode": "require",
    "connect_timeout": 10,
    "application_name": "my app",
    "keepalives": 1,
    "keepalives_idle": 60,
    "options": "-c statement_timeout=30s -c lock_timeout=10s",
}


def build(*args: Any, **kwargs: Any) -> Any:
    """``database_config`` with warnings turned into errors (none expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return database_config(*args, **kwargs)


def assert_no_pool_anywhere(entry: Any) -> None:
    assert "pool" not in entry["OPTIONS"]
    assert "pool" not in repr(sorted(entry["OPTIONS"]))


# --------------------------------------------------------------------------- pool on/off


def test_pool_config_golden() -> None:
    if POOLING:
        entry = build(full_config())
        expected_pool: dict[str, Any] = {"min_size": 2, "max_size": 8, "timeout": 30}
        expected_pool.update(max_idle=300, max_lifetime=1800, connection_class=PooledConnection)
        assert entry == {
            "ENGINE": ENGINE,
            "NAME": "appdb",
            "USER": "app",
            "PASSWORD": "s3cr3t pass",
            "HOST": "db.example.com",
            "PORT": "5432",
            "OPTIONS": {**BASE_OPTIONS, "pool": expected_pool},
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": True,
        }
    else:
        # Django < 5.1 (or no usable psycopg_pool): warn, persistent connections for
        # pool_settings.max_lifetime seconds, and no "pool" key at all.
        with pytest.warns(PoolFallbackWarning, match="requested but") as record:
            entry = database_config(full_config())
        assert len(record) == 1
        assert entry == {
            "ENGINE": ENGINE,
            "NAME": "appdb",
            "USER": "app",
            "PASSWORD": "s3cr3t pass",
            "HOST": "db.example.com",
            "PORT": "5432",
            "OPTIONS": BASE_OPTIONS,
            "CONN_MAX_AGE": 1800,
            "CONN_HEALTH_CHECKS": True,
        }


@pytest.mark.skipif(HAS_POOL, reason="Django < 5.1 only")
def test_old_django_names_the_version_and_never_emits_pool() -> None:
    version = ".".join(str(n) for n in django.VERSION[:2])
    for pool in ("auto", True):
        with pytest.warns(PoolFallbackWarning, match=rf"Django {re.escape(version)}\.\d+ has no"):
            entry = database_config(full_config(), pool=pool)
        assert_no_pool_anywhere(entry)
    # conn_max_age is what pool=True falls back to, without complaint.
    with pytest.warns(PoolFallbackWarning):
        entry = database_config(full_config(), pool=True, conn_max_age=60)
    assert entry["CONN_MAX_AGE"] == 60
    with pytest.raises(ConfigValidationError, match=r"options\['pool'\] given but no pool"):
        build(full_config(), pool=False, options={"pool": {"min_size": 1}})


def test_async_pool_type_also_asks_for_a_pool() -> None:
    cfg = full_config("async_pool")
    if POOLING:
        entry = build(cfg)
        # Django's pool is synchronous: sizes come from pool_settings.
        assert entry["OPTIONS"]["pool"]["max_size"] == 8
    else:
        with pytest.warns(PoolFallbackWarning):
            entry = database_config(cfg)
        assert_no_pool_anywhere(entry)


@pytest.mark.parametrize("connection_type", ["normal", "async"])
def test_non_pool_types_get_plain_connections(connection_type: str) -> None:
    entry = build(full_config(connection_type))
    assert_no_pool_anywhere(entry)
    assert entry["CONN_MAX_AGE"] == 0
    assert entry["CONN_HEALTH_CHECKS"] is True  # check_on_checkout still means health checks


def test_pool_false_with_conn_max_age() -> None:
    entry = build(full_config(), pool=False, conn_max_age=60, conn_health_checks=False)
    assert_no_pool_anywhere(entry)
    assert entry["CONN_MAX_AGE"] == 60
    assert entry["CONN_HEALTH_CHECKS"] is False


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_pool_true_without_pool_settings_is_never_an_empty_dict() -> None:
    cfg = full_config("normal")
    del cfg["pool_settings"]
    entry = build(cfg, pool=True)
    # {} would be falsy, which Django reads as "no pool"; the connection class is pgmonkey's.
    assert entry["OPTIONS"]["pool"] == {"connection_class": PooledConnection}
    assert entry["CONN_MAX_AGE"] == 0
    assert entry["CONN_HEALTH_CHECKS"] is False


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_pool_with_conn_max_age() -> None:
    # auto: conn_max_age is only the value for when no pool is used.
    assert build(full_config(), conn_max_age=60)["CONN_MAX_AGE"] == 0
    with pytest.raises(ConfigValidationError, match=r"conn_max_age=60 contradicts pool=True"):
        build(full_config(), pool=True, conn_max_age=60)


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_pool_options_merge_and_forbidden_keys() -> None:
    entry = build(full_config(), options={"pool": {"max_size": 3, "name": "web"}})
    assert entry["OPTIONS"]["pool"]["max_size"] == 3
    assert entry["OPTIONS"]["pool"]["name"] == "web"
    for key in sorted(FORBIDDEN_POOL_KEYS):
        with pytest.raises(ConfigValidationError, match=rf"options\.pool\.{key}: '{key}' cannot"):
            build(full_config(), options={"pool": {key: object()}})
    with pytest.raises(ConfigValidationError, match=r"not a psycopg_pool\.ConnectionPool opt"):
        build(full_config(), options={"pool": {"min_sizes": 1}})


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_check_in_pool_options_depends_on_django() -> None:
    def check(conn: Any) -> None:
        conn.execute("SELECT 1")

    if CHECK_IN_POOL:  # Django >= 6.1 uses setdefault("check", ...)
        entry = build(full_config(), options={"pool": {"check": check}})
        assert entry["OPTIONS"]["pool"]["check"] is check
    else:  # Django 5.1-6.0 passes check= itself: TypeError "multiple values"
        with pytest.raises(ConfigValidationError, match="conn_health_checks=True"):
            build(full_config(), options={"pool": {"check": check}})


@settings(max_examples=60, deadline=None)
@given(
    pool_settings=st.dictionaries(
        st.sampled_from(
            [
                "min_size",
                "max_size",
                "timeout",
                "max_idle",
                "max_lifetime",
                "max_waiting",
                "reconnect_timeout",
                "num_workers",
                "check_on_checkout",
                "name",
            ]
        ),
        st.integers(min_value=1, max_value=50),
    ),
    connection_type=st.sampled_from(["normal", "pool", "async", "async_pool"]),
    pool=st.sampled_from(["auto", True, False]),
)
def test_pool_key_invariants(
    pool_settings: dict[str, Any], connection_type: str, pool: Any
) -> None:
    # Keep the drawn settings valid for the core's schema: booleans stay booleans, and
    # min_size never exceeds max_size (the core rejects both, as issue 3 requires).
    if "check_on_checkout" in pool_settings:
        pool_settings["check_on_checkout"] = pool_settings["check_on_checkout"] % 2 == 1
    if "name" in pool_settings:
        pool_settings["name"] = f"pool{pool_settings['name']}"
    if pool_settings.get("min_size", 0) > pool_settings.get("max_size", 50):
        pool_settings["min_size"], pool_settings["max_size"] = (
            pool_settings["max_size"],
            pool_settings["min_size"],
        )
    if "min_size" in pool_settings and "max_size" not in pool_settings:
        pool_settings["max_size"] = max(pool_settings["min_size"], 50)
    cfg = {**full_config(connection_type), "pool_settings": pool_settings}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PoolFallbackWarning)
        entry = database_config(cfg, pool=pool)
    if not HAS_POOL:
        assert "pool" not in entry["OPTIONS"]
    pool_value = entry["OPTIONS"].get("pool")
    if pool_value is None:
        assert (entry["CONN_MAX_AGE"] or 0) >= 0
        return
    assert entry["CONN_MAX_AGE"] == 0
    assert pool_value["connection_class"] is PooledConnection
    assert set(pool_value) - {"connection_class"} <= accepted_pool_keys()
    assert not set(pool_value) & {"open", "kwargs", "configure", "check", "check_on_checkout"}
    assert entry["CONN_HEALTH_CHECKS"] is bool(pool_settings.get("check_on_checkout"))


# --------------------------------------------------------------------------- session settings


def test_session_settings_escaping_and_merge() -> None:
    cfg = full_config("normal")
    cfg["connection_settings"]["options"] = "-c geqo=off"
    cfg["sync_settings"] = {
        "application_name": "my app\\x",
        "search_path": 'public, "$user"',
        "statement_timeout": 5000,
        "jit": False,
        "pg_trgm.similarity_threshold": "0.5",
        "lock_timeout": None,
    }
    entry = build(cfg, options={"options": "-c work_mem=8MB"})
    assert entry["OPTIONS"]["options"] == (
        "-c geqo=off "
        "-c application_name=my\\ app\\\\x "
        '-c search_path=public,\\ "$user" '
        "-c statement_timeout=5000 "
        "-c jit=off "
        "-c pg_trgm.similarity_threshold=0.5 "
        "-c work_mem=8MB"
    )


def test_session_settings_section_choice() -> None:
    cfg = full_config("normal")
    assert build(cfg, session_settings="async_settings")["OPTIONS"]["options"] == (
        "-c statement_timeout=5s"
    )
    assert "options" not in build(cfg, session_settings=None)["OPTIONS"]
    with pytest.raises(ConfigValidationError, match="session_settings='other'"):
        build(cfg, session_settings="other")


@pytest.mark.parametrize("name", ["bad name", "x;y", "1abc", "", "a..b", "-c"])
def test_invalid_setting_names_are_refused(name: str, tmp_path: Path) -> None:
    cfg = full_config("normal")
    cfg["sync_settings"] = {name: "1"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(ConfigValidationError) as info:
        build(path)
    message = str(info.value)
    assert message.startswith(f"{path}: sync_settings.{name}: ")
    assert "not a valid PostgreSQL setting name" in message
    assert "s3cr3t" not in message


# --------------------------------------------------------------------------- other keys


def test_placeholders_and_autocommit() -> None:
    cfg = full_config("normal")
    cfg["connection_settings"].update({"host": "", "port": "", "autocommit": True})
    entry = build(cfg)
    assert entry["HOST"] == ""
    assert entry["PORT"] == ""
    assert "autocommit" not in entry["OPTIONS"]
    assert "" not in entry["OPTIONS"].values()
    assert "AUTOCOMMIT" not in entry
    cfg["connection_settings"]["autocommit"] = False
    with pytest.warns(PgMonkeyDjangoWarning, match="autocommit=false is ignored"):
        entry = database_config(cfg)
    assert "autocommit" not in entry["OPTIONS"]


def test_multi_host_port_and_service() -> None:
    cfg = full_config("normal")
    cfg["connection_settings"].update({"host": "a,b", "port": "5432,5433"})
    del cfg["connection_settings"]["dbname"]
    cfg["connection_settings"]["service"] = "mysvc"
    entry = build(cfg)
    assert (entry["HOST"], entry["PORT"], entry["NAME"]) == ("a,b", "5432,5433", "")
    assert entry["OPTIONS"]["service"] == "mysvc"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("serializable", psycopg.IsolationLevel.SERIALIZABLE),
        ("Repeatable Read", psycopg.IsolationLevel.REPEATABLE_READ),
        ("read-committed", psycopg.IsolationLevel.READ_COMMITTED),
        ("READ_UNCOMMITTED", psycopg.IsolationLevel.READ_UNCOMMITTED),
        (3, psycopg.IsolationLevel.REPEATABLE_READ),
        (psycopg.IsolationLevel.SERIALIZABLE, psycopg.IsolationLevel.SERIALIZABLE),
    ],
)
def test_isolation_level(given: Any, expected: psycopg.IsolationLevel) -> None:
    assert build(full_config("normal"), isolation_level=given)["OPTIONS"]["isolation_level"] is (
        expected
    )


@pytest.mark.parametrize("bad", ["snapshot", 7, True, 1.5])
def test_bad_isolation_level(bad: Any) -> None:
    with pytest.raises(ConfigValidationError, match="is not an isolation level"):
        build(full_config("normal"), isolation_level=bad)


def test_django_keys_golden() -> None:
    entry = build(
        full_config("normal"),
        atomic_requests=True,
        autocommit=False,
        disable_server_side_cursors=True,
        server_side_binding=True,
        assume_role="reporting",
        prepare_threshold=5,
        test={"NAME": "test_appdb", "MIRROR": None},
        options={"sslmode": "verify-full", "target_session_attrs": "read-write"},
        engine="django.contrib.gis.db.backends.postgis",
    )
    assert entry == {
        "ENGINE": "django.contrib.gis.db.backends.postgis",
        "NAME": "appdb",
        "USER": "app",
        "PASSWORD": "s3cr3t pass",
        "HOST": "db.example.com",
        "PORT": "5432",
        "OPTIONS": {
            **BASE_OPTIONS,
            "sslmode": "verify-full",
            "target_session_attrs": "read-write",
            "server_side_binding": True,
            "assume_role": "reporting",
            "prepare_threshold": 5,
        },
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
        "ATOMIC_REQUESTS": True,
        "AUTOCOMMIT": False,
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "TEST": {"NAME": "test_appdb", "MIRROR": None},
    }


def test_input_is_not_mutated_and_results_are_independent() -> None:
    cfg = full_config()
    before = copy.deepcopy(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PoolFallbackWarning)
        first = database_config(cfg)
        second = database_config(cfg)
    assert cfg == before
    first["OPTIONS"]["sslmode"] = "disable"
    assert second["OPTIONS"]["sslmode"] == "require"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pool": "yes"}, "pool='yes': use True, False or 'auto'"),
        ({"options": {"pool": 3}} if POOLING else {"pool": "maybe"}, "pool"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigValidationError, match=match):
        build(full_config(), **kwargs)


# --------------------------------------------------------------------------- pooler: pgbouncer


def pgbouncer_config(connection_type: str = "pool") -> dict[str, Any]:
    """``full_config`` behind PgBouncer: no session settings (the core refuses them there)."""
    cfg = full_config(connection_type)
    cfg["pooler"] = "pgbouncer"
    cfg["connection_settings"].update({"host": "pgbouncer.example.com", "port": 6432})
    del cfg["sync_settings"], cfg["async_settings"]
    return cfg


PGBOUNCER_OPTIONS = {k: v for k, v in BASE_OPTIONS.items() if k != "options"}


def test_pgbouncer_golden() -> None:
    # The same on every Django version: PgBouncer pools the server connections, so the file's
    # connection_type: pool means persistent connections to PgBouncer (for max_lifetime),
    # never Django's pool; server-side cursors off; no prepare_threshold key (Django's own
    # default is no prepared statements, and psycopg2 would reject the key).
    expected = {
        "ENGINE": ENGINE,
        "NAME": "appdb",
        "USER": "app",
        "PASSWORD": "s3cr3t pass",
        "HOST": "pgbouncer.example.com",
        "PORT": "6432",
        "OPTIONS": PGBOUNCER_OPTIONS,
        "CONN_MAX_AGE": 1800,
        "CONN_HEALTH_CHECKS": True,
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
    assert build(pgbouncer_config()) == expected
    assert build(pgbouncer_config("async_pool")) == expected
    assert build(pgbouncer_config("normal")) == {**expected, "CONN_MAX_AGE": 0}
    assert build(pgbouncer_config(), conn_max_age=None)["CONN_MAX_AGE"] == 1800
    assert build(pgbouncer_config(), conn_max_age=30)["CONN_MAX_AGE"] == 30
    del expected["OPTIONS"]
    plain = build(pgbouncer_config(), pool=False)
    assert {k: v for k, v in plain.items() if k != "OPTIONS"} == {**expected, "CONN_MAX_AGE": 0}


def test_pgbouncer_explicit_pool_is_dropped_with_a_warning() -> None:
    with pytest.warns(PoolFallbackWarning, match="'pooler: pgbouncer': PgBouncer already") as rec:
        entry = database_config(pgbouncer_config("normal"), pool=True)
    assert len(rec) == 1
    assert_no_pool_anywhere(entry)
    assert entry["CONN_MAX_AGE"] == 1800  # persistent connections for pool_settings.max_lifetime
    with pytest.raises(ConfigValidationError, match=r"options\['pool'\] given .*pgbouncer"):
        build(pgbouncer_config(), options={"pool": {"max_size": 3}})


def test_pgbouncer_server_side_cursors_can_be_kept_explicitly() -> None:
    entry = build(pgbouncer_config(), disable_server_side_cursors=False)
    assert entry["DISABLE_SERVER_SIDE_CURSORS"] is False
    # Django's own keys that do not need session state still pass through.
    entry = build(
        pgbouncer_config(),
        isolation_level="serializable",
        server_side_binding=True,
        options={"sslmode": "verify-full"},
    )
    assert entry["OPTIONS"]["isolation_level"] is psycopg.IsolationLevel.SERIALIZABLE
    assert entry["OPTIONS"]["server_side_binding"] is True
    assert entry["OPTIONS"]["sslmode"] == "verify-full"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prepare_threshold": 5}, r"prepare_threshold=5 cannot be used with 'pooler: pgbouncer'"),
        ({"assume_role": "owner"}, r"assume_role cannot be used with 'pooler: pgbouncer'"),
        (
            {"options": {"options": "-c work_mem=8MB"}},
            r"options\['options'\] cannot be used with 'pooler: pgbouncer'",
        ),
    ],
)
def test_pgbouncer_refuses_session_state(
    kwargs: dict[str, Any], match: str, tmp_path: Path
) -> None:
    path = tmp_path / "bouncer.yaml"
    path.write_text(yaml.safe_dump(pgbouncer_config()), encoding="utf-8")
    with pytest.raises(ConfigValidationError, match=match) as info:
        build(path, **kwargs)
    assert str(info.value).startswith(f"{path}: pooler: ")
    assert "s3cr3t" not in str(info.value)


def test_pgbouncer_session_settings_are_refused_by_the_core() -> None:
    cfg = pgbouncer_config()
    cfg["sync_settings"] = {"statement_timeout": "30s"}
    with pytest.raises(
        ConfigValidationError, match=r"sync_settings: session settings .*pgbouncer"
    ):
        build(cfg)


# --------------------------------------------------------------------------- files, databases()


def test_yaml_file_and_databases(tmp_path: Path) -> None:
    primary = tmp_path / "primary.yaml"
    primary.write_text(yaml.safe_dump(full_config("normal"), sort_keys=False), encoding="utf-8")
    replica_cfg = full_config()
    replica_cfg["connection_settings"]["host"] = "replica.example.com"
    replica = tmp_path / "replica.yaml"
    replica.write_text(yaml.safe_dump(replica_cfg, sort_keys=False), encoding="utf-8")
    result = databases(
        {
            "default": primary,
            "replica": (
                str(replica),
                {"pool": False, "conn_max_age": 60, "test": {"MIRROR": "default"}},
            ),
            "dict": full_config("normal"),
        }
    )
    assert list(result) == ["default", "replica", "dict"]
    assert result["default"] == build(full_config("normal"))
    assert result["dict"] == result["default"]
    assert result["replica"]["HOST"] == "replica.example.com"
    assert result["replica"]["CONN_MAX_AGE"] == 60
    assert result["replica"]["TEST"] == {"MIRROR": "default"}
    assert_no_pool_anywhere(result["replica"])


def test_databases_rejects_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError, match=r"alias 'x': unknown option\(s\) pol"):
        databases({"x": (full_config("normal"), {"pol": False})})
    with pytest.raises(ConfigValidationError, match="alias 'x': use a path"):
        databases({"x": (full_config("normal"),)})  # type: ignore[dict-item]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, OSError)):
        database_config(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- issue 18/19


@pytest.mark.skipif(not POOLING, reason="needs Django >= 5.1 and psycopg_pool >= 3.2")
def test_lone_max_size_lowers_min_size_for_djangos_pool() -> None:
    cfg = full_config()
    cfg["pool_settings"] = {"max_size": 2}
    assert build(cfg)["OPTIONS"]["pool"] == {
        "max_size": 2,
        "min_size": 2,
        "connection_class": PooledConnection,
    }
    with pytest.raises(ConfigValidationError, match=r"min_size \(3\) cannot be greater"):
        build(cfg, options={"pool": {"min_size": 3}})


def test_unresolved_references_never_reach_django() -> None:
    cfg = full_config("normal")
    cfg["connection_settings"]["password"] = {"from_env": "APP_DB_PASSWORD"}
    with pytest.raises(ConfigValidationError, match="a from_env reference is only resolved"):
        build(cfg)
    cfg["connection_settings"]["password"] = "${APP_DB_PASSWORD}"  # literal, as in 3.4
    assert build(cfg)["PASSWORD"] == "${APP_DB_PASSWORD}"
