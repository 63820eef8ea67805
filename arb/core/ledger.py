"""Inventory per venue and asset, as the engine knows it from its own fills.

Pure: no clock, no I/O. The executor keeps one ``Ledger``: it starts from the balances each
venue reports, moves them by every fill (counted once: the order state machine dedups by
trade id before a fill gets here), and holds back what open orders may still spend
(``reserve`` when an order is sent, drawn down by its fills, ``release``\\ d at its terminal
event). ``available`` is what the detector may size new opportunities on: a second
opportunity never sees money that an order in flight may still take, whether the venue has
acknowledged that order or not.

Amounts are at ``AMOUNT_PRECISION``. A fill moves, exactly as a spot venue settles it::

    buy:  base += qty * contract_value     quote -= notional (rounded up)
    sell: base -= qty * contract_value     quote += notional (rounded down)
    and:  fee_ccy -= fee                   (negative fee: a rebate)

``equity_change`` values the difference to the start at marks (the home value of one unit of
each asset), which is the PnL a trader reads: fees and slippage included, inventory that moved
between venues netted out.
"""

from __future__ import annotations

from collections.abc import Mapping

from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.messages import OrderFilled
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import notional_amount
from arb.core.numbers import POW10
from arb.core.types import Side

__all__ = ["Ledger", "base_amount"]

UNIT = POW10[AMOUNT_PRECISION]


def base_amount(inst: Instrument, qty: int) -> int:
    """Base-asset amount (AMOUNT_PRECISION) of ``qty`` raw lots of ``inst`` (contract value
    included); rounded down when the instrument is finer than AMOUNT_PRECISION."""
    return notional_amount(inst, POW10[inst.price_precision], qty, round_up=False)


class Ledger:
    """Balances per venue and asset; ``available`` is maintained incrementally (cheap to read
    on every book update)."""

    __slots__ = ("_reservations", "available", "fees", "reserved", "start", "totals")

    def __init__(self, balances: Mapping[str, Mapping[str, int]]) -> None:
        self.totals: dict[str, dict[str, int]] = {v: dict(b) for v, b in balances.items()}
        self.start: dict[str, dict[str, int]] = {v: dict(b) for v, b in balances.items()}
        self.reserved: dict[str, dict[str, int]] = {v: {} for v in balances}
        self.available: dict[str, dict[str, int]] = {v: dict(b) for v, b in balances.items()}
        """Per venue and asset: total minus reservations (what new orders may use)."""
        self.fees: dict[str, int] = {}
        """Fees paid per fee currency (negative: rebates), all venues."""
        self._reservations: dict[tuple[str, str], tuple[str, int]] = {}

    # -- reservations ------------------------------------------------------------------------

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
        res = self._reservations.pop((venue, client_order_id), None)
        if res is not None:
            self._hold(venue, res[0], -res[1])

    def _hold(self, venue: str, asset: str, amount: int) -> None:
        r = self.reserved.setdefault(venue, {})
        r[asset] = r.get(asset, 0) + amount
        self._refresh(venue, asset)

    def _refresh(self, venue: str, asset: str) -> None:
        total = self.totals.get(venue, {}).get(asset, 0)
        held = self.reserved.get(venue, {}).get(asset, 0)
        self.available.setdefault(venue, {})[asset] = total - held

    # -- fills -------------------------------------------------------------------------------

    def on_fill(self, inst: Instrument, fill: OrderFilled) -> tuple[int, int]:
        """Move the balances of ``fill`` (an order of ``inst``); return its (base amount,
        quote notional) at AMOUNT_PRECISION. Draws on the order's reservation."""
        venue = fill.venue
        if venue != inst.venue:
            raise InvariantViolation(f"fill on {venue} for instrument of {inst.venue}")
        buy = fill.side is Side.BUY
        base = base_amount(inst, fill.qty)
        notional = notional_amount(inst, fill.px, fill.qty, round_up=buy)
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
        key = (venue, fill.client_order_id)
        res = self._reservations.get(key)
        if res is not None and res[0] == spent_asset:
            draw = min(res[1], max(spent, 0))
            self._reservations[key] = (res[0], res[1] - draw)
            r = self.reserved.setdefault(venue, {})
            r[spent_asset] = r.get(spent_asset, 0) - draw
        for asset in {inst.base, inst.quote, fill.fee_ccy}:
            self._refresh(venue, asset)
        return base, notional

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
        """Value of ``change()`` in ``home`` at AMOUNT_PRECISION; ``marks[asset]`` is the home
        value of one unit of ``asset``. Raises ``InvariantViolation`` for an unmarked asset."""
        total = 0
        for asset, d in self.change().items():
            if asset == home:
                total += d
                continue
            m = marks.get(asset)
            if m is None:
                raise InvariantViolation(f"no mark for {asset} in {home}")
            # round against us: a long valued down, a short valued up (more negative)
            total += d * m // UNIT
        return total

    def exposure(self, marks: Mapping[str, int], home: str) -> dict[str, int]:
        """Home value of the net change of each non-home asset (signed; long > 0), rounded
        away from zero: the inventory the trades left unhedged across venues."""
        out: dict[str, int] = {}
        for asset, d in self.change().items():
            if asset == home:
                continue
            m = marks.get(asset)
            if m is None:
                raise InvariantViolation(f"no mark for {asset} in {home}")
            v = -(-abs(d) * m // UNIT)
            out[asset] = v if d > 0 else -v
        return out
