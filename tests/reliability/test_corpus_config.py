"""The hostile-configuration corpus: every file gives exactly its expected outcome, leak-free.

``corpus/yaml/expected*.yaml`` (the format is described at the top of ``expected.yaml``) says,
for each file, either which :mod:`pgmonkey.errors` class ``load_config`` raises and what its
message names (key, line, reason), or which values it loads. Each case also runs through
``pgmonkey pgconfig validate`` (exit status and output). No output of either may contain the
canary password written in some of the files, in a secret file and in the environment.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

import pgmonkey.errors
from pgmonkey.config import ConfigWarning, load_config, redact_config

from ._cli import run_cli

pytestmark = pytest.mark.reliability

CORPUS = Path(__file__).with_name("corpus") / "yaml"
CANARY = "Corpus-Can4ry-pw-71"
WARNINGS: dict[str, type[Warning]] = {
    "UnknownConfigKeyWarning": pgmonkey.config.UnknownConfigKeyWarning,
    "DeprecationWarning": DeprecationWarning,
}
CASE_KEYS = frozenset(
    {
        "file",
        "resolve_env",
        "env",
        "error",
        "contains",
        "values",
        "absent",
        "warns",
        "validate_exit",
        "validate_contains",
    }
)


def _cases() -> list[Any]:
    params = []
    for manifest in sorted(CORPUS.glob("expected*.yaml")):
        for index, case in enumerate(yaml.safe_load(manifest.read_text(encoding="utf-8"))):
            mode = "resolve" if case.get("resolve_env") else "literal"
            case_id = f"{manifest.stem}:{case['file']}:{mode}:{index}"
            params.append(pytest.param(case, id=case_id))
    return params


CASES = _cases()


def test_every_file_has_a_case_and_every_case_a_file() -> None:
    named = {case.values[0]["file"] for case in CASES}
    data = {p.name for p in CORPUS.iterdir() if not p.name.startswith("expected")}
    secrets = {p.name for p in CORPUS.iterdir() if p.suffix == ".bin"}  # read via from_file
    assert named <= data
    assert data - secrets - named == set()
    for case in CASES:
        assert set(case.values[0]) <= CASE_KEYS, case.values[0]


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in the corpus folder (files name each other relatively) with no CORPUS_* set."""
    monkeypatch.chdir(CORPUS)
    for name in list(os.environ):
        if name.startswith(("CORPUS_", "APP_DB_", "PGPORT")):
            monkeypatch.delenv(name)


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _load(case: dict[str, Any], texts: list[str]) -> Any:
    """load_config as the case says; the outcome (config or exception) and every text seen."""
    records = _Records()
    logger = logging.getLogger("pgmonkey")
    logger.addHandler(records)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                outcome: Any = load_config(
                    case["file"], resolve_env=case.get("resolve_env", False)
                )
            except Exception as exc:
                outcome = exc
                texts.extend([str(exc), repr(exc)])
    finally:
        logger.removeHandler(records)
        logger.setLevel(old_level)
    texts.extend(records.messages)
    texts.extend(str(w.message) for w in caught)
    expected_warning = WARNINGS.get(case.get("warns", ""))
    kinds = {w.category for w in caught}
    if expected_warning is None:
        assert not kinds, [str(w.message) for w in caught]
    else:
        assert kinds == {expected_warning}, [str(w.message) for w in caught]
    return outcome


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(
    case: dict[str, Any], in_corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (case.get("env") or {}).items():
        monkeypatch.setenv(name, str(value))
    texts: list[str] = []
    outcome = _load(case, texts)

    error = case.get("error")
    if error is not None:
        expected_type = getattr(pgmonkey.errors, error)
        assert type(outcome) is expected_type, f"{type(outcome).__name__}: {outcome}"
        assert isinstance(outcome, ValueError)
        for part in case.get("contains", []):
            assert part in str(outcome), f"{part!r} not in {str(outcome)!r}"
    else:
        assert isinstance(outcome, dict), f"{type(outcome).__name__}: {outcome}"
        for dotted, value in (case.get("values") or {}).items():
            assert _lookup(outcome, dotted) == value, dotted
        for dotted in case.get("absent", []):
            with pytest.raises(KeyError):
                _lookup(outcome, dotted)
        texts.append(repr(redact_config(outcome)))

    argv = ["pgconfig", "validate", "--connconfig", case["file"]]
    if case.get("resolve_env"):
        argv.append("--resolve-env")
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as in a `pgmonkey` process: printed, not raised
        run = run_cli(*argv)
    texts.append(run.text)
    assert run.status == case.get("validate_exit", 2 if error else 0), run.text
    for part in case.get("validate_contains", case.get("contains", [])):
        assert part in run.stdout, f"{part!r} not in validate output:\n{run.text}"
    assert "unexpected" not in run.text

    for text in texts:
        assert CANARY not in text


def test_no_case_warns_through_an_unexpected_channel() -> None:
    """Configuration warnings are ConfigWarnings (the CLI maps them to exit status 2)."""
    for name, category in WARNINGS.items():
        if name != "DeprecationWarning":
            assert issubclass(category, ConfigWarning)
