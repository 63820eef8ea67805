"""Kill switch and stop requests from outside the process: a file and signals.

The shell watches them and reports to the pure ``RiskGate``:

- ``risk.kill_switch_file``: while the file exists, the kill switch is tripped (checked by
  ``poll``, which the engine loop calls every few thousand frames and on each stop check);
- ``SIGUSR1``: trips the kill switch (sticky: new trades are refused, rollbacks go on);
- ``SIGINT`` / ``SIGTERM``: trip the kill switch and ask the loop to stop reading input; what
  is in flight is finished or rolled back, and the report and journal are still written.

Signal handlers only set flags (no I/O, no locks); ``poll`` applies them on the main thread.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from arb.core.risk import RiskGate

__all__ = ["KillSwitch"]


class KillSwitch:
    """File and signal watcher; ``stop_reason`` is set once a stop was asked for."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self.stop_reason = ""
        self.trip_reason = ""
        self.pending = False
        """A signal arrived and ``poll`` has not applied it yet (cheap to test per frame)."""

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGUSR1:
            self.trip_reason = self.trip_reason or f"signal {name}"
        else:
            self.stop_reason = self.stop_reason or f"signal {name}"
            self.trip_reason = self.trip_reason or f"signal {name}"
        self.pending = True

    def request_stop(self, reason: str) -> None:
        """Stop reading input (as SIGTERM would)."""
        self.stop_reason = self.stop_reason or reason
        self.trip_reason = self.trip_reason or reason
        self.pending = True

    def poll(self, risk: RiskGate) -> None:
        """Apply signals received and the kill-switch file to ``risk``."""
        if self.path and os.path.exists(self.path):
            self.trip_reason = self.trip_reason or f"file {self.path} exists"
        if self.trip_reason:
            risk.trip_kill_switch(self.trip_reason)
        self.pending = False

    @contextmanager
    def installed(self) -> Iterator[KillSwitch]:
        """Install the signal handlers (main thread only; elsewhere a no-op) for a block."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
        old = {s: signal.signal(s, self._on_signal) for s in sigs}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)
