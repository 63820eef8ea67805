"""Rollback planner: from the legs' fills, the commands that flatten a broken opportunity.

Pure: no clock, no I/O. The executor calls ``plan`` after every event of an opportunity whose
legs are not all filled (and on its budget timer) and sends the returned commands; rollback
is data. The same inputs give the same ``Plan``, byte for byte.

Model. Leg ``i`` of an opportunity was meant to trade ``Q_i`` (``leg.qty``) on its venue; its
effective fill ``F_i`` is what its own orders filled, plus what rollback orders of the same
side filled, minus what rollback orders of the other side filled. The legs chain (what one
buys the next sells: two legs for spatial, three for a triangle), so the opportunity is
balanced when every leg filled the same fraction ``F_i / Q_i``. Two ways to get there:

- **HEDGE**: bring every leg up to the largest fraction, trading the missing quantity on the
  legs that under-filled, same side, as limit IOC at the leg's original limit moved at most
  ``max_hedge_slippage_bps`` against us (the bound);
- **UNWIND**: bring every leg down to the smallest fraction, reversing the excess of the legs
  that over-filled, as limit IOC at the executable price moved ``max_unwind_slippage_bps``
  against us (a marketable order with a bounded price).

Rule (deterministic):

1. an order still in flight -> **WAIT** (its fills would change the answer); in-flight orders
   older than ``order_timeout_ms``, or sent before the budget escalation began, are
   cancelled (never the escalation's own marketable orders);
2. the legs balanced (nothing to hedge or unwind after rounding to the lot) -> flatten the
   residual left in the assets (**Flatten**, below), else **DONE**
   ``UNWIND_SKIPPED: residual_qty=0``; every asset's residual within ``residual_tolerance``
   -> **DONE** ``UNWIND_SKIPPED: within_tolerance``;
3. each way is priced with ``pricer`` (the price that takes the quantity now) and valued in the
   home currency: what its orders pay and receive, every asset at ``marks``. A way is viable
   when its orders are priced, at least the instrument's minimum size and notional, not on a
   (leg, side) whose earlier rollback order was rejected, and, for HEDGE, within the bound;
4. when ``time_budget_ms - escalation_lead_ms`` has elapsed, or a leg has had
   ``max_attempts`` rollback orders -> **ESCALATE**: the better-valued way ignoring price
   bounds (an unpriced way ranks last; both unpriced -> unwind), sent as
   ``escalation_order_type`` (MARKET, or IOC at the price moved ``escalation_slippage_bps``);
5. otherwise the viable way with the higher value (ties: HEDGE, which completes the trade);
6. no viable way: **WAIT** ``no_price`` / ``beyond_slippage`` while a way failed only on
   price (escalation will come), else **DONE** ``UNWIND_SKIPPED: <why the unwind cannot be
   sent>`` (``rejected``, ``below_min_size``).

A way is given up on a (leg, side) after a reject that would repeat (``PERMANENT_REJECTS``:
balance, tick, lot, minimums, unknown symbol; the leg's own order counts) or after
``max_attempts`` transient ones (rate limit, overload). A residual below a venue's minimum
order is traded anyway as one more round trip of the minimum size on every leg (the hedge
target moved up, the unwind target down), so dust does not stay unhedged. After
``max_rollback_orders`` the planner stops: **DONE** ``UNWIND_SKIPPED: attempts_exhausted``, and
the residual stays in the unhedged total that the risk gate limits.

**Flatten**. Balanced fractions balance the legs' quantities, not the assets they move: when
a leg is quoted in another asset than home (a triangle's middle leg, ETH-BTC in
USDT>BTC>ETH>USDT) and a hedge traded at a worse price than the leg, the legs end balanced but
short (or long) of the intermediate asset (BTC); fees charged in the base, and an inverse
contract's base at its fill prices, leave a residual the same way. Once the legs are balanced,
every non-home asset whose residual (``residual_exposure``) exceeds ``residual_tolerance`` is
traded back by one order on the leg whose instrument trades that asset (base) against home
(quote, or a ``par`` asset), not inverse: the first such leg on the flatten side (its venue
had the balance for that side), else the first such leg; an asset no leg pairs with home stays.
Its quantity is the asset's net amount in lots, rounded to the nearest lot (ties toward zero).
Dust stays: a residual of at most half a lot, or one that rounds to less than the instrument's
minimum size or notional (at the leg's limit price), is not traded (then **DONE**
``residual_qty=0``: nothing an order could trade; the dust stays in the residual, which the
risk gate's unhedged total limits, and ``residual_tolerance`` says how much is acceptable).
Unlike the legs' dust (above), it is not padded to a round trip of the minimum: a round trip
to flatten a residual smaller than the minimum costs more in fees and spread than the residual
is worth, and on a venue whose lot is far below its minimum it would follow most trades. The
order is
a limit IOC at the executable price moved ``max_unwind_slippage_bps`` (decision **UNWIND**,
``UNWIND: flatten``), or an escalation order when the plan escalates (**ESCALATE**, as rule 4,
MARKET or IOC at the price, or the leg's limit when unpriced, moved
``escalation_slippage_bps``); ``Plan.direction`` is ``"flatten"``. Unpriced and not escalating:
**WAIT** ``no_price``; every flatten side rejected as above: **DONE**
``UNWIND_SKIPPED: rejected``. Flatten orders count in ``max_attempts`` (they are rollback orders
of their leg) and in ``max_rollback_orders``.

Client order ids (``<opportunity>L<k>A<attempt>``, ``arb.core.messages.client_order_id``), for
an opportunity of ``n`` legs:

- ``k = i`` (``0 <= i < n``): leg ``i``'s own orders;
- ``k = n + i``: hedges and unwinds of leg ``i`` (its side: more of the leg; the other side:
  less), counted in the leg's fill;
- ``k = 2n + i``: flatten orders on leg ``i``'s instrument; in ``LegFills.rollbacks`` with the
  others and in the residual, but **not** in the leg's fill (so the next plan does not take a
  flatten for a hedge or an unwind and reverse it).

The attempt is how many rollback orders (both ranges) that leg already has. Re-planning the same
state gives the same ids (a re-send is never doubled by the venue); a new attempt only exists
once the previous rollback order is in the state the executor passes in.

Residual exposure per asset (``residual_exposure``) is the net amount the fills moved
(buys, sells and fees in the legs' own assets), valued at ``marks`` in the home currency at
AMOUNT_PRECISION (signed: long > 0), rounded away from zero. The home asset (where the profit
lands) is not exposure. Hedges and unwinds are planned on quantities; what they leave in the
assets is flattened as above.

Instruments are valued with ``arb.core.contracts``: spot and linear contracts hold
``qty * contract_value`` base for ``qty * contract_value * px`` quote; an inverse contract
(Binance COIN-M, OKX ``BTC-USD-SWAP``) holds ``qty * contract_value / px`` base for
``qty * contract_value`` quote (USD), so a leg of one counts in its base and in its quote
currency like any other leg: ``marks`` must value that quote (e.g. ``USD``) in ``home``, or
``par`` names it as home at par (USD of a COIN-M contract against USDT spot), in which case
it is netted into ``home`` and is not exposure (a complete spot/inverse basis trade is then
flat: long BTC and short USDT on the spot leg, short BTC and long USD on the perp). An inverse
order's base amount is taken at its average fill price (exact for fills at one price). The
legs' quantities are in their own units (contracts for a derivative): the planner balances
fill fractions, which balances base exposure when the detector sized the legs to equal
exposure (``arb.core.basis``).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from fractions import Fraction

import msgspec

from arb.core.contracts import base_amount
from arb.core.contracts import fills_base_amount
from arb.core.contracts import px_amount
from arb.core.contracts import quote_notional
from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import PPM
from arb.core.money import bps_to_ppm
from arb.core.numbers import POW10
from arb.core.numbers import to_raw
from arb.core.opportunity import Leg
from arb.core.orders import Order
from arb.core.orders import OrderState
from arb.core.types import Side

__all__ = [
    "DONE_BALANCED",
    "DONE_EXHAUSTED",
    "DONE_WITHIN_TOLERANCE",
    "PERMANENT_REJECTS",
    "Decision",
    "LegFills",
    "Plan",
    "Pricer",
    "UnwindConfig",
    "plan",
    "residual_exposure",
    "top_of_book_pricer",
    "unit_value",
]

NS_PER_MS = 1_000_000
UNIT = POW10[AMOUNT_PRECISION]
FLATTEN = "flatten"
"""``Plan.direction`` of flatten orders (the residual of one asset, traded against home)."""
_CID_SUFFIX = re.compile(r"L(\d+)A(\d+)")

Pricer = Callable[[str, str, Side, int], int | None]
"""``(venue, symbol, side, qty) -> raw price`` that takes ``qty`` on that side now (the worst
level a walk touches), or ``None`` when the book cannot say (no depth, stale, invalid)."""

DONE_BALANCED = "UNWIND_SKIPPED: residual_qty=0"
DONE_WITHIN_TOLERANCE = "UNWIND_SKIPPED: within_tolerance"
DONE_EXHAUSTED = "UNWIND_SKIPPED: attempts_exhausted"


class Decision(enum.StrEnum):
    HEDGE = "hedge"
    """Complete the short legs at a bounded worse price."""
    UNWIND = "unwind"
    """Reverse the excess of the long legs at a bounded price (or, ``direction`` ``"flatten"``,
    trade an asset's residual back against home at a bounded price)."""
    ESCALATE = "escalate"
    """Budget nearly spent (or attempts used up): marketable orders, ``direction`` says which."""
    WAIT = "wait"
    """Orders in flight (maybe cancels to send), or no price yet: plan again on the next event."""
    DONE = "done"
    """Nothing more to send: balanced, within tolerance, or refused (``reason``)."""


class UnwindConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rollback limits. Times in ms from the opportunity's start; slippage in bps."""

    time_budget_ms: int = 3000
    escalation_lead_ms: int = 1000
    """Escalate when this much of the budget is left (and after the budget)."""
    order_timeout_ms: int = 1000
    """Cancel an in-flight order (no terminal event) this old."""
    max_hedge_slippage_bps: float = 10.0
    """A hedge may cost at most this much worse than the leg's original limit price."""
    max_unwind_slippage_bps: float = 20.0
    """An unwind's limit is the executable price moved this much against us."""
    escalation_slippage_bps: float = 100.0
    """An IOC escalation's limit is the executable price moved this much against us."""
    escalation_order_type: OrderType = OrderType.MARKET
    """MARKET, or IOC at a far price for venues without market orders."""
    residual_tolerance: int = 0
    """Residual per asset (home value, AMOUNT_PRECISION) left alone."""
    max_attempts: int = 3
    """Rollback orders per leg before escalating; also the transient rejects of one (leg,
    side) after which that way is given up."""
    max_rollback_orders: int = 12
    """Rollback orders of one opportunity after which the planner gives up with
    ``UNWIND_SKIPPED: attempts_exhausted``, leaving the residual to the risk limit (a venue
    that keeps filling a fraction of every order must not be paid fees forever)."""

    def __post_init__(self) -> None:
        if self.escalation_order_type not in (OrderType.MARKET, OrderType.IOC):
            raise ValueError("escalation_order_type must be 'market' or 'ioc'")
        ints = (self.time_budget_ms, self.escalation_lead_ms, self.order_timeout_ms)
        if min(ints) < 0 or self.residual_tolerance < 0 or self.max_attempts < 1:
            raise ValueError("times and residual_tolerance must be >= 0, max_attempts >= 1")
        if self.max_rollback_orders < self.max_attempts:
            raise ValueError("max_rollback_orders must be >= max_attempts")
        if self.escalation_lead_ms > self.time_budget_ms:
            raise ValueError("escalation_lead_ms must not exceed time_budget_ms")
        bps = (
            self.max_hedge_slippage_bps,
            self.max_unwind_slippage_bps,
            self.escalation_slippage_bps,
        )
        if not all(0 <= b < 10_000 for b in bps):
            raise ValueError("slippage bps must be in [0, 10000)")


class LegFills(msgspec.Struct, frozen=True, kw_only=True):
    """One leg of an opportunity with every order sent for it.

    ``orders`` are the leg's own orders (client order ids ``(opportunity, i, attempt)``, the
    leg's side); ``rollbacks`` are the orders the planner asked for on this leg's instrument, in
    the order they were sent (either side: a hedge has the leg's side, an unwind the other
    one), flatten orders (leg ``2n + i``) included.
    """

    leg: Leg
    inst: Instrument
    orders: tuple[Order, ...]
    rollbacks: tuple[Order, ...] = ()


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What to send now and why: the decision record the journal keeps."""

    decision: Decision
    reason: str
    """A code: ``HEDGE: within_slippage``, ``UNWIND: cheaper``, ``UNWIND_SKIPPED: ...``."""
    commands: tuple[Command, ...]
    direction: str = ""
    """``"hedge"``, ``"unwind"`` or ``"flatten"`` for HEDGE, UNWIND and ESCALATE orders; else
    empty."""
    deltas: tuple[int, ...] = ()
    """Signed quantity per leg sent by this plan (> 0: the leg's side, < 0: the other side);
    for ``"flatten"``, of the flatten orders on the leg's instrument."""
    residual: dict[str, int] = {}
    """``residual_exposure`` before these commands."""
    elapsed_ns: int = 0
    hedge_value: int | None = None
    """Home value (AMOUNT_PRECISION) of the hedge orders at the quoted prices; None: unpriced."""
    unwind_value: int | None = None


def top_of_book_pricer(best: Mapping[tuple[str, str], tuple[int | None, int | None]]) -> Pricer:
    """A ``Pricer`` from ``{(venue, symbol): (best_bid, best_ask)}``, whatever the quantity."""

    def price(venue: str, symbol: str, side: Side, qty: int) -> int | None:
        bid, ask = best.get((venue, symbol), (None, None))
        return ask if side is Side.BUY else bid

    return price


def unit_value(inst: Instrument, px: int) -> int:
    """Home value of one unit of ``inst``'s base at raw price ``px`` (a ``marks`` entry).

    ``px`` is quote per base for every kind (spot, linear and inverse contracts alike), so
    this is the price itself at AMOUNT_PRECISION (rounded down); the contract value plays no
    part (one OKX ``BTC-USDT-SWAP`` contract is 0.01 BTC, but one BTC is still worth ``px``).
    """
    return px_amount(inst, px)


def residual_exposure(
    legs: Sequence[LegFills],
    marks: Mapping[str, int],
    home: str,
    *,
    par: Collection[str] = (),
) -> dict[str, int]:
    """Net position per asset of the legs' fills, valued in ``home`` at AMOUNT_PRECISION.

    ``marks[asset]`` is the home value of one unit of ``asset`` (see ``unit_value``); it may be
    missing for a flat asset. ``par``: assets worth one ``home`` each, netted into it (the USD
    of inverse contracts against a USD stablecoin home). Keys: every base and quote of the legs
    but ``home`` and ``par``, sorted. Signed (long > 0), rounded away from zero so that a limit
    never under-counts.
    """
    net = _net_amounts(legs)
    out: dict[str, int] = {}
    for asset in sorted(net):
        if asset == home or asset in par:
            continue
        amount = net[asset]
        if not amount:
            out[asset] = 0
            continue
        q = -(-abs(amount) * _mark(marks, asset, home) // UNIT)
        out[asset] = q if amount > 0 else -q
    return out


def plan(
    opportunity_id: str,
    home: str,
    legs: Sequence[LegFills],
    pricer: Pricer,
    marks: Mapping[str, int],
    config: UnwindConfig,
    *,
    now_ns: int,
    start_ns: int,
    par: Collection[str] = (),
) -> Plan:
    """Decide the rollback step for one opportunity (see the module docstring for the rule).

    ``home`` is the opportunity's quote (where profit lands), ``start_ns`` when its legs were
    sent; ``par`` as in ``residual_exposure``. Raises ``InvariantViolation`` on inconsistent
    legs or time running backwards.
    """
    if now_ns < start_ns:
        raise InvariantViolation(f"opportunity {opportunity_id}: now {now_ns} < start {start_ns}")
    _check_legs(opportunity_id, legs)
    elapsed = now_ns - start_ns
    if par:
        marks = {**marks, **dict.fromkeys(par, UNIT)}
    residual = residual_exposure(legs, marks, home, par=par)
    escalating = _escalation(legs, config, elapsed)
    base = Plan(
        decision=Decision.WAIT, reason="", commands=(), residual=residual, elapsed_ns=elapsed
    )
    in_flight = [o for lf in legs for o in (*lf.orders, *lf.rollbacks) if not o.is_terminal]
    if in_flight:
        timeout = config.order_timeout_ms * NS_PER_MS
        # escalation cancels what was sent before it began, never its own marketable orders
        esc_start = start_ns + (config.time_budget_ms - config.escalation_lead_ms) * NS_PER_MS
        cancels = tuple(
            CancelOrder(
                venue=o.venue, symbol=o.symbol, client_order_id=o.client_order_id, ts=now_ns
            )
            for o in in_flight
            if o.state is not OrderState.CANCEL_PENDING
            and (
                now_ns - o.ts_sent >= timeout
                or (escalating == ESCALATE_BUDGET and o.ts_sent < esc_start)
            )
        )
        return msgspec.structs.replace(base, reason="WAIT: in_flight", commands=cancels)
    fills = [_net_fill(opportunity_id, len(legs), lf) for lf in legs]
    hedge = _way(legs, fills, _ref(legs, fills, max), Decision.HEDGE, pricer, marks, home, config)
    unwind = _way(legs, fills, _ref(legs, fills, min), Decision.UNWIND, pricer, marks, home, config)
    base = msgspec.structs.replace(base, hedge_value=hedge.value, unwind_value=unwind.value)
    if not any(hedge.deltas) and not any(unwind.deltas):
        flats = _flats(home, legs, pricer, config, residual, par)
        return _flatten(opportunity_id, legs, flats, base, escalating, config, now_ns)
    if all(abs(v) <= config.residual_tolerance for v in residual.values()):
        return msgspec.structs.replace(base, decision=Decision.DONE, reason=DONE_WITHIN_TOLERANCE)
    if sum(len(lf.rollbacks) for lf in legs) >= config.max_rollback_orders:
        return msgspec.structs.replace(base, decision=Decision.DONE, reason=DONE_EXHAUSTED)
    if escalating:
        return _escalate(opportunity_id, legs, hedge, unwind, base, escalating, config, now_ns)
    way = _choose(hedge, unwind)
    if way is None:
        soft = [w.blocker for w in (unwind, hedge) if w.blocker in _PRICE_BLOCKERS]
        if soft:
            return msgspec.structs.replace(base, reason=f"WAIT: {soft[0]}")
        return msgspec.structs.replace(
            base, decision=Decision.DONE, reason=f"UNWIND_SKIPPED: {unwind.blocker}"
        )
    if way is hedge:
        reason = "HEDGE: within_slippage"
    elif hedge.blocker:
        reason = f"UNWIND: hedge_{hedge.blocker}"
    else:
        reason = "UNWIND: cheaper"
    return msgspec.structs.replace(
        base,
        decision=way.kind,
        reason=reason,
        direction=way.kind.value,
        deltas=tuple(way.deltas),
        commands=_orders(opportunity_id, legs, way, way.limits, OrderType.IOC, now_ns),
    )


# -- internals -------------------------------------------------------------------------------

_PRICE_BLOCKERS = ("no_price", "beyond_slippage")


class _Way(msgspec.Struct, kw_only=True):
    # One way to balance the legs: per-leg signed deltas, the executable price of each
    # non-zero delta, the IOC limit for it, its value, and why it cannot be sent ("" if it can).
    kind: Decision
    deltas: list[int]
    prices: list[int | None]
    limits: list[int]
    value: int | None
    blocker: str
    hard_blocker: str  # what escalation does not lift (size, rejection); "" if nothing


def _check_legs(opportunity_id: str, legs: Sequence[LegFills]) -> None:
    if not legs:
        raise InvariantViolation(f"opportunity {opportunity_id}: no legs")
    for i, lf in enumerate(legs):
        leg = lf.leg
        if leg.qty <= 0:
            raise InvariantViolation(f"opportunity {opportunity_id} leg {i}: qty {leg.qty}")
        if (lf.inst.venue, lf.inst.symbol) != (leg.venue, leg.symbol):
            raise InvariantViolation(
                f"opportunity {opportunity_id} leg {i}: instrument {lf.inst.venue}/"
                f"{lf.inst.symbol} for {leg.venue}/{leg.symbol}"
            )
        for o in (*lf.orders, *lf.rollbacks):
            if (o.venue, o.symbol) != (leg.venue, leg.symbol):
                raise InvariantViolation(
                    f"opportunity {opportunity_id} leg {i}: order {o.client_order_id} is on "
                    f"{o.venue}/{o.symbol}, the leg on {leg.venue}/{leg.symbol}"
                )
        for o in lf.orders:
            if o.side is not leg.side:
                raise InvariantViolation(
                    f"opportunity {opportunity_id} leg {i}: order {o.client_order_id} is "
                    f"{o.side.name}, the leg {leg.side.name}"
                )


ESCALATE_BUDGET = "ESCALATE: budget"


def _escalation(legs: Sequence[LegFills], config: UnwindConfig, elapsed: int) -> str:
    if elapsed >= (config.time_budget_ms - config.escalation_lead_ms) * NS_PER_MS:
        return ESCALATE_BUDGET
    if any(len(lf.rollbacks) >= config.max_attempts for lf in legs):
        return "ESCALATE: max_attempts"
    return ""


def _mark(marks: Mapping[str, int], asset: str, home: str) -> int:
    if asset == home:
        return UNIT
    m = marks.get(asset)
    if m is None:
        raise InvariantViolation(f"no mark for {asset} in {home}")
    return m


def _order_amounts(inst: Instrument, o: Order) -> tuple[int, int]:
    # (base, quote) amounts an order's fills moved, unsigned; what it gives up rounded up.
    buy = o.side is Side.BUY
    base = fills_base_amount(inst, o.filled_qty, o.fill_value, round_up=not buy)
    if inst.inverse:  # Order.notional is the linear px * qty * cv: not an inverse's notional
        return base, quote_notional(inst, 0, o.filled_qty, round_up=buy)
    return base, o.notional


def _net_amounts(legs: Sequence[LegFills]) -> dict[str, int]:
    net: dict[str, int] = {}
    for lf in legs:
        base, quote = lf.inst.base, lf.inst.quote
        net.setdefault(base, 0)
        net.setdefault(quote, 0)
        for o in (*lf.orders, *lf.rollbacks):
            s = int(o.side)
            b, q = _order_amounts(lf.inst, o)
            net[base] += s * b
            net[quote] -= s * q
            for ccy, fee in o.fees.items():
                if ccy in (base, quote):
                    net[ccy] -= fee
    return net


def _leg_number(opportunity_id: str, cid: str) -> int:
    # ``k`` of ``<opportunity_id>L<k>A<attempt>`` (``messages.client_order_id``); -1 if another.
    if not cid.startswith(opportunity_id):
        return -1
    m = _CID_SUFFIX.fullmatch(cid[len(opportunity_id) :])
    return int(m.group(1)) if m is not None else -1


def _is_flatten(opportunity_id: str, n: int, o: Order) -> bool:
    return _leg_number(opportunity_id, o.client_order_id) >= 2 * n


def _net_fill(opportunity_id: str, n: int, lf: LegFills) -> int:
    # The leg's own fills plus its hedges, minus its unwinds; flatten orders are not the leg's.
    side = lf.leg.side
    f = sum(o.filled_qty for o in lf.orders)
    for o in lf.rollbacks:
        if not _is_flatten(opportunity_id, n, o):
            f += o.filled_qty if o.side is side else -o.filled_qty
    return f


def _ref(legs: Sequence[LegFills], fills: list[int], pick: Callable[..., int]) -> int:
    # The leg whose fill fraction is the largest (hedge) or smallest (unwind); first on ties.
    return int(pick(range(len(legs)), key=lambda i: Fraction(fills[i], legs[i].leg.qty)))


def _deltas(legs: Sequence[LegFills], fills: list[int], ref: int) -> list[int]:
    # Signed quantity per leg to reach the reference leg's fraction, rounded half up to the lot.
    qk, fk = legs[ref].leg.qty, fills[ref]
    out = []
    for lf, f in zip(legs, fills, strict=True):
        lot = lf.inst.lot_raw
        num = fk * lf.leg.qty - f * qk
        den = qk * lot
        out.append((2 * num + den) // (2 * den) * lot)
    return out


def _min_qty(inst: Instrument, px: int) -> int:
    # Smallest quantity (raw, a multiple of the lot) the venue accepts at price px.
    lot = inst.lot_raw
    q = max(to_raw(inst.min_size, inst.size_precision), lot)
    if inst.min_notional not in ("0", "") and px > 0:
        per_unit = quote_notional(inst, px, POW10[inst.size_precision], round_up=False)
        need = to_raw(inst.min_notional, AMOUNT_PRECISION) * POW10[inst.size_precision]
        q = max(q, -(-need // max(per_unit, 1)))
    return -(-q // lot) * lot


def _padded(
    legs: Sequence[LegFills], fills: list[int], ref: int, *, hedge: bool
) -> list[int] | None:
    # A residual below a venue's minimum cannot be traded on its own. Move the target fraction
    # further (hedge: up, unwind: down) until every leg's order is at least its minimum: one
    # more round trip of the smallest tradable size, after which the legs are balanced.
    # Deltas round away from zero to the lot; None when an unwind would go below nothing.
    target = Fraction(fills[ref], legs[ref].leg.qty)
    for lf, f in zip(legs, fills, strict=True):
        m, q = _min_qty(lf.inst, lf.leg.px), lf.leg.qty
        target = max(target, Fraction(f + m, q)) if hedge else min(target, Fraction(f - m, q))
    if target < 0:
        return None
    out = []
    for lf, f in zip(legs, fills, strict=True):
        lot = lf.inst.lot_raw
        d = target * lf.leg.qty - f
        lots = math.ceil(d / lot) if d > 0 else math.floor(d / lot)
        out.append(lots * lot)
    return out


def _move(px: int, side: Side, ppm: int, tick: int) -> int:
    # px moved ppm against us, on the tick, never past the bound (buy: floor, sell: ceil),
    # never less aggressive than px, and at least one tick.
    if side is Side.BUY:
        return max(px * (PPM + ppm) // (PPM * tick) * tick, px)
    return max(min(-(-px * (PPM - ppm) // (PPM * tick)) * tick, px), tick)


def _order_side(leg: Leg, delta: int) -> Side:
    return leg.side if delta > 0 else leg.side.opposite


def _too_small(inst: Instrument, qty: int, px: int | None) -> bool:
    if qty < to_raw(inst.min_size, inst.size_precision):
        return True
    if px is None or inst.min_notional in ("0", ""):
        return False
    amount = quote_notional(inst, px, qty, round_up=False)
    return amount < to_raw(inst.min_notional, AMOUNT_PRECISION)


PERMANENT_REJECTS = frozenset(
    {
        "INSUFFICIENT_BALANCE",
        "OFF_TICK",
        "OFF_LOT",
        "BELOW_MIN_SIZE",
        "BELOW_MIN_NOTIONAL",
        "UNKNOWN_SYMBOL",
        "UNSUPPORTED_INSTRUMENT",
        "INVALID_ORDER",
    }
)
"""Reject codes that the same order would get again (venue adapters map their own codes to
these); any other reject (rate limit, overload, random) is transient and retried."""


def _was_rejected(lf: LegFills, side: Side, config: UnwindConfig) -> bool:
    # Blocked for good: a permanent reject of an order of this side on this leg (the leg's own
    # order included), or ``max_attempts`` transient rejects of rollback orders of this side.
    transient = 0
    for o in (*lf.orders, *lf.rollbacks):
        if o.side is not side or o.state is not OrderState.REJECTED:
            continue
        if o.reject_reason in PERMANENT_REJECTS:
            return True
        transient += any(o is r for r in lf.rollbacks)
    return transient >= config.max_attempts


def _way(
    legs: Sequence[LegFills],
    fills: list[int],
    ref: int,
    kind: Decision,
    pricer: Pricer,
    marks: Mapping[str, int],
    home: str,
    config: UnwindConfig,
) -> _Way:
    hedge = kind is Decision.HEDGE
    deltas = _deltas(legs, fills, ref)
    if any(
        d and _too_small(lf.inst, abs(d), lf.leg.px) for lf, d in zip(legs, deltas, strict=True)
    ):
        deltas = _padded(legs, fills, ref, hedge=hedge) or deltas
    ppm = bps_to_ppm(config.max_hedge_slippage_bps if hedge else config.max_unwind_slippage_bps)
    prices: list[int | None] = []
    limits: list[int] = []
    value: int | None = 0
    blocker = hard = ""
    for lf, d in zip(legs, deltas, strict=True):
        if not d:
            prices.append(None)
            limits.append(0)
            continue
        inst, qty, side = lf.inst, abs(d), _order_side(lf.leg, d)
        px = pricer(lf.leg.venue, lf.leg.symbol, side, qty)
        prices.append(px)
        limit = _move(lf.leg.px if hedge else (px or 0), side, ppm, inst.tick_raw)
        limits.append(limit)
        if _was_rejected(lf, side, config):
            hard = hard or "rejected"
        elif _too_small(inst, qty, px if px is not None else lf.leg.px):
            hard = hard or "below_min_size"
        if px is None:
            blocker = blocker or "no_price"
            value = None
        else:
            if hedge and (px > limit if side is Side.BUY else px < limit):
                blocker = blocker or "beyond_slippage"
            if value is not None:
                value += _flow_value(inst, side, qty, px, marks, home)
    if value is not None:
        value //= UNIT
    return _Way(
        kind=kind,
        deltas=deltas,
        prices=prices,
        limits=limits,
        value=value,
        blocker=hard or blocker,
        hard_blocker=hard,
    )


def _flow_value(
    inst: Instrument, side: Side, qty: int, px: int, marks: Mapping[str, int], home: str
) -> int:
    # Home value (times UNIT) of what one order pays and receives, both assets at their marks.
    s = int(side)
    buy = side is Side.BUY
    base = s * base_amount(inst, px, qty, round_up=not buy) * _mark(marks, inst.base, home)
    quote = -s * quote_notional(inst, px, qty, round_up=buy)
    return base + quote * _mark(marks, inst.quote, home)


def _better(hedge: _Way, unwind: _Way) -> _Way:
    # The higher value; an unpriced way ranks last; ties go to the hedge.
    if hedge.value is None:
        return unwind
    if unwind.value is None:
        return hedge
    return hedge if hedge.value >= unwind.value else unwind


def _choose(hedge: _Way, unwind: _Way) -> _Way | None:
    viable = [w for w in (hedge, unwind) if not w.blocker]
    if len(viable) == 2:
        return _better(hedge, unwind)
    return viable[0] if viable else None


def _escalate(
    opportunity_id: str,
    legs: Sequence[LegFills],
    hedge: _Way,
    unwind: _Way,
    base: Plan,
    reason: str,
    config: UnwindConfig,
    now_ns: int,
) -> Plan:
    viable = [w for w in (hedge, unwind) if not w.hard_blocker]
    if not viable:
        return msgspec.structs.replace(
            base, decision=Decision.DONE, reason=f"UNWIND_SKIPPED: {unwind.hard_blocker}"
        )
    if len(viable) == 1:
        way = viable[0]
    elif hedge.value is None and unwind.value is None:
        way = unwind
    else:
        way = _better(hedge, unwind)
    otype = config.escalation_order_type
    limits = [0] * len(legs)
    if otype is OrderType.IOC:
        ppm = bps_to_ppm(config.escalation_slippage_bps)
        for i, (lf, d) in enumerate(zip(legs, way.deltas, strict=True)):
            if d:
                px = way.prices[i] or lf.leg.px
                limits[i] = _move(px, _order_side(lf.leg, d), ppm, lf.inst.tick_raw)
    return msgspec.structs.replace(
        base,
        decision=Decision.ESCALATE,
        reason=reason,
        direction=way.kind.value,
        deltas=tuple(way.deltas),
        commands=_orders(opportunity_id, legs, way, limits, otype, now_ns),
    )


class _Flat(msgspec.Struct, frozen=True, kw_only=True):
    # One flatten order: on leg ``leg``'s instrument, the executable price of ``qty`` (None:
    # unpriced) and why it cannot be sent ("", "no_price" or "rejected").
    leg: int
    side: Side
    qty: int
    px: int | None
    blocker: str


def _flatten_leg(
    legs: Sequence[LegFills], asset: str, homes: Collection[str], side: Side
) -> int | None:
    # The leg trading ``asset`` (base) against home (quote), not inverse: the first on the
    # flatten side (its venue had the balance for that side), else the first; None if none.
    pairs = [
        i
        for i, lf in enumerate(legs)
        if lf.inst.base == asset and lf.inst.quote in homes and not lf.inst.inverse
    ]
    same = [i for i in pairs if legs[i].leg.side is side]
    if same or pairs:
        return (same or pairs)[0]
    return None


def _flats(
    home: str,
    legs: Sequence[LegFills],
    pricer: Pricer,
    config: UnwindConfig,
    residual: Mapping[str, int],
    par: Collection[str],
) -> list[_Flat]:
    # The flatten order of every asset whose residual exceeds the tolerance and rounds to at
    # least the minimum order of a leg that pairs it with home (ties toward zero: half a lot
    # stays).
    net = _net_amounts(legs)
    homes = {home, *par}
    out: list[_Flat] = []
    for asset, value in residual.items():
        amount = net[asset]
        if abs(value) <= config.residual_tolerance or not amount:
            continue
        side = Side.SELL if amount > 0 else Side.BUY
        i = _flatten_leg(legs, asset, homes, side)
        if i is None:
            continue
        lf = legs[i]
        inst, lot = lf.inst, lf.inst.lot_raw
        per_lot = base_amount(inst, 0, lot, round_up=False)
        lots = (2 * abs(amount) + per_lot - 1) // (2 * per_lot)
        if not lots:
            continue
        qty = lots * lot
        if qty < _min_qty(inst, lf.leg.px):  # dust: a round trip of the minimum costs more
            continue
        px = pricer(lf.leg.venue, lf.leg.symbol, side, qty)
        blocker = "rejected" if _was_rejected(lf, side, config) else ""
        out.append(_Flat(leg=i, side=side, qty=qty, px=px, blocker=blocker or _no_px(px)))
    return out


def _no_px(px: int | None) -> str:
    return "no_price" if px is None else ""


def _flatten(
    opportunity_id: str,
    legs: Sequence[LegFills],
    flats: list[_Flat],
    base: Plan,
    escalating: str,
    config: UnwindConfig,
    now_ns: int,
) -> Plan:
    # The legs are balanced: flatten what residual remains, or DONE.
    if not flats:
        return msgspec.structs.replace(base, decision=Decision.DONE, reason=DONE_BALANCED)
    if sum(len(lf.rollbacks) for lf in legs) >= config.max_rollback_orders:
        return msgspec.structs.replace(base, decision=Decision.DONE, reason=DONE_EXHAUSTED)
    lifted = ("", "no_price") if escalating else ("",)
    send = [f for f in flats if f.blocker in lifted]
    if not send:
        if any(f.blocker == "no_price" for f in flats):
            return msgspec.structs.replace(base, reason="WAIT: no_price")
        return msgspec.structs.replace(
            base, decision=Decision.DONE, reason="UNWIND_SKIPPED: rejected"
        )
    n = len(legs)
    otype = config.escalation_order_type if escalating else OrderType.IOC
    ppm = bps_to_ppm(
        config.escalation_slippage_bps if escalating else config.max_unwind_slippage_bps
    )
    deltas = [0] * n
    commands: list[Command] = []
    for f in send:
        lf = legs[f.leg]
        deltas[f.leg] = f.qty if f.side is lf.leg.side else -f.qty
        limit = 0
        if otype is OrderType.IOC:
            limit = _move(f.px or lf.leg.px, f.side, ppm, lf.inst.tick_raw)
        commands.append(
            PlaceOrder(
                venue=lf.leg.venue,
                symbol=lf.leg.symbol,
                client_order_id=client_order_id(opportunity_id, 2 * n + f.leg, len(lf.rollbacks)),
                side=f.side,
                order_type=otype,
                px=limit,
                qty=f.qty,
                ts=now_ns,
                opportunity_id=opportunity_id,
            )
        )
    return msgspec.structs.replace(
        base,
        decision=Decision.ESCALATE if escalating else Decision.UNWIND,
        reason=escalating or "UNWIND: flatten",
        direction=FLATTEN,
        deltas=tuple(deltas),
        commands=tuple(commands),
    )


def _orders(
    opportunity_id: str,
    legs: Sequence[LegFills],
    way: _Way,
    limits: list[int],
    otype: OrderType,
    now_ns: int,
) -> tuple[Command, ...]:
    n = len(legs)
    out: list[Command] = []
    for i, (lf, d) in enumerate(zip(legs, way.deltas, strict=True)):
        if not d:
            continue
        out.append(
            PlaceOrder(
                venue=lf.leg.venue,
                symbol=lf.leg.symbol,
                client_order_id=client_order_id(opportunity_id, n + i, len(lf.rollbacks)),
                side=_order_side(lf.leg, d),
                order_type=otype,
                px=limits[i],
                qty=abs(d),
                ts=now_ns,
                opportunity_id=opportunity_id,
            )
        )
    return tuple(out)
