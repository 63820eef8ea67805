"""Detector benchmarks: one ``SpatialDetector.on_book_update`` call per round.

Books: BTC-USDT on OKX (tick 0.1, lot 1e-8) and Binance (tick 0.01, lot 1e-5), 20 levels a side,
so every comparison rescales prices. Groups:

- ``detector: no cross`` (the common case, every book update): two venues, and three venues
  (two pairs to test); the floor beside them reads the same four tops with
  ``LocalBook.best_bid`` / ``best_ask``, which is what any detector must at least do.
- ``detector: refusals``: tops cross by less than both fees (``FEES_EXCEED_SPREAD``, still on
  the cheap path), and a real cross refused because the other book is stale.
- ``detector: cross``: a planted cross priced end to end (two-book walk over 7 + 7 levels, the
  depth walks, fees, haircut with a live volatility estimate, the ``Opportunity``).
- ``detector: volatility``: one ``Volatility.update`` with a new mid, what an update that moves
  the top adds to the no-cross path (an update that leaves the mid alone skips it).

Each benchmark asserts what the detector returned. ``extra_info["ns_per_call"]`` is the median.
"""

from __future__ import annotations

from typing import Any

from arb.core.book import LocalBook
from arb.core.detector import DetectorConfig
from arb.core.detector import SpatialDetector
from arb.core.detector import VenueParams
from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSpec
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import Volatility

_ONE = 10**AMOUNT_PRECISION  # one unit of an asset, as balances and notionals count it

SYM = "BTC-USDT"
T0 = 1_760_000_000_000_000_000
NOW = T0 + 2_000_000
Key = tuple[str, str]


def spot(venue: str, tick: str, lot: str) -> Instrument:
    return Instrument.create(
        venue=venue,
        symbol=SYM,
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=tick,
        lot_size=lot,
    )


OKX = spot("okx", "0.1", "0.00000001")
BINANCE = spot("binance", "0.01", "0.00001")
HUOBI = spot("huobi", "0.01", "0.000001")


def sync_of(inst: Instrument, best_bid: str, best_ask: str, ts: int = T0) -> BookSync:
    """20 levels a side, one tick apart, 0.25 BTC each, from the given tops."""
    tick = inst.tick_raw
    bid, ask = inst.px_to_raw(best_bid), inst.px_to_raw(best_ask)
    qty = inst.qty_to_raw("0.25")
    sync = BookSpec(NoSequenceRule()).new_sync(inst.venue, SYM)
    sync.on_snapshot(
        BookSnapshot(
            venue=inst.venue,
            symbol=SYM,
            channel="books",
            ts_event=ts,
            ts_recv=ts,
            bids=[(bid - i * tick, qty) for i in range(20)],
            asks=[(ask + i * tick, qty) for i in range(20)],
        )
    )
    return sync


def detector(*insts: Instrument) -> SpatialDetector:
    cfg = DetectorConfig(
        min_profit_quote="0.50",
        min_profit_bps=1.0,
        max_notional_quote="100000",
        haircut_sigmas=1.0,
        vol_prior_per_sqrt_s=1e-4,
        venues={
            "okx": VenueParams(taker_fee_ppm=800, order_latency_ms=25.0),
            "binance": VenueParams(taker_fee_ppm=750, order_latency_ms=35.0),
            "huobi": VenueParams(taker_fee_ppm=2000, order_latency_ms=60.0),
        },
    )
    return SpatialDetector(cfg, {i.key: i for i in insts})


BALANCES = {
    "okx": {"USDT": 10**6 * _ONE, "BTC": 10 * _ONE},
    "binance": {"USDT": 10**6 * _ONE, "BTC": 10 * _ONE},
    "huobi": {"USDT": 10**6 * _ONE, "BTC": 10 * _ONE},
}


def _ns(benchmark: Any) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # --benchmark-disable: nothing was timed
        benchmark.extra_info["ns_per_call"] = round(stats.stats.median * 1e9)


def _timed(benchmark: Any, fn: Any, *args: Any, iterations: int = 1_000) -> Any:
    # Many calls per round: one call is too short for the timer on its own.
    out = benchmark.pedantic(fn, args=args, rounds=100, iterations=iterations, warmup_rounds=2)
    _ns(benchmark)
    return out


def _run(benchmark: Any, det: SpatialDetector, venue: str, books: dict[Key, BookSync]) -> Any:
    return _timed(benchmark, det.on_book_update, venue, SYM, books, NOW, BALANCES)


# -- no cross -----------------------------------------------------------------------------


def test_no_cross_two_venues(benchmark: Any) -> None:
    benchmark.group = "detector: no cross"
    books = {
        OKX.key: sync_of(OKX, "60000.0", "60000.1"),
        BINANCE.key: sync_of(BINANCE, "60000.05", "60000.06"),
    }
    det = detector(OKX, BINANCE)
    assert _run(benchmark, det, "okx", books) is None
    assert det.last_refusal == "NO_CROSS"


def test_no_cross_three_venues(benchmark: Any) -> None:
    benchmark.group = "detector: no cross"
    books = {
        OKX.key: sync_of(OKX, "60000.0", "60000.1"),
        BINANCE.key: sync_of(BINANCE, "60000.05", "60000.06"),
        HUOBI.key: sync_of(HUOBI, "59999.99", "60000.08"),
    }
    det = detector(OKX, BINANCE, HUOBI)
    assert _run(benchmark, det, "okx", books) is None
    assert det.last_refusal == "NO_CROSS"


def read_tops(a: LocalBook, b: LocalBook) -> tuple[Any, ...]:
    return a.best_bid(), a.best_ask(), b.best_bid(), b.best_ask()


def test_floor_read_four_tops(benchmark: Any) -> None:
    benchmark.group = "detector: no cross"
    a, b = sync_of(OKX, "60000.0", "60000.1").book, sync_of(BINANCE, "60000.05", "60000.06").book
    tops = _timed(benchmark, read_tops, a, b)
    assert tops == (
        (600000, 25_000_000),
        (600001, 25_000_000),
        (6000005, 25_000),
        (6000006, 25_000),
    )


# -- refusals -----------------------------------------------------------------------------


def test_fees_exceed_spread(benchmark: Any) -> None:
    benchmark.group = "detector: refusals"
    # Binance bid 60010 > OKX ask 60000.1 by 1.65 bps; the fees are 15.5 bps.
    books = {
        OKX.key: sync_of(OKX, "60000.0", "60000.1"),
        BINANCE.key: sync_of(BINANCE, "60010.00", "60010.01"),
    }
    det = detector(OKX, BINANCE)
    assert _run(benchmark, det, "binance", books) is None
    assert det.last_refusal == "FEES_EXCEED_SPREAD"


def test_stale_book_refused(benchmark: Any) -> None:
    benchmark.group = "detector: refusals"
    books = {
        OKX.key: sync_of(OKX, "60000.0", "60000.1", ts=NOW - 5_000_000_000),
        BINANCE.key: sync_of(BINANCE, "60200.00", "60200.01"),
    }
    det = detector(OKX, BINANCE)
    assert _run(benchmark, det, "binance", books) is None
    assert det.last_refusal == "STALE_BOOK:okx:BTC-USDT"


# -- cross --------------------------------------------------------------------------------


def test_cross_priced(benchmark: Any) -> None:
    benchmark.group = "detector: cross"
    # OKX asks 60000.1, 60000.2, ... vs Binance bids 60150.00, 60149.99, ...: 25 bps at the top.
    # Fees 15.5 bps and a haircut of ~0.4 bps leave levels paying until the caps: 1.66 BTC
    # notional <= 100000 USDT.
    books = {
        OKX.key: sync_of(OKX, "59999.0", "60000.1"),
        BINANCE.key: sync_of(BINANCE, "60150.00", "60151.00"),
    }
    det = detector(OKX, BINANCE)
    opp = _run(benchmark, det, "binance", books)
    assert opp is not None, det.last_refusal_detail
    buy, sell = opp.legs
    assert (buy.venue, sell.venue) == ("okx", "binance")
    assert buy.qty == sell.qty * 1000
    assert sell.expected_notional <= 100_000 * _ONE
    assert opp.inputs["limited_by"] == "max_notional"
    assert opp.expected_profit == opp.gross_profit - opp.fees - opp.latency_haircut > 0
    assert (buy.side, sell.side) == (Side.BUY, Side.SELL)


# -- volatility ---------------------------------------------------------------------------


def test_volatility_update(benchmark: Any) -> None:
    benchmark.group = "detector: volatility"
    vol = Volatility(60_000_000_000)
    vol.update(T0, 1_200_001)
    state = [T0, 0]

    def update() -> None:
        # The mid moves by one tick every call, 1 ms apart.
        state[0] += 1_000_000
        state[1] ^= 1
        vol.update(state[0], 1_200_001 + state[1])

    _timed(benchmark, update)
    assert vol.last_ts == state[0]
    assert vol.sigma_per_sqrt_s() > 0.0
