"""Binance instruments: from REST exchangeInfo, or inferred for recordings that carry none.

exchangeInfo endpoints: spot ``/api/v3/exchangeInfo``, USD-M ``/fapi/v1/exchangeInfo``,
COIN-M ``/dapi/v1/exchangeInfo``. Binance pads decimals (``"tickSize":"0.01000000"``); the
precisions come from the significant decimals (``decimals_of`` strips trailing zeros), so
``"61737.63000000"`` converts at precision 2. COIN-M contracts are inverse: one contract is
worth ``contractSize`` USD and is margined and settled in the base asset.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import msgspec

from arb.core.errors import DecodeError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.instruments import parse_symbol
from venues.binance.schemas import BinanceExchangeInfoMsg
from venues.binance.schemas import BinanceSymbolInfoMsg
from venues.binance.symbols import MARKETS
from venues.binance.symbols import coinm_contract_value
from venues.binance.symbols import from_venue_symbol

__all__ = ["inferred_instrument", "parse_exchange_info"]

_exchange_info_decoder = msgspec.json.Decoder(BinanceExchangeInfoMsg)

# Binance delivers dated futures at 08:00 UTC.
_DELIVERY_HOUR = 8
_NS = 1_000_000_000


def parse_exchange_info(body: bytes, venue: str) -> list[Instrument]:
    """Parse an exchangeInfo response body into instruments.

    Parameters
    ----------
    body
        The REST response body, as received.
    venue
        ``"binance"``, ``"binance-usdm"`` or ``"binance-coinm"`` (which endpoint it came from).

    Returns
    -------
    list[Instrument]
        One per listed symbol whose kind arb knows (spot; futures with ``contractType``
        ``PERPETUAL`` or a dated ``CURRENT_``/``NEXT_`` ``MONTH``/``QUARTER``), in the order
        received. Symbols of any status are kept: metadata is needed to replay old data.

    Raises
    ------
    DecodeError
        The body is not an exchangeInfo object.
    ValueError
        ``venue`` is not a Binance venue.
    """
    market = MARKETS.get(venue)
    if market is None:
        raise ValueError(f"venue {venue!r} is not one of {sorted(MARKETS)}")
    try:
        info = _exchange_info_decoder.decode(body)
    except msgspec.DecodeError as e:
        raise DecodeError(f"{venue} exchangeInfo: {e}") from e
    out: list[Instrument] = []
    for s in info.symbols:
        inst = _instrument(venue, market, s)
        if inst is not None:
            out.append(inst)
    return out


def _instrument(venue: str, market: str, s: BinanceSymbolInfoMsg) -> Instrument | None:
    base, quote = s.baseAsset, s.quoteAsset
    tick = lot = min_qty = ""
    min_notional = "0"
    for f in s.filters:
        kind = f.filterType
        if kind == "PRICE_FILTER":
            tick = f.tickSize
        elif kind == "LOT_SIZE":
            lot, min_qty = f.stepSize, f.minQty
        elif kind in ("MIN_NOTIONAL", "NOTIONAL"):
            min_notional = f.minNotional or f.notional or min_notional
    if not tick or not lot:
        return None
    kw: dict[str, object] = {"min_size": min_qty or "0", "min_notional": min_notional}
    if market == "spot":
        kind_ = InstrumentKind.SPOT
        symbol = f"{base}-{quote}"
    else:
        ct = s.contractType
        if "PERPETUAL" in ct:
            kind_ = InstrumentKind.PERP
            symbol = f"{base}-{quote}-PERP"
        elif ct.startswith(("CURRENT_", "NEXT_")) and s.deliveryDate:
            kind_ = InstrumentKind.FUTURE
            kw["expiry_ns"] = s.deliveryDate * 1_000_000
            day = datetime.fromtimestamp(s.deliveryDate / 1000, tz=UTC).strftime("%Y%m%d")
            symbol = f"{base}-{quote}-{day}"
        else:
            return None
        kw["settle"] = s.marginAsset
        if market == "coinm":
            kw["contract_value"] = str(s.contractSize or coinm_contract_value(base))
            kw["contract_value_ccy"] = quote
            kw["inverse"] = True
        else:
            kw["contract_value_ccy"] = base
    return Instrument.create(
        venue=venue,
        symbol=symbol,
        venue_symbol=s.symbol,
        kind=kind_,
        base=base,
        quote=quote,
        tick_size=tick,
        lot_size=lot,
        **kw,
    )


def _step(precision: int) -> str:
    # 10**-precision as a plain decimal string: 0 -> "1", 2 -> "0.01".
    return "1" if precision == 0 else "0." + "0" * (precision - 1) + "1"


def inferred_instrument(
    venue: str, venue_symbol: str, price_precision: int, size_precision: int
) -> Instrument:
    """Build an instrument for a recording that carries no exchangeInfo.

    Tick and lot are ``10**-precision``; nothing is known of minimum sizes. COIN-M contracts
    are inverse with the usual face value (``coinm_contract_value``); dated futures expire at
    08:00 UTC of their delivery day. ``source`` is ``"inferred"``.

    Raises
    ------
    ValueError
        Unknown venue or a venue symbol ``from_venue_symbol`` refuses, or a negative precision.
    """
    if price_precision < 0 or size_precision < 0:
        raise ValueError(f"precisions must be >= 0, received {price_precision}/{size_precision}")
    market = MARKETS.get(venue, "")
    symbol = from_venue_symbol(venue, venue_symbol)
    base, quote, kind = parse_symbol(symbol)
    kw: dict[str, object] = {}
    if kind is InstrumentKind.FUTURE:
        day = datetime.strptime(symbol.rsplit("-", 1)[1], "%Y%m%d").replace(
            hour=_DELIVERY_HOUR, tzinfo=UTC
        )
        kw["expiry_ns"] = int(day.timestamp()) * _NS
    if market == "coinm":
        kw.update(
            settle=base,
            contract_value=coinm_contract_value(base),
            contract_value_ccy=quote,
            inverse=True,
        )
    elif market == "usdm":
        kw.update(settle=quote, contract_value_ccy=base)
    return Instrument.create(
        venue=venue,
        symbol=symbol,
        venue_symbol=venue_symbol.upper(),
        kind=kind,
        base=base,
        quote=quote,
        tick_size=_step(price_precision),
        lot_size=_step(size_precision),
        price_precision=price_precision,
        size_precision=size_precision,
        source="inferred",
        **kw,
    )
