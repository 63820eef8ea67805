"""The no-trade fast paths of the basis and triangular detectors decide as their full paths.

Basis: ``BasisDetector`` tests the tops on bound book lists, with the funding expectation
cached over the span of ``now`` it holds for (``FundingEstimate.expected_span``); a twin whose
fast test always defers to the full ``_evaluate`` must return the same opportunities and
refusals, step by step, across settlements, funding updates and replaced books.

Triangular: ``_Triangle.quiet`` may only say "neither cycle pays" where ``edges`` says
``(-1, -1)``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.basis import BasisConfig
from arb.core.basis import BasisDetector
from arb.core.basis import BasisPair
from arb.core.basis_pricing import FundingEstimate
from arb.core.detector import VenueParams
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.sync import BookSync
from arb.core.triangular import TriangularConfig
from arb.core.triangular import TriangularDetector
from tests.unit import markets
from tests.unit.markets import OKX_BTC
from tests.unit.markets import OKX_SWAP

pytestmark = pytest.mark.unit

T0 = 1_760_000_000 * 10**9
HOUR = 3_600 * 10**9
MS = 10**6
Key = tuple[str, str]


def spot(symbol: str, tick: str, lot: str) -> Instrument:
    return markets.spot(symbol, tick, lot, min_size="0")


BTC = OKX_BTC
ETHBTC = spot("ETH-BTC", "0.00001", "0.000001")
BTCETH = spot("BTC-ETH", "0.001", "0.000001")
ETH = spot("ETH-USDT", "0.01", "0.000001")
SWAP = OKX_SWAP
VENUES = {"okx": VenueParams(taker_fee_ppm=1_000, order_latency_ms=25.0)}


def sync_of(inst: Instrument, bid: int, ask: int, ts: int = T0) -> BookSync:
    """Three levels a side from the raw tops, one tick apart."""
    return markets.sync_of_tops(inst, bid, ask, ts)


# -- basis --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    t0=st.integers(-20 * HOUR, 20 * HOUR),
    iv=st.sampled_from([HOUR, 4 * HOUR, 8 * HOUR]),
    horizon=st.integers(1, 50 * HOUR),
    rate=st.integers(-(10**6), 10**6),
    predicted=st.none() | st.integers(-(10**6), 10**6),
    nows=st.lists(st.integers(0, 60 * HOUR), min_size=1, max_size=20),
)
def test_funding_span_holds_the_expected_sum_over_its_span(
    t0: int, iv: int, horizon: int, rate: int, predicted: int | None, nows: list[int]
) -> None:
    ev = FundingRate(
        venue="okx",
        symbol="BTC-USDT-PERP",
        rate_ppb=rate,
        funding_time_ns=t0,
        next_funding_time_ns=t0 + iv,
        ts_event=0,
        ts_recv=0,
    )
    f = FundingEstimate(ev, predicted)
    for now in nows:
        value, lo, hi = f.expected_span(now, horizon)
        assert lo <= now < hi
        assert value == f.expected_ppb(now, now + horizon)
        for t in (lo, hi - 1, (lo + hi) // 2):
            if t > -(10**30):
                assert f.expected_ppb(t, t + horizon) == value


def basis_detector(**kw: Any) -> BasisDetector:
    cfg = BasisConfig(
        pairs=[BasisPair(spot="okx:BTC-USDT", perp="okx:BTC-USDT-PERP")],
        horizon_h=8.0,
        max_notional_quote="2000",
        min_profit_quote="0.01",
        min_entry_bps=2.0,
        vol_prior_per_sqrt_s=1e-4,
        **kw,
    )
    return BasisDetector(cfg, {i.key: i for i in (BTC, SWAP)}, VENUES)


def full_path(det: BasisDetector) -> BasisDetector:
    det._tops_fail = lambda *a: False  # type: ignore[method-assign]
    return det


Step = tuple[int, int, int, int, int, int | None]
step = st.tuples(
    st.integers(0, 30 * HOUR),  # now after T0
    st.integers(1, 300),  # spot spread, ticks
    st.integers(-6_000, 6_000),  # perp mid - spot mid, ticks (+-1%)
    st.integers(1, 300),  # perp spread, ticks
    st.integers(-2_000 * MS, 0),  # book age (stale past 1 s)
    st.none() | st.integers(-3_000_000, 3_000_000),  # a new funding rate (ppb), or none
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(step, min_size=1, max_size=12),
    require_funding=st.booleans(),
    funding_first=st.booleans(),
)
def test_basis_fast_path_decides_as_the_full_path(
    steps: list[Step], require_funding: bool, funding_first: bool
) -> None:
    fast = basis_detector(require_funding=require_funding)
    full = full_path(basis_detector(require_funding=require_funding))
    balances = {"okx": {"USDT": 10**6 * 10**18, "BTC": 10 * 10**18}}
    mid = BTC.px_to_raw("60000.0")
    for i, (dt, s_spread, basis, p_spread, age, rate) in enumerate(steps):
        now = T0 + dt
        if rate is not None and (funding_first or i):
            ev = FundingRate(
                venue="okx",
                symbol="BTC-USDT-PERP",
                rate_ppb=rate,
                funding_time_ns=T0 + HOUR,
                next_funding_time_ns=T0 + 9 * HOUR,
                ts_event=now,
                ts_recv=now,
            )
            fast.on_funding(ev)
            full.on_funding(ev)
        ts = now + age
        books = {  # new BookSync objects every step: the fast path must re-bind
            BTC.key: sync_of(BTC, mid - s_spread // 2 - s_spread % 2, mid + s_spread // 2, ts),
            SWAP.key: sync_of(
                SWAP, mid + basis - p_spread // 2 - 1, mid + basis + p_spread // 2, ts
            ),
        }
        for key in (BTC.key, SWAP.key):
            got = fast.on_book_update(*key, books, now, balances)
            want = full.on_book_update(*key, books, now, balances)
            assert got == want
            if got is not None and want is not None and i % 3:  # mostly no position pending
                fast.book.abandon(got.id)
                full.book.abandon(want.id)
            assert (fast.last_refusal, fast.last_refusal_detail) == (
                full.last_refusal,
                full.last_refusal_detail,
            )


def test_basis_fast_path_follows_a_book_replaced_in_the_mapping() -> None:
    det = basis_detector()
    det.on_funding(
        FundingRate(
            venue="okx",
            symbol="BTC-USDT-PERP",
            rate_ppb=0,
            funding_time_ns=T0 + HOUR,
            next_funding_time_ns=T0 + 9 * HOUR,
            ts_event=T0,
            ts_recv=T0,
        )
    )
    mid = BTC.px_to_raw("60000.0")
    books = {BTC.key: sync_of(BTC, mid - 1, mid), SWAP.key: sync_of(SWAP, mid, mid + 1)}
    assert det.on_book_update(*BTC.key, books, T0 + MS) is None
    assert det.last_refusal == "BELOW_MIN_ENTRY"
    books[SWAP.key] = sync_of(SWAP, mid + 12_000, mid + 12_001)  # the perp 2% rich
    assert det.on_book_update(*SWAP.key, books, T0 + MS) is not None, det.last_refusal_detail


# -- triangular ---------------------------------------------------------------------------


def tri_books(btc: int, cross: int, eth: int, middle: Instrument) -> dict[Key, BookSync]:
    # Raw tops: BTC-USDT ``btc``, the middle pair ``cross``, ETH-USDT ``eth``; spread one tick.
    return {
        BTC.key: sync_of(BTC, btc, btc + 1),
        middle.key: sync_of(middle, cross, cross + 1),
        ETH.key: sync_of(ETH, eth, eth + 1),
    }


DETECTORS = {
    m.symbol: TriangularDetector(
        TriangularConfig(venues=["okx"], quote="USDT", max_notional_quote="2000"),
        {i.key: i for i in (BTC, m, ETH)},
        VENUES,
    )
    for m in (ETHBTC, BTCETH)
}


@settings(max_examples=400, deadline=None)
@given(
    middle=st.sampled_from([ETHBTC, BTCETH]),
    btc=st.integers(500_000, 700_000),
    cross=st.integers(1, 10**6),
    edge=st.integers(-40_000, 40_000),  # ETH-USDT off the implied price, ppm (+-4%)
)
def test_triangle_quiet_only_where_edges_says_neither_cycle_pays(
    middle: Instrument, btc: int, cross: int, edge: int
) -> None:
    if middle is ETHBTC:
        cross = 4_000 + cross % 1_000  # ETH-BTC ~0.04 at 1e-5
        implied = btc * 10 * cross / 10**5  # ETH-USDT at 1e-2
    else:
        cross = 20_000 + cross % 10_000  # BTC-ETH ~25 at 1e-3
        implied = btc * 10 * 1_000 / cross
    eth = max(1, round(implied * (1 + edge / 10**6)))
    books = tri_books(btc, cross, eth, middle)
    det = DETECTORS[middle.symbol]
    for t in det._tris[BTC.key]:
        if t.quiet(books.get):
            assert t.edges(books) == (-1, -1)


def test_triangle_quiet_follows_a_book_replaced_in_the_mapping() -> None:
    det = DETECTORS[ETHBTC.symbol]
    books = tri_books(600_000, 4_166, 249_999, ETHBTC)
    assert det.on_book_update(*BTC.key, books, T0) is None
    assert det.last_refusal == "NO_EDGE"
    books[ETH.key] = sync_of(ETH, 253_000, 253_001)  # ETH-USDT 1.2% above BTC x ETH-BTC
    assert det.on_book_update(*BTC.key, books, T0) is not None
