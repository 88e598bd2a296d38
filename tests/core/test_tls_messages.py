"""libpq's messages about TLS files, rewritten to name the file, the reason and the fix."""

from __future__ import annotations

from pathlib import Path

from pgmonkey.connections._tls_files import explain_tls_files


def test_unreadable_file_reason_replaces_garbage_spread_over_lines(tmp_path: Path) -> None:
    # Some libpq builds print uninitialised bytes as the OpenSSL reason; they may hold a
    # newline, so the garbage continues on the next line until libpq's next attempt.
    lines = [
        f'connection to server at "a", port 1 failed: could not load private key file '
        f'"{tmp_path}": \x02',
        ",\x0fV",
        'connection to server at "b", port 2 failed: Connection refused',
    ]
    assert explain_tls_files(lines) == [
        f'connection to server at "a", port 1 failed: could not load private key file '
        f'"{tmp_path}": Is a directory',
        'connection to server at "b", port 2 failed: Connection refused',
    ]


def test_loose_private_key_gets_its_mode_and_the_fix(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("not a key")
    key.chmod(0o644)
    line = f'private key file "{key}" has group or world access; file must have ...'
    assert explain_tls_files([line]) == [
        f"{line} (its mode is 0644; fix it with: chmod 600 {key})"
    ]


def test_other_lines_are_unchanged() -> None:
    lines = ['FATAL:  password authentication failed for user "u"', "second line"]
    assert explain_tls_files(lines) == lines
