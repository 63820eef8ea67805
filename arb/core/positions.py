"""Positions in contracts: value, margin and realised PnL, exactly.

Pure: the one implementation of contract positions, shared by the engine's ``Ledger`` and the
simulated venue (``venues.sim``), so that the two agree to the unit. The formulas of a value
are ``arb.core.contracts``' (``quote_notional``, ``base_amount``).

A contract's **value** is counted in its settle currency, at ``AMOUNT_PRECISION``:

- linear (Binance USD-M ``BTC-USDT-PERP``, settled in USDT, one contract = ``contract_value``
  BTC): ``qty * contract_value * px``, in the quote;
- inverse (Binance COIN-M ``BTC-USD-PERP``, settled in BTC, one contract = ``contract_value``
  USD): ``qty * contract_value / px``, in the base.

A position keeps the summed entry value of its open contracts (``cost``), not an average price,
so the PnL of every round trip is exact: a linear long makes ``exit value - entry value``
(``(exit - entry) * qty * cv``), an inverse long ``entry value - exit value``
(``qty * cv * (1/entry - 1/exit)`` in the base), a short the opposite. Reducing a position of
``n`` contracts by ``r`` takes ``cost * r / n`` of its cost; every rounding (an inverse value
is rarely a whole number of 1e-18 BTC, nor is that share) goes against the account, and what
a partial close leaves of the cost stays with the position, so closing it all takes exactly
the cost that was put in. ``entry_px`` (the average entry price, rounded to the tick
precision) is for display only.

Margin (kept simple, no liquidation): a position holds ``ceil(cost / leverage)`` of the settle
currency; unrealised PnL is not counted. Realised PnL, fees and funding move the settle
currency's balance when they happen, so losses can take the available balance below zero.

An order's **reservation** (``order_reservation``) is the margin of the exposure it may add plus
its highest fee: of its pieces (quantity, price, fee rate), what the position lets it close
first adds no margin (the margin that closing frees is not counted: a flip needs the new side's
margin on top), so an order that only reduces a position reserves only its fee.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import msgspec

from arb.core.contracts import base_amount
from arb.core.contracts import contract_value
from arb.core.contracts import pnl_currency
from arb.core.contracts import quote_notional
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import fee_amount
from arb.core.numbers import POW10
from arb.core.types import Side

__all__ = [
    "ContractSpec",
    "Position",
    "PositionState",
    "is_contract",
    "order_reservation",
]

_ONE = POW10[AMOUNT_PRECISION]


def is_contract(inst: Instrument) -> bool:
    """True for the kinds traded as contracts (swaps and dated futures): a fill changes a
    position, not base and quote balances."""
    return inst.kind in (InstrumentKind.PERP, InstrumentKind.FUTURE)


def _div(n: int, d: int, *, up: bool) -> int:
    # n / d rounded up or down (d > 0).
    q, r = divmod(n, d)
    return q + 1 if (r and up) else q


class ContractSpec:
    """The numbers of one contract instrument, computed once: value, notional, settle currency.

    ``settle`` is ``Instrument.settle``, else the PnL currency (``contracts.pnl_currency``).
    """

    __slots__ = ("cv", "inst", "inverse", "px_scale", "settle", "sign")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self.cv = contract_value(inst)
        self.inverse = inst.inverse
        self.settle = inst.settle or pnl_currency(inst)
        self.px_scale = POW10[inst.price_precision]
        # PnL of a long = sign * (exit value - entry value).
        self.sign = -1 if inst.inverse else 1

    @property
    def valid(self) -> bool:
        """A positive contract value (zero or negative: the instrument cannot be traded)."""
        return self.cv > 0

    def _qv(self, qty: int) -> Fraction:
        # qty contracts times the contract value, at AMOUNT_PRECISION (exact).
        return qty * self.cv * _ONE / POW10[self.inst.size_precision]

    def value_fraction(self, qty: int, px_num: int, px_den: int = 1) -> Fraction:
        """Exact value of ``qty`` contracts at ``px_num / px_den`` (raw), at AMOUNT_PRECISION
        (a price given as a fraction keeps a book mid exact)."""
        qv = self._qv(qty)
        if self.inverse:
            return qv * self.px_scale * px_den / px_num
        return qv * px_num / (self.px_scale * px_den)

    def value(self, qty: int, px: int, *, up: bool) -> int:
        """Value of ``qty`` contracts (>= 0) at raw price ``px`` (> 0), rounded up or down:
        ``contracts.quote_notional`` (linear) or ``contracts.base_amount`` (inverse)."""
        if self.inverse:
            return base_amount(self.inst, px, qty, round_up=up)
        return quote_notional(self.inst, px, qty, round_up=up)

    def face(self, qty: int) -> int:
        """``qty * contract_value`` rounded down, in the contract value's currency: an inverse
        contract's quote notional (``contracts.quote_notional``), for its minimum-notional
        check; a linear contract's base amount."""
        qv = self._qv(qty)
        return qv.numerator // qv.denominator

    def entry_px(self, qty: int, cost: int, price_precision: int) -> int:
        """Average entry price (raw, half-even) of ``qty`` contracts whose entry value is
        ``cost``; 0 when either is 0."""
        if qty == 0 or cost == 0:
            return 0
        qv = self._qv(qty)
        px = qv / cost if self.inverse else cost / qv
        return round(px * POW10[price_precision])


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """One contract instrument's position on one venue (a snapshot).

    Amounts are in ``settle`` at ``AMOUNT_PRECISION``.
    """

    venue: str
    symbol: str
    settle: str
    contracts: int
    """Signed, raw at the instrument's size precision: > 0 long, < 0 short."""
    entry_px: int
    """Average entry price, raw at the price precision (rounded; for display); 0 when flat."""
    cost: int
    """Entry value of the open contracts (what PnL is measured from)."""
    margin: int
    """Collateral held: ``ceil(cost / leverage)``."""
    realised_pnl: int
    """Sum of the PnL of every reduction so far (fees and funding not included)."""
    fees: int
    """Sum of the fees of this instrument's fills (negative = net rebate)."""
    funding: int
    """Net funding received (negative = paid)."""


class PositionState:
    """The mutable position behind ``Position``: fills change it, funding credits it.

    ``margin`` is what the owner last set (``margin_for`` at its leverage); ``fees`` and
    ``funding`` are summed by the owner, as it books them.
    """

    __slots__ = ("contracts", "cost", "fees", "funding", "margin", "realised", "spec")

    def __init__(self, spec: ContractSpec) -> None:
        self.spec = spec
        self.contracts = 0
        self.cost = 0
        self.margin = 0
        self.realised = 0
        self.fees = 0
        self.funding = 0

    def reducible(self, side: Side) -> int:
        """How many contracts an order on ``side`` would close before opening any."""
        pos = self.contracts
        if (side is Side.BUY and pos < 0) or (side is Side.SELL and pos > 0):
            return abs(pos)
        return 0

    def fill(self, side: Side, px: int, qty: int) -> int:
        """Apply a fill of ``qty`` contracts at ``px``; return the PnL it realised.

        Runtime complexity: O(1).
        """
        spec = self.spec
        d = int(side)
        pos = self.contracts
        pnl = 0
        closing = min(qty, abs(pos)) if pos * d < 0 else 0
        if closing:
            k = spec.sign * (1 if pos > 0 else -1)
            n = abs(pos)
            # Against the account: the entry value a long-like (k > 0) gives back rounds up,
            # the exit value it receives rounds down; the opposite for k < 0.
            removed = _div(self.cost * closing, n, up=k > 0)
            exit_value = spec.value(closing, px, up=k < 0)
            pnl = k * (exit_value - removed)
            self.cost -= removed
            self.contracts += d * closing
            self.realised += pnl
        opening = qty - closing
        if opening:
            k = spec.sign * d
            self.cost += spec.value(opening, px, up=k > 0)
            self.contracts += d * opening
        return pnl

    def margin_for(self, leverage: int) -> int:
        """Margin the position needs at ``leverage`` (> 0): ``ceil(cost / leverage)``."""
        return _div(self.cost, leverage, up=True)

    def snapshot(self, venue: str, symbol: str, price_precision: int) -> Position:
        """The position as an immutable ``Position``."""
        spec = self.spec
        return Position(
            venue=venue,
            symbol=symbol,
            settle=spec.settle,
            contracts=self.contracts,
            entry_px=spec.entry_px(abs(self.contracts), self.cost, price_precision),
            cost=self.cost,
            margin=self.margin,
            realised_pnl=self.realised,
            fees=self.fees,
            funding=self.funding,
        )


def order_reservation(
    spec: ContractSpec,
    pieces: Iterable[tuple[int, int, int]],
    closable: int,
    leverage: int,
) -> tuple[int, int]:
    """``(margin, fee)`` an order of ``pieces`` ``(px, qty, fee_ppm)`` may need, in the settle
    currency at AMOUNT_PRECISION, when the position lets it close ``closable`` contracts first.

    The pieces are taken in order, the first ones closing; each opening part adds
    ``ceil(value at its price, rounded up / leverage)``; the fee is one rounding of the summed
    ``value * fee_ppm`` (negative rates count as 0). ``margin == 0``: the order only closes.
    """
    margin = 0
    fee_base = 0
    for px, q, ppm in pieces:
        fee_base += spec.value(q, px, up=True) * max(ppm, 0)
        opening = q - min(q, closable)
        closable -= q - opening
        if opening:
            margin += _div(spec.value(opening, px, up=True), leverage, up=True)
    return margin, fee_amount(fee_base, 1)
