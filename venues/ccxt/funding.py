"""Funding rates (and mark prices) of any ccxt exchange's perpetual swaps, as arb events.

ccxt's unified funding-rate dict (``fetch_funding_rate`` / ccxt.pro ``watch_funding_rate``)
becomes a ``FundingRate``: ``fundingRate`` in parts per billion (exact for up to 9 decimals,
half to even beyond: OKX sends up to 16), ``fundingTimestamp`` (the settlement the rate applies
to, ms) and ``nextFundingTimestamp`` (the one after; ccxt leaves it ``None`` for Binance, so it
is ``fundingTimestamp + interval`` when ccxt gives the ``interval``, else 0). Its
``markPrice``, when present, becomes a ``MarkPrice`` rounded half to even to the instrument's
tick precision (venues publish marks finer than the tick). Numbers go through ``exact``, which
recovers the venue's decimal string from ccxt's float.

Sample (ccxt ``binanceusdm`` ``fetch_funding_rate("BTC/USDT:USDT")``, trimmed)::

    {"symbol": "BTC/USDT:USDT", "markPrice": 59876.1, "timestamp": 1723161599000,
     "fundingRate": 0.0001, "fundingTimestamp": 1723161600000, "nextFundingTimestamp": None,
     "interval": "8h", "info": {...}}

``watch_funding`` feeds one callback with these events for a list of instruments, by
WebSocket where the exchange has ``watchFundingRate`` and by polling ``fetch_funding_rate``
otherwise; an event is passed on only when it differs from the previous one of its symbol.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN
from decimal import Decimal
from typing import Any

import ccxt

from arb.core.errors import DataError
from arb.core.errors import DecodeError
from arb.core.events import FundingRate
from arb.core.events import MarkPrice
from arb.core.instruments import Instrument
from venues.ccxt.convert import exact
from venues.ccxt.errors import classify

__all__ = [
    "FundingEvent",
    "funding_from_ccxt",
    "mark_from_ccxt",
    "rate_ppb",
    "watch_funding",
]

NS_PER_MS = 1_000_000
_CCXT_ERROR: type[Exception] = ccxt.BaseError
_UNIT_NS = {"m": 60 * 10**9, "h": 3_600 * 10**9, "d": 86_400 * 10**9}

FundingEvent = FundingRate | MarkPrice


def rate_ppb(s: str) -> int:
    """A decimal rate string in parts per billion, half to even past 9 decimals."""
    return int(Decimal(s).scaleb(9).to_integral_value(ROUND_HALF_EVEN))


def _ms(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            d = Decimal(exact(value, "timestamp"))
        except DecodeError:
            return None
        return int(d) if d == d.to_integral_value() else None
    return None


def _interval_ns(value: object) -> int:
    # ccxt's "8h" / "1h" / "30m"; 0 when absent or not understood.
    if not isinstance(value, str) or len(value) < 2 or value[-1] not in _UNIT_NS:
        return 0
    n = value[:-1]
    return int(n) * _UNIT_NS[value[-1]] if n.isdigit() else 0


def funding_from_ccxt(raw: Mapping[str, Any], inst: Instrument, ts_recv: int) -> FundingRate:
    """Convert one ccxt funding-rate dict of ``inst`` to a ``FundingRate``.

    Raises ``DecodeError`` when ``fundingRate`` is not a number or ``fundingTimestamp`` is
    missing.
    """
    what = f"{inst.venue} {inst.symbol} funding"
    rate = rate_ppb(exact(raw.get("fundingRate"), f"{what} rate"))
    ft = _ms(raw.get("fundingTimestamp"))
    if ft is None or ft <= 0:
        raise DecodeError(f"ccxt {what}: fundingTimestamp received {raw.get('fundingTimestamp')!r}")
    nft = _ms(raw.get("nextFundingTimestamp"))
    if nft is None or nft <= ft:
        iv = _interval_ns(raw.get("interval"))
        next_ns = ft * NS_PER_MS + iv if iv else 0
    else:
        next_ns = nft * NS_PER_MS
    ts = _ms(raw.get("timestamp"))
    return FundingRate(
        venue=inst.venue,
        symbol=inst.symbol,
        rate_ppb=rate,
        funding_time_ns=ft * NS_PER_MS,
        next_funding_time_ns=next_ns,
        ts_event=ts * NS_PER_MS if ts is not None and ts > 0 else ts_recv,
        ts_recv=ts_recv,
    )


def mark_from_ccxt(raw: Mapping[str, Any], inst: Instrument, ts_recv: int) -> MarkPrice | None:
    """The ``MarkPrice`` of a ccxt funding-rate dict, None when it has no ``markPrice``.

    Raises ``DecodeError`` for a mark that is not a positive number.
    """
    value = raw.get("markPrice")
    if value is None:
        return None
    d = Decimal(exact(value, f"{inst.venue} {inst.symbol} markPrice"))
    px = int(d.scaleb(inst.price_precision).to_integral_value(ROUND_HALF_EVEN))
    if px <= 0:
        raise DecodeError(f"ccxt {inst.venue} {inst.symbol}: markPrice received {value!r}")
    ts = _ms(raw.get("timestamp"))
    return MarkPrice(
        venue=inst.venue,
        symbol=inst.symbol,
        px=px,
        ts_event=ts * NS_PER_MS if ts is not None and ts > 0 else ts_recv,
        ts_recv=ts_recv,
    )


async def watch_funding(
    exchange: Any,
    insts: Iterable[Instrument],
    on_event: Callable[[FundingEvent], None],
    *,
    poll_s: float,
    clock_ns: Callable[[], int] = time.time_ns,
    use_watch: bool | None = None,
    errors: dict[str, int] | None = None,
) -> None:
    """Pass ``insts``' funding rates (and marks) of ``exchange`` to ``on_event``, forever.

    ``watch_funding_rate`` when ``exchange.has["watchFundingRate"]`` (or ``use_watch``), else
    ``fetch_funding_rate`` every ``poll_s`` seconds. A failed request (counted in ``errors`` by
    its code, see ``venues.ccxt.errors``) is retried after ``poll_s``; a dict that does not
    convert is counted and skipped. Runs until cancelled.
    """
    has: Mapping[str, Any] = exchange.has
    watching = bool(has.get("watchFundingRate")) if use_watch is None else use_watch
    counts = errors if errors is not None else {}
    async with asyncio.TaskGroup() as tg:
        for inst in insts:
            tg.create_task(_follow(exchange, inst, on_event, poll_s, clock_ns, watching, counts))


async def _follow(
    exchange: Any,
    inst: Instrument,
    on_event: Callable[[FundingEvent], None],
    poll_s: float,
    clock_ns: Callable[[], int],
    watching: bool,
    errors: dict[str, int],
) -> None:
    last_rate: tuple[int, int, int] | None = None
    last_mark: int | None = None
    sym = inst.venue_symbol
    while True:
        try:
            if watching:
                raw = await exchange.watch_funding_rate(sym)
            else:
                raw = await exchange.fetch_funding_rate(sym)
        except _CCXT_ERROR as e:
            code = classify(e, inst.venue).code
            errors[code] = errors.get(code, 0) + 1
            await asyncio.sleep(poll_s)
            continue
        ts = clock_ns()
        try:
            ev = funding_from_ccxt(raw, inst, ts)
            mark = mark_from_ccxt(raw, inst, ts)
        except DataError as e:
            name = type(e).__name__
            errors[name] = errors.get(name, 0) + 1
        else:
            key = (ev.rate_ppb, ev.funding_time_ns, ev.next_funding_time_ns)
            if key != last_rate:
                last_rate = key
                on_event(ev)
            if mark is not None and mark.px != last_mark:
                last_mark = mark.px
                on_event(mark)
        if not watching:
            await asyncio.sleep(poll_s)
