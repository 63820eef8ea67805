"""OKX v5 adapter: symbols, instrument metadata and the market-data codec."""

from __future__ import annotations

from venues.okx.codec import OkxCodec
from venues.okx.instruments import parse_instruments
from venues.okx.symbols import from_venue_symbol
from venues.okx.symbols import to_venue_symbol

__all__ = ["OkxCodec", "from_venue_symbol", "parse_instruments", "to_venue_symbol"]
