"""Shared helpers for the OKX sandbox tests: a bounded event loop and a test-side signer.

The signer here is the test's own few lines (not ``venues.okx.signer``, nor the sandbox's), so
that the raw requests check the sandbox against the protocol, not against itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Coroutine
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run ``coro`` on a fresh event loop, failing after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def iso_now(shift_s: float = 0.0) -> str:
    t = datetime.now(UTC) + timedelta(seconds=shift_s)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signed_headers(
    key: str,
    secret: str,
    passphrase: str,
    method: str,
    path: str,
    body: str = "",
    *,
    timestamp: str | None = None,
) -> dict[str, str]:
    ts = timestamp if timestamp is not None else iso_now()
    prehash = ts + method + path + body
    sign = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest())
    headers = {
        "OK-ACCESS-KEY": key,
        "OK-ACCESS-SIGN": sign.decode(),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": passphrase,
    }
    if method == "POST":
        headers["Content-Type"] = "application/json"
    return headers


def ws_login_args(key: str, secret: str, passphrase: str, ts: int) -> dict[str, str]:
    prehash = f"{ts}GET/users/self/verify"
    sign = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest())
    return {"apiKey": key, "passphrase": passphrase, "timestamp": str(ts), "sign": sign.decode()}


class TracedSession:
    """An aiohttp session that records the URL of every request and WebSocket upgrade, to
    prove that a client (ccxt) talked to nothing but the sandbox."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._on_start)
        self.session = aiohttp.ClientSession(trace_configs=[trace])

    async def _on_start(self, _session: Any, _ctx: Any, params: Any) -> None:
        self.urls.append(str(params.url))

    def assert_only(self, sandbox: Any, *, exact: bool = False) -> None:
        """Every URL went to the sandbox on loopback; ``exact``: and the sandbox logged each
        request (same count, same paths)."""
        port = urlsplit(sandbox.base_url).port
        assert self.urls
        for url in self.urls:
            u = urlsplit(url)
            assert (u.hostname, u.port) == ("127.0.0.1", port), url
        if exact:
            seen = list(sandbox.requests)
            assert len(seen) == len(self.urls)
            assert sorted(urlsplit(u).path for u in self.urls) == sorted(p for _, p in seen)
