"""pgmonkey.config: random documents and environments never escape pgmonkey.errors or leak.

Secrets (values of sensitive keys, literal or from the environment, and the defaults written
for them) carry the marker ``S3CR3T``; no error message, repr, warning or log record may ever
contain one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgmonkey.config import (
    REDACTED,
    check_config,
    find_problems,
    load_config,
    redact_config,
    redact_text,
)
from pgmonkey.errors import PgMonkeyError

MARK = "S3CR3T"
SECRET_VARS = ["PGMS_A", "PGMS_B"]
PLAIN_VARS = ["PGMP_A", "PGMP_B", "PGMP_UNSET"]
SENSITIVE = ["password", "sslpassword", "sslkey", "api_token", "client_secret"]
PLAIN_KEYS = [
    "user",
    "host",
    "port",
    "dbname",
    "sslmode",
    "connect_timeout",
    "autocommit",
    "options",
    "min_size",
    "max_size",
    "timeout",
    "check_on_checkout",
    "name",
    "statement_timeout",
    "jit",
    "from_env",
    "from_file",
    "x",
]
SECTIONS = [
    "connection_type",
    "connection_settings",
    "pool_settings",
    "async_pool_settings",
    "sync_settings",
    "async_settings",
    "postgresql",
    "junk",
]

secrets = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=4, max_size=10).map(
    lambda s: MARK + s
)
plain_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12).filter(
    lambda s: MARK.lower() not in s.lower()
)
plain_env = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10).filter(
    lambda s: MARK.lower() not in s.lower()
)

plain_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    plain_text,
    st.sampled_from(["05432", "0123", "off", "yes", "1:30", "0x1F", "5432,5433", "verify-full"]),
    st.sampled_from(PLAIN_VARS).map(lambda v: f"${{{v}}}"),
    st.tuples(st.sampled_from(PLAIN_VARS), plain_text).map(lambda t: f"a${{{t[0]}:-{t[1]}}}b"),
    st.sampled_from(["$${x}", "${", "${A-b}", "${1}", "$", "${PGMP_A:-${PGMP_B}}"]),
)


def secret_value(path: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        secrets,
        st.sampled_from(SECRET_VARS).map(lambda v: f"${{{v}}}"),
        st.tuples(st.sampled_from(SECRET_VARS), secrets).map(lambda t: f"${{{t[0]}:-{t[1]}}}"),
        st.sampled_from(SECRET_VARS).map(lambda v: {"from_env": v}),
        st.just({"from_file": path}),
        st.lists(secrets, max_size=2),
        st.dictionaries(st.sampled_from(["a", "b"]), secrets, max_size=2),
    )


def values(path: str) -> st.SearchStrategy[Any]:
    leaf = st.one_of(
        plain_scalars,
        st.sampled_from(PLAIN_VARS).map(lambda v: {"from_env": v}),
        st.just({"from_file": path + ".plain"}),
    )
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(PLAIN_KEYS), children, max_size=3),
        ),
        max_leaves=6,
    )


@st.composite
def documents(draw: st.DrawFn, path: str) -> Any:
    def section() -> Any:
        entries: dict[str, Any] = {}
        for key in draw(st.lists(st.sampled_from(PLAIN_KEYS + SENSITIVE), max_size=6)):
            entries[key] = draw(secret_value(path) if key in SENSITIVE else values(path))
        return entries

    doc: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(SECTIONS), max_size=6)):
        doc[name] = draw(st.one_of(st.builds(section), values(path)))
    if "postgresql" in doc and draw(st.booleans()):
        doc["postgresql"] = {"connection_settings": draw(st.builds(section))}
    return draw(st.one_of(st.just(doc), values(path)))


@st.composite
def yaml_texts(draw: st.DrawFn, path: str) -> tuple[Any, str]:
    doc = draw(documents(path))
    text = yaml.safe_dump(doc, allow_unicode=draw(st.booleans()), sort_keys=False)
    mutation = draw(st.sampled_from(["none", "none", "cut", "insert"]))
    if mutation == "cut" and text:
        text = text[: draw(st.integers(0, len(text)))]
    elif mutation == "insert":
        pos = draw(st.integers(0, len(text)))
        text = (
            text[:pos]
            + draw(st.sampled_from(["\t", ":", "- ", "'", "{", "&a ", "*a", "!!x "]))
            + text[pos:]
        )
    return doc, text


def _secrets_in(obj: Any, env: dict[str, str]) -> set[str]:
    found = {v for v in env.values() if MARK in v}
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            start = item.find(MARK)
            while start >= 0:
                end = start + len(MARK)
                while end < len(item) and item[end].isalnum():
                    end += 1
                found.add(item[start:end])
                start = item.find(MARK, end)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _check(source: Any, secret_set: set[str], texts: list[str]) -> None:
    capture = _Capture()
    logger = logging.getLogger("pgmonkey")
    old_level = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for resolve_env in (False, True):
                for strict in (False, True):
                    try:
                        load_config(
                            source,
                            resolve_env=resolve_env,
                            allow_sensitive_defaults=strict,
                            strict=strict,
                        )
                    except PgMonkeyError as exc:
                        texts.extend([str(exc), repr(exc)])
                problems = find_problems(source, resolve_env=resolve_env)
                texts.extend(str(p) for p in problems)
                texts.extend(repr(p) for p in problems)
                hints = check_config(source, resolve_env=resolve_env).hints
                texts.extend(str(h) for h in hints)
                texts.extend(repr(h) for h in hints)
        texts.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(capture)
        logger.setLevel(old_level)
    texts.extend(capture.messages)
    for text in texts:
        for secret in secret_set:
            assert secret not in text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config_property")
    (path / "secret").write_text(MARK + "filesecret\n")
    (path / "secret.plain").write_text("plain file\n")
    return path


env_values = st.fixed_dictionaries(
    {
        **dict.fromkeys(SECRET_VARS, secrets),
        **dict.fromkeys(PLAIN_VARS[:2], plain_env),
    }
)


@settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), env=env_values)
def test_random_files_only_raise_pgmonkey_errors_and_never_leak(
    workdir: Path, data: st.DataObject, env: dict[str, str]
) -> None:
    secret_file = str(workdir / "secret")
    doc, text = data.draw(yaml_texts(secret_file))
    path = workdir / "config.yaml"
    path.write_text(text, encoding="utf-8")
    secret_set = _secrets_in(doc, env) | {MARK + "filesecret"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("PGMP_UNSET", raising=False)
        texts: list[str] = []
        _check(path, secret_set, texts)
        _check(doc, secret_set, texts)
    for secret in secret_set - {MARK + "filesecret"}:
        assert secret not in repr(redact_config(doc))


@settings(derandomize=True, max_examples=150, deadline=None)
@given(text=st.text(max_size=80))
def test_arbitrary_text_only_raises_pgmonkey_errors(workdir: Path, text: str) -> None:
    path = workdir / "raw.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(PgMonkeyError):
            load_config(path, resolve_env=True)
        find_problems(path)


_SHAPES = [
    "{s}",
    'database "{s}" does not exist',
    "postgresql://app:{s}@db:5432/app",
    "host=db dbname=app password={s} user=app",
    "failed to resolve host 'x PWD={s}'",
    "repr: {r}",
    "json: {j}",
    'cut: "{s}" does not exist',
]


@given(
    secret=st.text(min_size=4, max_size=40).filter(lambda s: s.strip() and s not in REDACTED),
    shape=st.sampled_from(_SHAPES),
)
@settings(derandomize=True, max_examples=300, deadline=None)
def test_redact_text_never_shows_a_known_secret(secret: str, shape: str) -> None:
    text = shape.format(s=secret, r=repr(secret), j=json.dumps(secret))
    visible = secret
    if shape.startswith("cut"):
        visible = secret[: len(secret) - len(secret) // 2]  # the server cut the name short
        text = shape.format(s=visible)
    cfg = {"connection_settings": {"password": secret}}
    shown = redact_text(text, cfg)
    if len(visible) >= 4:  # a shorter start of a secret is not told from ordinary text
        assert visible not in shown
    assert redact_text(shown, cfg) == shown


# ----------------------------------------------------------------------------- bounded loader
# Fixed seeds (derandomize): the same examples on every run, each test well under a minute.

YAML_TOKENS = [
    "connection_settings:",
    "pool_settings:",
    "sync_settings:",
    "postgresql:",
    "host:",
    "port:",
    "password:",
    "min_size:",
    "<<:",
    "? ",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "&a ",
    "&b ",
    "*a",
    "*b",
    "!!str ",
    "!!python/object:os.system ",
    "!x ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    '"',
    "|",
    ">",
    "#",
    "---",
    "...",
    "%YAML 1.1\n",
    "~",
    "null",
    "0123",
    "1:30",
    "0x1F",
    "yes",
    "on",
    "5432",
    "1e999",
    "\t",
    "\ufeff",
    "\x00",
    "\x85",
    "é",
    "\\",
    "${PGMP_A}",
    "from_file: /dev/zero",
    "from_env: PGMP_A",
]


def _load_only_pgmonkey_errors(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for resolve_env in (False, True):
            try:
                cfg = load_config(path, resolve_env=resolve_env)
            except PgMonkeyError:
                continue
            assert isinstance(cfg, dict)
        for problem in find_problems(path, resolve_env=True):
            assert isinstance(problem, PgMonkeyError)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_load_or_raise_pgmonkey_errors(workdir: Path, raw: bytes) -> None:
    path = workdir / "bytes.yaml"
    path.write_bytes(raw)
    _load_only_pgmonkey_errors(path)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(tokens=st.lists(st.sampled_from(YAML_TOKENS), max_size=40))
def test_yaml_token_soup_loads_or_raises_pgmonkey_errors(workdir: Path, tokens: list[str]) -> None:
    path = workdir / "soup.yaml"
    path.write_text("".join(tokens), encoding="utf-8", errors="surrogatepass")
    _load_only_pgmonkey_errors(path)


def _text_values() -> st.SearchStrategy[str]:
    """Text a user may write (no control characters), including YAML 1.1 look-alikes."""
    typed = st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1
    ).filter(lambda s: s.strip() == s and s != "")
    return st.one_of(
        typed,
        st.sampled_from(["0123", "1:30", "0x1F", "yes", "off", "~", "null", "1e3", "-", "@x"]),
    )


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    min_size = draw(st.integers(0, 20))
    cfg: dict[str, Any] = {
        "connection_type": draw(st.sampled_from(["normal", "pool", "async", "async_pool"])),
        "connection_settings": {
            "host": draw(_text_values()),
            "port": draw(st.integers(1, 65535)),
            "user": draw(_text_values()),
            "password": draw(_text_values()),
            "dbname": draw(_text_values()),
            "connect_timeout": draw(st.integers(0, 3600)),
            "autocommit": draw(st.booleans()),
        },
        "pool_settings": {
            "min_size": min_size,
            "max_size": draw(st.integers(max(min_size, 1), 40)),
            "timeout": draw(st.floats(0.5, 600, allow_nan=False)),
        },
        "sync_settings": {"statement_timeout": draw(_text_values())},
    }
    return cfg


@settings(derandomize=True, max_examples=200, deadline=None)
@given(cfg=valid_configs())
def test_round_trip_through_yaml_safe_dump(workdir: Path, cfg: dict[str, Any]) -> None:
    path = workdir / "roundtrip.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    loaded = load_config(path, strict=True)
    assert loaded["connection_type"] == cfg["connection_type"]
    assert loaded["connection_settings"] == cfg["connection_settings"]
    for key, value in cfg["pool_settings"].items():
        assert loaded["pool_settings"][key] == value
    assert loaded["sync_settings"] == cfg["sync_settings"]
