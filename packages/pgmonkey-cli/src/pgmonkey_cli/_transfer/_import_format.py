"""pgimport's CSV format: the settings file, or detection, with the command-line flags on top.

Detection refuses rather than guesses: an encoding it cannot stand behind (see
:mod:`._detect_encoding`) stops here, before any connection, and a header it cannot decide
becomes a :class:`HeaderQuestion` that an existing table may answer (or the user, with
``--header``/``--no-header``). The settings file is written once the format is settled.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgmonkey_cli._transfer._errors import ImportDataError, TransferUsageError
from pgmonkey_cli._transfer._legacy import convert_legacy_settings
from pgmonkey_cli._transfer._names import settings_path
from pgmonkey_cli._transfer._settings import (
    CsvFormat,
    load_format,
    save_settings,
    validate_format,
)

__all__ = ["HeaderQuestion", "ResolvedFormat", "decode_sample", "resolve_format", "save_format"]


@dataclass(frozen=True)
class HeaderQuestion:
    """Detection found no evidence for or against a header (see ``header_verdict``)."""

    path: Path
    first: list[str]
    reason: str
    delimiter: str

    def refusal(self, also: str = "") -> TransferUsageError:
        """The error asking for ``--header`` or ``--no-header`` (``also``: more reasons)."""
        preview = self.delimiter.join(self.first)
        if len(preview) > 60:
            preview = preview[:57] + "..."
        return TransferUsageError(
            f"{self.path}: cannot tell whether line 1 ({preview!r}) is a header: "
            f"{self.reason}{also}; say --header or --no-header (the choice is saved with the "
            "other settings). Nothing was imported."
        )


@dataclass
class ResolvedFormat:
    """The format to import with, and what is still open about it.

    Attributes:
        fmt: The format (its ``header`` is a placeholder while ``question`` is set).
        question: The header question detection could not answer, if any.
        settings_file: The settings file next to the data (``None`` for a stream).
        written: Whether this run wrote it.
    """

    fmt: CsvFormat
    question: HeaderQuestion | None
    settings_file: Path | None
    written: bool = False


def resolve_format(
    path: Path,
    overrides: Mapping[str, Any],
    *,
    config_only: bool,
    say: Callable[[str], None],
    settings: bool = True,
) -> ResolvedFormat:
    """Read the settings file next to ``path``, or detect the format and write one.

    With ``settings=False`` (data read from a stream, spooled to ``path``) no settings file
    is read or written: the flags and detection decide.

    Raises:
        TransferUsageError: bad settings or flags, or detection needs a flag (exit 2).
        ImportDataError: the file is damaged (damaged UTF-8, NUL bytes; exit 1).
    """
    flags = {k: v for k, v in overrides.items() if v is not None}
    if not settings:  # a stream: the flags and detection, no settings file beside it
        detected, open_question = _detect(path, flags, say)
        return ResolvedFormat(detected, open_question, None)
    settings_file = settings_path(path, "pgimport")
    if settings_file.resolve() == path.resolve():
        raise TransferUsageError(f"{path}: the data file cannot be named like a settings file")
    saved = load_format(settings_file, flags)
    if saved is not None:  # later runs: no detection at all
        if config_only:
            say(f"Import settings already exist: {settings_file} (not changed)")
        return ResolvedFormat(saved, None, settings_file)
    converted = convert_legacy_settings(path, settings_file, kind="pgimport", say=say)
    if converted is not None:  # a pgmonkey 3.x data.yaml: its values, no detection
        legacy_fmt, written = converted
        return ResolvedFormat(
            validate_format(legacy_fmt.merged(flags)), None, settings_file, written
        )
    fmt, question = _detect(path, flags, say)
    resolved = ResolvedFormat(fmt, question, settings_file)
    if question is None:  # else written once the question is answered
        save_format(resolved, fmt, data_file=path, say=say)
    return resolved


def save_format(
    resolved: ResolvedFormat, fmt: CsvFormat, *, data_file: Path, say: Callable[[str], None]
) -> None:
    """Write ``fmt`` as the first-use settings file (never replacing one; none for a stream)."""
    resolved.fmt, resolved.question = fmt, None
    if resolved.settings_file is None:
        return
    resolved.written = save_settings(
        resolved.settings_file, fmt, kind="pgimport", data_file=data_file, say=say
    )


def _detect(
    path: Path, flags: Mapping[str, Any], say: Callable[[str], None]
) -> tuple[CsvFormat, HeaderQuestion | None]:
    from pgmonkey_cli._transfer._detect import SAMPLE_BYTES, detect_dialect, sample_records
    from pgmonkey_cli._transfer._detect_encoding import detect_encoding

    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES)
        complete = not fh.read(1)
    if "encoding" in flags:
        fmt = validate_format(CsvFormat(encoding=flags["encoding"]))
        encoding = fmt.encoding
        how = "--encoding"
    else:
        guess = detect_encoding(head, complete=complete, source=str(path))
        assert guess.encoding is not None
        encoding = guess.encoding
        how = guess.method
        if guess.method == "chardet":
            how += f", confidence {guess.confidence:.2f}"
    text = decode_sample(path, head, encoding, final=complete, origin=f" ({how})")
    dialect = detect_dialect(text, complete=complete)
    question = None
    if "header" in flags:
        header, why = bool(flags["header"]), "--header" if flags["header"] else "--no-header"
    elif dialect.header is None:
        first = sample_records(
            text, delimiter=dialect.delimiter, quote=dialect.quote, complete=complete, limit=1
        )
        question = HeaderQuestion(
            path, first[0] if first else [], dialect.header_reason, dialect.delimiter
        )
        header, why = True, f"undecided: {dialect.header_reason}"
    else:
        header, why = dialect.header, dialect.header_reason
    detected = CsvFormat(
        encoding=encoding, delimiter=dialect.delimiter, quote=dialect.quote, header=header
    )
    fmt = validate_format(detected.merged(flags))
    shown = "?" if question is not None else "yes" if fmt.header else "no"
    say(
        f"Detected format of {path.name}: encoding {encoding} ({how}), "
        f"delimiter {fmt.delimiter!r}, quote {fmt.quote!r}, header {shown} ({why})"
    )
    return fmt, question


def decode_sample(path: Path, head: bytes, encoding: str, *, final: bool, origin: str = "") -> str:
    """Decode the start of the file strictly: a bad byte is an error, never a replacement."""
    from pgmonkey_cli._transfer._badbytes import first_bad_byte

    try:
        text = codecs.getincrementaldecoder(encoding)("strict").decode(head, final=final)
    except UnicodeError:
        bad = first_bad_byte(head, encoding, final=final)
        assert bad is not None
        raise ImportDataError(
            f"{path}: {bad.describe(encoding)}; the file is read as {encoding}{origin}: "
            "set the right encoding with --encoding or in the settings file. "
            "Nothing was imported.",
            line=bad.line,
        ) from None
    return text.removeprefix("\ufeff")  # a UTF-8 byte-order mark read as utf-8
