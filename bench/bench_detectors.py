"""Cost of the detectors per book update: spatial alone (the baseline), triangular alone, and
both on the same update, measured in the same run.

Market: OKX BTC-USDT, ETH-BTC, ETH-USDT (one triangle, two cycles) and Binance BTC-USDT (one
spatial pair with OKX), 20 levels a side. The update is OKX BTC-USDT, the book every detector
looks at: the spatial detector tests its pair, the triangular detector both cycles.

Groups:

- ``detectors: one update, nothing to trade`` (the common case): spatial alone, triangular
  alone, spatial + triangular; the ratio of the last to the first is what enabling
  triangular costs on every update.
- ``detectors: triangular priced``: a planted mispricing priced end to end (the three-book
  walk, the exact chain with lot rounding, the ``Opportunity``).

- ``detectors: all three``: spatial + triangular + basis (OKX BTC-USDT against the OKX
  BTC-USDT-SWAP linear perpetual, 0.01 BTC a contract, funding known) on the same OKX
  BTC-USDT update, nothing to trade: the cost of running every strategy on a book that all
  of them watch. DESIGN §6's target is the whole frame -> decision path (<= 8 us median);
  ``bench/compare_pipeline.py`` measures that path with the spatial detector.

Each benchmark asserts what the detectors returned. ``extra_info["ns_per_call"]`` is the
median.
"""

from __future__ import annotations

from typing import Any

from arb.core.basis import BasisConfig
from arb.core.basis import BasisDetector
from arb.core.basis import BasisPair
from arb.core.detector import DetectorConfig
from arb.core.detector import SpatialDetector
from arb.core.detector import VenueParams
from arb.core.events import BookSnapshot
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.opportunity import Opportunity
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSpec
from arb.core.sync import BookSync
from arb.core.triangular import TriangularConfig
from arb.core.triangular import TriangularDetector

_ONE = 10**AMOUNT_PRECISION
T0 = 1_760_000_000_000_000_000
NOW = T0 + 2_000_000
Key = tuple[str, str]


def spot(venue: str, symbol: str, tick: str, lot: str) -> Instrument:
    base, quote = symbol.split("-")
    return Instrument.create(
        venue=venue,
        symbol=symbol,
        venue_symbol=symbol,
        kind=InstrumentKind.SPOT,
        base=base,
        quote=quote,
        tick_size=tick,
        lot_size=lot,
    )


OKX_BTC = spot("okx", "BTC-USDT", "0.1", "0.00000001")
OKX_ETHBTC = spot("okx", "ETH-BTC", "0.00001", "0.000001")
OKX_ETH = spot("okx", "ETH-USDT", "0.01", "0.000001")
BINANCE_BTC = spot("binance", "BTC-USDT", "0.01", "0.00001")
OKX_SWAP = Instrument.create(
    venue="okx",
    symbol="BTC-USDT-PERP",
    venue_symbol="BTC-USDT-SWAP",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USDT",
    settle="USDT",
    tick_size="0.1",
    lot_size="0.01",
    contract_value="0.01",
    contract_value_ccy="BTC",
)
INSTRUMENTS = {i.key: i for i in (OKX_BTC, OKX_ETHBTC, OKX_ETH, BINANCE_BTC, OKX_SWAP)}

VENUES = {
    "okx": VenueParams(taker_fee_ppm=1_000, order_latency_ms=25.0),
    "binance": VenueParams(taker_fee_ppm=1_000, order_latency_ms=35.0),
}
BALANCES = {
    v: {"USDT": 10**6 * _ONE, "BTC": 10 * _ONE, "ETH": 200 * _ONE} for v in ("okx", "binance")
}


def sync_of(inst: Instrument, best_bid: str, best_ask: str, size: str) -> BookSync:
    """20 levels a side, one tick apart, ``size`` each, from the given tops."""
    tick = inst.tick_raw
    bid, ask = inst.px_to_raw(best_bid), inst.px_to_raw(best_ask)
    qty = inst.qty_to_raw(size)
    sync = BookSpec(NoSequenceRule()).new_sync(inst.venue, inst.symbol)
    sync.on_snapshot(
        BookSnapshot(
            venue=inst.venue,
            symbol=inst.symbol,
            channel="books",
            ts_event=T0,
            ts_recv=T0,
            bids=[(bid - i * tick, qty) for i in range(20)],
            asks=[(ask + i * tick, qty) for i in range(20)],
        )
    )
    return sync


def books(eth_usdt: tuple[str, str] = ("2499.99", "2500.00")) -> dict[Key, BookSync]:
    return {
        OKX_BTC.key: sync_of(OKX_BTC, "60000.0", "60000.1", "0.25"),
        OKX_ETHBTC.key: sync_of(OKX_ETHBTC, "0.04166", "0.04167", "2"),
        OKX_ETH.key: sync_of(OKX_ETH, *eth_usdt, "2"),
        BINANCE_BTC.key: sync_of(BINANCE_BTC, "60000.05", "60000.06", "0.25"),
        OKX_SWAP.key: sync_of(OKX_SWAP, "60001.0", "60001.1", "25"),
    }


def spatial() -> SpatialDetector:
    cfg = DetectorConfig(
        max_notional_quote="100000", vol_prior_per_sqrt_s=1e-4, venues=dict(VENUES)
    )
    return SpatialDetector(cfg, INSTRUMENTS)


def triangular() -> TriangularDetector:
    cfg = TriangularConfig(
        venues=["okx"], quote="USDT", max_notional_quote="2000", vol_prior_per_sqrt_s=1e-4
    )
    return TriangularDetector(cfg, INSTRUMENTS, VENUES)


def basis() -> BasisDetector:
    cfg = BasisConfig(
        pairs=[BasisPair(spot="okx:BTC-USDT", perp="okx:BTC-USDT-PERP")],
        horizon_h=8.0,
        max_notional_quote="2000",
        vol_prior_per_sqrt_s=1e-4,
    )
    det = BasisDetector(cfg, INSTRUMENTS, VENUES)
    det.on_funding(
        FundingRate(
            venue="okx",
            symbol="BTC-USDT-PERP",
            rate_ppb=100_000,
            funding_time_ns=T0 + 3_600 * 10**9,
            next_funding_time_ns=T0 + 9 * 3_600 * 10**9,
            ts_event=T0,
            ts_recv=T0,
        )
    )
    return det


def _timed(benchmark: Any, fn: Any, *args: Any, iterations: int = 1_000) -> Any:
    out = benchmark.pedantic(fn, args=args, rounds=100, iterations=iterations, warmup_rounds=2)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # --benchmark-disable: nothing was timed
        benchmark.extra_info["ns_per_call"] = round(stats.stats.median * 1e9)
    return out


# -- one update, nothing to trade ---------------------------------------------------------


def test_spatial_alone(benchmark: Any) -> None:
    benchmark.group = "detectors: one update, nothing to trade"
    b = books()
    det = spatial()
    assert _timed(benchmark, det.on_book_update, "okx", "BTC-USDT", b, NOW, BALANCES) is None
    assert det.last_refusal == "NO_CROSS"


def test_triangular_alone(benchmark: Any) -> None:
    benchmark.group = "detectors: one update, nothing to trade"
    b = books()
    det = triangular()
    assert _timed(benchmark, det.on_book_update, "okx", "BTC-USDT", b, NOW, BALANCES) is None
    assert det.last_refusal in ("NO_EDGE", "FEES_EXCEED_EDGE")


def test_spatial_and_triangular(benchmark: Any) -> None:
    benchmark.group = "detectors: one update, nothing to trade"
    b = books()
    sp, tri = spatial(), triangular()

    def both() -> tuple[Opportunity | None, Opportunity | None]:
        return (
            sp.on_book_update("okx", "BTC-USDT", b, NOW, BALANCES),
            tri.on_book_update("okx", "BTC-USDT", b, NOW, BALANCES),
        )

    assert _timed(benchmark, both) == (None, None)
    assert sp.last_refusal == "NO_CROSS"
    assert tri.last_refusal in ("NO_EDGE", "FEES_EXCEED_EDGE")


def test_basis_alone(benchmark: Any) -> None:
    benchmark.group = "detectors: one update, nothing to trade"
    b = books()
    det = basis()
    assert _timed(benchmark, det.on_book_update, "okx", "BTC-USDT", b, NOW, BALANCES) is None
    assert det.last_refusal == "BELOW_MIN_ENTRY"


def test_spatial_triangular_basis(benchmark: Any) -> None:
    benchmark.group = "detectors: one update, nothing to trade"
    b = books()
    sp, tri, ba = spatial(), triangular(), basis()

    def all_three() -> tuple[Opportunity | None, ...]:
        return (
            sp.on_book_update("okx", "BTC-USDT", b, NOW, BALANCES),
            tri.on_book_update("okx", "BTC-USDT", b, NOW, BALANCES),
            ba.on_book_update("okx", "BTC-USDT", b, NOW, BALANCES),
        )

    assert _timed(benchmark, all_three) == (None, None, None)
    assert ba.last_refusal == "BELOW_MIN_ENTRY"


# -- triangular priced --------------------------------------------------------------------


def test_triangular_priced(benchmark: Any) -> None:
    benchmark.group = "detectors: triangular priced"
    # ETH-USDT bid 2530 against 0.04167 BTC x 60000.1 = 2500.2 USDT: 1.2% before fees.
    b = books(("2530.00", "2530.01"))
    det = triangular()
    opp = _timed(benchmark, det.on_book_update, "okx", "BTC-USDT", b, NOW, BALANCES, iterations=50)
    assert opp is not None, det.last_refusal_detail
    assert opp.symbol == "USDT>BTC>ETH>USDT"
    assert opp.expected_profit > 0
