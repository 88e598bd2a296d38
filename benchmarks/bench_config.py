"""Configuration loading: a cached lookup by path against a full parse of the same file.

``load_config_cached`` on an unchanged file must cost under 20 µs (goal: 5 µs); the baseline
is ``load_config`` on the same file (read, YAML parse, validation), measured in the same run.
The template written by ``pgmonkey pgconfig create`` is the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from _harness import Result, interleaved_median

from pgmonkey.config import clear_config_cache, load_config, load_config_cached, template_text

TARGET_US = 20.0
GOAL_US = 5.0


def run(ctx: dict[str, Any]) -> list[Result]:
    """Measure cached lookups (plain and with resolve_env) against full parses."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        text = template_text().replace("password: 'password'", "password: '${PGM_BENCH_PW:-x}'")
        path.write_text(text, encoding="utf-8")
        clear_config_cache()
        for resolve_env in (False, True):
            kwargs = {"resolve_env": resolve_env, "allow_sensitive_defaults": True}
            load_config_cached(path, **kwargs)  # warm the cache

            def cached(kw: dict[str, bool] = kwargs) -> None:
                load_config_cached(path, **kw)

            def full(kw: dict[str, bool] = kwargs) -> None:
                load_config(path, **kw)

            cand, base = interleaved_median(cached, full, repeat=9, number=200)
            cand_us, base_us = cand * 1e6, base * 1e6
            label = " (resolve_env)" if resolve_env else ""
            results.append(
                Result(
                    case=f"config lookup by path, unchanged file{label}",
                    metric="µs/op",
                    candidate=cand_us,
                    baseline_name="full load_config parse of the same file",
                    baseline=base_us,
                    target_absolute=TARGET_US,
                    extra={"goal_us": GOAL_US, "meets_goal": cand_us <= GOAL_US},
                )
            )
        clear_config_cache()
    return results
