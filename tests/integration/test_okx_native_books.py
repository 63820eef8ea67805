"""The native OKX market-data path against the sandbox (the native side of the independent
check): instruments over REST, books over the public WebSocket into valid local books, a
sequence gap injected by the sandbox resynced from the REST snapshot."""

from __future__ import annotations

import asyncio
import time

from tests.integration._okx_helpers import run
from venues.okx.codec import OkxCodec
from venues.okx.instruments import parse_instruments
from venues.okx.rest import OkxRestClient
from venues.okx.sandbox import Faults
from venues.okx.sandbox import start_sandbox
from venues.okx.ws import OkxWsClient
from venues.okx.ws_book import OkxBookFeed


async def _books(gap_after: int) -> tuple[OkxBookFeed, OkxWsClient]:
    sb = await start_sandbox(faults=Faults(books_seq_gap_after=gap_after))
    try:
        async with OkxRestClient(None, base_url=sb.base_url) as rest:
            raw = await rest.raw_get("/api/v5/public/instruments", {"instType": "SPOT"})
            codec = OkxCodec(parse_instruments(raw))
            feed = OkxBookFeed(codec, clock_ns=time.time_ns, rest_books=rest.books)
            ws = OkxWsClient(sb.ws_public_url, clock_ns=time.time_ns, on_frame=feed.on_frame)
            feed.bind(ws)
            stop = asyncio.Event()
            runner = asyncio.create_task(ws.run(stop))
            await ws.subscribe([{"channel": "books", "instId": "BTC-USDT"}])
            for _ in range(1000):  # <= 10 s
                sync = feed.books.get(("okx", "BTC-USDT"))
                ready = sync is not None and sync.valid and sync.stats.deltas >= 5
                if ready and (not gap_after or feed.stats.resyncs >= 1):
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await runner
            return feed, ws
    finally:
        await sb.close()


def test_native_books_from_the_sandbox_websocket_are_valid():
    feed, ws = run(_books(0))
    sync = feed.books[("okx", "BTC-USDT")]
    assert sync.valid
    assert sync.stats.deltas >= 5
    assert sync.stats.gaps == 0
    bid, ask = sync.book.best_bid(), sync.book.best_ask()
    assert bid is not None
    assert ask is not None
    assert bid[0] < ask[0]
    assert feed.stats.decode_errors == 0
    assert ws.stats.messages > 0


def test_a_sequence_gap_from_the_sandbox_is_resynced_from_the_rest_snapshot():
    feed, _ = run(_books(5))
    sync = feed.books[("okx", "BTC-USDT")]
    assert sync.stats.gaps >= 1
    assert feed.stats.resyncs >= 1
    assert sync.valid
