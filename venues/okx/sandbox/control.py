"""Test control of a running sandbox under ``/sandbox/``: SANDBOX-ONLY, not part of OKX's API.

A parent process (an end-to-end test driving ``arb okx-sandbox`` as a subprocess) reads and
changes the fault knobs and reads the sandbox's own records, to compare with a client's::

    GET  /sandbox/faults   -> 200 {"drop_ws_after_msgs": 0, "ack_delay_ms": 0.0, ...}
    POST /sandbox/faults   {"reject_next": 1, "partial_fill_next": 2}
                           -> 200 the knobs after the change (every knob)
                           -> 400 {"error": "faults: unknown knob 'x' (knobs: ...)"} (nothing
                              changes when one knob is unknown or a value invalid)
    GET  /sandbox/records  -> 200 {"orders": [...], "fills": [...],
                                   "balances": {api_key: {ccy: "100000.5"}},
                                   "available": {api_key: {ccy: "99000"}}}

``orders`` are OKX order records (``trade/order``'s fields: ``instId``, ``clOrdId``,
``ordId``, ``side``, ``ordType``, ``px``, ``sz``, ``accFillSz``, ``avgPx``, ``state``, ``fee``,
...), oldest first; ``fills`` are OKX fill records (``instId``, ``clOrdId``, ``ordId``,
``tradeId``, ``side``, ``fillPx``, ``fillSz``, ``fee``, ``feeCcy``, ``execType``, ...), oldest
first; both add ``apiKey``, the account's key. Amounts are exact decimal strings; fees carry
OKX's sign (negative: charged). ``balances`` are each account's totals (reserved amounts
included), ``available`` what open orders leave free. No secret or passphrase is ever shown.

These requests need no OKX signature, are not logged in ``Sandbox.requests``, and neither
count against the rate limits nor meet a fault (``rate_limit_burst`` and ``ack_delay_ms``
leave them alone). They are answered to loopback peers only (HTTP 403 otherwise); the
sandbox binds 127.0.0.1 by default anyway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from arb.core.errors import ConfigError
from venues.okx.sandbox.accounts import update_faults
from venues.okx.sandbox.context import Ctx
from venues.okx.sandbox.state import amount_str

__all__ = ["PREFIX", "records", "routes"]

PREFIX = "/sandbox/"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def records(ctx: Ctx) -> dict[str, Any]:
    """The sandbox's orders, fills and balances, as ``GET /sandbox/records`` answers them."""
    ex = ctx.exchange
    orders = [{**o.to_okx(), "apiKey": o.key} for o in ex.orders.values()]
    fills = [{**{k: v for k, v in f.items() if k != "_key"}, "apiKey": f["_key"]} for f in ex.fills]
    balances: dict[str, dict[str, str]] = {}
    available: dict[str, dict[str, str]] = {}
    for key, acc in ex.accounts.items():
        totals = acc.venue.totals()
        free = acc.venue.balances()
        balances[key] = {ccy: amount_str(v) for ccy, v in sorted(totals.items())}
        available[key] = {ccy: amount_str(free.get(ccy, v)) for ccy, v in sorted(totals.items())}
    return {"orders": orders, "fills": fills, "balances": balances, "available": available}


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(obj), status=status, content_type="application/json"
    )


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def routes(ctx: Ctx) -> list[web.RouteDef]:
    """The ``/sandbox/`` routes of ``ctx``'s server (register them before the OKX catch-all)."""

    def guarded(fn: Callable[[web.Request], Awaitable[web.Response]]) -> _Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            if not _loopback(request):
                return _json({"error": "sandbox control is served to loopback only"}, 403)
            return await fn(request)

        return handler

    async def get_faults(_: web.Request) -> web.Response:
        return _json(ctx.faults)

    async def post_faults(request: web.Request) -> web.Response:
        try:
            changes = msgspec.json.decode(await request.read())
        except msgspec.DecodeError as e:
            return _json({"error": f"faults: body is not JSON: {e}"}, 400)
        try:
            update_faults(ctx.faults, changes)
        except ConfigError as e:
            return _json({"error": str(e)}, 400)
        return _json(ctx.faults)

    async def get_records(_: web.Request) -> web.Response:
        return _json(records(ctx))

    async def not_found(request: web.Request) -> web.Response:
        return _json({"error": f"no sandbox control at {request.method} {request.path}"}, 404)

    return [
        web.get(PREFIX + "faults", guarded(get_faults), allow_head=False),
        web.post(PREFIX + "faults", guarded(post_faults)),
        web.get(PREFIX + "records", guarded(get_records), allow_head=False),
        web.route("*", PREFIX + "{tail:.*}", guarded(not_found)),
    ]
