"""ccxt funding-rate dicts -> FundingRate / MarkPrice, and the watch/poll loop, on fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from arb.core.errors import DecodeError
from arb.core.events import FundingRate
from arb.core.events import MarkPrice
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from venues.ccxt.funding import funding_from_ccxt
from venues.ccxt.funding import mark_from_ccxt
from venues.ccxt.funding import rate_ppb
from venues.ccxt.funding import watch_funding

INST = Instrument.create(
    venue="binanceusdm",
    symbol="BTC-USDT-PERP",
    venue_symbol="BTC/USDT:USDT",  # a ccxt venue's symbols are ccxt's unified ones
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USDT",
    settle="USDT",
    tick_size="0.1",
    lot_size="0.001",
)
MS = 1_000_000
H_MS = 3_600_000

# ccxt binanceusdm fetch_funding_rate (its parse_funding_rate: nextFundingTimestamp None)
BINANCE = {
    "symbol": "BTC/USDT:USDT",
    "markPrice": 59876.12345678,
    "indexPrice": 59880.0,
    "timestamp": 1723161599000,
    "fundingRate": 0.0001,
    "fundingTimestamp": 1723161600000,
    "nextFundingTimestamp": None,
    "interval": "8h",
    "info": {"lastFundingRate": "0.00010000", "nextFundingTime": "1723161600000"},
}
# ccxt okx fetch_funding_rate: timestamp None, a 16-digit rate, next time given
OKX = {
    "symbol": "BTC/USDT:USDT",
    "timestamp": None,
    "fundingRate": -0.0002608059239328,
    "fundingTimestamp": 1700726400000,
    "nextFundingTimestamp": 1700755200000,
    "interval": "8h",
}


def test_binance_dict_converts_exactly_with_the_interval_for_the_next_time():
    ev = funding_from_ccxt(BINANCE, INST, ts_recv=5)
    assert ev == FundingRate(
        venue="binanceusdm",
        symbol="BTC-USDT-PERP",
        rate_ppb=100_000,
        funding_time_ns=1723161600000 * MS,
        next_funding_time_ns=(1723161600000 + 8 * H_MS) * MS,
        ts_event=1723161599000 * MS,
        ts_recv=5,
    )


def test_okx_dict_rounds_a_long_rate_half_even_and_takes_the_receive_time():
    ev = funding_from_ccxt(OKX, INST, ts_recv=7)
    assert ev.rate_ppb == -260_806  # -0.0002608059239328 -> -260805.9239... ppb
    assert ev.next_funding_time_ns == 1700755200000 * MS
    assert ev.ts_event == 7


@pytest.mark.parametrize(
    ("s", "ppb"),
    [("0.0001", 100_000), ("-0.00002", -20_000), ("0.0000000005", 0), ("0.0000000015", 2)],
)
def test_rate_ppb(s, ppb):
    assert rate_ppb(s) == ppb


def test_no_next_time_without_next_timestamp_or_interval():
    raw = {**BINANCE, "interval": None}
    assert funding_from_ccxt(raw, INST, 0).next_funding_time_ns == 0


@pytest.mark.parametrize(
    "change",
    [{"fundingRate": None}, {"fundingRate": float("nan")}, {"fundingTimestamp": None}],
)
def test_bad_dicts_are_refused(change):
    with pytest.raises(DecodeError):
        funding_from_ccxt({**BINANCE, **change}, INST, 0)


def test_mark_price_rounds_to_the_tick():
    assert mark_from_ccxt(BINANCE, INST, 3) == MarkPrice(
        venue="binanceusdm",
        symbol="BTC-USDT-PERP",
        px=598761,  # 59876.12345678 -> 59876.1
        ts_event=1723161599000 * MS,
        ts_recv=3,
    )
    assert mark_from_ccxt(OKX, INST, 3) is None
    with pytest.raises(DecodeError):
        mark_from_ccxt({**BINANCE, "markPrice": 0}, INST, 3)


class Done(Exception):
    """The fake's script ran out: ends the endless loop."""


class FakeExchange:
    """Answers from a script; raises ``Done`` when it runs out."""

    def __init__(self, script: list[Any], *, watch: bool) -> None:
        self.has = {"watchFundingRate": watch, "fetchFundingRate": True}
        self.script = list(script)
        self.calls: list[tuple[str, str]] = []

    async def _next(self, name: str, symbol: str) -> Any:
        self.calls.append((name, symbol))
        if not self.script:
            raise Done
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def watch_funding_rate(self, symbol: str) -> Any:
        return await self._next("watch", symbol)

    async def fetch_funding_rate(self, symbol: str) -> Any:
        return await self._next("fetch", symbol)


def run(ex: FakeExchange, errors: dict[str, int] | None = None) -> list:
    out: list = []

    async def go() -> None:
        await watch_funding(ex, [INST], out.append, poll_s=0, clock_ns=lambda: 9, errors=errors)

    with pytest.raises(ExceptionGroup) as e:
        asyncio.run(go())
    assert e.group_contains(Done)
    return out


def test_watch_passes_on_changes_only():
    later = {**BINANCE, "fundingRate": 0.00012, "markPrice": 59900.0}
    ex = FakeExchange([BINANCE, BINANCE, later], watch=True)
    out = run(ex)
    assert {c[0] for c in ex.calls} == {"watch"}
    assert [(type(e).__name__, getattr(e, "rate_ppb", None)) for e in out] == [
        ("FundingRate", 100_000),
        ("MarkPrice", None),
        ("FundingRate", 120_000),
        ("MarkPrice", None),
    ]
    assert [e.px for e in out if isinstance(e, MarkPrice)] == [598761, 599000]
    assert {e.ts_recv for e in out} == {9}


def test_without_websocket_it_polls_and_survives_errors_and_bad_dicts():
    errors: dict[str, int] = {}
    script = [ccxt.NetworkError("down"), {**BINANCE, "fundingRate": None}, OKX]
    ex = FakeExchange(script, watch=False)
    out = run(ex, errors)
    assert set(ex.calls) == {("fetch", "BTC/USDT:USDT")}
    assert [e.rate_ppb for e in out if isinstance(e, FundingRate)] == [-260_806]
    assert sum(errors.values()) == 2
    assert errors["DecodeError"] == 1
