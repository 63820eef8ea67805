"""Benchmarks for arb's hot path (``make bench``). See ``bench/results/README.md``."""

from __future__ import annotations

from typing import Any

__all__ = ["record"]


def record(benchmark: Any, *, levels: int = 0, messages: int = 0) -> None:
    """Add levels/s and us/message (from the median round) to the benchmark's extra info."""
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: nothing was timed
        return
    median = stats.stats.median
    info = benchmark.extra_info
    if levels:
        info["levels_per_s"] = round(levels / median)
        info["ns_per_level"] = round(median / levels * 1e9, 1)
    if messages:
        info["us_per_message"] = round(median / messages * 1e6, 3)
