"""Simulated venue: ``arb.ports.ExecutionVenue`` for replay and paper trading.

It matches our orders against the venue's recorded book, with latency, fees, balances and
liquidity consumption, and answers with the same ``OrderEvent``s a live adapter produces.
Nothing here reads a clock or global randomness: time comes in as arguments and every draw
comes from ``random.Random`` streams seeded by ``SimVenueConfig.seed``.

Time model (one clock: the engine's, i.e. the replay clock driven by the frames' ``ts_recv``):

- ``submit(cmd, now)``: the command arrives at ``now + order latency + extra_delay``. A
  ``CancelOrder`` never arrives before the ``PlaceOrder`` of the same client order id.
- ``on_market(event)``: the venue's market data, placed at ``event.ts_recv``. Commands that
  arrive at or before that time are processed first, so the book an order meets is the book
  as of its arrival whether or not the driver called ``advance`` before.
- Events produced by one step (an arrival, or one market event filling resting orders) get
  one delivery draw: ``ts_event`` is the venue time of the step, ``ts_recv = ts_event +
  event latency``, and deliveries never overtake each other (one private stream, in order).
- ``due()`` is the earliest pending arrival or delivery; ``advance(now)`` processes arrivals
  due at or before ``now`` in time order (ties: submission order) and returns the events
  delivered by ``now``, in delivery order.

Orders, at arrival:

- refused with ``OrderRejected`` and a code, checked in this order: ``UNKNOWN_SYMBOL``,
  ``UNSUPPORTED_INSTRUMENT`` (options; sizes finer than ``AMOUNT_PRECISION``), ``OFF_TICK``
  (price not a positive multiple of the tick; market orders ignore the price), ``OFF_LOT``,
  ``BELOW_MIN_SIZE``, ``BELOW_MIN_NOTIONAL`` (priced orders), ``INSUFFICIENT_BALANCE``,
  ``RANDOM_REJECT`` (the ``reject_rate`` knob);
- otherwise ``OrderAccepted``, then matched against the book at arrival. IOC takes level by
  level up to its limit (one ``OrderFilled`` per level, taker fee) and the remainder is
  ``OrderCanceled("IOC_REMAINDER")``; FOK fills completely or is
  ``OrderCanceled("FOK_NOT_FILLABLE")`` with nothing filled; MARKET walks without a limit
  (its remainder is also ``IOC_REMAINDER``); LIMIT takes what crosses, then rests.
  ``partial_fill_fraction`` caps the taker part of every order (rounded down to the lot).
- A resting LIMIT order fills as maker, at its own price, when the venue's market trades
  through it: (a) after a book update of its symbol, against the opposite levels at or
  better than its price still available after consumption (the fill consumes them), and
  (b) on a public ``Trade`` at or through its price whose taker was on the other side (or
  is unknown), up to the trade's size, shared among resting orders by price then time.
  Quotes are not used (they repeat the book's top; counting both would fill twice).
  Our resting orders are not added to the book, so our own orders never match each other.
- ``CancelOrder`` of a resting order: ``OrderCanceled("REQUESTED")``. A cancel of an order
  already terminal (filled, cancelled, rejected) or unknown to the venue is ignored: no
  event is sent, as the order's own terminal event already said what happened.
- A ``PlaceOrder`` whose client order id the venue already has places nothing: the venue
  answers with the existing order (``OrderAccepted`` with the same venue order id, or the
  same ``OrderRejected`` reason), so a retry never doubles an order.

Balances (spot, at ``AMOUNT_PRECISION``): an accepted order reserves what it may spend
(a buy: quote notional at its limit price plus the fee at the highest rate it can pay; a
market buy: the exact cost of the levels it will take; a sell: the base quantity). Every
fill moves base and quote (fee in quote) and draws from the reservation; what is left is
released when the order ends. ``balances()`` is what is available (total minus
reservations), so it never goes negative. Fees of an order are rounded on its cumulative
fee base, so the sum of its fill fees is one correctly rounded fee, not one rounding per fill.

Contracts (perpetual swaps and dated futures, linear and inverse): orders are matched exactly
like spot, but a fill changes the instrument's signed **position** in contracts instead of
moving base and quote, realises PnL when it reduces the position, and pays its fee in the settle
currency (linear: USDT on the notional ``qty * cv * px``; inverse: BTC on ``qty * cv / px``).
An open position holds ``ceil(entry value / leverage)`` of the settle currency as margin; an
order reserves the margin of the exposure it may add (its fills at the levels it takes at
arrival, a LIMIT's rest at its price; what other resting orders on its side would close first
is not counted as closable) plus its highest fee, and is refused with ``INSUFFICIENT_BALANCE``
when that is more than is available (an order that adds no exposure is never refused).
Funding of perpetuals is settled at the funding times (``venues.sim.funding``): ``due()``
includes the next one while a position is open, and ``funding_payments()`` lists what was
paid. Positions, margin and PnL: ``arb.core.positions`` and ``positions()``; ``balances()``
of the settle currency is what is left after margin and reservations.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from decimal import ROUND_CEILING
from decimal import Decimal
from fractions import Fraction

from arb.core.errors import InvariantViolation
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import FundingRate
from arb.core.events import MarketEvent
from arb.core.events import MarkPrice
from arb.core.events import TextBookDelta
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import fee_amount
from arb.core.money import notional_amount
from arb.core.numbers import POW10
from arb.core.positions import ContractSpec
from arb.core.positions import Position
from arb.core.positions import PositionState
from arb.core.positions import is_contract
from arb.core.positions import order_reservation
from arb.core.types import Side
from venues.sim.config import SimVenueConfig
from venues.sim.funding import FundingPayment
from venues.sim.funding import FundingSchedule
from venues.sim.funding import funding_credit
from venues.sim.latency import build_latency
from venues.sim.latency import ms_to_ns
from venues.sim.latency import stream
from venues.sim.matching import Level
from venues.sim.matching import SimBook
from venues.sim.matching import cap_to_fraction

__all__ = ["SimVenue"]


class _Market:
    """Static per-instrument numbers, computed once."""

    __slots__ = ("contract", "inst", "lot", "min_notional", "min_size", "supported", "tick")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.tick = inst.tick_raw
        self.lot = inst.lot_raw
        self.min_size = _ceil_raw(inst.min_size, inst.size_precision)
        self.min_notional = _ceil_raw(inst.min_notional, AMOUNT_PRECISION)
        # Contracts keep positions (``contract``); spot moves base and quote cash.
        self.contract = ContractSpec(inst) if is_contract(inst) else None
        fits = inst.size_precision <= AMOUNT_PRECISION
        if self.contract is not None:
            self.supported = fits and self.contract.valid
        else:
            self.supported = (
                inst.kind is InstrumentKind.SPOT
                and inst.contract_value == "1"
                and not inst.inverse
                and fits
            )

    def notional(self, px: int, qty: int) -> int:
        # For the minimum-notional check: quote amount (inverse: the contracts' face value).
        c = self.contract
        if c is not None and c.inverse:
            return c.face(qty)
        return notional_amount(self.inst, px, qty, round_up=False)


class _Order:
    """One accepted order's mutable state on the venue."""

    __slots__ = (
        "cid",
        "fee_base",
        "fee_paid",
        "filled",
        "lock",
        "lock_asset",
        "market",
        "open",
        "order_type",
        "px",
        "qty",
        "seq",
        "side",
        "symbol",
        "voi",
    )

    def __init__(self, cmd: PlaceOrder, market: _Market, voi: str, seq: int) -> None:
        self.cid = cmd.client_order_id
        self.voi = voi
        self.symbol = cmd.symbol
        self.market = market
        self.side = cmd.side
        self.order_type = cmd.order_type
        self.px = cmd.px
        self.qty = cmd.qty
        self.seq = seq
        self.filled = 0
        self.lock = 0
        self.lock_asset = ""
        self.fee_base = 0  # sum of notional * fee_ppm over the fills so far
        self.fee_paid = 0
        self.open = True

    def priority(self) -> tuple[int, int]:
        # Best price first (highest bid, lowest ask), then time.
        return (-int(self.side) * self.px, self.seq)


class SimVenue:
    """A simulated venue trading ``instruments`` (those of ``venue``) under ``config``.

    Raises ``ValueError`` when two instruments of the venue share a symbol.
    """

    def __init__(
        self, venue: str, instruments: Iterable[Instrument], config: SimVenueConfig
    ) -> None:
        self.venue = venue
        self.config = config
        self._markets: dict[str, _Market] = {}
        for inst in instruments:
            if inst.venue != venue:
                continue
            if inst.symbol in self._markets:
                raise ValueError(f"{venue}: instrument {inst.symbol} given twice")
            self._markets[inst.symbol] = _Market(inst)
        self._books = {s: SimBook(venue, s) for s in self._markets}
        self._totals = config.initial_balances()
        self._locked: dict[str, int] = {}
        self._orders: dict[str, _Order] = {}
        # cid -> ("accepted", venue order id) or ("rejected", code): the answer to a repeat.
        self._answers: dict[str, tuple[str, str]] = {}
        self._resting: dict[str, list[_Order]] = {}
        self._arrivals: list[tuple[int, int, Command]] = []
        self._placing: dict[str, int] = {}  # cid -> latest arrival time of a pending PlaceOrder
        self._deliveries: deque[tuple[int, OrderEvent]] = deque()
        self._last_delivery = 0
        self._now = 0
        self._seq = 0
        self._order_no = 0
        self._trade_no = 0
        self._step_t = 0
        self._step_recv: int | None = None
        seed = config.seed
        self._order_latency = build_latency(config.order_latency, stream(seed, "order-latency"))
        event_spec = config.order_latency if config.event_latency is None else config.event_latency
        self._event_latency = build_latency(event_spec, stream(seed, "event-latency"))
        self._extra = ms_to_ns(config.extra_delay_ms)
        self._reject_rng = stream(seed, "reject")
        self._partial_ppm = config.partial_fill_ppm
        # Contracts: positions, margin held per settle currency, funding.
        self._positions: dict[str, PositionState] = {}
        self._open: dict[str, PositionState] = {}  # perpetuals with contracts != 0
        self._margin: dict[str, int] = {}
        self._marks: dict[str, int] = {}
        self._funding = FundingSchedule(config.funding)
        self._payments: list[FundingPayment] = []
        self._payments_taken = 0

    # -- ExecutionVenue ------------------------------------------------------------------

    def submit(self, cmd: Command, now: int) -> None:
        """Send ``cmd`` at ``now``; it reaches the venue after the order latency.

        Raises ``InvariantViolation`` for a command addressed to another venue.
        """
        if cmd.venue != self.venue:
            raise InvariantViolation(f"command for {cmd.venue!r} sent to venue {self.venue!r}")
        arrival = max(now + self._order_latency.sample() + self._extra, self._now)
        cid = cmd.client_order_id
        if isinstance(cmd, CancelOrder):
            arrival = max(arrival, self._placing.get(cid, arrival))
        else:
            self._placing[cid] = max(arrival, self._placing.get(cid, arrival))
        self._seq += 1
        heapq.heappush(self._arrivals, (arrival, self._seq, cmd))

    def on_market(self, event: MarketEvent) -> None:
        """Apply the venue's own market data at ``event.ts_recv`` (see the module doc)."""
        if event.venue != self.venue:
            return
        book = self._books.get(event.symbol)
        if book is None:
            return
        t = event.ts_recv
        self._run_until(t)
        if t > self._now:
            self._now = t
        if isinstance(event, TextBookDelta):
            # The engine's books converted these rows already (and refused them if they did
            # not fit): the same strings convert here from the instrument's memo.
            event = event.to_delta()
        if isinstance(event, BookSnapshot):
            book.apply_snapshot(event)
        elif isinstance(event, BookDelta):
            if not book.apply_delta(event):
                return
        elif isinstance(event, Trade):
            self._begin(self._now)
            self._fill_on_trade(event)
            return
        elif isinstance(event, FundingRate):
            self._on_funding_rate(event)
            return
        elif isinstance(event, MarkPrice):
            self._marks[event.symbol] = event.px
            return
        else:
            return
        self._begin(self._now)
        self._fill_on_book(event.symbol, book)

    def due(self) -> int | None:
        """Earliest time at which a command arrives, an event is delivered or an open
        position's funding is settled; None if idle."""
        times: list[int] = []
        if self._arrivals:
            times.append(self._arrivals[0][0])
        if self._deliveries:
            times.append(self._deliveries[0][0])
        if self._open:
            f = self._next_funding()
            if f is not None:
                times.append(f[0])
        return min(times) if times else None

    def pending(self) -> bool:
        """True while a command is on its way or an event awaits delivery. Unlike ``due()``,
        funding is not counted: an open perpetual always has a next funding time, so a
        driver that waits for the venue to fall idle should ask this instead."""
        return bool(self._arrivals or self._deliveries)

    def advance(self, now: int) -> list[OrderEvent]:
        """Process everything due at or before ``now``; return the events delivered by then."""
        self._run_until(now)
        if now > self._now:
            self._now = now
        out: list[OrderEvent] = []
        dq = self._deliveries
        while dq and dq[0][0] <= now:
            out.append(dq.popleft()[1])
        return out

    def balances(self) -> dict[str, int]:
        """Available balance per asset at AMOUNT_PRECISION (total minus open reservations and
        the margin positions hold)."""
        locked = self._locked
        margin = self._margin
        out = {a: amt - locked.get(a, 0) - margin.get(a, 0) for a, amt in self._totals.items()}
        for a, m in margin.items():
            if a not in out:
                out[a] = -m - locked.get(a, 0)
        return out

    # -- inspection ----------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        """Balance per asset including what open orders have reserved and margin holds
        (contracts: cash after realised PnL, fees and funding; not unrealised PnL)."""
        return dict(self._totals)

    def positions(self) -> dict[str, Position]:
        """Every contract instrument traded so far (flat ones too), by symbol."""
        return {
            sym: st.snapshot(self.venue, sym, self._markets[sym].inst.price_precision)
            for sym, st in self._positions.items()
        }

    def margin(self) -> dict[str, int]:
        """Margin held by the open positions, per settle currency."""
        return {a: m for a, m in self._margin.items() if m}

    def funding_payments(self) -> list[FundingPayment]:
        """Every funding settlement so far, in time order."""
        return list(self._payments)

    def take_funding_payments(self) -> list[FundingPayment]:
        """The funding settlements since the previous call (for a journal)."""
        out = self._payments[self._payments_taken :]
        self._payments_taken = len(self._payments)
        return out

    def open_orders(self) -> list[str]:
        """Client order ids of the orders resting on the venue, in arrival order."""
        return [o.cid for o in self._orders.values() if o.open]

    def book(self, symbol: str) -> SimBook:
        """The venue's view of ``symbol``'s book (recorded book and consumption overlay)."""
        return self._books[symbol]

    # -- processing ----------------------------------------------------------------------

    def _run_until(self, t: int) -> None:
        # Arrivals and funding settlements due by ``t``, in time order; funding at T comes
        # before the arrivals at T (it settles the positions held just before T).
        arrivals = self._arrivals
        while True:
            f = self._next_funding() if self._open else None
            if f is not None and f[0] <= t and not (arrivals and arrivals[0][0] < f[0]):
                self._settle_funding(f[1], f[0])
                continue
            if not arrivals or arrivals[0][0] > t:
                return
            at, _, cmd = heapq.heappop(arrivals)
            if at > self._now:
                self._now = at
            self._begin(at)
            if isinstance(cmd, CancelOrder):
                self._cancel(cmd)
            else:
                if self._placing.get(cmd.client_order_id) == at:
                    del self._placing[cmd.client_order_id]
                self._place(cmd)

    def _begin(self, t: int) -> None:
        self._step_t = t
        self._step_recv = None

    def _recv(self) -> int:
        # One delivery draw per step, never before the previous delivery.
        r = self._step_recv
        if r is None:
            r = max(self._step_t + self._event_latency.sample(), self._last_delivery)
            self._last_delivery = r
            self._step_recv = r
        return r

    def _emit(self, ev: OrderEvent) -> None:
        self._deliveries.append((ev.ts_recv, ev))

    def _place(self, cmd: PlaceOrder) -> None:
        cid = cmd.client_order_id
        answer = self._answers.get(cid)
        if answer is not None:
            self._repeat(cid, answer)
            return
        market = self._markets.get(cmd.symbol)
        code = self._check_static(cmd, market)
        if code or market is None:
            self._reject(cid, code)
            return
        book = self._books[cmd.symbol]
        limit = None if cmd.order_type is OrderType.MARKET else cmd.px
        want = cap_to_fraction(cmd.qty, self._partial_ppm, market.lot)
        plan = book.plan(cmd.side, want, limit)
        asset, need, adds = self._reservation(cmd, market, plan)
        if adds and self._available(asset) < need:
            self._reject(cid, "INSUFFICIENT_BALANCE")
            return
        if self.config.reject_rate > 0 and self._reject_rng.random() < self.config.reject_rate:
            self._reject(cid, "RANDOM_REJECT")
            return
        self._order_no += 1
        o = _Order(cmd, market, f"{self.venue}-O{self._order_no}", self._order_no)
        self._orders[cid] = o
        self._answers[cid] = ("accepted", o.voi)
        o.lock_asset = asset
        o.lock = need
        self._locked[asset] = self._locked.get(asset, 0) + need
        self._emit(self._accepted(o.cid, o.voi))
        self._take(o, book, plan)

    def _check_static(self, cmd: PlaceOrder, market: _Market | None) -> str:
        if market is None:
            return "UNKNOWN_SYMBOL"
        if not market.supported:
            return "UNSUPPORTED_INSTRUMENT"
        priced = cmd.order_type is not OrderType.MARKET
        if priced and (cmd.px <= 0 or cmd.px % market.tick):
            return "OFF_TICK"
        if cmd.qty <= 0 or cmd.qty % market.lot:
            return "OFF_LOT"
        if cmd.qty < market.min_size:
            return "BELOW_MIN_SIZE"
        if not priced or not market.min_notional:
            return ""
        notional = market.notional(cmd.px, cmd.qty)
        return "BELOW_MIN_NOTIONAL" if notional < market.min_notional else ""

    def _available(self, asset: str) -> int:
        return self._totals.get(asset, 0) - self._locked.get(asset, 0) - self._margin.get(asset, 0)

    def _reservation(
        self, cmd: PlaceOrder, market: _Market, plan: list[Level]
    ) -> tuple[str, int, bool]:
        # (asset, amount, whether the order is refused when that is not available).
        if market.contract is not None:
            return self._contract_reservation(cmd, market.contract, plan)
        inst = market.inst
        if cmd.side is Side.SELL:
            return inst.base, _base_amount(inst, cmd.qty), True
        cfg = self.config
        if cmd.order_type is OrderType.MARKET:
            amounts = [notional_amount(inst, px, q, round_up=True) for px, q in plan]
            total = sum(amounts)
            return inst.quote, total + fee_amount(total * cfg.taker_fee_ppm, 1), True
        ppm = cfg.taker_fee_ppm
        if cmd.order_type is OrderType.LIMIT:
            ppm = max(ppm, cfg.maker_fee_ppm)
        n = notional_amount(inst, cmd.px, cmd.qty, round_up=True)
        need = n + fee_amount(n, ppm)
        if inst.price_precision + inst.size_precision > AMOUNT_PRECISION:
            # Each fill's notional rounds up on its own: allow one unit per possible fill for
            # the notional and one for the fee.
            need += 2 * cmd.qty
        return inst.quote, need, True

    def _contract_reservation(
        self, cmd: PlaceOrder, spec: ContractSpec, plan: list[Level]
    ) -> tuple[str, int, bool]:
        # Margin of the exposure the order may add, plus its highest fee. The pieces are its
        # taker fills (the levels it takes now) and, for a LIMIT, its rest at its own price
        # (it fills as maker there). What the position lets it close first is not counted,
        # less what the resting orders on the same side would close before it; the margin
        # its closing part frees is not counted (conservative: a flip needs the new side's
        # margin on top). An order that only closes is never refused (its fee is charged).
        cfg = self.config
        pieces = [(px, q, max(cfg.taker_fee_ppm, 0)) for px, q in plan]
        if cmd.order_type is OrderType.LIMIT:
            rest = cmd.qty - sum(q for _, q in plan)
            if rest > 0:
                pieces.append((cmd.px, rest, max(cfg.maker_fee_ppm, 0)))
        closable = 0
        pos = self._positions.get(cmd.symbol)
        if pos is not None:
            pending = sum(
                o.qty - o.filled for o in self._resting.get(cmd.symbol, ()) if o.side is cmd.side
            )
            closable = max(0, pos.reducible(cmd.side) - pending)
        margin, fee = order_reservation(spec, pieces, closable, cfg.leverage)
        return spec.settle, margin + fee, margin > 0

    def _take(self, o: _Order, book: SimBook, plan: list[Level]) -> None:
        if o.order_type is OrderType.FOK and sum(q for _, q in plan) < o.qty:
            self._end(o, "FOK_NOT_FILLABLE")
            return
        book.consume(o.side, plan)
        for px, q in plan:
            self._fill(o, px, q, "taker")
        if o.filled == o.qty:
            self._close(o)
        elif o.order_type is OrderType.LIMIT:
            self._resting.setdefault(o.symbol, []).append(o)
        else:
            self._end(o, "IOC_REMAINDER")

    def _fill_on_book(self, symbol: str, book: SimBook) -> None:
        resting = self._resting.get(symbol)
        if not resting:
            return
        for o in sorted(resting, key=_Order.priority):
            plan = book.plan(o.side, o.qty - o.filled, o.px)
            if not plan:
                continue
            book.consume(o.side, plan)
            self._fill(o, o.px, sum(q for _, q in plan), "maker")
            if o.filled == o.qty:
                self._close(o)

    def _fill_on_trade(self, t: Trade) -> None:
        resting = self._resting.get(t.symbol)
        if not resting:
            return
        left = t.qty
        for o in sorted(resting, key=_Order.priority):
            if left <= 0:
                break
            if not _trades_through(o, t):
                continue
            q = min(o.qty - o.filled, left)
            left -= q
            self._fill(o, o.px, q, "maker")
            if o.filled == o.qty:
                self._close(o)

    def _fill(self, o: _Order, px: int, q: int, liquidity: str) -> None:
        inst = o.market.inst
        spec = o.market.contract
        if spec is not None:
            fee = self._fill_contract(o, spec, px, q, liquidity)
            ccy = spec.settle
        else:
            fee = self._fill_spot(o, inst, px, q, liquidity)
            ccy = inst.quote
        o.filled += q
        self._trade_no += 1
        self._emit(
            OrderFilled(
                venue=self.venue,
                client_order_id=o.cid,
                trade_id=f"{self.venue}-T{self._trade_no}",
                side=o.side,
                px=px,
                qty=q,
                fee=fee,
                fee_ccy=ccy,
                liquidity=liquidity,
                ts_event=self._step_t,
                ts_recv=self._recv(),
            )
        )

    def _order_fee(self, o: _Order, amount: int, liquidity: str) -> int:
        # The order's fees round once on its cumulative base: this fill's share.
        cfg = self.config
        o.fee_base += amount * (cfg.taker_fee_ppm if liquidity == "taker" else cfg.maker_fee_ppm)
        fee = fee_amount(o.fee_base, 1) - o.fee_paid
        o.fee_paid += fee
        return fee

    def _fill_spot(self, o: _Order, inst: Instrument, px: int, q: int, liquidity: str) -> int:
        buy = o.side is Side.BUY
        amount = notional_amount(inst, px, q, round_up=buy)
        fee = self._order_fee(o, amount, liquidity)
        base = _base_amount(inst, q)
        totals = self._totals
        if buy:
            totals[inst.quote] = totals.get(inst.quote, 0) - amount - fee
            totals[inst.base] = totals.get(inst.base, 0) + base
            self._draw(o, amount + fee)
        else:
            totals[inst.base] = totals.get(inst.base, 0) - base
            totals[inst.quote] = totals.get(inst.quote, 0) + amount - fee
            self._draw(o, base)
        return fee

    def _fill_contract(self, o: _Order, spec: ContractSpec, px: int, q: int, liquidity: str) -> int:
        fee = self._order_fee(o, spec.value(q, px, up=True), liquidity)
        pos = self._positions.get(o.symbol)
        if pos is None:
            pos = self._positions[o.symbol] = PositionState(spec)
        was_open = pos.contracts != 0
        pnl = pos.fill(o.side, px, q)
        pos.fees += fee
        ccy = spec.settle
        self._totals[ccy] = self._totals.get(ccy, 0) + pnl - fee
        old_margin = pos.margin
        pos.margin = pos.margin_for(self.config.leverage)
        self._margin[ccy] = self._margin.get(ccy, 0) + pos.margin - old_margin
        # The reservation covered this fill's fee and new margin (see _contract_reservation);
        # a released margin is not drawn from it.
        used = min(o.lock, fee + max(0, pos.margin - old_margin))
        o.lock -= used
        self._locked[o.lock_asset] -= used
        if o.market.inst.kind is InstrumentKind.PERP:
            if pos.contracts == 0:
                self._open.pop(o.symbol, None)
            elif not was_open:
                self._open[o.symbol] = pos
                self._funding.opened(o.symbol, self._step_t)
        return fee

    # -- funding -------------------------------------------------------------------------

    def _next_funding(self) -> tuple[int, str] | None:
        # (time, symbol) of the earliest funding settlement of an open position.
        best: tuple[int, str] | None = None
        nxt = self._funding.next
        for sym in self._open:
            f = nxt(sym)
            if f is not None and (best is None or f[0] < best[0]):
                best = (f[0], sym)
        return best

    def _on_funding_rate(self, ev: FundingRate) -> None:
        market = self._markets[ev.symbol]
        if market.inst.kind is not InstrumentKind.PERP:
            return
        overtaken = self._funding.on_rate(ev)
        if overtaken is not None:
            t, rate = overtaken
            if ev.symbol in self._open:
                self._pay_funding(ev.symbol, t, rate, "recorded")
            self._funding.settled(ev.symbol, t)

    def _settle_funding(self, symbol: str, t: int) -> None:
        if t > self._now:
            self._now = t
        f = self._funding.next(symbol)
        if f is None:  # pragma: no cover - only called for a scheduled time
            raise InvariantViolation(f"{self.venue} {symbol}: no funding due at {t}")
        self._pay_funding(symbol, t, f[1], f[2])
        self._funding.settled(symbol, t)

    def _pay_funding(self, symbol: str, t: int, rate: int, source: str) -> None:
        pos = self._open[symbol]
        spec = pos.spec
        value = self._mark_value(symbol, pos)
        credit = funding_credit(pos.contracts, value, rate)
        pos.funding += credit
        self._totals[spec.settle] = self._totals.get(spec.settle, 0) + credit
        self._payments.append(
            FundingPayment(
                venue=self.venue,
                symbol=symbol,
                ts_event=t,
                amount=credit,
                ccy=spec.settle,
                rate_ppb=rate,
                position=pos.contracts,
                value=value.numerator // value.denominator,
                source=source,
            )
        )

    def _mark_value(self, symbol: str, pos: PositionState) -> Fraction:
        # Value of the position at the mark: MarkPrice, else the book's mid (exact), else its
        # one side, else the position's own entry value.
        n = abs(pos.contracts)
        mark = self._marks.get(symbol)
        if mark is not None and mark > 0:
            return pos.spec.value_fraction(n, mark)
        book = self._books[symbol].book
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            return pos.spec.value_fraction(n, bid[0] + ask[0], 2)
        one = bid or ask
        if one is not None:
            return pos.spec.value_fraction(n, one[0])
        return Fraction(pos.cost)

    def _draw(self, o: _Order, amount: int) -> None:
        # Pay from the order's reservation. The reservation covers the worst case of every
        # fill it can have (see ``_reservation``), so running out of it is a bug.
        if amount > o.lock:
            raise InvariantViolation(
                f"{self.venue} order {o.cid}: fill costs {amount}, reservation left {o.lock}"
            )
        o.lock -= amount
        self._locked[o.lock_asset] -= amount

    def _close(self, o: _Order) -> None:
        o.open = False
        if o.lock:
            self._locked[o.lock_asset] -= o.lock
            o.lock = 0
        resting = self._resting.get(o.symbol)
        if resting and o in resting:
            resting.remove(o)

    def _end(self, o: _Order, reason: str) -> None:
        self._close(o)
        self._emit(
            OrderCanceled(
                venue=self.venue,
                client_order_id=o.cid,
                reason=reason,
                ts_event=self._step_t,
                ts_recv=self._recv(),
            )
        )

    def _cancel(self, cmd: CancelOrder) -> None:
        o = self._orders.get(cmd.client_order_id)
        if o is None or not o.open:
            return
        self._end(o, "REQUESTED")

    def _reject(self, cid: str, code: str) -> None:
        self._answers[cid] = ("rejected", code)
        self._emit(
            OrderRejected(
                venue=self.venue,
                client_order_id=cid,
                reason=code,
                ts_event=self._step_t,
                ts_recv=self._recv(),
            )
        )

    def _repeat(self, cid: str, answer: tuple[str, str]) -> None:
        kind, value = answer
        if kind == "accepted":
            self._emit(self._accepted(cid, value))
        else:
            self._reject(cid, value)

    def _accepted(self, cid: str, voi: str) -> OrderAccepted:
        return OrderAccepted(
            venue=self.venue,
            client_order_id=cid,
            venue_order_id=voi,
            ts_event=self._step_t,
            ts_recv=self._recv(),
        )


def _trades_through(o: _Order, t: Trade) -> bool:
    # A sell taker at or below a resting bid, a buy taker at or above a resting ask.
    if o.side is Side.BUY:
        return t.side != "buy" and t.px <= o.px
    return t.side != "sell" and t.px >= o.px


def _base_amount(inst: Instrument, qty: int) -> int:
    return qty * POW10[AMOUNT_PRECISION - inst.size_precision]


def _ceil_raw(s: str, precision: int) -> int:
    # A minimum stated finer than the precision rounds up (the venue would refuse below it).
    return int((Decimal(s).scaleb(precision)).to_integral_value(rounding=ROUND_CEILING))
