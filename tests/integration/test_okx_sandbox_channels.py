"""The sandbox's public market-data channels, read by the production WS client and codec.

``OkxWsClient`` subscribes to ``trades``, ``tickers`` (spot) and ``funding-rate``,
``mark-price`` (the spot instruments' swap twins) on the public URL; every frame it receives
is decoded by ``OkxCodec``, built from the sandbox's own instruments and their twins. Also the
rules the sandbox keeps for those channels and for their REST endpoints. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import msgspec
import pytest

from arb.core.events import FundingRate
from arb.core.events import MarkPrice
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.instruments import Instrument
from tests.integration._okx_helpers import run
from venues.okx.codec import OkxCodec
from venues.okx.instruments import parse_instruments
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox
from venues.okx.sandbox.derived import bar_start
from venues.okx.sandbox.derived import perp_twins
from venues.okx.ws import OkxWsClient

pytestmark = pytest.mark.integration

SUBS = [
    {"channel": "trades", "instId": "BTC-USDT"},
    {"channel": "tickers", "instId": "BTC-USDT"},
    {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
    {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
]


async def _instruments(sb: Sandbox, session: aiohttp.ClientSession) -> list[Instrument]:
    url = f"{sb.base_url}/api/v5/public/instruments?instType=SPOT"
    async with session.get(url) as r:
        spot = parse_instruments(await r.read())
    return spot + perp_twins(spot)


async def _get(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    async with session.get(url) as r:
        body: dict[str, object] = msgspec.json.decode(await r.read())
        return body


def test_trades_tickers_funding_and_mark_price_frames_all_decode_into_events():
    async def go() -> None:
        sb = await start_sandbox(speed=5.0)  # a synthetic trade every ~0.2 s
        frames: list[tuple[int, bytes]] = []
        try:
            async with aiohttp.ClientSession() as session:
                codec = OkxCodec(await _instruments(sb, session))
                ws = OkxWsClient(
                    sb.ws_public_url,
                    clock_ns=time.time_ns,
                    on_frame=lambda ts, payload: frames.append((ts, payload)),
                    session=session,
                )
                stop = asyncio.Event()
                runner = asyncio.create_task(ws.run(stop))
                await ws.subscribe(SUBS)
                kinds: Counter[str] = Counter()
                for _ in range(100):  # <= 5 s
                    await asyncio.sleep(0.05)
                    kinds = Counter(
                        type(ev).__name__
                        for ts, payload in frames
                        for ev in codec.decode("<", ws.conn_id, payload, ts)
                    )
                    if kinds["Trade"] >= 2 and len(kinds) == 4:
                        break
                stop.set()
                await asyncio.wait_for(runner, 5)
        finally:
            await sb.close()
        events = [ev for ts, p in frames for ev in codec.decode("<", "/ws/v5/public", p, ts)]
        assert kinds["Trade"] >= 2
        assert {"Quote", "FundingRate", "MarkPrice"} <= set(kinds)
        trades = [e for e in events if isinstance(e, Trade)]
        assert len({t.trade_id for t in trades}) == len(trades)
        assert all(t.symbol == "BTC-USDT" and t.px > 0 and t.qty > 0 for t in trades)
        quote = next(e for e in events if isinstance(e, Quote))
        assert 0 < quote.bid_px < quote.ask_px
        fr = next(e for e in events if isinstance(e, FundingRate))
        assert fr.symbol == "BTC-USDT-PERP"
        assert fr.next_funding_time_ns - fr.funding_time_ns == 8 * 3600 * 10**9
        assert -300_000 <= fr.rate_ppb <= 500_000
        mark = next(e for e in events if isinstance(e, MarkPrice))
        assert (mark.symbol, mark.px > 0) == ("BTC-USDT-PERP", True)

    run(go())


def test_public_channels_need_a_known_inst_id_and_unknown_channels_get_60018():
    async def go() -> None:
        sb = await start_sandbox()
        try:
            async with aiohttp.ClientSession() as s, s.ws_connect(sb.ws_public_url) as ws:
                bad = [
                    {"channel": "funding-rate", "instId": "BTC-USDT"},  # spot: no funding
                    {"channel": "mark-price"},
                    {"channel": "trades", "instId": "DOGE-USDT"},
                    {"channel": "no-such-channel", "instId": "BTC-USDT"},
                ]
                await ws.send_str(msgspec.json.encode({"op": "subscribe", "args": bad}).decode())
                codes = []
                for _ in range(len(bad)):
                    msg = msgspec.json.decode(await asyncio.wait_for(ws.receive_str(), 5))
                    codes.append((msg["event"], msg["code"]))
                assert codes == [("error", "60018")] * len(bad)
        finally:
            await sb.close()

    run(go())


def test_rest_funding_mark_and_candles_keep_okx_rules():
    async def go() -> None:
        sb = await start_sandbox()
        base = sb.base_url + "/api/v5"
        try:
            async with aiohttp.ClientSession() as s:
                assert (await _get(s, f"{base}/public/funding-rate"))["code"] == "50014"
                unknown = await _get(s, f"{base}/public/funding-rate?instId=BTC-USDT")
                assert unknown["code"] == "51001"
                any_ = await _get(s, f"{base}/public/funding-rate?instId=ANY")
                assert any_["code"] == "0"
                assert isinstance(any_["data"], list)
                assert {d["instId"] for d in any_["data"]} == {"BTC-USDT-SWAP", "ETH-USDT-SWAP"}
                assert (await _get(s, f"{base}/public/mark-price"))["code"] == "50014"
                spot = await _get(s, f"{base}/public/mark-price?instType=SPOT")
                assert (spot["code"], spot["data"]) == ("0", [])
                bad_bar = await _get(s, f"{base}/market/candles?instId=BTC-USDT&bar=7m")
                assert bad_bar["code"] == "51000"
                big = await _get(s, f"{base}/market/candles?instId=BTC-USDT&limit=301")
                assert big["code"] == "51000"
        finally:
            await sb.close()

    run(go())


T = 1_782_000_000_000  # 2026-06-21 00:00 UTC, a Sunday
H = 3_600_000
D = 24 * H


@pytest.mark.parametrize(
    ("bar", "ts", "start"),
    [
        ("1m", T + 59_999, T),
        ("4H", T + 5 * H, T + 4 * H),
        ("1Dutc", T + H, T),
        ("1D", T + H, T - 8 * H),  # Hong Kong midnight
        ("1Wutc", T, T - 6 * D),  # Monday
        ("1W", T, T - 6 * D - 8 * H),
        ("1Mutc", T, T - 20 * D),  # 1 June
        ("1M", T, T - 20 * D - 8 * H),
    ],
)
def test_bar_start_aligns_bars_to_utc_or_hong_kong_time(bar, ts, start):
    assert bar_start(ts, bar) == start
