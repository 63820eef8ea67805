"""Binance symbols: venue names <-> canonical names, and REST depth paths.

Three venues share one adapter; ``MARKETS`` maps each venue id to its market:

============== ======= ===================== ==========================
venue          market  venue symbol          canonical symbol
============== ======= ===================== ==========================
binance        spot    ``BTCUSDT``           ``BTC-USDT``
binance-usdm   usdm    ``BTCUSDT``           ``BTC-USDT-PERP``
binance-usdm   usdm    ``BTCUSDT_240927``    ``BTC-USDT-20240927``
binance-coinm  coinm   ``BTCUSD_PERP``       ``BTC-USD-PERP``
binance-coinm  coinm   ``BTCUSD_240927``     ``BTC-USD-20240927``
============== ======= ===================== ==========================

Stream names carry the venue symbol in lower case (``btcusdt@depth``); both cases are accepted
here and venue symbols are returned in upper case, as Binance writes them in payloads.
"""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

from arb.core.symbols import split_concatenated

__all__ = [
    "DEPTH_PATHS",
    "MARKETS",
    "coinm_contract_value",
    "from_venue_symbol",
    "parse_rest_depth_path",
    "rest_depth_path",
    "to_venue_symbol",
]

MARKETS: dict[str, str] = {"binance": "spot", "binance-usdm": "usdm", "binance-coinm": "coinm"}

DEPTH_PATHS: dict[str, str] = {
    "binance": "/api/v3/depth",
    "binance-usdm": "/fapi/v1/depth",
    "binance-coinm": "/dapi/v1/depth",
}
_VENUE_OF_DEPTH_PATH = {path: venue for venue, path in DEPTH_PATHS.items()}


def _market(venue: str) -> str:
    try:
        return MARKETS[venue]
    except KeyError:
        raise ValueError(f"venue {venue!r} is not one of {sorted(MARKETS)}") from None


def _is_yymmdd(s: str) -> bool:
    return len(s) == 6 and s.isdigit()


def from_venue_symbol(venue: str, venue_symbol: str) -> str:
    """Return the canonical symbol of a Binance venue symbol.

    Parameters
    ----------
    venue
        ``"binance"``, ``"binance-usdm"`` or ``"binance-coinm"``.
    venue_symbol
        As Binance writes it (``"BTCUSDT"``, ``"BTCUSDT_240927"``, ``"BTCUSD_PERP"``);
        lower case (from stream names) is accepted.

    Returns
    -------
    str
        ``"BTC-USDT"`` (spot), ``"BTC-USDT-PERP"``, ``"BTC-USD-20240927"``, ...

    Raises
    ------
    ValueError
        Unknown venue, or a symbol that does not have the market's shape.
    """
    market = _market(venue)
    s = venue_symbol.upper()
    pair, sep, suffix = s.partition("_")
    base, quote = split_concatenated(pair)
    if market == "spot":
        if sep:
            raise ValueError(f"{venue}: spot symbol {venue_symbol!r} must not hold '_'")
        return f"{base}-{quote}"
    if not sep:
        if market == "usdm":
            return f"{base}-{quote}-PERP"
        raise ValueError(f"{venue}: symbol {venue_symbol!r} is not PAIR_PERP or PAIR_YYMMDD")
    if suffix == "PERP" and market == "coinm":
        return f"{base}-{quote}-PERP"
    if _is_yymmdd(suffix):
        return f"{base}-{quote}-20{suffix}"
    raise ValueError(f"{venue}: symbol {venue_symbol!r} has an unknown suffix {suffix!r}")


def to_venue_symbol(venue: str, symbol: str) -> str:
    """Return the Binance venue symbol of a canonical symbol (inverse of ``from_venue_symbol``).

    Raises
    ------
    ValueError
        Unknown venue, or a canonical symbol the market does not list (a perpetual on spot,
        a dated future not in the 2000s, ...).
    """
    market = _market(venue)
    parts = symbol.upper().split("-")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"{venue}: symbol {symbol!r} is not BASE-QUOTE[-PERP|-YYYYMMDD]")
    pair = parts[0] + parts[1]
    if market == "spot":
        if len(parts) == 2:
            return pair
    elif len(parts) == 3:
        tail = parts[2]
        if tail == "PERP":
            return pair if market == "usdm" else f"{pair}_PERP"
        if len(tail) == 8 and tail.isdigit() and tail.startswith("20"):
            return f"{pair}_{tail[2:]}"
    raise ValueError(f"{venue}: symbol {symbol!r} is not listed on Binance {market}")


def coinm_contract_value(base: str) -> str:
    """Return the USD face value of one COIN-M contract: ``"100"`` for BTC, else ``"10"``."""
    return "100" if base.upper() == "BTC" else "10"


def rest_depth_path(venue: str, venue_symbol: str) -> str:
    """Return the REST depth-snapshot request path of a venue symbol.

    ``rest_depth_path("binance-coinm", "BTCUSD_PERP") == "/dapi/v1/depth?symbol=BTCUSD_PERP"``.
    """
    _market(venue)
    return f"{DEPTH_PATHS[venue]}?symbol={venue_symbol.upper()}"


def parse_rest_depth_path(path: str) -> tuple[str, str] | None:
    """Return ``(venue, venue_symbol)`` of a REST depth request path, or None for other paths.

    Accepts a full URL or a path with query (``/api/v3/depth?symbol=BTCUSDT&limit=1000``).
    ``venue_symbol`` is ``""`` when the query names no symbol.
    """
    parts = urlsplit(path)
    venue = _VENUE_OF_DEPTH_PATH.get(parts.path)
    if venue is None:
        return None
    symbols = parse_qs(parts.query).get("symbol")
    return venue, symbols[0].upper() if symbols else ""
