"""Binance market data: spot (``binance``), USD-M (``binance-usdm``), COIN-M (``binance-coinm``).

- ``symbols``: venue <-> canonical symbols, REST depth paths;
- ``instruments``: instruments from exchangeInfo, or inferred for recordings without it;
- ``schemas``: wire Structs (fields verbatim) and their conversion to normalized events;
- ``codec``: ``BinanceCodec``, the ``arb.ports.FrameCodec`` of the three venues.
"""

from __future__ import annotations

from venues.binance.codec import BinanceCodec
from venues.binance.instruments import inferred_instrument
from venues.binance.instruments import parse_exchange_info
from venues.binance.symbols import MARKETS
from venues.binance.symbols import coinm_contract_value
from venues.binance.symbols import from_venue_symbol
from venues.binance.symbols import parse_rest_depth_path
from venues.binance.symbols import rest_depth_path
from venues.binance.symbols import to_venue_symbol

__all__ = [
    "MARKETS",
    "BinanceCodec",
    "coinm_contract_value",
    "from_venue_symbol",
    "inferred_instrument",
    "parse_exchange_info",
    "parse_rest_depth_path",
    "rest_depth_path",
    "to_venue_symbol",
]
