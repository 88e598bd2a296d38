"""``pgmonkey completion``: the scripts complete commands, options and values in real shells."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _script(shell: str, tmp_path: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "pgmonkey_cli", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stderr == ""
    path = tmp_path / f"pgmonkey.{shell}"
    path.write_text(proc.stdout)
    return path


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:  # .ci/run installs bash, zsh and fish
        pytest.fail(f"{name} is not installed (apt-get install {name})")
    return found


def _bash_complete(script: Path, line: str, cwd: Path) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end)."""
    words = line.split(" ")
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_pgmonkey\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        [_shell("bash"), "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=True,
    )
    assert proc.stderr == ""
    return sorted(w for w in proc.stdout.splitlines() if w)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pgmonkey pg", ["pgconfig", "pgexport", "pgimport", "pgserverconfig"]),
        (
            "pgmonkey pgconfig ",
            ["--help", "-h", "create", "generate-code", "schema", "show", "test", "validate"],
        ),
        ("pgmonkey pgconfig test --connection-type ", ["async", "async_pool", "normal", "pool"]),
        ("pgmonkey pgconfig test --connection-type a", ["async", "async_pool"]),
        ("pgmonkey pgimport --connconfig pgconfig --import-f", ["--import-file"]),
        ("pgmonkey pgimport --import-file da", ["data.csv", "data.yaml"]),
        ("pgmonkey pgimport --table ", []),
        ("pgmonkey completion ", ["--debug", "--help", "-h", "bash", "fish", "zsh"]),
    ],
)
def test_bash_completes_commands_options_and_values(
    tmp_path: Path, line: str, expected: list[str]
) -> None:
    script = _script("bash", tmp_path)
    (tmp_path / "data.csv").touch()
    (tmp_path / "data.yaml").touch()
    (tmp_path / "other.csv").touch()
    assert _bash_complete(script, line, tmp_path) == expected


def test_fish_completes_commands_options_and_values(tmp_path: Path) -> None:
    script = _script("fish", tmp_path)
    (tmp_path / "data.csv").touch()

    def complete(line: str) -> list[str]:
        proc = subprocess.run(
            [_shell("fish"), "--no-config", "-c", f"source {script}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=True,
        )
        assert proc.stderr == ""
        return sorted(entry.split("\t")[0] for entry in proc.stdout.splitlines())

    assert complete("pgmonkey pgc") == ["pgconfig"]
    assert "generate-code" in complete("pgmonkey pgconfig ")
    assert complete("pgmonkey pgconfig test --connection-type ") == [
        "async",
        "async_pool",
        "normal",
        "pool",
    ]
    assert complete("pgmonkey pgimport --import-file da") == ["data.csv"]
    assert "--import-file" in complete("pgmonkey pgimport --imp")


def test_zsh_loads_the_script_and_registers_the_completion(tmp_path: Path) -> None:
    script = _script("zsh", tmp_path)
    proc = subprocess.run(
        [_shell("zsh"), "-f", "-c", f"source {script}; print -r -- ${{_comps[pgmonkey]}}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    assert proc.stderr == ""
    assert proc.stdout.strip() != ""  # the bash-emulation wrapper around _pgmonkey
