"""What every live execution venue shares: commands run as tasks, events queued for ``advance``.

A live venue answers when the exchange answers, not on a timer: ``submit`` starts the
request as a task on the running loop, the adapter appends the resulting ``OrderEvent``\\ s to
``_events`` as they arrive (REST answers, WebSocket pushes), and the engine collects them with
``advance``. ``due`` is the receive time of the oldest queued event (``None`` when none is
queued), so that the engine's ``advance_to(now)`` collects them; ``wake`` (set by the live
runner) is called whenever an event is queued, so that the runner does not poll. Subclasses
implement ``_place`` and ``_cancel`` and queue with ``self._events.append`` / ``extend``.

Every order placed is followed here from the events handed out (ack, fills by trade id, end),
so that ``sweep`` can ask the venue (``lookup``, by client order id) for the orders that have
not ended after a while: a push lost while a WebSocket was down, or a cancel answered "already
finished", never leaves an order open for good. Only what was not handed out yet is queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Iterable

from arb.core.events import MarketEvent
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import PlaceOrder

__all__ = ["LiveVenue"]


class _EventQueue(list[OrderEvent]):
    """The queued events; every append or extend calls ``notify`` (the runner's wake-up)."""

    __slots__ = ("notify",)

    def __init__(self) -> None:
        super().__init__()
        self.notify: Callable[[], None] | None = None

    def append(self, ev: OrderEvent) -> None:
        super().append(ev)
        if self.notify is not None:
            self.notify()

    def extend(self, evs: Iterable[OrderEvent]) -> None:
        n = len(self)
        super().extend(evs)
        if self.notify is not None and len(self) > n:
            self.notify()


class _Sent:
    """What the engine was told of one order placed by this process."""

    __slots__ = ("accepted", "cmd", "filled", "sent_ns", "trades")

    def __init__(self, cmd: PlaceOrder, sent_ns: int) -> None:
        self.cmd = cmd
        self.sent_ns = sent_ns
        self.accepted = False
        self.filled = 0
        self.trades: set[str] = set()

    def new(self, ev: OrderEvent) -> bool:
        """Would ``ev`` tell the engine something it was not told yet?"""
        if isinstance(ev, OrderAccepted):
            return not self.accepted
        if isinstance(ev, OrderFilled):
            return ev.trade_id not in self.trades
        return True  # an end: the order is only followed while it has not ended


class LiveVenue:
    """Base of the live ``arb.ports.ExecutionVenue`` adapters (``OkxVenue``, ``CcxtVenue``)."""

    def __init__(self) -> None:
        self._events = _EventQueue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._balances: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        """Errors by code (counted, never raised into the engine)."""
        self._sent: dict[str, _Sent] = {}
        """Orders placed by this process that have not ended (by client order id)."""
        self.swept = 0
        """Orders asked for by ``sweep`` (each ask counted)."""

    # -- ExecutionVenue -----------------------------------------------------------------------

    def submit(self, cmd: Command, now: int) -> None:
        if isinstance(cmd, PlaceOrder):
            self._sent.setdefault(cmd.client_order_id, _Sent(cmd, now))
        coro = self._place(cmd) if isinstance(cmd, PlaceOrder) else self._cancel(cmd)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_market(self, event: MarketEvent) -> None:
        """Live matching happens at the exchange: market data is not needed here."""

    def due(self) -> int | None:
        return self._events[0].ts_recv if self._events else None

    def advance(self, now: int) -> list[OrderEvent]:
        out = list(self._events)
        self._events.clear()
        for ev in out:
            self._observe(ev)
        return out

    def _observe(self, ev: OrderEvent) -> None:
        s = self._sent.get(ev.client_order_id)
        if s is None:
            return
        if isinstance(ev, OrderAccepted):
            s.accepted = True
        elif isinstance(ev, OrderFilled):
            if ev.trade_id not in s.trades:
                s.trades.add(ev.trade_id)
                s.filled += ev.qty
            if s.filled >= s.cmd.qty:
                del self._sent[ev.client_order_id]
        elif isinstance(ev, OrderCanceled | OrderRejected):
            del self._sent[ev.client_order_id]

    def unsettled(self, sent_before_ns: int) -> list[PlaceOrder]:
        """Orders placed at or before ``sent_before_ns`` whose end the engine was not told."""
        return [s.cmd for s in self._sent.values() if s.sent_ns <= sent_before_ns]

    async def sweep_order(self, client_order_id: str) -> None:
        """``sweep`` for one order (e.g. its cancel was answered "already finished")."""
        s = self._sent.get(client_order_id)
        if s is not None:
            await self._ask([s.cmd])

    async def sweep(self, sent_before_ns: int) -> int:
        """Ask the venue for every order placed at or before ``sent_before_ns`` that has not
        ended as far as the engine knows; queue what it did not know. Return how many were
        asked. A venue that cannot answer now is counted (``sweep:<error>``) and asked again
        at the next sweep."""
        n = await self._ask(self.unsettled(sent_before_ns))
        self.swept += n
        return n

    async def _ask(self, cmds: list[PlaceOrder]) -> int:
        n = 0
        for cmd in cmds:
            try:
                events = await self.lookup(cmd)
            except Exception as e:  # transport or venue error: asked again next time
                self._count_error(f"sweep:{type(e).__name__}")
                continue
            n += 1
            s = self._sent.get(cmd.client_order_id)
            if s is not None:
                self._events.extend(ev for ev in events if s.new(ev))
        return n

    async def lookup(self, cmd: PlaceOrder) -> list[OrderEvent]:
        """What the venue knows of ``cmd``'s order, by client order id (subclasses)."""
        raise NotImplementedError

    @property
    def wake(self) -> Callable[[], None] | None:
        """Called (synchronously, from the adapter's task) whenever an event is queued."""
        return self._events.notify

    @wake.setter
    def wake(self, fn: Callable[[], None] | None) -> None:
        self._events.notify = fn

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
