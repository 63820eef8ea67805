"""What OKX checks before it looks at a request: keys, signatures, clock skew, rate limits.

The signature is verified here with its own few lines of ``hmac``/``base64`` (a test double
must not share the client's signer, or a bug in one would hide in both)::

    prehash = OK-ACCESS-TIMESTAMP + METHOD + request path with its query, as sent + body, as sent
    OK-ACCESS-SIGN == Base64(HMAC-SHA256(secret, prehash))

REST timestamps are ISO 8601 UTC with milliseconds (``2020-12-08T09:08:57.715Z``); an
all-digits timestamp (Unix seconds or ms, the common mistake) is answered with 50102 as OKX
does in practice, any other malformed value with 50112. More than 30 s from the server clock:
50102. WebSocket ``login`` takes Unix seconds and signs ``timestamp + "GET" +
"/users/self/verify"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime

from arb.core.ratelimit import TokenBucket
from venues.okx.sandbox.accounts import SandboxAccount

__all__ = [
    "LIMITS",
    "MAX_SKEW_MS",
    "AuthFailure",
    "RateLimiter",
    "check_login",
    "check_rest",
    "expected_sign",
]

MAX_SKEW_MS = 30_000
WS_VERIFY_PATH = "/users/self/verify"
_ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


class AuthFailure(Exception):
    """A request refused before it reaches the endpoint: OKX ``code``, ``msg``, HTTP status."""

    def __init__(self, code: str, msg: str, status: int = 401) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def expected_sign(secret: str, prehash: str) -> str:
    """Base64 HMAC-SHA256 of ``prehash`` under ``secret`` (OKX's ``OK-ACCESS-SIGN``)."""
    mac = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _iso_ms(ts: str) -> int:
    if ts.isdigit():
        raise AuthFailure("50102", "Timestamp request expired")
    if not _ISO_MS.fullmatch(ts):
        raise AuthFailure("50112", "Invalid OK-ACCESS-TIMESTAMP")
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError as e:
        raise AuthFailure("50112", "Invalid OK-ACCESS-TIMESTAMP") from e
    return int(dt.timestamp() * 1000)


def check_rest(
    headers: Mapping[str, str],
    method: str,
    raw_path: str,
    body: str,
    accounts: Mapping[str, SandboxAccount],
    now_ms: int,
    remote: str,
) -> SandboxAccount:
    """The account of a signed REST request, or ``AuthFailure`` with OKX's code.

    ``raw_path`` is the path with its query exactly as on the request line; ``body`` the
    exact body text (``""`` for GET).
    """
    key = headers.get("OK-ACCESS-KEY", "")
    if not key:
        raise AuthFailure("50103", "Request header OK-ACCESS-KEY cannot be empty.")
    account = accounts.get(key)
    if account is None:
        raise AuthFailure("50111", "Invalid OK-ACCESS-KEY.")
    passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
    if not passphrase:
        raise AuthFailure("50104", "Request header OK-ACCESS-PASSPHRASE cannot be empty.")
    if not hmac.compare_digest(passphrase.encode(), account.passphrase.encode()):
        raise AuthFailure("50105", "Request header OK-ACCESS-PASSPHRASE incorrect.")
    ts = headers.get("OK-ACCESS-TIMESTAMP", "")
    if not ts:
        raise AuthFailure("50107", "Request header OK-ACCESS-TIMESTAMP cannot be empty.")
    if abs(now_ms - _iso_ms(ts)) > MAX_SKEW_MS:
        raise AuthFailure("50102", "Timestamp request expired")
    sign = headers.get("OK-ACCESS-SIGN", "")
    if not sign:
        raise AuthFailure("50106", "Request header OK-ACCESS-SIGN cannot be empty.")
    want = expected_sign(account.secret, ts + method.upper() + raw_path + body)
    if not hmac.compare_digest(sign.encode(), want.encode()):
        raise AuthFailure("50113", "Invalid signature.")
    if account.ip and remote not in {a.strip() for a in account.ip.split(",")}:
        raise AuthFailure(
            "50110", f"Your IP {remote} is not included in your API key's IP whitelist."
        )
    return account


def check_login(
    arg: Mapping[str, object], accounts: Mapping[str, SandboxAccount], now_ms: int
) -> SandboxAccount:
    """The account of a WebSocket ``login`` arg, or ``AuthFailure`` with OKX's WS code."""
    key, passphrase = str(arg.get("apiKey", "")), str(arg.get("passphrase", ""))
    ts, sign = str(arg.get("timestamp", "")), str(arg.get("sign", ""))
    account = accounts.get(key)
    if account is None:
        raise AuthFailure("60005", "Invalid OK_ACCESS_KEY")
    if not hmac.compare_digest(passphrase.encode(), account.passphrase.encode()):
        raise AuthFailure("60024", "Wrong passphrase")
    if not ts.isdigit():
        raise AuthFailure("60004", "Invalid timestamp")
    if abs(now_ms - int(ts) * 1000) > MAX_SKEW_MS:
        raise AuthFailure("60006", "Timestamp request expired")
    want = expected_sign(account.secret, ts + "GET" + WS_VERIFY_PATH)
    if not hmac.compare_digest(sign.encode(), want.encode()):
        raise AuthFailure("60007", "Invalid sign")
    return account


LIMITS: dict[str, tuple[int, str]] = {
    # path -> (requests, or orders for batches, per 2 s; rule) as documented by OKX.
    "/api/v5/public/time": (10, "ip"),
    "/api/v5/public/instruments": (20, "ip+instType"),
    "/api/v5/market/books": (40, "ip"),
    "/api/v5/market/tickers": (20, "ip"),
    "/api/v5/market/ticker": (20, "ip"),
    "/api/v5/market/candles": (40, "ip"),
    "/api/v5/public/funding-rate": (10, "ip+instId"),
    "/api/v5/public/mark-price": (10, "ip+instId"),
    "/api/v5/account/bills": (10, "uid"),
    "/api/v5/account/balance": (10, "uid"),
    "/api/v5/account/config": (5, "uid"),
    "/api/v5/account/trade-fee": (5, "uid"),
    "/api/v5/asset/currencies": (12, "uid"),
    "/api/v5/trade/order": (60, "uid+inst"),
    "/api/v5/trade/batch-orders": (300, "uid+inst"),
    "/api/v5/trade/cancel-order": (60, "uid+inst"),
    "/api/v5/trade/cancel-batch-orders": (300, "uid+inst"),
    "/api/v5/trade/amend-order": (60, "uid+inst"),
    "/api/v5/trade/orders-pending": (60, "uid"),
    "/api/v5/trade/fills": (60, "uid"),
    "/api/v5/trade/fills-history": (10, "uid"),
}
PERIOD_NS = 2_000_000_000
SUB_ACCOUNT_LIMIT = 1000
"""New and amended orders per 2 s per account, REST and WS together (error 50061)."""
_COUNTS_TOWARD_SUB = frozenset(
    ("/api/v5/trade/batch-orders", "/api/v5/trade/amend-order", "POST /api/v5/trade/order")
)


class RateLimiter:
    """OKX's documented REST limits as token buckets (one per endpoint and rule key)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    def _bucket(self, key: tuple[str, ...], capacity: int, now_ns: int) -> TokenBucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = TokenBucket(capacity, capacity, PERIOD_NS, now_ns=now_ns)
        return b

    def allow(
        self, method: str, path: str, *, ip: str, uid: str, counts: Mapping[str, int], now_ns: int
    ) -> str:
        """``""`` if the request fits, else the OKX code (50011, or 50061 for the account).

        ``counts``: tokens per rule value (instId for trade endpoints, instType for
        instruments; ``{"": 1}`` otherwise). A refused request takes no token.
        """
        spec = LIMITS.get(path)
        if spec is None:
            return ""
        capacity, rule = spec
        who = ip if rule.startswith("ip") else uid
        buckets = [
            (self._bucket((method, path, who, k), capacity, now_ns), n) for k, n in counts.items()
        ]
        total = sum(counts.values())
        sub = None
        if path in _COUNTS_TOWARD_SUB or f"{method} {path}" in _COUNTS_TOWARD_SUB:
            sub = self._bucket(("sub", uid), SUB_ACCOUNT_LIMIT, now_ns)
        if any(b.available(now_ns) < n for b, n in buckets):
            return "50011"
        if sub is not None and sub.available(now_ns) < total:
            return "50061"
        for b, n in buckets:
            b.try_take(now_ns, n)
        if sub is not None:
            sub.try_take(now_ns, total)
        return ""
