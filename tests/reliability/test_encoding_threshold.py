"""pgimport's chardet threshold, checked against the measured corpus (no server needed).

The corpus and the measurement are in ``tests/reliability/corpus/encodings``; run
``python -m tests.reliability.corpus.encodings.measure`` for the full table.
"""

from __future__ import annotations

import pytest

from pgmonkey_cli._transfer._detect_encoding import LEGACY_CONFIDENCE
from tests.reliability.corpus.encodings.measure import Measurement, measure

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def results() -> list[Measurement]:
    return measure()


def test_no_wrong_guess_is_accepted(results: list[Measurement]) -> None:
    accepted = [m.label for m in results if m.accepted and not m.right]
    assert accepted == []


def test_threshold_is_above_every_wrong_guess_the_alphabet_check_misses(
    results: list[Measurement],
) -> None:
    unchecked = [m.confidence for m in results if not m.right and not m.mixed_alphabets]
    assert max(unchecked) < LEGACY_CONFIDENCE


def test_the_alphabet_check_never_refuses_a_right_guess(results: list[Measurement]) -> None:
    assert [m.label for m in results if m.right and m.mixed_alphabets] == []


@pytest.mark.parametrize(
    "label",
    ["russian/cp1251/10 rows/plain", "russian/koi8-r/10 rows/plain",
     "japanese/shift_jis/8 rows/plain", "greek/cp1253/6 rows/plain"],
)  # fmt: skip
def test_a_few_lines_of_non_latin_text_are_enough(results: list[Measurement], label: str) -> None:
    (m,) = [m for m in results if m.label == label]
    assert m.right
    assert m.accepted
