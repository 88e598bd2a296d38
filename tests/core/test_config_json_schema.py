"""The JSON Schema for editors: generated from the loader's rules, and agreeing with it."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pgmonkey.config import SCHEMA_URL, json_schema, load_config, template_text
from pgmonkey.errors import ConfigError

DOCS_EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
INVALID_EXAMPLES = {"cli/broken.yaml"}  # shown in the docs as what validate reports


def _validator() -> jsonschema.protocols.Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _schema_accepts(cfg: Any) -> bool:
    return _validator().is_valid(cfg)


def _loader_accepts(cfg: dict[str, Any]) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_config(cfg, strict=True)
    except ConfigError:
        return False
    return True


def test_schema_is_valid_and_its_patterns_are_ecma_262() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_URL
    patterns = re.findall(r'"pattern": "([^"]*)"', json.dumps(schema))
    assert patterns
    for pattern in patterns:
        assert "(?" not in pattern  # no inline flags or lookarounds: editors run JS regexes


def test_template_points_at_the_schema_and_validates() -> None:
    text = template_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"
    assert _schema_accepts(yaml.safe_load(text))


def _example_configs() -> list[Path]:
    return sorted(
        p
        for p in DOCS_EXAMPLES.rglob("*.yaml")
        if "connection_settings" in p.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize(
    "path", _example_configs(), ids=lambda p: str(p.relative_to(DOCS_EXAMPLES))
)
def test_every_docs_example_validates_in_the_schema_and_the_loader_alike(path: Path) -> None:
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    expected = str(path.relative_to(DOCS_EXAMPLES)) not in INVALID_EXAMPLES
    assert _schema_accepts(cfg) is expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_config(path, strict=True)
            loaded = True
        except ConfigError:
            loaded = False
    assert loaded is expected


def _with(section: str, key: str, value: Any) -> dict[str, Any]:
    return {"connection_settings": {"host": "db"}, section: {key: value}}


AGREEMENT = [
    # (config, both accept it)
    (_with("connection_settings", "port", 5432), True),
    (_with("connection_settings", "port", "5432"), True),
    (_with("connection_settings", "port", "5432,5433"), True),
    (_with("connection_settings", "port", 70000), False),
    (_with("connection_settings", "port", 0), False),
    (_with("connection_settings", "port", "http"), False),
    (_with("connection_settings", "connect_timeout", 10), True),
    (_with("connection_settings", "connect_timeout", -1), False),
    (_with("connection_settings", "connect_timeout", 2**31), False),
    (_with("connection_settings", "connect_timeout", "${PGTIMEOUT:-5}"), True),
    (_with("connection_settings", "connect_timeout", [1]), False),
    (_with("connection_settings", "autocommit", True), True),
    (_with("connection_settings", "autocommit", "yes"), True),
    (_with("connection_settings", "autocommit", "Off"), True),
    (_with("connection_settings", "autocommit", "maybe"), False),
    (_with("connection_settings", "sslmode", "verify-full"), True),
    (_with("connection_settings", "sslmode", "sometimes"), False),
    (_with("connection_settings", "password", {"from_env": "PGPASSWORD"}), True),
    (_with("connection_settings", "password", {"from_file": "/run/secrets/pg"}), True),
    (_with("connection_settings", "password", {"from_env": "A", "extra": 1}), False),
    (_with("connection_settings", "hostname", "db"), False),  # unknown key (strict)
    (_with("pool_settings", "min_size", 0), True),
    (_with("pool_settings", "min_size", -1), False),
    (_with("pool_settings", "max_size", 0), False),
    (_with("pool_settings", "timeout", 2.5), True),
    (_with("pool_settings", "timeout", "2.5"), True),
    (_with("pool_settings", "timeout", 0), False),
    (_with("pool_settings", "timeout", "soon"), False),
    (_with("pool_settings", "check_on_checkout", "true"), True),
    (_with("pool_settings", "max_idel", 30), False),  # unknown key (strict)
    (_with("async_pool_settings", "max_lifetime", 3600), True),
    (_with("sync_settings", "statement_timeout", "30s"), True),
    (_with("sync_settings", "myapp.tenant", "acme"), True),
    (_with("sync_settings", "bad name", "x"), False),
    ({"connection_settings": None, "connection_type": "pool"}, True),
    ({"connection_settings": {}, "connection_type": "pooled"}, False),
    ({"connection_settings": {}, "pooler": "pgbouncer"}, True),
    ({"connection_settings": {}, "pooler": "odyssey"}, False),
    ({"connection_settings": {}, "app": {"feature_flag": True}}, True),  # kept, as in 3.x
    ({"connection_settings": {}, "metrics": False}, True),
    ({"connection_settings": {}, "metrics": "off"}, True),
    ({"connection_settings": {}, "metrics": "${PGMONKEY_METRICS:-true}"}, True),
    ({"connection_settings": {}, "metrics": "sometimes"}, False),
    ({"connection_settings": {}, "metrics": {"enabled": True}}, False),
    (_with("pool_settings", "metrics", "no"), True),
    ({"connection_type": "pool"}, False),  # connection_settings is required
]


@pytest.mark.parametrize(("cfg", "valid"), AGREEMENT, ids=lambda v: json.dumps(v)[:60])
def test_schema_and_loader_agree(cfg: dict[str, Any], valid: bool) -> None:
    assert _loader_accepts(cfg) is valid
    assert _schema_accepts(cfg) is valid
