"""pgimport's chardet threshold, checked against the measured corpus (no server needed).

The corpus and the measurement are in ``tests/reliability/corpus/encodings``; run
``python -m tests.reliability.corpus.encodings.measure`` for the full table.
"""

from __future__ import annotations

import pytest

from pgmonkey_cli._transfer._detect_encoding import LEGACY_CONFIDENCE, detect_encoding
from pgmonkey_cli._transfer._errors import TransferError, TransferUsageError
from tests.reliability.corpus.encodings.measure import Measurement, measure, samples

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


def test_detection_never_returns_a_wrong_encoding() -> None:
    # The whole pipeline (byte-order marks, UTF-8, damaged UTF-8, chardet, alphabets) on
    # every corpus file: the right text, or a refusal; legacy text is never "damaged UTF-8".
    damaged = []
    for sample in samples():
        try:
            guess = detect_encoding(sample.data, complete=True, source=sample.label)
        except TransferError as exc:
            if sample.text is not None and "damaged UTF-8" in str(exc):
                damaged.append(sample.label)
            continue
        except TransferUsageError:
            continue
        assert guess.encoding is not None
        assert sample.text is not None, sample.label
        assert sample.data.decode(guess.encoding) == sample.text, sample.label
    assert damaged == []
