"""Instruments and book helpers shared by the unit tests.

Binance: spot BTC-USDT (tick 0.01, lot 1e-5), USD-M BTC-USDT-PERP (linear, sizes in BTC, tick
0.1, lot 0.001), COIN-M BTC-USD-PERP (inverse, 100 USD a contract, settled in BTC, tick 0.1,
lot 1). OKX: BTC-USDT-SWAP (linear, ctVal 0.01 BTC, tick 0.1) and spot pairs from ``spot``.
Amounts at AMOUNT_PRECISION: ``amt("...")``.
"""

from __future__ import annotations

from typing import Any

from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSpec
from arb.core.sync import BookSync

UNIT = 10**AMOUNT_PRECISION

Rows = list[tuple[str, str]]


def amt(s: str) -> int:
    return to_raw(s, AMOUNT_PRECISION)


# -- instruments --------------------------------------------------------------------------


def spot(
    symbol: str, tick: str, lot: str, venue: str = "okx", min_size: str | None = None, **kw: Any
) -> Instrument:
    """Spot ``BASE-QUOTE`` on ``venue`` (venue symbol = symbol); ``min_size`` defaults to a lot."""
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
        min_size=lot if min_size is None else min_size,
        **kw,
    )


def binance_spot(lot: str = "0.00001") -> Instrument:
    """Binance spot BTC-USDT: tick 0.01, lot 1e-5 unless said."""
    return Instrument.create(
        venue="binance",
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size="0.01",
        lot_size=lot,
    )


def okx_swap(
    lot: str = "0.01", settle: str = "USDT", contract_value_ccy: str = "BTC"
) -> Instrument:
    """OKX BTC-USDT-SWAP: linear, ctVal 0.01 BTC, tick 0.1, lot ``lot`` contracts."""
    return Instrument.create(
        venue="okx",
        symbol="BTC-USDT-PERP",
        venue_symbol="BTC-USDT-SWAP",
        kind=InstrumentKind.PERP,
        base="BTC",
        quote="USDT",
        settle=settle,
        tick_size="0.1",
        lot_size=lot,
        contract_value="0.01",
        contract_value_ccy=contract_value_ccy,
    )


BINANCE_SPOT = binance_spot()
# Binance USD-M BTCUSDT: linear, sizes in BTC (contract value 1), tick 0.1, lot 0.001.
USDM = Instrument.create(
    venue="binance-usdm",
    symbol="BTC-USDT-PERP",
    venue_symbol="BTCUSDT",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USDT",
    settle="USDT",
    tick_size="0.1",
    lot_size="0.001",
    contract_value_ccy="BTC",
)
# Binance COIN-M BTCUSD_PERP: inverse, one contract = 100 USD, settled in BTC, tick 0.1, lot 1.
COINM = Instrument.create(
    venue="binance-coinm",
    symbol="BTC-USD-PERP",
    venue_symbol="BTCUSD_PERP",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USD",
    settle="BTC",
    tick_size="0.1",
    lot_size="1",
    contract_value="100",
    contract_value_ccy="USD",
    inverse=True,
)
# OKX BTC-USDT-SWAP, lot 0.01 contracts.
OKX_SWAP = okx_swap()
# OKX spot, fine lots (no minimum size).
OKX_BTC = spot("BTC-USDT", "0.1", "0.00000001", min_size="0")
# OKX-like spot triangle (minimum size one lot): BTC-USDT, ETH-BTC, ETH-USDT.
TRI_BTC = spot("BTC-USDT", "0.1", "0.00001")
TRI_ETHBTC = spot("ETH-BTC", "0.00001", "0.001")
TRI_ETH = spot("ETH-USDT", "0.01", "0.001")


# -- books --------------------------------------------------------------------------------


def snapshot(
    inst: Instrument, bids: Rows, asks: Rows, ts: int, channel: str = "books"
) -> BookSnapshot:
    """A snapshot of ``inst`` from decimal-string (price, size) rows."""
    return BookSnapshot(
        venue=inst.venue,
        symbol=inst.symbol,
        channel=channel,
        ts_event=ts,
        ts_recv=ts,
        bids=[(inst.px_to_raw(p), inst.qty_to_raw(q)) for p, q in bids],
        asks=[(inst.px_to_raw(p), inst.qty_to_raw(q)) for p, q in asks],
    )


def book_sync(snap: BookSnapshot) -> BookSync:
    """A fresh unsequenced ``BookSync`` fed ``snap``."""
    sync = BookSpec(NoSequenceRule()).new_sync(snap.venue, snap.symbol)
    sync.on_snapshot(snap)
    return sync


def sync_of(inst: Instrument, bids: Rows, asks: Rows, ts: int) -> BookSync:
    """A valid ``BookSync`` of ``inst`` holding the given levels."""
    sync = book_sync(snapshot(inst, bids, asks, ts))
    assert sync.valid
    return sync


def sync_of_tops(inst: Instrument, bid: int, ask: int, ts: int) -> BookSync:
    """Three levels a side from the raw tops, one tick apart, 2 units each."""
    tick, qty = inst.tick_raw, inst.qty_to_raw("2")
    return book_sync(
        BookSnapshot(
            venue=inst.venue,
            symbol=inst.symbol,
            channel="books",
            ts_event=ts,
            ts_recv=ts,
            bids=[(bid - i * tick, qty) for i in range(3)],
            asks=[(ask + i * tick, qty) for i in range(3)],
        )
    )
