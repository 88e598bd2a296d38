"""The benchmark harness behind ``nox -s bench``.

A case is a module ``benchmarks/bench_<name>.py`` with a function ``run(ctx)`` that returns a
list of :class:`Result`. Each result compares a candidate with a named baseline measured in the
same run, so the ratio means something even on a busy, shared machine. Absolute timings are
printed too, but only ratios (and explicit targets) are judged.

Run everything with ``nox -s bench``, or one case with ``nox -s bench -- import_export``.
Results are printed as a table and written to ``benchmarks/results/results.json``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """One comparison between a candidate and its baseline.

    Attributes:
        case: Short name of what was measured, e.g. ``"pool borrow/return (sync)"``.
        metric: What the numbers are, e.g. ``"seconds"``, ``"µs/op"``, ``"MB peak"``.
        candidate: The value measured for pgmonkey.
        baseline_name: What it is compared with, e.g. ``"psycopg_pool directly"``.
        baseline: The value measured for the baseline, in the same unit.
        target_ratio: The largest acceptable ``candidate / baseline`` (``None``: report only).
        target_absolute: The largest acceptable ``candidate`` value (``None``: report only).
        extra: Anything else worth keeping in the JSON file.
    """

    case: str
    metric: str
    candidate: float
    baseline_name: str
    baseline: float
    target_ratio: float | None = None
    target_absolute: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """``candidate / baseline`` (infinite when the baseline is zero)."""
        return self.candidate / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        """Whether every target that was set is met."""
        ok = True
        if self.target_ratio is not None:
            ok = ok and self.ratio <= self.target_ratio
        if self.target_absolute is not None:
            ok = ok and self.candidate <= self.target_absolute
        return ok

    def as_dict(self) -> dict[str, Any]:
        """The result with its ratio and verdict, for the JSON file."""
        return {**asdict(self), "ratio": self.ratio, "passed": self.passed}


def median_time(func: Callable[[], object], *, repeat: int = 5, number: int = 1) -> float:
    """Median wall time in seconds of ``number`` calls of ``func``, over ``repeat`` rounds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def interleaved_median(
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeat: int = 7,
    number: int = 1,
) -> tuple[float, float]:
    """Median times of two functions measured alternately, so both see the same noise."""
    cand, base = [], []
    for _ in range(repeat):
        base.append(median_time(baseline, repeat=1, number=number))
        cand.append(median_time(candidate, repeat=1, number=number))
    return statistics.median(cand), statistics.median(base)
