"""Inventory per venue and asset, as the engine knows it from its own fills.

Pure: no clock, no I/O. The executor keeps one ``Ledger``: it starts from the balances each
venue reports, moves them by every fill (counted once: the order state machine dedups by
trade id before a fill gets here), and holds back what open orders may still spend
(``reserve_order`` / ``reserve`` when an order is sent, drawn down by its fills, ``release``\\ d
at its terminal event). ``available`` is what the detector may size new opportunities on: a
second opportunity never sees money that an order in flight may still take, whether the venue
has acknowledged that order or not.

Amounts are at ``AMOUNT_PRECISION``. A fill of a **spot** instrument moves, exactly as a spot
venue settles it::

    buy:  base += qty * contract_value     quote -= notional (rounded up)
    sell: base -= qty * contract_value     quote += notional (rounded down)
    and:  fee_ccy -= fee                   (negative fee: a rebate)

A fill of a **contract** (perpetual swap or dated future, linear or inverse: ``positions.
is_contract``) delivers nothing: it moves the venue's position in that instrument (signed
contracts and entry value, ``arb.core.positions.PositionState``, the same state the simulated
venue keeps) and the settle currency's cash by the PnL it realised, and ``fee_ccy`` by the fee::

    settle += realised PnL                 fee_ccy -= fee
    margin[settle] = ceil(entry value of the open contracts / leverage)

Margin (``leverage`` per venue, default 1: fully collateralised) is held, not spent:
``available = totals - reserved - margin``. Funding moves cash (``on_funding``). So after the
same fills and funding, ``totals[v]`` is the simulated venue's ``totals()`` and, with nothing
in flight, ``available[v]`` its ``balances()``, to the unit.

``reservation`` says what an order may use: a spot buy its notional at its price plus the fee,
a spot sell its base; a contract order the margin of the exposure it may add plus its fee, at
its price (``positions.order_reservation``; what the position lets it close first adds no
margin, less what our other orders in flight on the same side would close before it, so an
order that only reduces a position reserves only its fee). Fills at a better price than the
order's may be worth more (a linear sell, an inverse buy): the excess comes out of
``available`` when they happen.

``equity_change`` values the difference to the start at marks (the home value of one unit of
each asset), which is the PnL a trader reads: fees and slippage included, inventory that moved
between venues netted out. Contracts count through their cash only (realised PnL, fees,
funding): open positions, their unrealised PnL and their exposure are in ``positions``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from arb.core.contracts import base_amount as exposure_amount
from arb.core.contracts import pnl_currency
from arb.core.contracts import quote_notional
from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.messages import OrderFilled
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import fee_amount
from arb.core.numbers import POW10
from arb.core.positions import ContractSpec
from arb.core.positions import Position
from arb.core.positions import PositionState
from arb.core.positions import is_contract
from arb.core.positions import order_reservation
from arb.core.types import Side

__all__ = ["Ledger", "base_amount"]

UNIT = POW10[AMOUNT_PRECISION]


def base_amount(inst: Instrument, qty: int) -> int:
    """Base-asset amount (AMOUNT_PRECISION) of ``qty`` raw lots of a spot or linear ``inst``
    (``qty * contract_value``, whatever the price); rounded down when the instrument is finer
    than AMOUNT_PRECISION.

    Raises ``ValueError`` for an inverse contract, whose base amount depends on the price
    (``contracts.base_amount``, ``contracts.fills_base_amount``).
    """
    if inst.inverse:
        raise ValueError(
            f"{inst.venue}:{inst.symbol}: an inverse contract's base amount needs a px"
        )
    # linear: qty * cv * px at the price 1 (px raw = 10**price_precision)
    return quote_notional(inst, POW10[inst.price_precision], qty, round_up=False)


class Ledger:
    """Balances per venue and asset, and positions in contracts; ``available`` is maintained
    incrementally (cheap to read on every book update).

    ``leverage``: per venue, the leverage of its contract positions (>= 1; default 1). Raises
    ``ValueError`` for a leverage below 1.
    """

    __slots__ = (
        "_contract_orders",
        "_in_flight",
        "_positions",
        "_reservations",
        "_specs",
        "available",
        "fees",
        "leverage",
        "margin",
        "reserved",
        "start",
        "totals",
    )

    def __init__(
        self,
        balances: Mapping[str, Mapping[str, int]],
        leverage: Mapping[str, int] | None = None,
    ) -> None:
        self.totals: dict[str, dict[str, int]] = {v: dict(b) for v, b in balances.items()}
        self.start: dict[str, dict[str, int]] = {v: dict(b) for v, b in balances.items()}
        self.reserved: dict[str, dict[str, int]] = {v: {} for v in balances}
        self.available: dict[str, dict[str, int]] = {v: dict(b) for v, b in balances.items()}
        """Per venue and asset: total minus reservations and margin (what new orders may use)."""
        self.fees: dict[str, int] = {}
        """Fees paid per fee currency (negative: rebates), all venues."""
        self.leverage: dict[str, int] = dict(leverage or {})
        """Per venue: the leverage of its contract positions (absent: 1)."""
        for v, lev in self.leverage.items():
            if lev < 1:
                raise ValueError(f"{v}: leverage must be >= 1, was {lev}")
        self.margin: dict[str, dict[str, int]] = {v: {} for v in balances}
        """Per venue and settle currency: margin held by the open contract positions."""
        self._reservations: dict[tuple[str, str], tuple[str, int]] = {}
        self._positions: dict[str, dict[str, PositionState]] = {}
        self._specs: dict[tuple[str, str], ContractSpec] = {}
        # Contract orders in flight: (venue, cid) -> (symbol, side, qty not filled yet), and
        # the sum of that qty per (venue, symbol, side).
        self._contract_orders: dict[tuple[str, str], tuple[str, Side, int]] = {}
        self._in_flight: dict[tuple[str, str, Side], int] = {}

    # -- positions ---------------------------------------------------------------------------

    @property
    def positions(self) -> dict[str, dict[str, Position]]:
        """Per venue and symbol, every contract position traded so far (flat ones too), as
        snapshots (``SimVenue.positions()`` is the venue's side of the same numbers)."""
        return {
            v: {s: st.snapshot(v, s, st.spec.inst.price_precision) for s, st in by.items()}
            for v, by in self._positions.items()
        }

    def position(self, venue: str, symbol: str) -> Position | None:
        """The position in ``symbol`` on ``venue``; None if never traded."""
        st = self._positions.get(venue, {}).get(symbol)
        return None if st is None else st.snapshot(venue, symbol, st.spec.inst.price_precision)

    def _spec(self, inst: Instrument) -> ContractSpec:
        spec = self._specs.get(inst.key)
        if spec is None:
            spec = self._specs[inst.key] = ContractSpec(inst)
        return spec

    def _state(self, inst: Instrument) -> PositionState:
        by = self._positions.setdefault(inst.venue, {})
        st = by.get(inst.symbol)
        if st is None:
            st = by[inst.symbol] = PositionState(self._spec(inst))
        return st

    # -- reservations ------------------------------------------------------------------------

    def reservation(
        self, inst: Instrument, side: Side, px: int, qty: int, fee_ppm: int
    ) -> tuple[str, int]:
        """``(asset, amount)`` an order of ``qty`` at ``px`` on ``side`` may use, paying at most
        ``fee_ppm`` (a rebate counts as 0); see the module doc.

        Spot: a sell its base, a buy ``notional (rounded up) + fee``. Contract: the margin of
        the contracts it may open at the venue's leverage plus its fee, in the settle
        currency; with no price (``px <= 0``: a market order nothing could value) 0.
        """
        if not is_contract(inst):
            if side is Side.SELL:
                return inst.base, base_amount(inst, qty)
            n = quote_notional(inst, px, qty, round_up=True)
            return inst.quote, n + fee_amount(n, max(fee_ppm, 0))
        spec = self._spec(inst)
        if px <= 0:
            return spec.settle, 0
        closable = 0
        st = self._positions.get(inst.venue, {}).get(inst.symbol)
        if st is not None:
            pending = self._in_flight.get((inst.venue, inst.symbol, side), 0)
            closable = max(0, st.reducible(side) - pending)
        lev = self.leverage.get(inst.venue, 1)
        margin, fee = order_reservation(spec, [(px, qty, fee_ppm)], closable, lev)
        return spec.settle, margin + fee

    def reserve_order(
        self,
        inst: Instrument,
        client_order_id: str,
        side: Side,
        px: int,
        qty: int,
        fee_ppm: int,
    ) -> tuple[str, int]:
        """Hold ``reservation(inst, side, px, qty, fee_ppm)`` for an order just sent (once per
        order; ``qty``: what it may still fill) and return it. A contract order's open
        quantity also counts against what later orders on its side may close."""
        asset, amount = self.reservation(inst, side, px, qty, fee_ppm)
        self.reserve(inst.venue, client_order_id, asset, amount)
        if is_contract(inst):
            self._contract_orders[(inst.venue, client_order_id)] = (inst.symbol, side, qty)
            k = (inst.venue, inst.symbol, side)
            self._in_flight[k] = self._in_flight.get(k, 0) + qty
        return asset, amount

    def reserve(self, venue: str, client_order_id: str, asset: str, amount: int) -> None:
        """Hold ``amount`` of ``asset`` on ``venue`` for an order just sent (once per order)."""
        if amount < 0:
            raise InvariantViolation(f"{venue} {client_order_id}: reservation {amount} < 0")
        key = (venue, client_order_id)
        if key in self._reservations:
            raise InvariantViolation(f"{venue} {client_order_id}: reserved twice")
        self._reservations[key] = (asset, amount)
        self._hold(venue, asset, amount)

    def release(self, venue: str, client_order_id: str) -> None:
        """Give back what is left of an order's reservation (its terminal event came)."""
        key = (venue, client_order_id)
        res = self._reservations.pop(key, None)
        if res is not None:
            self._hold(venue, res[0], -res[1])
        self._order_filled(key, None)

    def _hold(self, venue: str, asset: str, amount: int) -> None:
        r = self.reserved.setdefault(venue, {})
        r[asset] = r.get(asset, 0) + amount
        self._refresh(venue, asset)

    def _draw(self, venue: str, client_order_id: str, asset: str, spent: int) -> None:
        # A fill spent ``spent`` of ``asset``: take it from the order's reservation, if any.
        key = (venue, client_order_id)
        res = self._reservations.get(key)
        if res is not None and res[0] == asset:
            draw = min(res[1], max(spent, 0))
            self._reservations[key] = (asset, res[1] - draw)
            r = self.reserved.setdefault(venue, {})
            r[asset] = r.get(asset, 0) - draw

    def _order_filled(self, key: tuple[str, str], qty: int | None) -> None:
        # A contract order in flight filled ``qty`` (None: it ended).
        entry = self._contract_orders.get(key)
        if entry is None:
            return
        symbol, side, left = entry
        done = left if qty is None else min(qty, left)
        if qty is None or done == left:
            del self._contract_orders[key]
        else:
            self._contract_orders[key] = (symbol, side, left - done)
        k = (key[0], symbol, side)
        self._in_flight[k] -= done
        if not self._in_flight[k]:
            del self._in_flight[k]

    def _refresh(self, venue: str, asset: str) -> None:
        total = self.totals.get(venue, {}).get(asset, 0)
        held = self.reserved.get(venue, {}).get(asset, 0)
        margin = self.margin.get(venue, {}).get(asset, 0)
        self.available.setdefault(venue, {})[asset] = total - held - margin

    # -- fills and funding -------------------------------------------------------------------

    def on_fill(self, inst: Instrument, fill: OrderFilled) -> tuple[int, int]:
        """Move the balances (and, for a contract, the position) of ``fill`` (an order of
        ``inst``); return its (base amount, quote notional) at AMOUNT_PRECISION (a contract's:
        its base exposure, rounded down, and quote notional, neither of them delivered).
        Draws on the order's reservation."""
        venue = fill.venue
        if venue != inst.venue:
            raise InvariantViolation(f"fill on {venue} for instrument of {inst.venue}")
        if is_contract(inst):
            return self._on_contract_fill(inst, fill)
        buy = fill.side is Side.BUY
        base = base_amount(inst, fill.qty)
        notional = quote_notional(inst, fill.px, fill.qty, round_up=buy)
        t = self.totals.setdefault(venue, {})
        sign = 1 if buy else -1
        t[inst.base] = t.get(inst.base, 0) + sign * base
        t[inst.quote] = t.get(inst.quote, 0) - sign * notional
        t[fill.fee_ccy] = t.get(fill.fee_ccy, 0) - fill.fee
        self.fees[fill.fee_ccy] = self.fees.get(fill.fee_ccy, 0) + fill.fee
        spent_asset, spent = (
            (inst.quote, notional + (fill.fee if fill.fee_ccy == inst.quote else 0))
            if buy
            else (inst.base, base)
        )
        self._draw(venue, fill.client_order_id, spent_asset, spent)
        for asset in {inst.base, inst.quote, fill.fee_ccy}:
            self._refresh(venue, asset)
        return base, notional

    def _on_contract_fill(self, inst: Instrument, fill: OrderFilled) -> tuple[int, int]:
        venue = fill.venue
        st = self._state(inst)
        settle = st.spec.settle
        pnl = st.fill(fill.side, fill.px, fill.qty)
        fee, fee_ccy = fill.fee, fill.fee_ccy
        if fee_ccy == settle:
            st.fees += fee
        t = self.totals.setdefault(venue, {})
        t[settle] = t.get(settle, 0) + pnl
        t[fee_ccy] = t.get(fee_ccy, 0) - fee
        self.fees[fee_ccy] = self.fees.get(fee_ccy, 0) + fee
        old = st.margin
        st.margin = st.margin_for(self.leverage.get(venue, 1))
        m = self.margin.setdefault(venue, {})
        m[settle] = m.get(settle, 0) + st.margin - old
        # The reservation covered the fee and the new margin; released margin is not drawn.
        spent = max(0, st.margin - old) + (fee if fee_ccy == settle else 0)
        self._draw(venue, fill.client_order_id, settle, spent)
        self._order_filled((venue, fill.client_order_id), fill.qty)
        self._refresh(venue, settle)
        self._refresh(venue, fee_ccy)
        buy = fill.side is Side.BUY
        base = exposure_amount(inst, fill.px, fill.qty, round_up=False)
        return base, quote_notional(inst, fill.px, fill.qty, round_up=buy)

    def on_funding(self, venue: str, symbol: str, amount: int, ccy: str) -> None:
        """Book a funding settlement of the position in ``symbol`` on ``venue``: ``amount`` of
        ``ccy`` received (negative: paid) moves the cash (and the position's ``funding``)."""
        t = self.totals.setdefault(venue, {})
        t[ccy] = t.get(ccy, 0) + amount
        st = self._positions.get(venue, {}).get(symbol)
        if st is not None and st.spec.settle == ccy:
            st.funding += amount
        self._refresh(venue, ccy)

    # -- valuation ---------------------------------------------------------------------------

    def change(self) -> dict[str, int]:
        """Net change per asset since the start, summed over venues (non-zero entries only)."""
        out: dict[str, int] = {}
        for venue, bal in self.totals.items():
            start = self.start.get(venue, {})
            for asset in bal.keys() | start.keys():
                d = bal.get(asset, 0) - start.get(asset, 0)
                if d:
                    out[asset] = out.get(asset, 0) + d
        return {a: out[a] for a in sorted(out) if out[a]}

    def equity_change(self, marks: Mapping[str, int], home: str) -> int:
        """Value of ``change()`` in ``home`` at AMOUNT_PRECISION, plus the unrealised PnL of
        the open contract positions at the marks; ``marks[asset]`` is the home value of one
        unit of ``asset`` (USD at par with a USD stablecoin home when unmarked). Raises
        ``InvariantViolation`` for an unmarked asset."""
        total = 0
        for asset, d in self.change().items():
            if asset == home:
                total += d
                continue
            # round against us: a long valued down, a short valued up (more negative)
            total += d * _mark(marks, asset, home) // UNIT
        for st, px in self._open_positions(marks, home):
            spec = st.spec
            value = spec.value_fraction(abs(st.contracts), px.numerator, px.denominator)
            side = 1 if st.contracts > 0 else -1
            pnl = side * (value - st.cost) * spec.sign  # in the PnL currency
            ccy = pnl_currency(spec.inst)
            v = pnl * _mark(marks, ccy, home) / UNIT if ccy != home else pnl
            total += math.floor(v)
        return total

    def exposure(self, marks: Mapping[str, int], home: str) -> dict[str, int]:
        """Home value of the net change of each non-home asset (signed; long > 0), contract
        positions counted by their base exposure at the marks, rounded away from zero: the
        inventory the trades left unhedged across venues."""
        net: dict[str, Fraction] = {a: Fraction(d) for a, d in self.change().items() if a != home}
        for st, px in self._open_positions(marks, home):
            spec = st.spec
            base = spec.inst.base
            if spec.inverse:  # contracts * cv / px of the base
                amount = spec.value_fraction(abs(st.contracts), px.numerator, px.denominator)
            else:  # contracts * cv of the base
                amount = Fraction(spec.face(abs(st.contracts)))
            net[base] = net.get(base, Fraction(0)) + (amount if st.contracts > 0 else -amount)
        out: dict[str, int] = {}
        for asset, d in net.items():
            if not d:
                continue
            v = math.ceil(abs(d) * _mark(marks, asset, home) / UNIT)
            out[asset] = v if d > 0 else -v
        return out

    def _open_positions(
        self, marks: Mapping[str, int], home: str
    ) -> list[tuple[PositionState, Fraction]]:
        # Open positions with the raw mark price of their base (home per base, exact).
        out = []
        for v in sorted(self._positions):
            for sym in sorted(self._positions[v]):
                st = self._positions[v][sym]
                if not st.contracts:
                    continue
                inst = st.spec.inst
                px = Fraction(_mark(marks, inst.base, home) * POW10[inst.price_precision], UNIT)
                if inst.quote != home and inst.quote != "USD":
                    px = px * UNIT / _mark(marks, inst.quote, home)
                out.append((st, px))
        return out


def _mark(marks: Mapping[str, int], asset: str, home: str) -> int:
    m = marks.get(asset)
    if m is None and asset == "USD" and home in ("USDT", "USDC", "FDUSD", "BUSD"):
        return UNIT  # an inverse contract's USD at par with a USD stablecoin home
    if m is None:
        raise InvariantViolation(f"no mark for {asset} in {home}")
    return m
