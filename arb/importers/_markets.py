"""Venue symbols of CSV sources -> arb venues, canonical symbols and inferred instruments.

CSV sources carry no instrument metadata, so instruments are inferred: tick and lot are
``10**-decimals`` of the most precise price and size seen; contract terms that the data
cannot tell (inverse, face value) come from the venue's published contract specifications.
Binance symbols are mapped by ``venues.binance``, OKX instIds by ``venues.okx``.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import NamedTuple

import msgspec

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.instruments import parse_symbol
from arb.core.symbols import split_concatenated
from arb.importers._base import step_of
from venues.binance import symbols as binance_symbols
from venues.binance.instruments import inferred_instrument
from venues.okx import symbols as okx_symbols

__all__ = ["Market", "binance", "bitmex", "deribit", "huobi_swap", "okx", "spot", "with_venue"]

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_NS = 1_000_000_000


class Market(NamedTuple):
    """One (venue, venue symbol) of a CSV source and what is known of its contract."""

    venue: str
    venue_symbol: str
    symbol: str
    terms: dict[str, object]
    """Instrument fields beyond the inferred tick and lot (``inverse``, ``contract_value``...)."""
    lot_size: str = ""
    """The venue's size step when it is not a power of ten (Deribit BTC: 10 USD)."""

    def instrument(self, price_precision: int, size_precision: int) -> Instrument:
        """Build the inferred instrument (``source="inferred"``) for these precisions."""
        if self.venue in binance_symbols.MARKETS:
            return inferred_instrument(
                self.venue, self.venue_symbol, price_precision, size_precision
            )
        base, quote, kind = parse_symbol(self.symbol)
        lot = self.lot_size if self.lot_size and size_precision == 0 else step_of(size_precision)
        return Instrument.create(
            venue=self.venue,
            symbol=self.symbol,
            venue_symbol=self.venue_symbol,
            kind=kind,
            base=base,
            quote=quote,
            tick_size=step_of(price_precision),
            lot_size=lot,
            price_precision=price_precision,
            size_precision=size_precision,
            source="inferred",
            **self.terms,
        )


def with_venue(inst: Instrument, venue: str) -> Instrument:
    """Return ``inst`` listed under another venue id (``--venue`` overrides)."""
    return inst if inst.venue == venue else msgspec.structs.replace(inst, venue=venue)


def binance(venue: str, venue_symbol: str) -> Market:
    """Binance spot / USD-M / COIN-M; raises ``ValueError`` for a symbol of unknown shape."""
    symbol = binance_symbols.from_venue_symbol(venue, venue_symbol)
    return Market(venue, venue_symbol.upper(), symbol, {})


def spot(venue: str, venue_symbol: str) -> Market:
    """A spot pair written ``BTC-USDT``, ``BTC/USDT``, ``BTC_USDT`` or ``BTCUSDT``."""
    s = venue_symbol.upper()
    for sep in ("-", "/", "_"):
        if sep in s:
            base, _, quote = s.partition(sep)
            if not base or not quote or sep in quote:
                raise ValueError(f"{venue}: spot symbol {venue_symbol!r} is not BASE{sep}QUOTE")
            break
    else:
        base, quote = split_concatenated(s)
    return Market(venue, venue_symbol, f"{base}-{quote}", {})


def _inverse(base: str, contract_value: str) -> dict[str, object]:
    return {
        "settle": base,
        "contract_value": contract_value,
        "contract_value_ccy": "USD",
        "inverse": True,
    }


def _expiry(yyyymmdd: str, hour: int) -> int:
    day = datetime.strptime(yyyymmdd, "%Y%m%d").replace(hour=hour, tzinfo=UTC)
    return int(day.timestamp()) * _NS


def deribit(venue_symbol: str) -> Market:
    """Deribit inverse perpetuals and futures (``BTC-PERPETUAL``, ``ETH-25SEP20``).

    Deribit states inverse sizes in USD, so one unit of size is worth 1 USD; sizes step by
    the contract size (BTC 10 USD, ETH 1 USD). Futures expire at 08:00 UTC.
    """
    base, _, tail = venue_symbol.partition("-")
    if base not in ("BTC", "ETH") or not tail:
        raise ValueError(f"deribit: symbol {venue_symbol!r} is not BTC|ETH-PERPETUAL|-DDMMMYY")
    terms = _inverse(base, "1")
    lot = "10" if base == "BTC" else "1"
    terms["min_size"] = lot
    if tail == "PERPETUAL":
        return Market("deribit", venue_symbol, f"{base}-USD-PERP", terms, lot)
    day, mon, yy = tail[:-5], tail[-5:-2], tail[-2:]
    if not (day.isdigit() and mon in _MONTHS and yy.isdigit() and len(tail) in (6, 7)):
        raise ValueError(f"deribit: symbol {venue_symbol!r} is not BTC|ETH-PERPETUAL|-DDMMMYY")
    date = f"20{yy}{_MONTHS[mon]:02d}{int(day):02d}"
    terms["expiry_ns"] = _expiry(date, 8)
    return Market("deribit", venue_symbol, f"{base}-USD-{date}", terms, lot)


def bitmex(venue_symbol: str) -> Market:
    """BitMEX ``XBTUSD``: inverse perpetual, one contract = 1 USD (quanto and linear refused)."""
    if venue_symbol != "XBTUSD":
        raise ValueError(
            f"bitmex: symbol {venue_symbol!r} is not supported (only the inverse XBTUSD)"
        )
    return Market("bitmex", venue_symbol, "BTC-USD-PERP", _inverse("BTC", "1"))


def huobi_swap(venue_symbol: str) -> Market:
    """Huobi coin-margined swaps (``BTC-USD``): inverse, BTC 100 USD, others 10 USD."""
    base, sep, quote = venue_symbol.partition("-")
    if not base or sep != "-" or quote != "USD":
        raise ValueError(f"huobi-swap: symbol {venue_symbol!r} is not BASE-USD")
    cv = "100" if base == "BTC" else "10"
    return Market("huobi-swap", venue_symbol, f"{base}-USD-PERP", _inverse(base, cv))


def okx(venue_symbol: str) -> Market:
    """OKX spot and coin-margined (``-USD-``) swaps and futures: BTC 100 USD, others 10 USD.

    USDT/USDC-margined contracts are refused: their face value differs per coin and is not
    in the data (import OKX with its instruments REST response instead, via cryptofeed).
    """
    symbol = okx_symbols.from_venue_symbol(venue_symbol)
    base, quote, kind = parse_symbol(symbol)
    if kind is InstrumentKind.SPOT:
        return Market("okx", venue_symbol, symbol, {})
    if kind is InstrumentKind.OPTION or quote != "USD":
        raise ValueError(
            f"okx: contract {venue_symbol!r} is not supported from CSV (face value unknown)"
        )
    cv = "100" if base == "BTC" else "10"
    terms = _inverse(base, cv)
    if kind is InstrumentKind.FUTURE:
        terms["expiry_ns"] = _expiry(symbol.rsplit("-", 1)[1], 8)
    return Market("okx", venue_symbol, symbol, terms)
