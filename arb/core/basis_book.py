"""Basis positions: the fills of entries and exits, funding payments and realised PnL.

Pure: no I/O, no clock; time comes in as arguments. Money at ``AMOUNT_PRECISION`` in the spot's
quote currency, rounded against us; contract maths from ``arb.core.contracts``; the entry
detector is ``arb.core.basis``.

``open`` records the fills of an entry as a ``BasisPosition``; ``on_funding_settlement`` pays
or charges every open position on a perp (exactly, ``contracts.funding_payment``);
``exit_opportunity`` offers the closing trade (legs reversed, the position's size) when the
executable basis has converged to ``exit_bps`` (LONG_SPOT: at most ``exit_bps``; SHORT_SPOT: at
least ``-exit_bps``) or the horizon has ended; ``close`` books the exit fills and realises::

    realised = spot PnL + perp PnL (in the quote) + funding - fees

``spot PnL`` is the spot's quote cash flow once flat; ``perp PnL`` the perp's flow in its PnL
currency (an inverse contract's, base, valued at the exit's average price or ``conversion_px``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from arb.core.basis_pricing import NS_PER_MS
from arb.core.basis_pricing import BasisDirection
from arb.core.basis_pricing import Key
from arb.core.basis_pricing import PairParams
from arb.core.basis_pricing import R
from arb.core.basis_pricing import Tops
from arb.core.basis_pricing import Walk
from arb.core.basis_pricing import build_pairs
from arb.core.basis_pricing import opportunity_leg
from arb.core.basis_pricing import read_tops
from arb.core.basis_pricing import stale_refusal
from arb.core.basis_pricing import walk
from arb.core.basis_pricing import walks_basis_ppb
from arb.core.contracts import base_amount
from arb.core.contracts import base_to_quote
from arb.core.contracts import funding_payment
from arb.core.contracts import pnl_currency
from arb.core.contracts import quote_notional
from arb.core.detector import VenueParams
from arb.core.errors import InvariantViolation
from arb.core.instruments import Instrument
from arb.core.money import fee_amount
from arb.core.opportunity import Opportunity
from arb.core.opportunity import opportunity_id
from arb.core.sync import BookSync
from arb.core.types import Side

if TYPE_CHECKING:
    from arb.core.basis import BasisConfig

__all__ = [
    "BasisBook",
    "BasisClose",
    "BasisFill",
    "BasisPosition",
    "FundingPayment",
    "PositionState",
]


class PositionState(enum.StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    """An exit opportunity was offered and not yet booked (``close``) or dropped."""
    CLOSED = "closed"


# -- facts and state --------------------------------------------------------------------------


class BasisFill(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of a basis leg (or of a rollback order on it), as the venue reported it."""

    venue: str
    symbol: str
    side: Side
    px: int
    """Raw at the instrument's price precision."""
    qty: int
    """Raw at the instrument's size precision (contracts for the perp)."""
    fee: int = 0
    """At AMOUNT_PRECISION in ``fee_ccy`` (negative: a rebate)."""
    fee_ccy: str = ""


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True):
    """Funding one position received (``amount`` > 0) or paid at one settlement: a journal row."""

    position_id: str
    venue: str
    symbol: str
    ts: int
    rate_ppb: int
    mark_px: int
    position: int
    """Signed contracts (long > 0) at the settlement."""
    amount: int
    """In ``ccy`` (the perp's PnL currency: quote if linear, base if inverse), AMOUNT_PRECISION."""
    ccy: str
    amount_quote: int
    """``amount`` valued in the spot's quote (at ``mark_px`` when inverse)."""


class BasisPosition(msgspec.Struct, kw_only=True):
    """One hedged spot/perp position. Quantities signed (long > 0), raw; money at
    AMOUNT_PRECISION.

    ``spot_flow`` is the spot's quote cash flow so far (buys negative), ``perp_flow`` the perp's
    PnL flow in its PnL currency (linear: ``-side * px * qty * cv`` quote; inverse:
    ``side * qty * cv / px`` base): each is the leg's PnL once the leg is flat.
    """

    id: str
    pair: str
    direction: BasisDirection
    quote: str
    spot_qty: int = 0
    perp_qty: int = 0
    spot_entry_px: int = 0
    """Average entry price (raw, for reports; the PnL uses the flows)."""
    perp_entry_px: int = 0
    entry_ts: int
    horizon_end_ns: int
    spot_flow: int = 0
    perp_flow: int = 0
    funding: int = 0
    """Funding received so far (negative: paid), in the perp's PnL currency."""
    funding_quote: int = 0
    """The same, each payment valued in the quote at its mark."""
    settlements: int = 0
    last_funding_ts: int = 0
    fees_quote: int = 0
    """Fees paid in the quote or in the legs' base (valued at the fill price)."""
    fees: dict[str, int] = msgspec.field(default_factory=dict)
    """Every fee per currency, as charged."""
    state: PositionState = PositionState.OPEN
    exit_opportunity_id: str = ""
    exits: int = 0
    """Exit opportunities offered so far."""


class BasisClose(msgspec.Struct, frozen=True, kw_only=True):
    """A closed position's realised PnL: money at AMOUNT_PRECISION in the quote unless said."""

    position_id: str
    ts: int
    holding_ns: int
    spot_pnl: int
    perp_pnl: int
    """In ``perp_pnl_ccy``."""
    perp_pnl_ccy: str
    perp_pnl_quote: int
    conversion_px: int
    """Raw perp price the inverse PnL was valued at (0 when linear)."""
    funding_quote: int
    fees_quote: int
    realised: int
    """``spot_pnl + perp_pnl_quote + funding_quote - fees_quote``."""


# -- positions --------------------------------------------------------------------------------


class BasisBook:
    """Open basis positions, their funding and their exits. Pure state; one per engine.

    Parameters
    ----------
    config, instruments, venue_params, default_venue
        As for ``BasisDetector`` (which builds one when not given one).
    id_prefix
        First characters of exit opportunity ids (``<prefix><ms>N<counter>``).
    """

    def __init__(
        self,
        config: BasisConfig,
        instruments: Mapping[Key, Instrument],
        venue_params: Mapping[str, VenueParams] | None = None,
        *,
        default_venue: VenueParams | None = None,
        id_prefix: str = "X",
    ) -> None:
        self.config = config
        self.pairs = build_pairs(
            config, instruments, venue_params or {}, default_venue or VenueParams()
        )
        self.positions: dict[str, BasisPosition] = {}
        """Positions not closed (OPEN or CLOSING) by id, the entry opportunity's id; ``close``
        drops a position once it is flat (the ``BasisClose`` it returns is the record)."""
        self.pending: dict[str, tuple[str, BasisDirection, int]] = {}
        """Entry opportunities sent and not yet opened: id -> (pair, direction, horizon end)."""
        self._by_pair: dict[str, dict[str, BasisPosition]] = {name: {} for name in self.pairs}
        self._pending_n: dict[str, int] = dict.fromkeys(self.pairs, 0)
        self.last_refusal = ""
        self._id_prefix = id_prefix
        self._counter = 0
        self._max_age_ns = config.max_quote_age_ms * NS_PER_MS

    # -- counts -------------------------------------------------------------------------------

    def active(self, pair: str) -> int:
        """Positions of ``pair`` not closed, plus entries pending. Runtime complexity: O(1)."""
        return len(self._by_pair[pair]) + self._pending_n[pair]

    def has_open(self, pair: str) -> bool:
        """True when ``pair`` has a position not closed. Runtime complexity: O(1)."""
        return bool(self._by_pair[pair])

    def open_positions(self, pair: str | None = None) -> list[BasisPosition]:
        """Positions not closed (of ``pair``, or all), in id order."""
        src = self.positions if pair is None else self._by_pair[pair]
        return [src[k] for k in sorted(src)]

    def _add(self, pos: BasisPosition) -> None:
        self.positions[pos.id] = pos
        self._by_pair[pos.pair][pos.id] = pos

    def _take_pending(self, opportunity_id: str) -> tuple[str, BasisDirection, int] | None:
        entry = self.pending.pop(opportunity_id, None)
        if entry is not None:
            self._pending_n[entry[0]] -= 1
        return entry

    # -- entries ------------------------------------------------------------------------------

    def expect(self, opportunity: Opportunity) -> None:
        """Record an entry opportunity as sent (it counts against ``max_positions``)."""
        inputs = opportunity.inputs
        pair = str(inputs["pair"])
        if pair not in self.pairs or opportunity.id in self.pending:
            raise InvariantViolation(f"basis entry {opportunity.id}: pair {pair} or id reused")
        self.pending[opportunity.id] = (
            pair,
            BasisDirection(str(inputs["direction"])),
            int(inputs["horizon_end_ns"]),
        )
        self._pending_n[pair] += 1

    def abandon(self, opportunity_id: str) -> None:
        """Forget an entry that traded nothing."""
        self._take_pending(opportunity_id)

    def open(
        self, opportunity_id: str, fills: Sequence[BasisFill], ts: int
    ) -> BasisPosition | None:
        """Book the fills of an entry (its legs' and their rollbacks') as a position.

        Returns ``None`` (and forgets the entry) when the fills net to nothing. Raises
        ``InvariantViolation`` for an unknown entry or a fill of another instrument.
        """
        entry = self._take_pending(opportunity_id)
        if entry is None:
            raise InvariantViolation(f"basis entry {opportunity_id} is not pending")
        name, direction, horizon_end = entry
        pair = self.pairs[name]
        pos = BasisPosition(
            id=opportunity_id,
            pair=name,
            direction=direction,
            quote=pair.spot.quote,
            entry_ts=ts,
            horizon_end_ns=horizon_end,
        )
        _apply_fills(pos, pair, fills)
        if not pos.spot_qty and not pos.perp_qty:
            return None
        pos.spot_entry_px = _avg_px(fills, pair.spot_key)
        pos.perp_entry_px = _avg_px(fills, pair.perp_key)
        self._add(pos)
        return pos

    def restore(self, position: BasisPosition) -> None:
        """Put back a position read from the journal (restart recovery)."""
        if position.pair not in self.pairs:
            raise InvariantViolation(f"basis position {position.id}: unknown pair {position.pair}")
        if position.state is not PositionState.CLOSED:
            self._add(position)

    # -- funding ------------------------------------------------------------------------------

    def on_funding_settlement(
        self,
        perp: Key,
        mark_px: int,
        rate_ppb: int,
        ts: int,
        *,
        paid: tuple[int, int] | None = None,
    ) -> list[FundingPayment]:
        """Pay or charge every position on ``perp`` for the settlement at ``ts`` (a settlement
        already booked for a position, ``ts <= last_funding_ts``, is skipped).

        ``paid`` is what the venue actually settled, ``(amount, contracts)``: when the
        positions booked here are exactly that position, the venue's amount is split among
        them by contracts (the remainder to the last), so the strategy's funding is the
        venue's to the unit; otherwise each is priced at ``mark_px``.
        """
        due = [
            pos
            for pos in self.open_positions()
            if self.pairs[pos.pair].perp_key == perp and pos.perp_qty and ts > pos.last_funding_ts
        ]
        split: list[int] | None = None
        if paid is not None and due and sum(p.perp_qty for p in due) == paid[1]:
            total, contracts = paid
            split = [total * p.perp_qty // contracts for p in due[:-1]]
            split.append(total - sum(split))
        out: list[FundingPayment] = []
        for i, pos in enumerate(due):
            inst = self.pairs[pos.pair].perp
            if split is not None:
                amount = split[i]
            else:
                amount = funding_payment(inst, pos.perp_qty, mark_px, rate_ppb)
            quote = base_to_quote(inst, amount, mark_px, round_up=False) if inst.inverse else amount
            pos.funding += amount
            pos.funding_quote += quote
            pos.settlements += 1
            pos.last_funding_ts = ts
            out.append(
                FundingPayment(
                    position_id=pos.id,
                    venue=perp[0],
                    symbol=perp[1],
                    ts=ts,
                    rate_ppb=rate_ppb,
                    mark_px=mark_px,
                    position=pos.perp_qty,
                    amount=amount,
                    ccy=pnl_currency(inst),
                    amount_quote=quote,
                )
            )
        return out

    # -- exits --------------------------------------------------------------------------------

    def exit_opportunity(
        self, position: BasisPosition, books: Mapping[Key, BookSync], now_ns: int
    ) -> Opportunity | None:
        """The closing trade of ``position`` when its executable basis has converged to
        ``exit_bps`` or its horizon has ended; ``None`` otherwise (the reason in
        ``last_refusal``). Marks the position CLOSING: no other exit is offered until
        ``close`` or ``abandon_close``."""
        if position.state is not PositionState.OPEN:
            self.last_refusal = f"NOT_OPEN: {position.state}"
            return None
        pair = self.pairs[position.pair]
        tops = read_tops(pair, books)
        if isinstance(tops, tuple):
            self.last_refusal = tops[0]
            return None
        stale = stale_refusal(pair, tops, now_ns, self._max_age_ns)
        if stale is not None:
            self.last_refusal = stale[0]
            return None
        horizon = now_ns >= position.horizon_end_ns
        # Quick test on the tops: the walk only widens the closing basis.
        if not horizon and not _top_converged(pair, position, tops):
            self.last_refusal = "NOT_CONVERGED"
            return None
        if not position.spot_qty or not position.perp_qty:
            # one leg only (cannot come from the executor, whose rollback balances the legs):
            # not a basis position to exit as a pair
            self.last_refusal = "ONE_LEGGED"
            return None
        ws, wp = _exit_walks(pair, position, tops)
        if ws.qty != abs(position.spot_qty) or wp.qty != abs(position.perp_qty):
            self.last_refusal = "NO_DEPTH"
            return None
        basis = walks_basis_ppb(ws, wp)
        converged = (
            basis <= pair.exit_ppb
            if position.direction is BasisDirection.LONG_SPOT
            else basis >= -pair.exit_ppb
        )
        if not (converged or horizon):
            self.last_refusal = "NOT_CONVERGED"
            return None
        opp = self._exit(
            pair, position, ws, wp, basis, "converged" if converged else "horizon", now_ns
        )
        position.state = PositionState.CLOSING
        position.exit_opportunity_id = opp.id
        position.exits += 1
        self.last_refusal = ""
        return opp

    def abandon_close(self, position_id: str) -> None:
        """The exit traded nothing: the position is OPEN again."""
        pos = self.positions[position_id]
        if pos.state is PositionState.CLOSING:
            pos.state = PositionState.OPEN
            pos.exit_opportunity_id = ""

    def close(
        self,
        position_id: str,
        fills: Sequence[BasisFill],
        ts: int,
        conversion_px: int | None = None,
    ) -> BasisClose | None:
        """Book the exit fills; when both legs are flat, realise the PnL and return it.

        An inverse perp's PnL (base) is valued at ``conversion_px`` (default: the average price
        of the perp fills given). A position left not flat is OPEN again (``None``).
        """
        pos = self.positions[position_id]
        pair = self.pairs[pos.pair]
        _apply_fills(pos, pair, fills)
        if pos.spot_qty or pos.perp_qty:
            pos.state = PositionState.OPEN
            pos.exit_opportunity_id = ""
            return None
        pos.state = PositionState.CLOSED
        del self.positions[pos.id]
        del self._by_pair[pos.pair][pos.id]
        conv = 0
        perp_quote = pos.perp_flow
        if pair.perp.inverse:
            conv = conversion_px or _avg_px(fills, pair.perp_key) or pos.perp_entry_px
            if conv <= 0:
                raise InvariantViolation(f"basis position {position_id}: no conversion price")
            perp_quote = base_to_quote(pair.perp, pos.perp_flow, conv, round_up=False)
        realised = pos.spot_flow + perp_quote + pos.funding_quote - pos.fees_quote
        return BasisClose(
            position_id=pos.id,
            ts=ts,
            holding_ns=ts - pos.entry_ts,
            spot_pnl=pos.spot_flow,
            perp_pnl=pos.perp_flow,
            perp_pnl_ccy=pnl_currency(pair.perp),
            perp_pnl_quote=perp_quote,
            conversion_px=conv,
            funding_quote=pos.funding_quote,
            fees_quote=pos.fees_quote,
            realised=realised,
        )

    def _next_id(self, now_ns: int) -> str:
        self._counter += 1
        oid = opportunity_id(self._id_prefix, now_ns, self._counter)
        return oid

    def _exit(
        self,
        pair: PairParams,
        pos: BasisPosition,
        ws: Walk,
        wp: Walk,
        basis_ppb: int,
        reason: str,
        now_ns: int,
    ) -> Opportunity:
        spot_side = Side.SELL if pos.spot_qty > 0 else Side.BUY
        perp_side = Side.SELL if pos.perp_qty > 0 else Side.BUY
        fee_s, fee_p = fee_amount(ws.notional, pair.fee_s), fee_amount(wp.notional, pair.fee_p)
        spot_pnl = pos.spot_flow - int(spot_side) * ws.notional
        if pair.perp.inverse:
            perp_pnl = pos.perp_flow + int(perp_side) * wp.base
            px = -(-wp.px_qty // wp.qty) if perp_side is Side.BUY else wp.px_qty // wp.qty
            perp_pnl = base_to_quote(pair.perp, perp_pnl, px, round_up=False)
        else:
            perp_pnl = pos.perp_flow - int(perp_side) * wp.notional
        gross = spot_pnl + perp_pnl + pos.funding_quote
        fees = pos.fees_quote + fee_s + fee_p
        expected = gross - fees
        opp_id = self._next_id(now_ns)
        return Opportunity(
            id=opp_id,
            kind="basis",
            ts=now_ns,
            symbol=pair.spot.symbol,
            quote=pair.spot.quote,
            legs=(
                opportunity_leg(pair.spot, spot_side, ws, fee_s),
                opportunity_leg(pair.perp, perp_side, wp, fee_p),
            ),
            gross_profit=gross,
            fees=fees,
            latency_haircut=0,
            expected_profit=expected,
            expected_profit_bps=expected * 10_000 / ws.notional if ws.notional else 0.0,
            inputs={
                "action": "close",
                "pair": pair.name,
                "position_id": pos.id,
                "direction": pos.direction.value,
                "reason": reason,
                "basis_ppb": basis_ppb,
                "exit_ppb": pair.exit_ppb,
                "horizon_end_ns": pos.horizon_end_ns,
                "funding_quote": pos.funding_quote,
                "settlements": pos.settlements,
                "spot_fee_ppm": pair.fee_s,
                "perp_fee_ppm": pair.fee_p,
            },
        )


def _top_converged(pair: PairParams, pos: BasisPosition, tops: Tops) -> bool:
    # Closing LONG_SPOT sells spot at the bid and buys the perp at the ask (SHORT_SPOT the
    # reverse); basis = perp / spot - 1 on those prices, against the exit level.
    if pos.direction is BasisDirection.LONG_SPOT:
        s, p = tops.s_bid * pair.mul_s, tops.p_ask * pair.mul_p
        return (p - s) * R <= pair.exit_ppb * s
    s, p = tops.s_ask * pair.mul_s, tops.p_bid * pair.mul_p
    return (p - s) * R >= -pair.exit_ppb * s


def _exit_walks(pair: PairParams, pos: BasisPosition, tops: Tops) -> tuple[Walk, Walk]:
    spot_side = Side.SELL if pos.spot_qty > 0 else Side.BUY
    perp_side = Side.SELL if pos.perp_qty > 0 else Side.BUY
    ws = walk(pair.spot, tops.spot, spot_side, abs(pos.spot_qty))
    wp = walk(pair.perp, tops.perp, perp_side, abs(pos.perp_qty))
    return ws, wp


def _avg_px(fills: Sequence[BasisFill], key: Key) -> int:
    q = sum(f.qty for f in fills if (f.venue, f.symbol) == key)
    v = sum(f.px * f.qty for f in fills if (f.venue, f.symbol) == key)
    return (2 * v + q) // (2 * q) if q else 0


def _fee_quote(inst: Instrument, f: BasisFill) -> int:
    # A fee in the quote as is; in the base valued at the fill price (rounded up); else 0.
    if f.fee_ccy in (inst.quote, ""):
        return f.fee
    if f.fee_ccy == inst.base:
        return base_to_quote(inst, f.fee, f.px, round_up=True)
    return 0


def _apply_fills(pos: BasisPosition, pair: PairParams, fills: Sequence[BasisFill]) -> None:
    for f in fills:
        key = (f.venue, f.symbol)
        s = int(f.side)
        buy = f.side is Side.BUY
        if key == pair.spot_key:
            inst = pair.spot
            pos.spot_qty += s * f.qty
            pos.spot_flow -= s * quote_notional(inst, f.px, f.qty, round_up=buy)
        elif key == pair.perp_key:
            inst = pair.perp
            pos.perp_qty += s * f.qty
            if inst.inverse:
                pos.perp_flow += s * base_amount(inst, f.px, f.qty, round_up=not buy)
            else:
                pos.perp_flow -= s * quote_notional(inst, f.px, f.qty, round_up=buy)
        else:
            raise InvariantViolation(f"basis position {pos.id}: fill on {f.venue}:{f.symbol}")
        if f.fee_ccy:
            pos.fees[f.fee_ccy] = pos.fees.get(f.fee_ccy, 0) + f.fee
        pos.fees_quote += _fee_quote(inst, f)
