"""Basis pricing primitives shared by the detector (``arb.core.basis``) and the position book
(``arb.core.basis_book``): directions and refusal codes, the per-pair constants, book tops and
staleness, exact-size walks of spot, linear and inverse books, the funding expected over a
horizon, and the entry sizing (top test, joint depth walk, lot rounding and hedge check).

Pure: no I/O, no clock. Rates are in ppb of notional (``R = 1e9``); money at
``AMOUNT_PRECISION`` in the spot's quote, rounded against us. The formulas are stated in
``arb.core.basis``. These names are internal to the basis modules (no stability promise);
``arb.core.basis`` re-exports ``BasisDirection`` and ``BasisRefusal``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from arb.core.book import LocalBook
from arb.core.contracts import Rounding
from arb.core.contracts import base_amount
from arb.core.contracts import hedge_contracts
from arb.core.contracts import pnl_currency
from arb.core.contracts import quote_notional
from arb.core.detector import VenueParams
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import PPM
from arb.core.numbers import POW10
from arb.core.opportunity import Leg
from arb.core.sizing import RATE_ONE
from arb.core.sizing import ceil_raw
from arb.core.sizing import common_lot
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import NS_PER_S

if TYPE_CHECKING:
    from arb.core.basis import BasisConfig

__all__ = [
    "NO_BOUND_HI",
    "NO_BOUND_LO",
    "NS_PER_MS",
    "UNIT",
    "BasisDirection",
    "BasisRefusal",
    "CostRates",
    "FundingEstimate",
    "Key",
    "PairParams",
    "R",
    "SizedLegs",
    "Tops",
    "Walk",
    "best_ask",
    "best_bid",
    "book_levels",
    "build_pairs",
    "ceil_rate",
    "depth_base",
    "half_spread_ppb",
    "opportunity_leg",
    "passing_directions",
    "read_tops",
    "size_legs",
    "stale_refusal",
    "walk",
    "walks_basis_ppb",
]

Key = tuple[str, str]
R = RATE_ONE
UNIT = POW10[AMOUNT_PRECISION]
NS_PER_MS = 1_000_000
_PPB_PER_BPS = 100_000


class BasisDirection(enum.StrEnum):
    LONG_SPOT = "long_spot"
    """The perp is rich: buy spot, sell (short) the perp."""
    SHORT_SPOT = "short_spot"
    """The perp is cheap: sell spot (from inventory), buy the perp."""

    @property
    def sign(self) -> int:
        """+1 for LONG_SPOT, -1 for SHORT_SPOT (the spot leg's side)."""
        return 1 if self is BasisDirection.LONG_SPOT else -1


class BasisRefusal(enum.StrEnum):
    """Why the detector returned ``None``. Book codes carry ``:<venue>:<symbol>``, balance
    codes ``:<venue>:<asset>``."""

    NO_PAIR = "NO_PAIR"
    BOOK_INVALID = "BOOK_INVALID"
    STALE_BOOK = "STALE_BOOK"
    NO_FUNDING = "NO_FUNDING"
    """A perp without a funding rate yet (``require_funding``)."""
    EXPIRED = "EXPIRED"
    """A dated future at or past its expiry."""
    MAX_POSITIONS = "MAX_POSITIONS"
    BELOW_MIN_ENTRY = "BELOW_MIN_ENTRY"
    """The basis does not pay fees, exit, funding and ``min_entry_bps`` (tops or walk)."""
    BELOW_MIN_PROFIT = "BELOW_MIN_PROFIT"
    HEDGE_MISMATCH = "HEDGE_MISMATCH"
    SIZE_BELOW_MIN = "SIZE_BELOW_MIN"
    NO_BALANCE = "NO_BALANCE"


# -- pairs ------------------------------------------------------------------------------------


class PairParams:
    """A spot/perp pair with every constant the pricing needs."""

    __slots__ = (
        "dated",
        "exit_ppb",
        "fee_p",
        "fee_s",
        "fixed_p",
        "fixed_s",
        "lat_p",
        "lat_s",
        "lot_base",
        "min_perp_notional",
        "min_perp_qty",
        "min_spot_notional",
        "min_spot_qty",
        "mismatch_bps",
        "mul_p",
        "mul_s",
        "name",
        "pc",
        "perp",
        "perp_key",
        "settle",
        "spot",
        "spot_key",
        "spot_unit",
    )

    def __init__(
        self,
        cfg: BasisConfig,
        name: str,
        spot: Instrument,
        perp: Instrument,
        vs: VenueParams,
        vp: VenueParams,
    ) -> None:
        _check_pair(name, spot, perp)
        self.name, self.spot, self.perp = name, spot, perp
        self.spot_key, self.perp_key = spot.key, perp.key
        self.dated = perp.kind is InstrumentKind.FUTURE
        self.fee_s, self.fee_p = vs.taker_fee_ppm, vp.taker_fee_ppm
        self.lat_s, self.lat_p = vs.order_latency_ms / 1_000.0, vp.order_latency_ms / 1_000.0
        pc = self.pc = max(spot.price_precision, perp.price_precision)
        self.mismatch_bps = cfg.max_hedge_mismatch_bps
        self.mul_s = POW10[pc - spot.price_precision]
        self.mul_p = POW10[pc - perp.price_precision]
        self.exit_ppb = round(cfg.exit_bps * _PPB_PER_BPS)
        ppb_per_ppm = R // PPM
        self.fixed_s = (
            2 * self.fee_s * ppb_per_ppm + self.exit_ppb + round(cfg.min_entry_bps * _PPB_PER_BPS)
        )
        self.fixed_p = 2 * self.fee_p * ppb_per_ppm
        self.spot_unit = POW10[AMOUNT_PRECISION - spot.size_precision]
        spot_lot = spot.lot_raw * self.spot_unit
        # Linear: one lot of both, in base; inverse: the spot lot (the perp's depends on price).
        self.lot_base = (
            spot_lot
            if perp.inverse
            else common_lot(spot_lot, base_amount(perp, 0, perp.lot_raw, round_up=False))
        )
        self.min_spot_qty = max(ceil_raw(spot.min_size, spot.size_precision), spot.lot_raw)
        self.min_perp_qty = max(ceil_raw(perp.min_size, perp.size_precision), perp.lot_raw)
        self.min_spot_notional = ceil_raw(spot.min_notional, AMOUNT_PRECISION)
        self.min_perp_notional = ceil_raw(perp.min_notional, AMOUNT_PRECISION)
        self.settle = perp.settle or pnl_currency(perp)


def _check_pair(name: str, spot: Instrument, perp: Instrument) -> None:
    if spot.kind is not InstrumentKind.SPOT or spot.inverse or spot.contract_value != "1":
        raise ValueError(f"pairs: {name}: {spot.venue}:{spot.symbol} is not spot")
    if perp.kind not in (InstrumentKind.PERP, InstrumentKind.FUTURE):
        raise ValueError(f"pairs: {name}: {perp.venue}:{perp.symbol} is not a perp or future")
    if perp.base != spot.base:
        raise ValueError(f"pairs: {name}: bases differ ({spot.base}, {perp.base})")
    if perp.quote != spot.quote and not (perp.inverse and perp.quote == "USD"):
        raise ValueError(
            f"pairs: {name}: quotes differ ({spot.quote}, {perp.quote}); only an inverse USD "
            "contract may face a spot quoted in another currency (taken at par)"
        )
    if spot.size_precision > AMOUNT_PRECISION or perp.size_precision > AMOUNT_PRECISION:
        raise ValueError(f"pairs: {name}: size precision above {AMOUNT_PRECISION}")


def build_pairs(
    cfg: BasisConfig,
    instruments: Mapping[Key, Instrument],
    venue_params: Mapping[str, VenueParams],
    default_venue: VenueParams,
) -> dict[str, PairParams]:
    out: dict[str, PairParams] = {}
    for p in cfg.pairs:
        skey, pkey = p.keys
        spot, perp = instruments.get(skey), instruments.get(pkey)
        if spot is None or perp is None:
            missing = p.spot if spot is None else p.perp
            raise ValueError(f"pairs: {p.name}: no instrument {missing}")
        vs = venue_params.get(skey[0], default_venue)
        vp = venue_params.get(pkey[0], default_venue)
        out[p.name] = PairParams(cfg, p.name, spot, perp, vs, vp)
    return out


# -- book helpers -----------------------------------------------------------------------------


def book_levels(sync: BookSync, taker: Side) -> Iterator[tuple[int, int]]:
    """``(px, qty)`` in the order a taker on ``taker`` side meets them."""
    book = sync.book
    yield from book.iter_asks() if taker is Side.BUY else book.iter_bids()


class Walk(msgspec.Struct, frozen=True, gc=False):
    """One leg walked for an exact size: quote notional, base amount, limit (worst) price."""

    qty: int
    notional: int
    base: int
    worst_px: int
    levels: int
    px_qty: int
    """sum(px * qty), raw."""


def walk(inst: Instrument, sync: BookSync, taker: Side, qty: int) -> Walk:
    """Walk ``qty`` (raw; contracts for a derivative) as a taker on ``taker`` side."""
    buy = taker is Side.BUY
    if not inst.inverse:
        w = sync.book.walk(taker, qty)
        notional = quote_notional(inst, w.notional, 1, round_up=buy)
        base = base_amount(inst, 0, w.qty, round_up=False)
        return Walk(w.qty, notional, base, w.worst_px, w.levels, w.notional)
    left, base, worst, levels, pq = qty, 0, 0, 0, 0
    for px, q in book_levels(sync, taker):
        if left <= 0:
            break
        take = min(q, left)
        base += base_amount(inst, px, take, round_up=False)
        pq += px * take
        left -= take
        worst = px
        levels += 1
    filled = qty - left
    notional = quote_notional(inst, 0, filled, round_up=buy)
    return Walk(filled, notional, base, worst, levels, pq)


def ceil_rate(amount: int, ppb: int) -> int:
    return -(-amount * ppb // R)


def half_spread_ppb(bid: int, ask: int) -> int:
    return -(-(ask - bid) * R // (ask + bid))


class Tops(msgspec.Struct, frozen=True, gc=False):
    """Both books of a pair and their best prices (raw, each at its own precision)."""

    spot: BookSync
    perp: BookSync
    s_bid: int
    s_ask: int
    p_bid: int
    p_ask: int


def read_tops(pair: PairParams, books: Mapping[Key, BookSync]) -> Tops | tuple[str, str]:
    """The pair's tops, or the ``BOOK_INVALID`` refusal ``(code, detail)`` of a book."""
    syncs = []
    for key in (pair.spot_key, pair.perp_key):
        sync = books.get(key)
        if sync is None or not sync.valid or not sync.book.bids or not sync.book.asks:
            why = "no book" if sync is None else (sync.last_failure or "not synced or one-sided")
            code = f"{BasisRefusal.BOOK_INVALID.value}:{key[0]}:{key[1]}"
            return code, f"{key[0]} {key[1]}: {why}"
        syncs.append(sync)
    s, p = syncs
    sb, pb = s.book, p.book
    return Tops(s, p, best_bid(sb), best_ask(sb), best_bid(pb), best_ask(pb))


def best_bid(book: LocalBook) -> int:
    # O(1) without method calls: the bid SortedList's ``_maxes`` (as LocalBook.best_bid).
    return int(book.bid_prices._maxes[-1])


def best_ask(book: LocalBook) -> int:
    return int(book.ask_prices._lists[0][0])


def stale_refusal(
    pair: PairParams, tops: Tops, now_ns: int, max_age_ns: int
) -> tuple[str, str] | None:
    for key, sync in ((pair.spot_key, tops.spot), (pair.perp_key, tops.perp)):
        age = now_ns - sync.book.ts_recv
        if age > max_age_ns:
            return (
                f"{BasisRefusal.STALE_BOOK.value}:{key[0]}:{key[1]}",
                f"{key[0]} {key[1]} book was received {age / NS_PER_MS:.3f} ms ago",
            )
    return None


def walks_basis_ppb(ws: Walk, wp: Walk) -> int:
    """``(perp quote per base) / (spot quote per base) - 1`` in ppb, on two walks."""
    num = wp.notional * ws.base - wp.base * ws.notional
    den = wp.base * ws.notional
    return num * R // den if den else 0


def opportunity_leg(inst: Instrument, side: Side, w: Walk, fee: int) -> Leg:
    return Leg(
        venue=inst.venue,
        symbol=inst.symbol,
        side=side,
        px=w.worst_px,
        qty=w.qty,
        expected_notional=w.notional,
        fee=fee,
    )


# -- funding ----------------------------------------------------------------------------------


DEFAULT_FUNDING_INTERVAL_NS = 8 * 3_600 * NS_PER_S


class FundingEstimate:
    """The latest funding rates of one perp and when they settle."""

    __slots__ = ("interval_ns", "predicted_ppb", "rate_ppb", "time_ns")

    def __init__(self, ev: FundingRate, predicted_ppb: int | None) -> None:
        self.rate_ppb = ev.rate_ppb
        self.predicted_ppb = predicted_ppb
        self.time_ns = ev.funding_time_ns
        iv = ev.next_funding_time_ns - ev.funding_time_ns
        self.interval_ns = iv if iv > 0 else DEFAULT_FUNDING_INTERVAL_NS

    def expected_ppb(self, now_ns: int, end_ns: int) -> int:
        """Sum of the rates expected at the settlements in ``(now, end]``."""
        t0, iv = self.time_ns, self.interval_ns
        k0 = 0 if t0 > now_ns else (now_ns - t0) // iv + 1
        if end_ns < t0 + k0 * iv:
            return 0
        n = (end_ns - t0) // iv - k0 + 1
        est = self.rate_ppb if self.predicted_ppb is None else self.predicted_ppb
        first = self.rate_ppb if k0 == 0 else est
        return first + (n - 1) * est

    def expected_span(self, now_ns: int, horizon_ns: int) -> tuple[int, int, int]:
        """``(expected_ppb(now, now + horizon), lo, hi)``: the same sum holds for every ``now``
        in ``[lo, hi)``, so a caller may keep it until ``now`` leaves that span.

        The sum depends only on the first settlement after ``now`` (``k0``) and the last one
        at or before ``now + horizon`` (``m``): ``now`` keeps both while it stays before the
        next settlement and the window's end does not reach the one after ``m``."""
        t0, iv = self.time_ns, self.interval_ns
        if t0 > now_ns:
            lo, hi = NO_BOUND_LO, t0
        else:
            k0 = (now_ns - t0) // iv + 1
            lo, hi = t0 + (k0 - 1) * iv, t0 + k0 * iv
        m = (now_ns + horizon_ns - t0) // iv
        lo = max(lo, t0 + m * iv - horizon_ns)
        hi = min(hi, t0 + (m + 1) * iv - horizon_ns)
        return self.expected_ppb(now_ns, now_ns + horizon_ns), lo, hi


NO_BOUND_LO = -(1 << 127)
NO_BOUND_HI = 1 << 127


# -- sizing -----------------------------------------------------------------------------------


class SizedLegs(msgspec.Struct, frozen=True, gc=False):
    """Both legs walked for one hedged size."""

    spot: Walk
    perp: Walk


class CostRates(msgspec.Struct, frozen=True, gc=False):
    """Per-unit cost rates (ppb) of the spot and perp legs for one direction."""

    a_s: int
    a_p: int
    hs_s: int
    hs_p: int
    h_s: int
    h_p: int
    funding: int
    horizon_ns: int
    sigma_s: float
    sigma_p: float
    age_s: int
    age_p: int


def passing_directions(pair: PairParams, tops: Tops, funding: int) -> list[BasisDirection]:
    """The directions whose tops pay fees both ways, half spreads, exit level, min entry and
    funding (no haircut yet): rates in ppb, prices on the pair's common scale."""
    hs_s = half_spread_ppb(tops.s_bid, tops.s_ask)
    hs_p = half_spread_ppb(tops.p_bid, tops.p_ask)
    a_s = pair.fixed_s + hs_s
    a_p = pair.fixed_p + hs_p
    out = []
    if tops.p_bid * pair.mul_p * (R - a_p + funding) > tops.s_ask * pair.mul_s * (R + a_s):
        out.append(BasisDirection.LONG_SPOT)
    if tops.s_bid * pair.mul_s * (R - a_s) > tops.p_ask * pair.mul_p * (R + a_p + funding):
        out.append(BasisDirection.SHORT_SPOT)
    return out


def _side_base(inst: Instrument, unit: int, px: int, qty: int) -> int:
    # Base amount (AMOUNT_PRECISION) of one book level: spot/linear exact, inverse rounded down.
    if inst.kind is InstrumentKind.SPOT:
        return qty * unit
    return base_amount(inst, px, qty, round_up=False)


def depth_base(pair: PairParams, d: BasisDirection, tops: Tops, rates: CostRates, cap: int) -> int:
    """Base (AMOUNT_PRECISION) taken by walking both books together while the marginal unit
    pays every rate, up to ``cap``."""
    long = d is BasisDirection.LONG_SPOT
    spot_taker = Side.BUY if long else Side.SELL
    s_it = book_levels(tops.spot, spot_taker)
    p_it = book_levels(tops.perp, spot_taker.opposite)
    unit = pair.spot_unit
    s_lvl, p_lvl = next(s_it, None), next(p_it, None)
    s_left = _side_base(pair.spot, unit, *s_lvl) if s_lvl else 0
    p_left = _side_base(pair.perp, unit, *p_lvl) if p_lvl else 0
    rs_buy, rp_sell = R + rates.a_s, R - rates.a_p
    rs_sell, rp_buy = R - rates.a_s, R + rates.a_p
    taken = 0
    while s_lvl is not None and p_lvl is not None and taken < cap:
        sp, pp = s_lvl[0] * pair.mul_s, p_lvl[0] * pair.mul_p
        pays = pp * rp_sell > sp * rs_buy if long else sp * rs_sell > pp * rp_buy
        if not pays:
            break
        take = min(s_left, p_left, cap - taken)
        taken += take
        s_left -= take
        p_left -= take
        if s_left <= 0:
            s_lvl = next(s_it, None)
            s_left = _side_base(pair.spot, unit, *s_lvl) if s_lvl else 0
        if p_left <= 0:
            p_lvl = next(p_it, None)
            p_left = _side_base(pair.perp, unit, *p_lvl) if p_lvl else 0
    return taken


def size_legs(
    pair: PairParams, d: BasisDirection, tops: Tops, q: int
) -> SizedLegs | tuple[str, str]:
    """Round ``q`` (base) to the lots, walk both legs for it and check the hedge and minimums."""
    spot_side = Side.BUY if d is BasisDirection.LONG_SPOT else Side.SELL
    perp_side = spot_side.opposite
    spot, perp = pair.spot, pair.perp
    if perp.inverse:
        ref = tops.p_bid if perp_side is Side.SELL else tops.p_ask
        contracts = hedge_contracts(perp, q, ref, Rounding.DOWN)
        if contracts < pair.min_perp_qty:
            return _below_min(pair, f"{contracts} contracts")
        wp = walk(perp, tops.perp, perp_side, contracts)
        lot = pair.lot_base
        spot_qty = (2 * wp.base + lot) // (2 * lot) * spot.lot_raw
    else:
        q -= q % pair.lot_base
        if q == 0:
            return (
                BasisRefusal.HEDGE_MISMATCH.value,
                f"{pair.name}: no size up to the cap is a whole number of both lots "
                f"({pair.lot_base} base at 1e-{AMOUNT_PRECISION})",
            )
        contracts = hedge_contracts(perp, q, 0, Rounding.DOWN)
        spot_qty = q // pair.spot_unit
        wp = walk(perp, tops.perp, perp_side, contracts)
    if spot_qty < pair.min_spot_qty or contracts < pair.min_perp_qty:
        return _below_min(pair, f"spot {spot_qty}, {contracts} contracts")
    ws = walk(spot, tops.spot, spot_side, spot_qty)
    if ws.qty != spot_qty or wp.qty != contracts:
        return _below_min(pair, f"depth for spot {spot_qty} / {contracts} contracts")
    if ws.notional < pair.min_spot_notional or wp.notional < pair.min_perp_notional:
        return _below_min(pair, f"notional {ws.notional} / {wp.notional}")
    mismatch = abs(wp.base - ws.base)
    if mismatch * 10_000 > pair.mismatch_bps * ws.base:
        return (
            BasisRefusal.HEDGE_MISMATCH.value,
            f"{pair.name}: spot {ws.base} vs perp {wp.base} base (1e-{AMOUNT_PRECISION}) differ "
            f"by more than {pair.mismatch_bps} bps",
        )
    return SizedLegs(ws, wp)


def _below_min(pair: PairParams, what: str) -> tuple[str, str]:
    return BasisRefusal.SIZE_BELOW_MIN.value, f"{pair.name}: {what} is below the minimum"
