"""Timing shared by the in-process benches: a call repeated within a budget, and its p50/p95."""

import math
import statistics
import time
from collections.abc import Callable


def repeat(run: Callable[[], object], args) -> list[float]:
    """Milliseconds of `run`, up to args.runs times, fewer once args.budget seconds are spent
    (never fewer than args.min_runs)."""
    times: list[float] = []
    spent = 0.0
    while len(times) < args.runs and (spent < args.budget or len(times) < args.min_runs):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        times.append(elapsed * 1000)
        spent += elapsed
    return times


def cell(times: list[float]) -> str:
    """ "p50/p95" in milliseconds."""
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return f"{ms(statistics.median(times))}/{ms(p95)}"


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"
