"""Spatial detector properties on random books, precisions, fees, haircuts, balances and caps.

Whatever it is given, an opportunity's money adds up (profit == gross - fees - haircut), its legs
trade the same base quantity, a multiple of both lots and at least both minimums, within both
books' depth, balances and caps. A reference sizer written independently (segments of constant
prices, then a binary search over lot multiples with exact money) finds the same size and profit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.detector import DetectorConfig
from arb.core.detector import SpatialDetector
from arb.core.detector import VenueParams
from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import fee_amount
from arb.core.numbers import POW10
from arb.core.opportunity import Opportunity
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSpec
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import Volatility

pytestmark = pytest.mark.unit

SYM = "ETH-USDT"
T0 = 1_700_000_000_000_000_000
MS = 1_000_000
RATE_ONE = 10**9
HALFLIFE_MS = 60_000.0
UNIT = POW10[AMOUNT_PRECISION]  # one unit of an asset at AMOUNT_PRECISION

# (tick, lot): OKX-like, Binance-like, Huobi-like, coarse lots that do not divide each other,
# and two very fine ones whose notionals are finer than AMOUNT_PRECISION: lot decimals two short
# of it (4 + 16 > 18) and exactly at it, like an ERC-20 token (4 + 18 > 18).
SHAPES = [
    ("0.1", "0.00000001"),
    ("0.01", "0.00001"),
    ("0.01", "0.000001"),
    ("0.01", "0.0002"),
    ("0.01", "0.0003"),
    ("0.0001", "0." + "0" * (AMOUNT_PRECISION - 3) + "1"),
    ("0.0001", "0." + "0" * (AMOUNT_PRECISION - 1) + "1"),
]


def instrument(venue: str, tick: str, lot: str, min_size: str, min_notional: str) -> Instrument:
    return Instrument.create(
        venue=venue,
        symbol=SYM,
        venue_symbol="ETHUSDT",
        kind=InstrumentKind.SPOT,
        base="ETH",
        quote="USDT",
        tick_size=tick,
        lot_size=lot,
        min_size=min_size,
        min_notional=min_notional,
    )


@st.composite
def venue_book(draw: Any, venue: str, split: int) -> tuple[Instrument, BookSync, int]:
    tick, lot = draw(st.sampled_from(SHAPES))
    inst = instrument(
        venue,
        tick,
        lot,
        draw(st.sampled_from(["0", "0.001", "0.05"])),
        draw(st.sampled_from(["0", "1", "20"])),
    )
    pp, sp, lot_raw = inst.price_precision, inst.size_precision, inst.lot_raw
    # Prices in cents around ``split``, moved to the tick; the book itself never crosses.

    def side(best: int, step: int) -> dict[int, int]:
        # A level at ``best`` (most of the time), then up to 5 more further away.
        out: dict[int, int] = {}
        gaps = draw(st.lists(st.integers(0, 20), min_size=0, max_size=5))
        levels = [best] * draw(st.sampled_from([0, 1, 1, 1, 1, 1, 1, 1, 1, 1]))
        levels += [best + step * (1 + g) for g in gaps]
        for cents in levels:
            px = cents * POW10[pp] // 100
            units = draw(st.integers(1, 5_000)) * POW10[sp] // 10_000
            qty = (units + draw(st.integers(0, POW10[sp] // 10_000))) // lot_raw * lot_raw
            if qty:
                out[px] = qty
        return out

    bids = side(split - draw(st.integers(0, 5)), -1)
    asks = {px: q for px, q in side(split + draw(st.integers(1, 5)), 1).items() if px not in bids}
    if bids and asks and max(bids) >= min(asks):
        asks = {px: q for px, q in asks.items() if px > max(bids)}
    ts = T0 - draw(st.sampled_from([0, 1, 300, 1_500, 0, 1])) * MS  # 1.5 s is stale
    sync = BookSpec(NoSequenceRule()).new_sync(venue, SYM)
    sync.on_snapshot(
        BookSnapshot(
            venue=venue,
            symbol=SYM,
            channel="books",
            ts_event=ts,
            ts_recv=ts,
            bids=sorted(bids.items(), reverse=True),
            asks=sorted(asks.items()),
        )
    )
    return inst, sync, ts


@st.composite
def scenario(draw: Any) -> dict[str, Any]:
    # Venue b's prices sit above or below a's by up to 1%, so that many examples cross.
    split = draw(st.integers(9_950, 10_050))
    offset = draw(st.sampled_from([-1, 1])) * draw(st.integers(5, 100))
    a_inst, a_sync, _ = draw(venue_book("a", split))
    b_inst, b_sync, _ = draw(venue_book("b", split + offset))
    fees = st.sampled_from([0, 100, 1_000, 2_000])
    cfg = DetectorConfig(
        min_profit_quote=draw(st.sampled_from(["0", "0.000001", "0.01"])),
        min_profit_bps=draw(st.sampled_from([0.0, 5.0])),
        max_qty_base=draw(st.sampled_from(["", "0.3", "1"])),
        max_notional_quote=draw(st.sampled_from(["30", "1000000"])),
        max_quote_age_ms=1_000,
        haircut_sigmas=draw(st.sampled_from([0.0, 1.0, 3.0])),
        vol_halflife_ms=HALFLIFE_MS,
        vol_prior_per_sqrt_s=draw(st.sampled_from([0.0, 1e-4, 2e-3])),
        venues={
            "a": VenueParams(taker_fee_ppm=draw(fees), order_latency_ms=20.0),
            "b": VenueParams(taker_fee_ppm=draw(fees), order_latency_ms=70.0),
        },
    )
    amounts = st.sampled_from([0, UNIT // 100, 25 * UNIT, 10**8 * UNIT])
    balances = draw(
        st.none()
        | st.fixed_dictionaries(
            {
                "a": st.fixed_dictionaries({"USDT": amounts, "ETH": amounts}),
                "b": st.fixed_dictionaries({"USDT": amounts, "ETH": amounts}),
            }
        )
    )
    return {
        "insts": {a_inst.key: a_inst, b_inst.key: b_inst},
        "books": {a_inst.key: a_sync, b_inst.key: b_sync},
        "cfg": cfg,
        "balances": balances,
        "updated": draw(st.sampled_from(["a", "b"])),
    }


# -- the reference sizer --------------------------------------------------------------------


@dataclass
class Expected:
    qty: int  # common size scale
    cost: int
    proceeds: int
    fees: int
    haircut: int
    profit: int


def haircut_ppb(cfg: DetectorConfig, venue: str, sync: BookSync) -> int:
    # One observation per book (a fresh detector is called once): the estimate at T0.
    vol = Volatility(round(HALFLIFE_MS * MS), cfg.vol_prior_per_sqrt_s)
    book = sync.book
    bid, ask = book.best_bid(), book.best_ask()
    if bid and ask:
        vol.update(book.ts_recv, bid[0] + ask[0])
    age_s = (T0 - book.ts_recv) / 1e9
    latency_s = cfg.venue(venue).order_latency_ms / 1e3
    rate = cfg.haircut_sigmas * vol.sigma_per_sqrt_s(T0) * math.sqrt(latency_s + age_s)
    return math.ceil(rate * RATE_ONE)


def base_fits(qty: int, size_precision: int, balance: int) -> bool:
    """``qty`` (at ``size_precision``) <= ``balance`` (at AMOUNT_PRECISION), exactly."""
    shift = AMOUNT_PRECISION - size_precision
    return qty * POW10[max(shift, 0)] <= balance * POW10[max(-shift, 0)]


def money(notional: int, scale: int, *, up: bool) -> int:
    if scale <= AMOUNT_PRECISION:
        return notional * POW10[AMOUNT_PRECISION - scale]
    div = POW10[scale - AMOUNT_PRECISION]
    return -(-notional // div) if up else notional // div


def reference(s: dict[str, Any], buy: Instrument, sell: Instrument) -> Expected | None:  # noqa: C901
    cfg: DetectorConfig = s["cfg"]
    bsync, ssync = s["books"][buy.key], s["books"][sell.key]
    for sync in (bsync, ssync):
        if T0 - sync.book.ts_recv > cfg.max_quote_age_ms * MS:
            return None
    pp = max(buy.price_precision, sell.price_precision)
    sp = max(buy.size_precision, sell.size_precision)
    am, bm = POW10[pp - buy.price_precision], POW10[pp - sell.price_precision]
    aq, bq = POW10[sp - buy.size_precision], POW10[sp - sell.size_precision]
    fa, fb = cfg.venue(buy.venue).taker_fee_ppm, cfg.venue(sell.venue).taker_fee_ppm
    ha, hb = haircut_ppb(cfg, buy.venue, bsync), haircut_ppb(cfg, sell.venue, ssync)
    buy_rate, sell_rate = RATE_ONE + fa * 1000 + ha, RATE_ONE - fb * 1000 - hb
    # Segments of constant (ask, bid): cut both ladders at every level boundary.
    asks = [(p * am, q * aq) for p, q in bsync.book.iter_asks()]
    bids = [(p * bm, q * bq) for p, q in ssync.book.iter_bids()]
    cuts = sorted({c for ladder in (asks, bids) for c in _cumsum([q for _, q in ladder])})
    depth = min(sum(q for _, q in asks), sum(q for _, q in bids))
    q_depth = 0
    for lo, hi in zip([0, *cuts], cuts, strict=False):
        if hi > depth or hi <= lo:
            break
        ask, bid = _price_at(asks, lo), _price_at(bids, lo)
        if bid * sell_rate <= ask * buy_rate:
            break
        q_depth = hi
    lot = math.lcm(buy.lot_raw * aq, sell.lot_raw * bq)
    min_profit, cap, max_qty = cfg.parsed_limits(SYM, sp)
    scale = pp + sp
    if scale <= AMOUNT_PRECISION:
        cap_c = cap // POW10[AMOUNT_PRECISION - scale]
    else:
        cap_c = cap * POW10[scale - AMOUNT_PRECISION]
    bal = s["balances"]

    def fits(q: int) -> bool:
        cost_c = _notional(asks, q)
        if q > max_qty or cost_c > cap_c or _notional(bids, q) > cap_c:
            return False
        if bal is None:
            return True
        cost = money(cost_c, scale, up=True)
        base_ok = base_fits(q, sp, bal[sell.venue]["ETH"])
        return cost + fee_amount(cost, fa) <= bal[buy.venue]["USDT"] and base_ok

    lo_k, hi_k = 0, q_depth // lot  # largest k with fits(k * lot), fits is monotone
    while lo_k < hi_k:
        mid = (lo_k + hi_k + 1) // 2
        lo_k, hi_k = (mid, hi_k) if fits(mid * lot) else (lo_k, mid - 1)
    q = lo_k * lot
    min_qty = max(_ceil_size(buy.min_size, sp), _ceil_size(sell.min_size, sp), lot)
    if q < min_qty:
        return None
    cost = money(_notional(asks, q), scale, up=True)
    proceeds = money(_notional(bids, q), scale, up=False)
    if cost < _ceil_size(buy.min_notional, AMOUNT_PRECISION) or proceeds < _ceil_size(
        sell.min_notional, AMOUNT_PRECISION
    ):
        return None
    fees = fee_amount(cost, fa) + fee_amount(proceeds, fb)
    haircut = -(-cost * ha // RATE_ONE) + -(-proceeds * hb // RATE_ONE)
    profit = proceeds - cost - fees - haircut
    if profit <= 0 or profit < min_profit or profit * 10_000 < cfg.min_profit_bps * cost:
        return None
    return Expected(q, cost, proceeds, fees, haircut, profit)


def _cumsum(xs: list[int]) -> list[int]:
    out, t = [], 0
    for x in xs:
        t += x
        out.append(t)
    return out


def _price_at(ladder: list[tuple[int, int]], pos: int) -> int:
    t = 0
    for px, q in ladder:
        t += q
        if pos < t:
            return px
    raise AssertionError("beyond depth")


def _notional(ladder: list[tuple[int, int]], q: int) -> int:
    n = 0
    for px, lq in ladder:
        take = min(lq, q)
        n += px * take
        q -= take
    assert q == 0
    return n


def _ceil_size(s: str, prec: int) -> int:
    i = s.find(".")
    d = 0 if i < 0 else len(s) - i - 1
    raw = int(s.replace(".", ""))
    return raw * POW10[prec - d] if d <= prec else -(-raw // POW10[d - prec])


# -- the properties -------------------------------------------------------------------------


def check_invariants(s: dict[str, Any], opp: Opportunity) -> None:
    buy, sell = opp.legs
    insts, books = s["insts"], s["books"]
    bi, si = insts[(buy.venue, SYM)], insts[(sell.venue, SYM)]
    bsync, ssync = books[bi.key], books[si.key]
    assert (buy.side, sell.side) == (Side.BUY, Side.SELL)
    assert opp.gross_profit == sell.expected_notional - buy.expected_notional
    assert opp.fees == buy.fee + sell.fee
    assert opp.expected_profit == opp.gross_profit - opp.fees - opp.latency_haircut
    assert opp.expected_profit > 0
    sp = max(bi.size_precision, si.size_precision)
    q = buy.qty * POW10[sp - bi.size_precision]
    assert q == sell.qty * POW10[sp - si.size_precision]  # same base quantity
    assert buy.qty % bi.lot_raw == 0
    assert sell.qty % si.lot_raw == 0
    assert buy.qty <= sum(bsync.book.asks.values())
    assert sell.qty <= sum(ssync.book.bids.values())
    best_ask, best_bid = bsync.book.best_ask(), ssync.book.best_bid()
    assert best_ask is not None
    assert best_bid is not None
    assert buy.px >= best_ask[0]
    assert buy.px in bsync.book.asks
    assert sell.px <= best_bid[0]
    assert sell.px in ssync.book.bids
    # The limit prices take the whole size: nothing beyond them is needed.
    assert bsync.book.walk(Side.BUY, buy.qty, buy.px).qty == buy.qty
    assert ssync.book.walk(Side.SELL, sell.qty, sell.px).qty == sell.qty
    assert opp.id.isalnum()
    assert len(opp.id) <= 24
    bal = s["balances"]
    if bal is not None:
        assert buy.expected_notional + buy.fee <= bal[buy.venue]["USDT"]
        assert base_fits(sell.qty, si.size_precision, bal[sell.venue]["ETH"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_opportunities_add_up_and_match_the_reference(s):
    det = SpatialDetector(s["cfg"], s["insts"])
    opp = det.on_book_update(s["updated"], SYM, s["books"], T0, s["balances"])
    a, b = s["insts"][("a", SYM)], s["insts"][("b", SYM)]
    expected = reference(s, a, b) or reference(s, b, a)
    if opp is None:
        assert expected is None, det.last_refusal_detail
        assert det.last_refusal
        return
    check_invariants(s, opp)
    assert expected is not None
    buy = s["insts"][(opp.legs[0].venue, SYM)]
    sp = max(a.size_precision, b.size_precision)
    assert opp.legs[0].qty * POW10[sp - buy.size_precision] == expected.qty
    assert (opp.legs[0].expected_notional, opp.legs[1].expected_notional) == (
        expected.cost,
        expected.proceeds,
    )
    assert (opp.fees, opp.latency_haircut, opp.expected_profit) == (
        expected.fees,
        expected.haircut,
        expected.profit,
    )
