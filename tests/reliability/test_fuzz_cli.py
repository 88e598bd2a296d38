"""Config and command-line fuzzing: only documented errors, never a traceback from deep inside.

Hostile YAML documents (random structures, wrong types at every known key, huge numbers, odd
unicode, invalid YAML, alias bombs, binary garbage, ``${...}`` references to missing
variables, ``from_file`` pointing at missing files or directories) go through the loader and
through every command that reads a config; random argument lists go through ``pgmonkey``
itself (in process: :func:`pgmonkey_cli._app.main`). Every run must end with exit status 0,
1 or 2, no exception but ``SystemExit`` may escape, stderr never holds a traceback or an
"unexpected ..." report, and a failure says what is wrong (for an invalid config: the
loader's own message).

Not fuzzed: ``sandbox start`` and ``sandbox psql`` (they start servers and programs; their
refusals are covered in ``test_identifiers.py`` and ``tests/cli``). ``--debug`` prints
tracebacks on purpose and is left out.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgmonkey.config import load_config
from pgmonkey.errors import ConfigError, PgMonkeyError
from pgmonkey_cli._app import build_parser, main
from tests.reliability.conftest import Figures

pytestmark = pytest.mark.reliability

settings.register_profile(
    "pgmonkey-reliability",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)
PROFILE = settings.get_profile("pgmonkey-reliability")

MISSING = "PGMONKEY_FUZZ_MISSING"

SECTIONS = {
    "connection_settings": [
        "host",
        "port",
        "user",
        "password",
        "dbname",
        "sslmode",
        "connect_timeout",
        "autocommit",
        "sslrootcert",
        "sslkey",
        "options",
        "hostaddr",
        "application_name",
    ],
    "pool_settings": ["min_size", "max_size", "timeout", "max_idle", "check_on_checkout"],
    "async_pool_settings": ["min_size", "max_size", "timeout", "max_lifetime"],
    "sync_settings": ["statement_timeout", "work_mem", "search_path"],
    "async_settings": ["statement_timeout", "lock_timeout"],
}
TOP = ["connection_type", *SECTIONS, "pooler", "postgresql"]

odd_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=12,
) | st.sampled_from(
    [
        "\u202eevil",
        "\u200b",
        "\ufeff",
        "Ω≈ç√",
        "🐒" * 3,
        "a\nb",
        "$",
        "${",
        "$${x}",
        f"${{{MISSING}}}",
        f"${{{MISSING}:-x}}",
        "${1BAD}",
        "127.0.0.1",
        "localhost",
        "/nonexistent-dir",
        "::1",
        "verify-full",
        "true",
        "off",
        "0x1F",
        "1e309",
        "-0",
        "05432",
        "5432,5433",
        "pool",
        "async_pool",
        "bogus",
    ]
)
huge = st.sampled_from([10**100, -(10**40), 2**63, 2**64 + 1, 1e308, float("inf"), float("nan")])


def references(workdir: Path) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            {"from_file": str(workdir / "missing-secret")},
            {"from_file": str(workdir)},  # a directory
            {"from_file": ""},
            {"from_file": None},
            {"from_env": MISSING},
            {"from_env": ""},
            {"from_env": MISSING, "from_file": str(workdir / "x")},
            {"from_file": str(workdir / "secret"), "extra": 1},
        ]
    )


def leaves(workdir: Path) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**31), 2**31),
        st.integers(1, 65535),
        huge,
        st.floats(allow_nan=True, allow_infinity=True),
        odd_text,
        references(workdir),
    )


def values(workdir: Path) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves(workdir),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(["a", "host", "port", "<<", "from_file"]), children, max_size=3
            )
        ),
        max_leaves=5,
    )


@st.composite
def documents(draw: st.DrawFn, workdir: Path) -> Any:
    """A mapping with known sections and keys, each holding a value of any (wrong) type."""
    doc: dict[str, Any] = {}
    for top in draw(st.lists(st.sampled_from(TOP), max_size=5, unique=True)):
        keys = SECTIONS.get(top)
        if keys is None or draw(st.integers(0, 5)) == 0:
            doc[top] = draw(values(workdir))
            continue
        section: dict[str, Any] = {}
        for key in draw(st.lists(st.sampled_from(keys), max_size=5, unique=True)):
            section[key] = draw(values(workdir))
        doc[top] = section
    if draw(st.booleans()):  # mostly runnable: a local host that refuses at once
        settings_ = doc.setdefault("connection_settings", {})
        if isinstance(settings_, dict):
            settings_.setdefault("host", "127.0.0.1")
            settings_.setdefault("port", 1)
    return doc


def billion_laughs(levels: int, width: int) -> str:
    lines = ["a0: &a0 [lol]"]
    for i in range(1, levels):
        refs = ", ".join(f"*a{i - 1}" for _ in range(width))
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"connection_settings: {{host: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


BROKEN_YAML = [
    "connection_settings: [",
    "connection_settings:\n\thost: x\n",
    "a: &a [*a]\n",
    "connection_settings: !!python/object:os.system {}\n",
    "connection_settings: !!binary aGVsbG8=\n",
    "? [a, b]\n: c\n",
    "connection_settings: {host: x, host: y}\n",
    "<<: 5\n",
    "--- a\n--- b\n",
    "%YAML 9.9\n--- {}\n",
    "[" * 200 + "]" * 200,
    "a:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(100)),
    "",
    "~\n",
    "just a string\n",
    "- a list\n",
]


@st.composite
def yaml_files(draw: st.DrawFn, workdir: Path) -> bytes:
    """The bytes of a hostile configuration file."""
    kind = draw(st.sampled_from(["doc", "doc", "doc", "broken", "bomb", "binary", "mutated"]))
    if kind == "broken":
        return draw(st.sampled_from(BROKEN_YAML)).encode()
    if kind == "bomb":
        return billion_laughs(draw(st.integers(2, 12)), draw(st.integers(2, 10))).encode()
    if kind == "binary":
        return draw(st.binary(max_size=200)) + draw(st.sampled_from([b"", b"\xff\xfe", b"\x00"]))
    text = yaml.safe_dump(draw(documents(workdir)), allow_unicode=draw(st.booleans()))
    if kind == "mutated" and text:
        pos = draw(st.integers(0, len(text)))
        text = (
            text[:pos]
            + draw(st.sampled_from(["\t", ": ", "- ", "'", "{", "&x ", "*x", "!!x "]))
            + text[pos:]
        )
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-8-sig", "latin-1"]))
    return text.encode(encoding, errors="replace")


# -- running the CLI in process -------------------------------------------------------------


class Runner:
    """Runs ``main(argv)`` and checks the invariants every run must keep."""

    def __init__(self, capsys: pytest.CaptureFixture[str], figures: Figures) -> None:
        self.capsys = capsys
        self.figures = figures
        self.counts: dict[str, int] = {}

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.capsys.readouterr()
        started = time.monotonic()
        try:
            code: Any = main(argv)
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code
        elapsed = time.monotonic() - started
        out, err = self.capsys.readouterr()
        assert isinstance(code, int), (argv, code)
        assert code in (0, 1, 2), (argv, code, err)
        for stream in (out, err):
            assert "Traceback" not in stream, (argv, stream)
        assert "error: unexpected" not in err, (argv, err)
        assert "raised as an error" not in err, (argv, err)
        if code != 0:
            assert (out + err).strip(), argv
        key = f"exit_{code}"
        self.counts[key] = self.counts.get(key, 0) + 1
        self.counts["runs"] = self.counts.get("runs", 0) + 1
        slowest = max(self.counts.get("slowest_ms", 0), int(elapsed * 1000))
        self.counts["slowest_ms"] = slowest
        return code, out, err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "secret").write_text("s3cret\n", encoding="utf-8")
    (path / "data.csv").write_text("id,name\n1,a\n", encoding="utf-8")
    (path / "sandboxes").mkdir()
    return path


@pytest.fixture
def runner(
    capsys: pytest.CaptureFixture[str],
    figures: Figures,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runner]:
    monkeypatch.chdir(workdir)
    monkeypatch.delenv(MISSING, raising=False)
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "2")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # as in a real run (the suite turns them to errors)
            yield Runner(capsys, figures)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def config_commands(path: str, workdir: Path) -> list[list[str]]:
    data_dir = str(workdir / "sandboxes")
    return [
        ["pgconfig", "validate", "--connconfig", path],
        ["pgconfig", "validate", "--connconfig", path, "--json"],
        ["pgconfig", "show", "--connconfig", path],
        ["pgconfig", "show", "--connconfig", path, "--json"],
        ["pgconfig", "test", "--connconfig", path],
        ["pgconfig", "test", "--connconfig", path, "--all", "--json"],
        ["pgconfig", "generate-code", "--connconfig", path, "--library", "psycopg"],
        ["pgconfig", "generate-code", "--connconfig", path],
        ["pgserverconfig", "--connconfig", path],
        ["pgserverconfig", "--connconfig", path, "--json", "--client-cidr", "10.0.0.0/8"],
        ["pgserverconfig", "--connconfig", path, "--audit"],
        ["pgexport", "--connconfig", path, "--table", "t", "--export_file", "out.csv"],
        ["pgimport", "--connconfig", path, "--table", "t", "--import_file", "data.csv"],
        ["sandbox", "status", "--data-dir", data_dir, "--connconfig", path],
        ["sandbox", "stop", "--data-dir", data_dir, "--connconfig", path],
    ]


@PROFILE
@given(data=st.data())
def test_hostile_config_files_give_documented_errors(
    runner: Runner, workdir: Path, data: st.DataObject
) -> None:
    raw = data.draw(yaml_files(workdir))
    path = workdir / "fuzz.yaml"
    path.write_bytes(raw)
    resolve = data.draw(st.booleans())
    # The loader alone: a PgMonkeyError or a config, nothing else, and quickly.
    expected: ConfigError | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_config(path, resolve_env=resolve)
        except ConfigError as exc:
            expected = exc
        except PgMonkeyError:
            pass
    commands = config_commands(str(path), workdir)
    for argv in data.draw(st.lists(st.sampled_from(commands), min_size=1, max_size=3)):
        if resolve:
            argv = [*argv, "--resolve-env"]
        code, _, err = runner(argv)
        # validate lists every problem; sandbox status/stop never read the file (by design).
        if expected is not None and argv[0] != "sandbox" and "validate" not in argv:
            # An invalid config: exit 2 with the loader's own message.
            assert code == 2, (argv, err, expected)
            assert expected.message.splitlines()[0] in err, (argv, err, expected)
    runner.figures.record("fuzz_config_files", **runner.counts)


def test_alias_bombs_are_refused_quickly(runner: Runner, workdir: Path) -> None:
    path = workdir / "bomb.yaml"
    path.write_text(billion_laughs(12, 10), encoding="utf-8")  # 10**11 values if expanded
    started = time.monotonic()
    with pytest.raises(ConfigError, match="too many values"):
        load_config(path)
    code, _, err = runner(["pgconfig", "show", "--connconfig", str(path)])
    assert code == 2
    assert "too many values" in err
    assert time.monotonic() - started < 30  # generous: the point is "not exponential"


def _parser_tokens() -> list[str]:
    """Every command name and option string ``pgmonkey`` knows (minus the risky ones)."""
    import argparse

    tokens: set[str] = set()

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            tokens.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    tokens.add(name)
                    walk(child)

    walk(build_parser())
    return sorted(tokens - {"start", "psql", "--debug"})


TOKENS = _parser_tokens()

argv_values = st.one_of(
    st.sampled_from(["x", "", "-", "--", "0", "-1", "99999999999999999999", "nan", "t.t", "a b"]),
    st.sampled_from(["good.yaml", "bad.yaml", "missing.yaml", "data.csv", "sandboxes", "."]),
    st.sampled_from(["normal", "pool", "async", "async_pool", "psycopg", "pgmonkey", "pg"]),
    st.sampled_from(["10.0.0.0/8", "::/0", "999.1.1.1/99", "tab", "\\t", "comma", "utf-16"]),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/"), max_size=8),
).filter(lambda v: v not in ("start", "psql"))


@st.composite
def argvs(draw: st.DrawFn, workdir: Path) -> list[str]:
    """Random tokens, or a real command line with tokens inserted, dropped or replaced."""
    token = st.one_of(st.sampled_from(TOKENS), argv_values)
    if draw(st.booleans()):
        first = draw(st.sampled_from(["pgconfig", "pgserverconfig", "pgexport", "pgimport", ""]))
        return ([first] if first else []) + draw(st.lists(token, max_size=8))
    path = draw(st.sampled_from(["good.yaml", "good.yaml", "bad.yaml", "missing.yaml"]))
    argv = list(draw(st.sampled_from(config_commands(path, workdir))))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        where = draw(st.integers(0, len(argv)))
        action = draw(st.sampled_from(["insert", "drop", "replace"]))
        if action == "insert" or where >= len(argv):
            argv.insert(where, draw(token))
        elif action == "drop":
            del argv[where]
        else:
            argv[where] = draw(token)
    return argv


@PROFILE
@given(data=st.data())
def test_random_argv_gives_exit_0_1_or_2(
    runner: Runner, workdir: Path, data: st.DataObject
) -> None:
    good = {
        "connection_type": "pool",
        "connection_settings": {"host": "127.0.0.1", "port": 1, "user": "u", "dbname": "d"},
    }
    (workdir / "good.yaml").write_text(yaml.safe_dump(good), encoding="utf-8")
    (workdir / "bad.yaml").write_text("connection_settings: [\n", encoding="utf-8")
    full = data.draw(argvs(workdir))
    if "sandbox" in full:  # never the per-user default data directory
        full += ["--data-dir", str(workdir / "sandboxes")]
    runner(full)
    # Nothing was written outside the working directory's own files.
    assert all(p.parent == workdir or workdir in p.parents for p in workdir.rglob("*"))
    runner.figures.record("fuzz_argv", **runner.counts)


def test_argv_with_a_nul_character_is_a_usage_error(runner: Runner) -> None:
    code, _, err = runner(["pgconfig", "show", "--connconfig", "a\x00b.yaml"])
    assert code == 2
    assert "NUL" in err


def test_repeated_runs_keep_one_log_handler(runner: Runner) -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    for _ in range(5):
        runner(["pgconfig", "show", "--connconfig", "missing.yaml"])
    assert len(root.handlers) <= before + 1
