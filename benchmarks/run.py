"""Runs the benchmark cases and writes ``benchmarks/results/results.json``.

Usage: ``python benchmarks/run.py [case ...]`` (``nox -s bench`` does this in a fresh venv).
Every case gets a ``ctx`` dict holding ``server``, a running throwaway PostgreSQL server from
:mod:`pgmonkey.testing`, shared by all cases of the run.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _harness import Result  # noqa: E402


def _cases(selected: list[str]) -> list[str]:
    names = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [n for n in names if not selected or n in selected]


def main(argv: list[str]) -> int:
    """Run the selected cases (all by default); exit 1 if a target was missed or a case failed."""
    from pgmonkey.testing import start_server

    results: list[Result] = []
    failures: list[str] = []
    # Prepared transactions let pgimport --jobs append to an existing table (two-phase commit).
    settings = {"max_connections": 300, "max_prepared_transactions": 10}
    with start_server(settings=settings) as server:
        ctx = {"server": server}
        for name in _cases(argv):
            print(f"== {name}", flush=True)
            try:
                module = importlib.import_module(f"bench_{name}")
                results.extend(module.run(ctx))
            except Exception:
                traceback.print_exc()
                failures.append(name)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"results": [r.as_dict() for r in results], "failed_cases": failures}, indent=2)
    )
    print()
    print(f"{'case':<44} {'metric':<10} {'pgmonkey':>11} {'baseline':>11} {'ratio':>7}  verdict")
    for r in results:
        verdict = "ok" if r.passed else "MISSED"
        if r.target_ratio is None and r.target_absolute is None:
            verdict = "report"
        print(
            f"{r.case:<44.44} {r.metric:<10.10} {r.candidate:>11.4g} {r.baseline:>11.4g} "
            f"{r.ratio:>7.3f}  {verdict}  (vs {r.baseline_name})"
        )
    print(f"\nresults written to {out / 'results.json'}")
    missed = [r.case for r in results if not r.passed]
    if failures or missed:
        print(f"failed cases: {failures}; missed targets: {missed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
