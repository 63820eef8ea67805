"""Clocks: the only place the engine reads time. The core takes time as arguments."""

from __future__ import annotations

import time

from arb.core.errors import InvariantViolation

__all__ = ["LiveClock", "ReplayClock"]


class LiveClock:
    """Wall-clock time in ns since the epoch (``time.time_ns``)."""

    def now_ns(self) -> int:
        return time.time_ns()


class ReplayClock:
    """Virtual time, advanced by the replayer; never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        if ts_ns < self._now:
            raise InvariantViolation(f"replay clock moved back from {self._now} to {ts_ns}")
        self._now = ts_ns
