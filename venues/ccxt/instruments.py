"""ccxt markets (``load_markets()``) -> ``Instrument``, and ccxt symbols <-> canonical ones.

Canonical symbols (``arb.core.instruments``): ``BTC/USDT`` -> ``BTC-USDT``, linear swap
``BTC/USDT:USDT`` -> ``BTC-USDT-PERP``, inverse swap ``BTC/USD:BTC`` -> ``BTC-USD-PERP``, dated
future ``BTC/USD:BTC-220527`` -> ``BTC-USD-20220527`` (the date of ``expiry``, UTC). The
instrument's ``venue_symbol`` is ccxt's unified symbol: the one every ccxt call takes.

Sizes and prices: with ``precisionMode == TICK_SIZE`` (every ccxt 4 exchange but a few),
``precision.price`` / ``precision.amount`` are the tick and lot sizes; with
``DECIMAL_PLACES`` they are numbers of decimals; ``SIGNIFICANT_DIGITS`` gives no fixed tick
and is refused. ``limits.amount.min`` / ``limits.cost.min`` are the minimum size and notional,
``contractSize`` the contract value (in the base for linear, in the quote for inverse
contracts; amounts of contracts are numbers of contracts). Options, inactive markets and
margin-only entries are skipped.

Sample (ccxt ``okx`` market, trimmed)::

    {"id": "BTC-USDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "settle": None,
     "type": "spot", "spot": True, "linear": None, "inverse": None, "contractSize": None,
     "expiry": None, "active": True, "precision": {"amount": 1e-08, "price": 0.1},
     "limits": {"amount": {"min": 1e-05, "max": 9999999999.0}, "cost": {"min": None}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.core.errors import DecodeError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from venues.ccxt.convert import exact

__all__ = [
    "DECIMAL_PLACES",
    "SIGNIFICANT_DIGITS",
    "TICK_SIZE",
    "from_venue_symbol",
    "instrument_from_market",
    "instruments_from_markets",
    "to_venue_symbol",
]

# ccxt's precision modes (ccxt.base.decimal_to_precision), repeated so the table stays pure.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4

_KINDS: dict[str, InstrumentKind] = {
    "spot": InstrumentKind.SPOT,
    "swap": InstrumentKind.PERP,
    "future": InstrumentKind.FUTURE,
}


def _expiry_date(expiry_ms: int) -> str:
    return datetime.fromtimestamp(expiry_ms / 1000, tz=UTC).strftime("%Y%m%d")


def from_venue_symbol(ccxt_symbol: str, expiry_ms: int = 0) -> str:
    """Return the canonical symbol of a ccxt unified symbol.

    ``expiry_ms`` (the market's ``expiry``) dates a future; without it the ``YYMMDD`` suffix
    of the symbol is read as 20YYMMDD. Raises ``ValueError`` for a shape it does not know
    (options included).
    """
    pair, _, rest = ccxt_symbol.partition(":")
    base, _, quote = pair.partition("/")
    if not base or not quote or "/" in quote:
        raise ValueError(f"ccxt symbol {ccxt_symbol!r} is not BASE/QUOTE[:SETTLE[-YYMMDD]]")
    if not rest:
        return f"{base}-{quote}"
    settle, _, suffix = rest.partition("-")
    if not settle:
        raise ValueError(f"ccxt symbol {ccxt_symbol!r}: empty settle currency")
    if not suffix:
        return f"{base}-{quote}-PERP"
    if len(suffix) == 6 and suffix.isdigit():
        date = _expiry_date(expiry_ms) if expiry_ms else "20" + suffix
        return f"{base}-{quote}-{date}"
    raise ValueError(f"ccxt symbol {ccxt_symbol!r}: only spot, swaps and dated futures")


def to_venue_symbol(symbol: str, settle: str = "") -> str:
    """Return the ccxt unified symbol of a canonical one.

    ``settle`` is the settlement currency of a contract (``BTC-USDT-PERP`` with ``USDT`` ->
    ``BTC/USDT:USDT``); by default the quote (linear). Raises ``ValueError`` for options or a
    malformed symbol.
    """
    parts = symbol.split("-")
    if len(parts) == 2 and all(parts):
        return f"{parts[0]}/{parts[1]}"
    if len(parts) == 3 and all(parts):
        base, quote, tail = parts
        cur = settle or quote
        if tail == "PERP":
            return f"{base}/{quote}:{cur}"
        if len(tail) == 8 and tail.isdigit():
            return f"{base}/{quote}:{cur}-{tail[2:]}"
    raise ValueError(f"symbol {symbol!r} is not BASE-QUOTE[-PERP|-YYYYMMDD]")


def _step(value: object, mode: int, what: str) -> str:
    # A tick or lot size from ccxt's precision field, per precision mode.
    if mode == TICK_SIZE:
        s = exact(value, what)
    elif mode == DECIMAL_PLACES:
        n = Decimal(exact(value, what))
        if n != n.to_integral_value() or n < 0:
            raise DecodeError(f"ccxt {what}: received {value!r}, not a number of decimals")
        s = format(Decimal(1).scaleb(-int(n)), "f")
    else:
        raise DecodeError(f"ccxt {what}: precision mode {mode} gives no tick size")
    if Decimal(s) <= 0:
        raise DecodeError(f"ccxt {what}: received {value!r}, not a positive size")
    return s


def _min(limits: Mapping[str, Any], key: str, what: str) -> str:
    entry = limits.get(key) or {}
    v = entry.get("min") if isinstance(entry, Mapping) else None
    if v is None:
        return "0"
    s = exact(v, what)
    if Decimal(s) < 0:
        raise DecodeError(f"ccxt {what}: received {v!r}, negative")
    return s


def instrument_from_market(venue_id: str, m: Mapping[str, Any], precision_mode: int) -> Instrument:
    """Convert one ccxt market to an ``Instrument`` of venue ``venue_id``.

    Raises ``DecodeError`` (naming the market) for an unsupported type, a symbol of unknown
    shape or a number that is missing or not exact.
    """
    sym = str(m.get("symbol") or "")
    kind = _KINDS.get(str(m.get("type") or ""))
    if kind is None:
        raise DecodeError(f"ccxt market {sym!r}: type {m.get('type')!r} not supported")
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}
    expiry = m.get("expiry")
    expiry_ms = expiry if isinstance(expiry, int) and not isinstance(expiry, bool) else 0
    try:
        symbol = from_venue_symbol(sym, expiry_ms)
    except ValueError as e:
        raise DecodeError(str(e)) from e
    base, quote = str(m.get("base") or ""), str(m.get("quote") or "")
    if not base or not quote:
        raise DecodeError(f"ccxt market {sym!r}: base or quote missing")
    inverse = kind is not InstrumentKind.SPOT and m.get("inverse") is True
    contract_value, contract_ccy = "1", ""
    if kind is not InstrumentKind.SPOT:
        contract_value = exact(m.get("contractSize"), f"market {sym} contractSize")
        contract_ccy = quote if inverse else base
    tick = _step(precision.get("price"), precision_mode, f"market {sym} precision.price")
    lot = _step(precision.get("amount"), precision_mode, f"market {sym} precision.amount")
    return Instrument.create(
        venue=venue_id,
        symbol=symbol,
        venue_symbol=sym,
        kind=kind,
        base=base,
        quote=quote,
        settle=str(m.get("settle") or ""),
        tick_size=tick,
        lot_size=lot,
        min_size=_min(limits, "amount", f"market {sym} limits.amount.min"),
        min_notional=_min(limits, "cost", f"market {sym} limits.cost.min"),
        contract_value=contract_value,
        contract_value_ccy=contract_ccy,
        inverse=inverse,
        expiry_ns=expiry_ms * 1_000_000,
    )


def instruments_from_markets(
    venue_id: str, markets: Mapping[str, Mapping[str, Any]], precision_mode: int = TICK_SIZE
) -> list[Instrument]:
    """Convert ccxt's ``load_markets()`` result into instruments (in ccxt's order).

    Parameters
    ----------
    venue_id
        arb's venue name for this exchange (e.g. ``"binance"``, or ``"okx-b"`` for a second
        OKX account through ccxt).
    markets
        ``exchange.markets``: unified symbol -> market dict.
    precision_mode
        ``exchange.precisionMode`` (``TICK_SIZE`` for nearly all ccxt 4 exchanges).

    Spot, swap and future markets are converted; options, margin-only entries and markets
    with ``active`` False are skipped. Raises ``DecodeError`` for a market it should convert
    but cannot (the message names it): garbage is refused, never rounded.
    """
    out: list[Instrument] = []
    for m in markets.values():
        if m.get("active") is False or str(m.get("type")) not in _KINDS:
            continue
        out.append(instrument_from_market(venue_id, m, precision_mode))
    return out
