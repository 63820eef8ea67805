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

TODO(lead): add ``arb.core.basis.BasisDetector`` to the combined case once it exists (its
constructor was not settled when this was written; ``test_spatial_triangular_basis`` skips
until then).

Each benchmark asserts what the detectors returned. ``extra_info["ns_per_call"]`` is the
median.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from arb.core.detector import DetectorConfig
from arb.core.detector import SpatialDetector
from arb.core.detector import VenueParams
from arb.core.events import BookSnapshot
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
INSTRUMENTS = {i.key: i for i in (OKX_BTC, OKX_ETHBTC, OKX_ETH, BINANCE_BTC)}

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


@pytest.mark.skipif(
    importlib.util.find_spec("arb.core.basis") is None, reason="arb.core.basis not built yet"
)
def test_spatial_triangular_basis(benchmark: Any) -> None:  # pragma: no cover - TODO(lead)
    benchmark.group = "detectors: one update, nothing to trade"
    pytest.skip("TODO(lead): construct BasisDetector over a spot + perp book set here")


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
