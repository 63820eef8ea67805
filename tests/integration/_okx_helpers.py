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
