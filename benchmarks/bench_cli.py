"""CLI start-up: whole-process ``pgmonkey --help`` and ``pgmonkey pgconfig validate``.

Each is a fresh ``python -m pgmonkey_cli`` process (what a user or a script pays); the
baseline is ``python -c pass`` measured alternately in the same run. ``--help`` must stay
under 120 ms absolute: registration imports nothing heavy.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _harness import Result, interleaved_median

from pgmonkey.config import template_text

HELP_TARGET_S = 0.120


def _process(*args: str) -> Any:
    def run() -> None:
        subprocess.run(
            [sys.executable, *args],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    return run


def run(ctx: dict[str, Any]) -> list[Result]:
    """Measure the two commands against an empty interpreter start."""
    baseline = _process("-c", "pass")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(template_text(), encoding="utf-8")
        cases = [
            ("pgmonkey --help", _process("-m", "pgmonkey_cli", "--help"), HELP_TARGET_S),
            (
                "pgmonkey pgconfig validate",
                _process(
                    "-m", "pgmonkey_cli", "pgconfig", "validate", "--connconfig", str(config)
                ),
                None,
            ),
        ]
        for name, func, target in cases:
            func()  # warm the file cache
            cand, base = interleaved_median(func, baseline, repeat=11)
            results.append(
                Result(
                    case=name,
                    metric="seconds (whole process)",
                    candidate=cand,
                    baseline_name="python -c pass",
                    baseline=base,
                    target_absolute=target,
                )
            )
    return results
