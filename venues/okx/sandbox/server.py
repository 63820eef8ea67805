"""The running sandbox: an aiohttp server on loopback and the market tick that drives it.

Every ``TICK_MS`` the market feed releases the events due, the public books and every
account's simulated venue apply them (resting orders fill), and the ``books`` updates of the
tick go to the WebSocket subscribers (OKX pushes ``books`` every 100 ms), then the tick's
public trades (the market's, with the sandbox's own trade ids, and our fills since the last
tick) for ``trades``, ``tickers``, ``mark-price`` and ``funding-rate``; the trades also go on
the tape that ``market/candles`` reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from arb.core.events import MarketEvent
from arb.core.events import Trade
from venues.okx.sandbox.accounts import DEFAULT_ACCOUNT
from venues.okx.sandbox.accounts import Faults
from venues.okx.sandbox.accounts import SandboxAccount
from venues.okx.sandbox.context import Ctx
from venues.okx.sandbox.context import PublicTrade
from venues.okx.sandbox.control import records
from venues.okx.sandbox.control import routes as control_routes
from venues.okx.sandbox.market import MarketFeed
from venues.okx.sandbox.market import PublicBooks
from venues.okx.sandbox.market import load_market
from venues.okx.sandbox.market import synthetic_market
from venues.okx.sandbox.market import trim
from venues.okx.sandbox.rest import dispatch
from venues.okx.sandbox.skew import skew_timeline
from venues.okx.sandbox.state import Exchange
from venues.okx.sandbox.ws import handle_ws

__all__ = ["TICK_MS", "Sandbox", "start_sandbox"]

TICK_MS = 100
_OTHER = {"buy": "sell", "sell": "buy"}
_CTX = web.AppKey("ctx", Ctx)


class Sandbox:
    """A running OKX v5 sandbox (see ``start_sandbox``)."""

    def __init__(self, runner: web.AppRunner, ctx: Ctx, feed: MarketFeed, port: int, host: str):
        self._runner = runner
        self._ctx = ctx
        self._feed = feed
        self.base_url = f"http://{host}:{port}"
        self.ws_public_url = f"ws://{host}:{port}/ws/v5/public"
        self.ws_private_url = f"ws://{host}:{port}/ws/v5/private"
        self.faults: Faults = ctx.faults
        self.requests: list[tuple[str, str]] = ctx.requests
        self._ticker: asyncio.Task[None] | None = None
        self._fills_seen = 0

    def tick(self) -> None:
        """Release the market events due now; push the resulting book updates and trades."""
        ctx = self._ctx
        events = self._feed.poll(ctx.exchange.now_ns())
        for ev in events:
            ctx.books.apply(ev)
        ctx.exchange.on_market(events)
        updates = ctx.books.flush()
        trades = self._trades(events)
        changed = {u.inst_id for u in updates} | {t.inst_id for t in trades}
        for sink in list(ctx.book_sinks):
            if updates:
                sink.on_books(updates)
            sink.on_tick(trades, changed)

    def _trades(self, events: list[MarketEvent]) -> list[PublicTrade]:
        # The market's trades (new ids: a looped replay repeats its own) and our fills since
        # the last tick (the taker's side: the order's when it took liquidity), on the tape.
        ctx = self._ctx
        ex = ctx.exchange
        out: list[PublicTrade] = []
        by_symbol = {i.symbol: i for i in ex.instruments.values()}
        for ev in events:
            inst = by_symbol.get(ev.symbol)
            if not isinstance(ev, Trade) or inst is None:
                continue
            ctx.trade_no += 1
            ts = ev.ts_event // 1_000_000
            ctx.tape.add(inst.venue_symbol, ts, ev.px, ev.qty)
            px, sz = trim(inst.px_str(ev.px)), trim(inst.qty_str(ev.qty))
            out.append(PublicTrade(inst.venue_symbol, str(ctx.trade_no), px, sz, ev.side, ts))
        for f in ex.fills[self._fills_seen :]:
            inst = ex.instruments[f["instId"]]
            ts = int(f["fillTime"])
            ctx.tape.add(f["instId"], ts, inst.px_to_raw(f["fillPx"]), inst.qty_to_raw(f["fillSz"]))
            side = f["side"] if f["execType"] == "T" else _OTHER[f["side"]]
            out.append(PublicTrade(f["instId"], f["tradeId"], f["fillPx"], f["fillSz"], side, ts))
        self._fills_seen = len(ex.fills)
        return out

    async def _run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(TICK_MS / 1000)

    def orders(self) -> list[dict[str, Any]]:
        """Every order the sandbox accepted, as OKX order records, oldest first."""
        return [o.to_okx() for o in self._ctx.exchange.orders.values()]

    def fills(self) -> list[dict[str, Any]]:
        """Every fill, as OKX fill records, oldest first."""
        return [{k: v for k, v in f.items() if k != "_key"} for f in self._ctx.exchange.fills]

    def records(self) -> dict[str, Any]:
        """Orders, fills and balances as ``GET /sandbox/records`` answers them (``control``)."""
        return records(self._ctx)

    async def close(self) -> None:
        """Stop the market tick and the server (open WebSockets are closed)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self._runner.cleanup()


async def _rest(request: web.Request) -> web.StreamResponse:
    return await dispatch(request.app[_CTX], request)


async def _ws_public(request: web.Request) -> web.StreamResponse:
    return await handle_ws(request.app[_CTX], request, private=False)


async def _ws_private(request: web.Request) -> web.StreamResponse:
    return await handle_ws(request.app[_CTX], request, private=True)


async def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: list[SandboxAccount] | None = None,
    market: str | os.PathLike[str] | None = None,
    synthetic_seconds: float = 60.0,
    seed: int = 7,
    faults: Faults | None = None,
    clock: Callable[[], int] | None = None,
    speed: float = 1.0,
    skew_bps: float = 0.0,
    skew_every_s: float = 0.0,
    skew_for_s: float = 0.0,
) -> Sandbox:
    """Start an OKX v5 sandbox on ``host:port`` (0: an ephemeral port) and return it running.

    Parameters
    ----------
    accounts
        API keys and balances; default ``[DEFAULT_ACCOUNT]``.
    market
        An arb recording with OKX spot instruments, replayed in real time from now and looped;
        ``None``: a built-in synthetic market of ``synthetic_seconds`` (seeded by ``seed``).
    faults
        Fault knobs, mutable while running (``Sandbox.faults``).
    clock
        Wall time in ns (default ``time.time_ns``): timestamps, skew checks, the replay.
    speed
        Replay speed factor (2.0: twice real time).
    skew_bps, skew_every_s, skew_for_s
        Skew windows (``venues.okx.sandbox.skew``): every ``skew_every_s`` seconds of the
        market, for ``skew_for_s`` seconds, all its prices are ``skew_bps`` away from those
        of a sandbox of the same market and seed without skew, the sign alternating per
        window; the sandbox publishes and matches against the skewed market. Raises
        ``ConfigError`` for an impossible window.

    The control endpoints under ``/sandbox/`` (sandbox-only, see ``control``) read and set
    the fault knobs and read the records.
    """
    clock = clock or time.time_ns
    skew = {"skew_bps": skew_bps, "skew_every_s": skew_every_s, "skew_for_s": skew_for_s}
    if market is None:
        insts, timeline = synthetic_market(synthetic_seconds, seed, **skew)
    else:
        insts, timeline = load_market(market)
        timeline = skew_timeline(insts, timeline, **skew)
    accts = list(accounts) if accounts else [DEFAULT_ACCOUNT]
    faults = faults if faults is not None else Faults()
    exchange = Exchange(insts, accts, faults, seed=seed, clock=clock)
    ctx = Ctx(exchange, PublicBooks(insts, seed), faults, {a.api_key: a for a in accts}, clock)
    feed = MarketFeed(timeline, start_ns=clock(), speed=speed)
    app = web.Application()
    app[_CTX] = ctx
    app.router.add_get("/ws/v5/public", _ws_public)
    app.router.add_get("/ws/v5/private", _ws_private)
    app.router.add_routes(control_routes(ctx))  # before the OKX catch-all
    app.router.add_route("*", "/{tail:.*}", _rest)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = int(runner.addresses[0][1])  # the ephemeral port when port == 0
    sandbox = Sandbox(runner, ctx, feed, bound, host)
    sandbox.tick()  # the first books are there before the first request
    sandbox._ticker = asyncio.get_running_loop().create_task(sandbox._run())
    return sandbox
