"""Measure chardet on legacy-encoded CSV text: its confidence when right and when wrong.

Run ``python -m tests.reliability.corpus.encodings.measure`` from the repository root to
print the table that docs/import-export.md quotes; ``tests/reliability/test_encoding_threshold.py``
checks that pgimport's threshold still separates right from wrong guesses on this corpus.

A guess is *right* when the file decodes under it, strictly, to exactly the original text
(``latin-1`` for a ``cp1252`` file whose text is the same either way is right). The corpus:
every language of ``texts.py`` in each of its code pages, with 1 to all of its rows, each
either as written or padded with the ASCII columns business exports have (ids, e-mail
addresses, dates), plus files that are no legacy text at all (ASCII with a few stray bytes,
random bytes), for which every guess is wrong.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from tests.reliability.corpus.encodings.texts import LANGUAGES


@dataclass(frozen=True)
class Sample:
    """One corpus file: what it is, its bytes and its true text (``None``: not text)."""

    label: str
    data: bytes
    text: str | None


@dataclass(frozen=True)
class Measurement:
    """What detection said about one sample."""

    label: str
    encoding: str | None
    confidence: float
    right: bool
    accepted: bool
    mixed_alphabets: bool  # the decoded text has a word mixing Latin, Cyrillic, Greek


def _padded(row: str, number: int, delimiter: str) -> str:
    return delimiter.join(
        [str(1000 + number), row, f"user{number}@example.com", f"2024-03-{number % 28 + 1:02d}"]
    )


def samples() -> Iterator[Sample]:
    """The corpus, in a fixed order."""
    for language, (codepages, header, rows) in LANGUAGES.items():
        delimiter = ";" if ";" in header else ","
        for count in sorted({1, 2, 3, 5, len(rows)}):
            for padded in (False, True):
                if padded:
                    head = delimiter.join(["id", header, "email", "date"])
                    body = [_padded(r, i, delimiter) for i, r in enumerate(rows[:count])]
                else:
                    head, body = header, rows[:count]
                text = "\n".join([head, *body]) + "\n"
                for codepage in codepages:
                    kind = "padded" if padded else "plain"
                    label = f"{language}/{codepage}/{count} rows/{kind}"
                    try:
                        data = text.encode(codepage)
                    except UnicodeEncodeError:
                        continue  # e.g. a dash that Latin-1 lacks: not a file of this page
                    yield Sample(label, data, text)
    rng = random.Random(18)
    ascii_rows = "id,name,city\n" + "".join(f"{i},name {i},city {i}\n" for i in range(40))
    for count in (1, 2, 5):
        noisy = bytearray(ascii_rows.encode())
        for _ in range(count):
            pos = rng.randrange(len(noisy))
            noisy[pos:pos] = bytes([rng.randrange(0x80, 0x100), rng.randrange(0x80, 0x100)])
        yield Sample(f"ascii + {count} stray byte pairs", bytes(noisy), None)
    french, russian = LANGUAGES["french"][2], LANGUAGES["russian"][2]
    mixed = ("\n".join(french[:3]) + "\n").encode("cp1252") + (
        "\n".join(russian[:3]) + "\n"
    ).encode("cp1251")
    yield Sample("cp1252 and cp1251 rows mixed", mixed, None)
    polish, greek = LANGUAGES["polish"][2], LANGUAGES["greek"][2]
    mixed = ("\n".join(french[:2]) + "\n").encode("cp1252") + ("\n".join(polish) + "\n").encode(
        "cp1250"
    )
    yield Sample("2 cp1252 rows among cp1250 rows", mixed, None)
    mixed = ("\n".join(polish[:2]) + "\n").encode("cp1250") + ("\n".join(greek) + "\n").encode(
        "cp1253"
    )
    yield Sample("2 cp1250 rows among cp1253 rows", mixed, None)
    for count in (1, 2):
        mixed = ("\n".join(french[:count]) + "\n").encode("cp1252") + (
            "\n".join(russian) + "\n"
        ).encode("cp1251")
        yield Sample(f"{count} cp1252 rows among cp1251 rows", mixed, None)
    damaged = bytearray("\n".join(french).encode("utf-8"))
    for pos in range(len(damaged) - 1, 0, -1):  # cut the second byte of most sequences
        if 0x80 <= damaged[pos] <= 0xBF and pos % 3:
            del damaged[pos]
    yield Sample("utf-8 with most sequences cut", bytes(damaged), None)
    yield Sample("ascii + ff fe", b"a,b\n1,x\n2,\xff\xfeplain\n", None)
    for size in (64, 512, 4096):
        yield Sample(f"random {size} bytes", rng.randbytes(size), None)


def measure() -> list[Measurement]:
    """Run pgimport's legacy detection (chardet and its corrections) over the corpus."""
    from pgmonkey_cli._transfer._detect_encoding import (
        LEGACY_CONFIDENCE,
        legacy_guess,
        mixed_script_word,
    )

    results = []
    for sample in samples():
        guess = legacy_guess(sample.data)
        right = False
        if guess.encoding is not None and sample.text is not None:
            try:
                right = sample.data.decode(guess.encoding) == sample.text
            except (UnicodeDecodeError, LookupError):
                right = False
        mixed = (
            guess.encoding is not None
            and mixed_script_word(sample.data.decode(guess.encoding, "replace")) is not None
        )
        accepted = guess.confidence >= LEGACY_CONFIDENCE and not mixed
        results.append(
            Measurement(sample.label, guess.encoding, guess.confidence, right, accepted, mixed)
        )
    return results


def main() -> None:
    """Print every measurement and the highest confidence of a wrong guess."""
    from pgmonkey_cli._transfer._detect_encoding import LEGACY_CONFIDENCE

    results = measure()
    for m in results:
        mark = "right" if m.right else "WRONG"
        verdict = "accepted" if m.accepted else "refused"
        print(f"{m.confidence:6.3f}  {mark}  {verdict:8}  {m.encoding or '-':12}  {m.label}")
    wrong = [m.confidence for m in results if not m.right]
    right = [m.confidence for m in results if m.right]
    accepted = sum(1 for m in results if m.right and m.accepted)
    wrong_accepted = sum(1 for m in results if not m.right and m.accepted)
    print(f"samples: {len(results)}, right guesses: {len(right)}, wrong: {len(wrong)}")
    print(f"highest confidence of a wrong guess: {max(wrong):.3f}")
    unchecked = [m.confidence for m in results if not m.right and not m.mixed_alphabets]
    print(f"... that the alphabet check does not catch: {max(unchecked):.3f}")
    print(f"threshold {LEGACY_CONFIDENCE}: {accepted} of {len(right)} right guesses accepted")
    print(f"wrong guesses accepted: {wrong_accepted}")


if __name__ == "__main__":
    main()
