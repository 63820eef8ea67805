"""Positions in contracts on the simulated venue: value, margin and realised PnL, exactly.

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
currency's balance when they happen, so losses can take the available balance below zero:
the venue then refuses every order that needs margin (orders that only close are accepted).

The arithmetic helpers here are private to the simulated venue (the pure core may grow its
own contract maths; the two can be merged then).
"""

from __future__ import annotations

from fractions import Fraction

import msgspec

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.numbers import decimals_of
from arb.core.numbers import to_raw
from arb.core.types import Side

__all__ = ["ContractSpec", "Position", "PositionState", "is_contract"]

_ONE = POW10[AMOUNT_PRECISION]


def is_contract(inst: Instrument) -> bool:
    """True for the kinds the simulated venue trades as contracts (swaps and dated futures)."""
    return inst.kind in (InstrumentKind.PERP, InstrumentKind.FUTURE)


def _div(n: int, d: int, *, up: bool) -> int:
    # n / d rounded up or down (d > 0).
    q, r = divmod(n, d)
    return q + 1 if (r and up) else q


class ContractSpec:
    """The numbers of one contract instrument, computed once: value, notional, settle currency.

    Values are ``num / den`` fractions of the exact amount scaled to ``AMOUNT_PRECISION``; a
    price may be given as a fraction (``px_num / px_den`` raw) so that a book mid is exact.
    """

    __slots__ = ("cv", "inverse", "px_scale", "qty_cv_scale", "settle", "sign")

    def __init__(self, inst: Instrument) -> None:
        cv_prec = decimals_of(inst.contract_value)
        self.cv = to_raw(inst.contract_value, cv_prec)
        self.inverse = inst.inverse
        self.settle = inst.settle or (inst.base if inst.inverse else inst.quote)
        self.px_scale = POW10[inst.price_precision]
        self.qty_cv_scale = POW10[inst.size_precision + cv_prec]
        # PnL of a long = sign * (exit value - entry value).
        self.sign = -1 if inst.inverse else 1

    @property
    def valid(self) -> bool:
        return self.cv > 0

    def value_fraction(self, qty: int, px_num: int, px_den: int = 1) -> Fraction:
        """Exact value of ``qty`` contracts at ``px_num / px_den`` (raw), at AMOUNT_PRECISION."""
        qv = qty * self.cv * _ONE
        if self.inverse:
            return Fraction(qv * self.px_scale * px_den, self.qty_cv_scale * px_num)
        return Fraction(qv * px_num, self.qty_cv_scale * self.px_scale * px_den)

    def value(self, qty: int, px: int, *, up: bool) -> int:
        """Value of ``qty`` contracts at raw price ``px``, rounded up or down."""
        qv = qty * self.cv * _ONE
        if self.inverse:
            return _div(qv * self.px_scale, self.qty_cv_scale * px, up=up)
        return _div(qv * px, self.qty_cv_scale * self.px_scale, up=up)

    def face(self, qty: int) -> int:
        """Notional in the contract-value currency (quote for both kinds: linear uses
        ``value``), for minimum-notional checks of inverse contracts; rounded down."""
        return qty * self.cv * _ONE // self.qty_cv_scale

    def entry_px(self, qty: int, cost: int, price_precision: int) -> int:
        """Average entry price (raw, half-even) of ``qty`` contracts whose entry value is
        ``cost``; 0 when either is 0."""
        if qty == 0 or cost == 0:
            return 0
        scale = POW10[price_precision]
        qv = Fraction(qty * self.cv * _ONE, self.qty_cv_scale)
        px = qv / cost if self.inverse else Fraction(cost) / qv
        return round(px * scale)


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """One contract instrument's position on a simulated venue (a snapshot).

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
    """The mutable position behind ``Position``: fills change it, funding credits it."""

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
        """Apply a fill of ``qty`` contracts at ``px``; return the PnL it realised."""
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
        return _div(self.cost, leverage, up=True)

    def snapshot(self, venue: str, symbol: str, price_precision: int) -> Position:
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
