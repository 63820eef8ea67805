"""Any ccxt exchange as an ``arb.ports.ExecutionVenue`` (same shape as ``venues.okx.venue``).

- ``submit(PlaceOrder)``: ``create_order(symbol, "limit", side, amount, price, params)`` with
  ``params["clientOrderId"]`` = arb's client order id and ``params["timeInForce"]`` ``IOC`` /
  ``FOK`` for those order types (when ``exchange.has`` lists ``createOrder`` and the venue
  takes the unified param; ccxt translates it, e.g. OKX ``ordType`` ``ioc``/``fok``); MARKET
  is ``create_order(symbol, "market", ...)`` with ``MARKET_PARAMS[exchange.id]`` so the amount
  is base quantity. The answer becomes ``OrderAccepted``; an error becomes ``OrderRejected``
  with the reject code of ``venues.ccxt.errors`` after the retry table: ``BACKOFF`` resends
  with the same client id (at most ``max_attempts``), ``QUERY_ORDER`` (network failure while
  placing, duplicate client id) looks the order up by client id and never resends it (found:
  accepted; ``OrderNotFound``: ``OrderRejected("NOT_PLACED")``; the query failing: the order
  stays pending and the poller asks again), ``STOP`` rejects and refuses every later order.
- ``submit(CancelOrder)``: ``cancel_order(venue order id, symbol)``, or by
  ``params["clientOrderId"]`` before the ack; ``OrderNotFound`` sends nothing (the order's own
  terminal event says what happened).
- order updates: ccxt.pro ``watch_orders`` when ``exchange.has["watchOrders"]`` (re-watched
  after an error, with a REST poll of the open orders first), else ``fetch_order`` of every
  open order every ``poll_interval_s``.
- fills: ccxt's unified *REST* trades, ``fetch_order_trades(id, symbol)`` (or
  ``fetch_my_trades(symbol, since)`` filtered by order id) whenever an update shows more
  ``filled`` than the fills already delivered, plus any ``trades`` an order dict carries
  (Binance's ``create_order`` answer). One ``OrderFilled`` per trade id (dedup per symbol).
  ``watch_my_trades`` is deliberately not used: ccxt 4.5.90's ``okx`` builds those trades
  from the ``orders`` push with OKX's fee sign (negative = charged), the opposite of its REST
  trades, so a fee could not be read the same way on every venue.
- terminal: an order whose status is ``canceled`` / ``expired`` / ``rejected`` (or ``closed``
  with less than its amount filled) gives ``OrderCanceled`` once, and only after every fill
  its ``filled`` reports was delivered (a fully filled order ends with its last fill, as in
  arb's order state machine). Reasons: ``REQUESTED`` (we cancelled it), ``IOC_REMAINDER``
  (IOC, MARKET), ``FOK_NOT_FILLABLE`` (FOK), ``VENUE_CANCELED`` (a LIMIT ended by the venue).
- ``lookup(PlaceOrder)`` (restart recovery, ``arb.recovery``): the order is registered as if
  sent by this venue (so its later updates are followed) and looked up like an order in
  doubt: ``fetch_order`` by client id (by venue id once known), its trades, its end; the
  events are returned instead of queued (``OrderNotFound``: ``OrderRejected("NOT_PLACED")``).
- balances: ``fetch_balance()["free"]`` per currency at AMOUNT_PRECISION (exact).
- fees: ``fetch_trading_fees`` when the exchange has it, else ``fetch_trading_fee`` per
  symbol when it has that, else the configured rates (ppm of notional, positive = charged).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import ccxt
import msgspec

from arb.core.errors import DataError
from arb.core.instruments import Instrument
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.types import Side
from venues.ccxt.convert import CcxtOrderView
from venues.ccxt.convert import CcxtTradeView
from venues.ccxt.convert import exact
from venues.ccxt.convert import order_view
from venues.ccxt.convert import trade_view
from venues.ccxt.errors import CcxtError
from venues.ccxt.errors import RetryAction
from venues.ccxt.errors import classify
from venues.ccxt.errors import should_retry
from venues.live import LiveVenue

__all__ = [
    "MARKET_PARAMS",
    "CcxtVenue",
    "FeeRates",
    "create_order_args",
    "fill_event",
]

NS_PER_MS = 1_000_000
CCXT_ERROR: type[Exception] = ccxt.BaseError
"""The root of ccxt's exceptions: the only ones classified; anything else is a bug."""
TERMINAL = frozenset({"closed", "canceled", "expired", "rejected"})
TIME_IN_FORCE: dict[OrderType, str] = {OrderType.IOC: "IOC", OrderType.FOK: "FOK"}
MARKET_PARAMS: dict[str, dict[str, str]] = {"okx": {"tgtCcy": "base_ccy"}}
"""Extra params of a MARKET order per ccxt exchange id, so that its amount is base quantity
(OKX spot market buys are in the quote by default)."""
_CANCEL_REASON: dict[OrderType, str] = {
    OrderType.IOC: "IOC_REMAINDER",
    OrderType.MARKET: "IOC_REMAINDER",
    OrderType.FOK: "FOK_NOT_FILLABLE",
    OrderType.LIMIT: "VENUE_CANCELED",
}


class FeeRates(msgspec.Struct, frozen=True):
    """Taker and maker fee in ppm of notional (positive = charged) and where they came from."""

    taker_ppm: int
    maker_ppm: int
    source: str = "config"


def create_order_args(
    cmd: PlaceOrder, inst: Instrument, exchange_id: str = ""
) -> tuple[str, str, str, str, str | None, dict[str, str]]:
    """The ``create_order`` arguments of ``cmd``: (symbol, type, side, amount, price, params).

    Amount and price are exact decimal strings (ccxt takes strings and formats them with the
    market's precision, which the instrument's tick and lot already satisfy).
    """
    params = {"clientOrderId": cmd.client_order_id}
    side = "buy" if cmd.side is Side.BUY else "sell"
    if cmd.order_type is OrderType.MARKET:
        params |= MARKET_PARAMS.get(exchange_id, {})
        return inst.venue_symbol, "market", side, inst.qty_str(cmd.qty), None, params
    tif = TIME_IN_FORCE.get(cmd.order_type)
    if tif:
        params["timeInForce"] = tif
    return inst.venue_symbol, "limit", side, inst.qty_str(cmd.qty), inst.px_str(cmd.px), params


def fill_event(
    venue: str, cid: str, side: Side, t: CcxtTradeView, inst: Instrument, ts_recv: int
) -> OrderFilled:
    """arb's fill for one ccxt trade (fee positive = charged, as ccxt's REST trades give it)."""
    return OrderFilled(
        venue=venue,
        client_order_id=cid,
        trade_id=t.id,
        side=side,
        px=inst.px_to_raw(t.price),
        qty=inst.qty_to_raw(t.amount),
        fee=to_raw(t.fee_cost, AMOUNT_PRECISION),
        fee_ccy=t.fee_ccy or inst.quote,
        liquidity="maker" if t.taker_or_maker == "maker" else "taker",
        ts_event=t.timestamp_ms * NS_PER_MS or ts_recv,
        ts_recv=ts_recv,
    )


class _Order:
    """What the venue knows of one of our orders."""

    def __init__(self, cmd: PlaceOrder, inst: Instrument, sent_ms: int) -> None:
        self.cmd = cmd
        self.inst = inst
        self.sent_ms = sent_ms
        self.venue_order_id = ""
        self.accepted = False
        self.rejected = False
        self.in_doubt = False
        self.cancel_requested = False
        self.reported = 0  # raw qty the venue says is filled
        self.delivered = 0  # raw qty of the fills handed out
        self.status = ""
        self.ended = False
        self.lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return not (self.ended or self.rejected)


class CcxtVenue(LiveVenue):
    """A ccxt exchange as an execution venue. Events are queued as they arrive and handed out
    by ``advance`` (``due`` is ``None``: the venue, not a timer, decides when they come).

    ``exchange`` is an async ccxt instance (``ccxt.pro.<id>`` for ``watch_orders``, or
    ``ccxt.async_support.<id>``), already configured (keys, sandbox mode, URLs) by the caller,
    who also closes it. ``start()`` begins the order-update task; ``close()`` ends it.
    """

    def __init__(
        self,
        exchange: Any,
        venue_id: str,
        instruments: Iterable[Instrument],
        *,
        clock_ns: Callable[[], int],
        fees: FeeRates | None = None,
        poll_interval_s: float = 0.5,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        use_watch: bool | None = None,
    ) -> None:
        super().__init__()
        self.exchange = exchange
        self.venue = venue_id
        self._clock = clock_ns
        self._by_symbol = {i.symbol: i for i in instruments if i.venue == venue_id}
        self._by_ccxt = {i.venue_symbol: i for i in self._by_symbol.values()}
        self.default_fees = fees or FeeRates(1_000, 1_000)
        self.fees: dict[str, FeeRates] = dict.fromkeys(self._by_symbol, self.default_fees)
        self.poll_interval_s = poll_interval_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        has: Mapping[str, Any] = exchange.has
        self.watching = bool(has.get("watchOrders")) if use_watch is None else use_watch
        self._has_order_trades = bool(has.get("fetchOrderTrades"))
        self._orders: dict[str, _Order] = {}  # by client order id
        self._by_venue_id: dict[str, _Order] = {}
        self._trades: set[tuple[str, str]] = set()  # (ccxt symbol, trade id)
        self._loops: list[asyncio.Task[None]] = []
        self.stopped = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start following order updates (``watch_orders`` or the REST poller)."""
        loop = asyncio.get_running_loop()
        if self.watching:
            self._loops.append(loop.create_task(self._watch_loop()))
        self._loops.append(loop.create_task(self._poll_loop()))

    async def close(self) -> None:
        """Stop the update tasks and wait for requests in flight (the exchange stays open)."""
        await self.wait_idle()
        for t in self._loops:
            t.cancel()
        for t in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._loops.clear()

    def open_orders(self) -> list[str]:
        """Client order ids of orders not yet finished (as far as the venue has told)."""
        return [cid for cid, o in self._orders.items() if o.open]

    # -- balances and fees --------------------------------------------------------------------

    async def refresh_balances(self) -> dict[str, int]:
        """Free balance per currency (``fetch_balance()["free"]``), at AMOUNT_PRECISION."""
        bal = await self.exchange.fetch_balance()
        free = bal.get("free") or {}
        out: dict[str, int] = {}
        for ccy, v in free.items():
            if v is not None:
                out[str(ccy)] = to_raw(exact(v, f"balance {ccy} free"), AMOUNT_PRECISION)
        self._balances = out
        return dict(out)

    async def refresh_fees(self) -> dict[str, FeeRates]:
        """Fee rates per canonical symbol: from the exchange where ccxt can fetch them
        (``fetch_trading_fees``, else ``fetch_trading_fee`` per symbol), else the config's."""
        has: Mapping[str, Any] = self.exchange.has
        if has.get("fetchTradingFees"):
            every = await self.exchange.fetch_trading_fees()
            got = {s: every.get(i.venue_symbol) for s, i in self._by_symbol.items()}
        elif has.get("fetchTradingFee"):
            got = {}
            for s, i in self._by_symbol.items():
                got[s] = await self.exchange.fetch_trading_fee(i.venue_symbol)
        else:
            got = {}
        for s in self._by_symbol:
            d = got.get(s)
            if isinstance(d, Mapping) and d.get("taker") is not None:
                taker = to_raw(exact(d["taker"], f"{s} taker fee"), 6)
                maker = to_raw(exact(d.get("maker", d["taker"]), f"{s} maker fee"), 6)
                self.fees[s] = FeeRates(taker, maker, "venue")
            else:
                self.fees[s] = self.default_fees
        return dict(self.fees)

    # -- orders out ---------------------------------------------------------------------------

    async def _place(self, cmd: PlaceOrder) -> None:
        inst = self._by_symbol.get(cmd.symbol)
        if inst is None:
            self._reject(cmd.client_order_id, "UNKNOWN_SYMBOL")
            return
        if self.stopped:
            self._reject(cmd.client_order_id, "VENUE_STOPPED")
            return
        o = self._orders.get(cmd.client_order_id)
        if o is not None and (o.accepted or o.in_doubt or not o.rejected):
            return  # a re-sent command: the venue already has (or may have) this order
        o = _Order(cmd, inst, self._clock() // NS_PER_MS)
        self._orders[cmd.client_order_id] = o
        symbol, otype, side, amount, price, params = create_order_args(cmd, inst, self.exchange.id)
        err: CcxtError | None = None
        for attempt in range(self.max_attempts):
            try:
                raw = await self.exchange.create_order(symbol, otype, side, amount, price, params)
            except CCXT_ERROR as e:
                err = classify(e, self.venue, placing=True)
                self._count(err)
                action = should_retry(err)
                if action is RetryAction.BACKOFF:
                    await asyncio.sleep(self.backoff_s * 2**attempt)
                    continue
                if action is RetryAction.RESYNC_CLOCK_ONCE and attempt == 0:
                    await self._resync_clock()
                    continue
                if action is RetryAction.QUERY_ORDER:
                    await self._resolve_in_doubt(o)
                    return
                if action is RetryAction.STOP:
                    self.stopped = True
                break
            else:
                await self._on_update(self._view(raw, o), o)
                return
        o.rejected = True
        self._reject(cmd.client_order_id, err.reject if err is not None else "VENUE_ERROR")

    async def _resolve_in_doubt(self, o: _Order) -> None:
        # The order may exist: look it up by client id; never resend it.
        o.in_doubt = True
        cid = o.cmd.client_order_id
        try:
            by_cid = {"clientOrderId": cid}
            raw = await self.exchange.fetch_order(None, o.inst.venue_symbol, by_cid)
        except CCXT_ERROR as e:
            err = classify(e, self.venue)
            self._count(err)
            if err.code == "OrderNotFound":
                o.in_doubt, o.rejected = False, True
                self._reject(cid, "NOT_PLACED")
            return  # else: still in doubt; the poller asks again
        o.in_doubt = False
        await self._on_update(self._view(raw, o), o)

    async def lookup(self, cmd: PlaceOrder) -> list[OrderEvent]:
        """What the venue knows of the order of ``cmd``, sent by this or an earlier process.

        An order this venue does not know yet is registered (sent at ``cmd.ts``) and from then
        on followed like its own orders (poller, ``watch_orders``). It is fetched by client id
        (by venue id once acknowledged), its trades fetched and its end decided as for any
        update, and the order's events are returned rather than handed out by ``advance``
        (those of it queued until now included). ``[OrderRejected("NOT_PLACED")]`` when the
        venue has no such order; ``[]`` when it cannot answer now (counted in ``errors``; the
        poller asks again and ``advance`` hands the answer out), or for an order this venue
        already rejected. Raises ``KeyError`` for a symbol this venue does not trade.
        """
        inst = self._by_symbol[cmd.symbol]
        cid = cmd.client_order_id
        o = self._orders.get(cid)
        if o is None:
            o = self._orders[cid] = _Order(cmd, inst, cmd.ts // NS_PER_MS)
        if o.accepted:
            try:
                raw = await self.exchange.fetch_order(o.venue_order_id, inst.venue_symbol)
            except CCXT_ERROR as e:
                self._count(classify(e, self.venue))
            else:
                await self.on_order(raw)
        elif not o.rejected:
            await self._resolve_in_doubt(o)
        return self._take_events(cid)

    def _take_events(self, cid: str) -> list[OrderEvent]:
        # The queued events of one order, out of the queue (the others stay for ``advance``).
        mine = [e for e in self._events if e.client_order_id == cid]
        if mine:
            self._events[:] = [e for e in self._events if e.client_order_id != cid]
        return mine

    async def _resync_clock(self) -> None:
        if self.exchange.has.get("fetchTime"):
            with contextlib.suppress(Exception):
                await self.exchange.load_time_difference()

    async def _cancel(self, cmd: CancelOrder) -> None:
        o = self._orders.get(cmd.client_order_id)
        if o is None or not o.open:
            return
        o.cancel_requested = True
        symbol = o.inst.venue_symbol
        try:
            if o.venue_order_id:
                await self.exchange.cancel_order(o.venue_order_id, symbol)
            else:
                cid = {"clientOrderId": o.cmd.client_order_id}
                await self.exchange.cancel_order(None, symbol, cid)
        except CCXT_ERROR as e:
            err = classify(e, self.venue)
            if err.code != "OrderNotFound":
                self._count(err)
            elif o.venue_order_id:  # already finished: make sure its end was seen
                with contextlib.suppress(CCXT_ERROR, DataError):
                    await self.on_order(await self.exchange.fetch_order(o.venue_order_id, symbol))

    # -- venue -> events ----------------------------------------------------------------------

    def _view(self, raw: Any, o: _Order | None = None) -> CcxtOrderView:
        v = order_view(raw)
        if o is not None and not v.client_order_id:
            v = msgspec.structs.replace(v, client_order_id=o.cmd.client_order_id)
        return v

    def _find(self, v: CcxtOrderView) -> _Order | None:
        o = self._orders.get(v.client_order_id) if v.client_order_id else None
        return o if o is not None else self._by_venue_id.get(v.id)

    async def on_order(self, raw: Mapping[str, Any]) -> None:
        """One ccxt order dict (from ``watch_orders`` or a poll): events for our orders."""
        try:
            v = self._view(raw)
        except DataError as e:
            self._count_key(f"decode:{type(e).__name__}")
            return
        o = self._find(v)
        if o is not None:
            await self._on_update(v, o)

    async def _on_update(self, v: CcxtOrderView, o: _Order) -> None:
        async with o.lock:
            if o.rejected:
                if v.id:
                    self._count_key("late_update_after_reject")
                return
            now = self._clock()
            if v.id and not o.accepted:
                o.accepted = True
                o.venue_order_id = v.id
                self._by_venue_id[v.id] = o
                ts = v.timestamp_ms * NS_PER_MS or now
                self._events.append(
                    OrderAccepted(
                        venue=self.venue,
                        client_order_id=o.cmd.client_order_id,
                        venue_order_id=v.id,
                        ts_event=ts,
                        ts_recv=now,
                    )
                )
            if v.filled:
                o.reported = max(o.reported, o.inst.qty_to_raw(v.filled))
            if v.status in TERMINAL:
                o.status = v.status
            self._take(o, v.trades)
            if o.delivered < o.reported:
                await self._fetch_trades(o)
            self._maybe_end(o)

    def _take(self, o: _Order, trades: Iterable[CcxtTradeView]) -> None:
        now = self._clock()
        for t in trades:
            key = (o.inst.venue_symbol, t.id)
            if t.order_id != o.venue_order_id or key in self._trades:
                continue
            ev = fill_event(self.venue, o.cmd.client_order_id, o.cmd.side, t, o.inst, now)
            self._trades.add(key)
            o.delivered += ev.qty
            self._events.append(ev)

    async def _fetch_trades(self, o: _Order) -> None:
        symbol = o.inst.venue_symbol
        try:
            if self._has_order_trades:
                raw = await self.exchange.fetch_order_trades(o.venue_order_id, symbol)
            else:
                raw = await self.exchange.fetch_my_trades(symbol, o.sent_ms - 60_000)
            trades = [trade_view(t) for t in raw]
        except DataError as e:
            self._count_key(f"decode:{type(e).__name__}")
            return
        except CCXT_ERROR as e:
            self._count(classify(e, self.venue))
            return
        self._take(o, trades)

    def _maybe_end(self, o: _Order) -> None:
        if o.ended or not o.status or o.delivered < o.reported:
            return
        o.ended = True
        if o.delivered >= o.cmd.qty:
            return  # filled: the last fill ends it
        reason = "REQUESTED" if o.cancel_requested else _CANCEL_REASON[o.cmd.order_type]
        now = self._clock()
        self._events.append(
            OrderCanceled(
                venue=self.venue,
                client_order_id=o.cmd.client_order_id,
                reason=reason,
                ts_event=now,
                ts_recv=now,
            )
        )

    # -- update loops -------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        failures = 0
        while True:
            try:
                orders = await self.exchange.watch_orders()
                failures = 0
            except asyncio.CancelledError:
                raise
            except CCXT_ERROR as e:  # re-watch after any ccxt failure
                self._count(classify(e, self.venue))
                failures += 1
                await asyncio.sleep(min(self.backoff_s * 2**failures, 5.0))
                await self._poll_once(everything=True)  # what the gap may have hidden
                continue
            for raw in orders:
                await self.on_order(raw)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            await self._poll_once(everything=not self.watching)

    async def _poll_once(self, *, everything: bool) -> None:
        # Orders in doubt are looked up by client id; open orders by id when ``everything``
        # (no watch); an order finished but short of fills gets its trades fetched again.
        stale_ms = self._clock() // NS_PER_MS - int(2 * self.poll_interval_s * 1000)
        for o in list(self._orders.values()):
            if o.in_doubt:
                await self._resolve_in_doubt(o)
            elif o.open and o.accepted and (everything or o.status or o.sent_ms < stale_ms):
                # Watching too: an order still open after two poll intervals is asked for by
                # REST, so a lost or merged push (an IOC's end) never leaves it open for good.
                if o.status:
                    async with o.lock:
                        await self._fetch_trades(o)
                        self._maybe_end(o)
                    continue
                try:
                    raw = await self.exchange.fetch_order(o.venue_order_id, o.inst.venue_symbol)
                except CCXT_ERROR as e:
                    self._count(classify(e, self.venue))
                    continue
                await self.on_order(raw)

    # -- helpers ------------------------------------------------------------------------------

    def _reject(self, cid: str, reason: str) -> None:
        now = self._clock()
        self._events.append(
            OrderRejected(
                venue=self.venue, client_order_id=cid, reason=reason, ts_event=now, ts_recv=now
            )
        )

    def _count(self, err: CcxtError) -> None:
        self._count_key(err.code)

    def _count_key(self, key: str) -> None:
        self._count_error(key)

    def instrument(self, symbol: str) -> Instrument:
        return self._by_symbol[symbol]

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return dict(self._by_symbol)
