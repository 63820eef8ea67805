"""What every live execution venue shares: commands run as tasks, events queued for ``advance``.

A live venue answers when the exchange answers, not on a timer: ``submit`` starts the
request as a task on the running loop, the adapter appends the resulting ``OrderEvent``\\ s to
``_events`` as they arrive (REST answers, WebSocket pushes), and the engine collects them with
``advance``; ``due`` is ``None``. Subclasses implement ``_place`` and ``_cancel``.
"""

from __future__ import annotations

import asyncio

from arb.core.events import MarketEvent
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderEvent
from arb.core.messages import PlaceOrder

__all__ = ["LiveVenue"]


class LiveVenue:
    """Base of the live ``arb.ports.ExecutionVenue`` adapters (``OkxVenue``, ``CcxtVenue``)."""

    def __init__(self) -> None:
        self._events: list[OrderEvent] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._balances: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        """Errors by code (counted, never raised into the engine)."""

    # -- ExecutionVenue -----------------------------------------------------------------------

    def submit(self, cmd: Command, now: int) -> None:
        coro = self._place(cmd) if isinstance(cmd, PlaceOrder) else self._cancel(cmd)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_market(self, event: MarketEvent) -> None:
        """Live matching happens at the exchange: market data is not needed here."""

    def due(self) -> int | None:
        return None

    def advance(self, now: int) -> list[OrderEvent]:
        out, self._events = self._events, []
        return out

    def balances(self) -> dict[str, int]:
        return dict(self._balances)

    async def wait_idle(self) -> None:
        """Wait for every request in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- for subclasses -----------------------------------------------------------------------

    def _count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    async def _place(self, cmd: PlaceOrder) -> None:
        raise NotImplementedError

    async def _cancel(self, cmd: CancelOrder) -> None:
        raise NotImplementedError
