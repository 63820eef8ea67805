"""What the synthetic market is made of: assets, venues and their instruments.

Every number here is a model parameter, not a measurement; instrument metadata (tick, lot,
minimum size and notional) follows what each venue lists for the pair. Prices are in the quote
currency; rates are per second; ``*_bps`` are basis points of the price.
"""

from __future__ import annotations

import msgspec

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind

__all__ = [
    "ASSETS",
    "INSTRUMENTS",
    "SYMBOLS",
    "VENUES",
    "AssetSpec",
    "InstrumentSpec",
    "VenueSpec",
    "instrument_spec",
    "make_instrument",
]


class AssetSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Latent USDT price of one asset: geometric random walk plus Poisson jumps.

    ``corr`` is the correlation of its diffusion with BTC's; ``jump_beta`` scales the market
    jumps (shared by every asset) and ``idio_jump_rate`` adds jumps of its own.
    """

    name: str
    start: float
    vol: float
    corr: float = 1.0
    jump_beta: float = 1.0
    idio_jump_rate: float = 0.0


class VenueSpec(msgspec.Struct, frozen=True, kw_only=True):
    """How one venue quotes and publishes.

    ``lag_ms``: how late its quotes follow the latent diffusion; ``jump_delay_ms``: mean extra
    delay (exponential) before it reflects a jump; ``half_spread_bps``: half the quoted spread;
    ``noise_bps`` / ``noise_tau_s``: its own mean-reverting price offset; ``publish_ms``: book
    push interval; ``latency_ms`` / ``jitter_ms``: network latency to arb and its mean jitter;
    ``trade_rate``: public trades per second (for BTC; other pairs scale it).
    """

    name: str
    family: str  # "okx" | "binance-spot" | "binance-usdm"
    ws_url: str
    publish_ms: int
    lag_ms: float
    jump_delay_ms: float
    half_spread_bps: float
    noise_bps: float
    noise_tau_s: float
    latency_ms: float
    jitter_ms: float
    rest_latency_ms: float = 0.0
    trade_rate: float
    basis_bps: float = 0.0


class InstrumentSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One (venue, symbol): listing metadata and the shape of its synthetic depth.

    ``px_decimals`` / ``sz_decimals``: decimals the venue prints (0 = minimal, as OKX does);
    ``level_gap_bps``: mean price gap between adjacent levels near the top (it widens with
    depth); ``top_size_usd``: median size of a level at the top, in quote currency.
    """

    venue: str
    symbol: str
    venue_symbol: str
    kind: InstrumentKind
    tick_size: str
    lot_size: str
    min_size: str
    min_notional: str = "0"
    px_decimals: int = 0
    sz_decimals: int = 0
    level_gap_bps: float
    top_size_usd: float
    trade_scale: float = 1.0


ASSETS: dict[str, AssetSpec] = {
    "USDT": AssetSpec(name="USDT", start=1.0, vol=0.0),
    "BTC": AssetSpec(name="BTC", start=61800.0, vol=0.60),
    "ETH": AssetSpec(
        name="ETH", start=2650.0, vol=0.75, corr=0.8, jump_beta=1.2, idio_jump_rate=0.01
    ),
}

# Market-wide jumps: rate per second, median size and lognormal spread of the size.
JUMP_RATE = 0.04
JUMP_MEDIAN_BPS = 8.0
JUMP_SIGMA = 0.8
JUMP_MAX_BPS = 60.0

VENUES: dict[str, VenueSpec] = {
    "okx": VenueSpec(
        name="okx",
        family="okx",
        ws_url="wss://ws.okx.com:8443/ws/v5/public",
        publish_ms=100,
        lag_ms=30.0,
        jump_delay_ms=150.0,
        half_spread_bps=0.45,
        noise_bps=0.15,
        noise_tau_s=3.0,
        latency_ms=30.0,
        jitter_ms=2.0,
        trade_rate=3.0,
    ),
    "binance": VenueSpec(
        name="binance",
        family="binance-spot",
        ws_url="wss://stream.binance.com:9443/stream?streams=",
        publish_ms=100,
        lag_ms=0.0,
        jump_delay_ms=40.0,
        half_spread_bps=0.40,
        noise_bps=0.15,
        noise_tau_s=3.0,
        latency_ms=3.0,
        jitter_ms=1.0,
        rest_latency_ms=60.0,
        trade_rate=5.0,
    ),
    "binance-usdm": VenueSpec(
        name="binance-usdm",
        family="binance-usdm",
        ws_url="wss://fstream.binance.com/stream?streams=",
        publish_ms=50,
        lag_ms=0.0,
        jump_delay_ms=10.0,
        half_spread_bps=0.35,
        noise_bps=0.2,
        noise_tau_s=5.0,
        latency_ms=3.0,
        jitter_ms=1.0,
        rest_latency_ms=60.0,
        trade_rate=8.0,
        basis_bps=2.0,
    ),
}

_SPOT = InstrumentKind.SPOT
_PERP = InstrumentKind.PERP

INSTRUMENTS: dict[tuple[str, str], InstrumentSpec] = {
    (s.venue, s.symbol): s
    for s in (
        # OKX spot: minimal decimals on the wire ("30243.5", "0.06523858").
        InstrumentSpec(
            venue="okx", symbol="BTC-USDT", venue_symbol="BTC-USDT", kind=_SPOT,
            tick_size="0.1", lot_size="0.00000001", min_size="0.00001",
            level_gap_bps=0.04, top_size_usd=4000.0,
        ),
        InstrumentSpec(
            venue="okx", symbol="ETH-USDT", venue_symbol="ETH-USDT", kind=_SPOT,
            tick_size="0.01", lot_size="0.000001", min_size="0.001",
            level_gap_bps=0.05, top_size_usd=3000.0, trade_scale=0.8,
        ),
        InstrumentSpec(
            venue="okx", symbol="ETH-BTC", venue_symbol="ETH-BTC", kind=_SPOT,
            tick_size="0.00001", lot_size="0.000001", min_size="0.001",
            level_gap_bps=2.5, top_size_usd=0.03, trade_scale=0.2,
        ),
        # Binance spot: 8 decimals on the wire ("61737.63000000").
        InstrumentSpec(
            venue="binance", symbol="BTC-USDT", venue_symbol="BTCUSDT", kind=_SPOT,
            tick_size="0.01", lot_size="0.00001", min_size="0.00001", min_notional="5",
            px_decimals=8, sz_decimals=8, level_gap_bps=0.03, top_size_usd=6000.0,
        ),
        InstrumentSpec(
            venue="binance", symbol="ETH-USDT", venue_symbol="ETHUSDT", kind=_SPOT,
            tick_size="0.01", lot_size="0.0001", min_size="0.0001", min_notional="5",
            px_decimals=8, sz_decimals=8, level_gap_bps=0.04, top_size_usd=4000.0,
            trade_scale=0.8,
        ),
        InstrumentSpec(
            venue="binance", symbol="ETH-BTC", venue_symbol="ETHBTC", kind=_SPOT,
            tick_size="0.00001", lot_size="0.0001", min_size="0.0001", min_notional="0.0001",
            px_decimals=8, sz_decimals=8, level_gap_bps=2.5, top_size_usd=0.05,
            trade_scale=0.2,
        ),
        # Binance USD-M perpetuals: price and quantity precisions ("61800.20", "0.014").
        InstrumentSpec(
            venue="binance-usdm", symbol="BTC-USDT-PERP", venue_symbol="BTCUSDT", kind=_PERP,
            tick_size="0.10", lot_size="0.001", min_size="0.001", min_notional="100",
            px_decimals=2, sz_decimals=3, level_gap_bps=0.03, top_size_usd=20000.0,
        ),
        InstrumentSpec(
            venue="binance-usdm", symbol="ETH-USDT-PERP", venue_symbol="ETHUSDT", kind=_PERP,
            tick_size="0.01", lot_size="0.001", min_size="0.001", min_notional="20",
            px_decimals=2, sz_decimals=3, level_gap_bps=0.04, top_size_usd=15000.0,
            trade_scale=0.8,
        ),
    )
}  # fmt: skip

SYMBOLS: tuple[str, ...] = ("BTC-USDT", "ETH-USDT", "ETH-BTC")


def instrument_spec(venue: str, symbol: str) -> InstrumentSpec:
    """Return the spec of a spot ``symbol`` as listed on ``venue`` (perpetual on USD-M).

    Raises
    ------
    ValueError
        Unknown venue, unknown symbol, or a pair the venue does not list.
    """
    if venue not in VENUES:
        raise ValueError(f"synth: unknown venue {venue!r}; supported: {', '.join(VENUES)}")
    if symbol not in SYMBOLS:
        raise ValueError(f"synth: unknown symbol {symbol!r}; supported: {', '.join(SYMBOLS)}")
    listed = symbol + "-PERP" if VENUES[venue].family == "binance-usdm" else symbol
    spec = INSTRUMENTS.get((venue, listed))
    if spec is None:
        listed_here = [
            s for s in SYMBOLS if (venue, s) in INSTRUMENTS or (venue, s + "-PERP") in INSTRUMENTS
        ]
        raise ValueError(
            f"synth: venue {venue!r} does not list {symbol!r}; it lists {', '.join(listed_here)}"
        )
    return spec


def make_instrument(spec: InstrumentSpec) -> Instrument:
    """Return the ``Instrument`` (manifest metadata) of an instrument spec."""
    base, quote = spec.symbol.split("-")[:2]
    perp = spec.kind is InstrumentKind.PERP
    return Instrument.create(
        venue=spec.venue,
        symbol=spec.symbol,
        venue_symbol=spec.venue_symbol,
        kind=spec.kind,
        base=base,
        quote=quote,
        settle=quote if perp else "",
        tick_size=spec.tick_size,
        lot_size=spec.lot_size,
        min_size=spec.min_size,
        min_notional=spec.min_notional,
        contract_value_ccy=base if perp else "",
        source="synth",
    )
