"""Client-side rate limits of the OKX v5 REST API: wait instead of being answered 50011.

One token bucket per (endpoint, scope key), sized to the limits OKX documents (reference
§4.7, "Rate limits" in the v5 docs): e.g. placing orders is 60 requests / 2 s per instrument,
batches 300 orders / 2 s, and new + amend orders share 1,000 requests / 2 s per sub-account.
``acquire`` takes the tokens a request needs from every bucket it counts against, sleeping
(through the injected ``sleep``) until they are there. Time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable

from arb.core.ratelimit import TokenBucket

__all__ = ["ENDPOINT_LIMITS", "ORDER_ENDPOINTS", "SUBACCOUNT_LIMIT", "Limit", "OkxRateLimiter"]

Limit = tuple[int, str, bool]
"""(capacity, refill per second as an exact decimal string, per instrument?)."""

ENDPOINT_LIMITS: dict[str, Limit] = {
    "/api/v5/trade/order": (60, "30", True),  # place (POST) and get (GET): 60 / 2 s per instId
    "/api/v5/trade/batch-orders": (300, "150", True),  # counted per order, <= 20 a request
    "/api/v5/trade/cancel-order": (60, "30", True),
    "/api/v5/trade/cancel-batch-orders": (300, "150", True),
    "/api/v5/trade/amend-order": (60, "30", True),
    "/api/v5/trade/amend-batch-orders": (300, "150", True),
    "/api/v5/trade/orders-pending": (60, "30", False),
    "/api/v5/trade/fills": (60, "30", False),
    "/api/v5/trade/fills-history": (10, "5", False),
    "/api/v5/market/books": (40, "20", False),
    "/api/v5/market/tickers": (20, "10", False),
    "/api/v5/market/candles": (40, "20", False),
    "/api/v5/public/instruments": (20, "10", False),
    "/api/v5/public/time": (10, "5", False),
    "/api/v5/public/funding-rate": (10, "5", True),
    "/api/v5/public/mark-price": (10, "5", True),
    "/api/v5/account/balance": (10, "5", False),
    "/api/v5/account/config": (5, "2.5", False),
    "/api/v5/account/trade-fee": (5, "2.5", False),
    "/api/v5/account/bills": (5, "5", False),
}
DEFAULT_LIMIT: Limit = (10, "5", False)
ORDER_ENDPOINTS = frozenset(
    {
        "/api/v5/trade/order",
        "/api/v5/trade/batch-orders",
        "/api/v5/trade/amend-order",
        "/api/v5/trade/amend-batch-orders",
    }
)
"""New and amended orders also count against the sub-account limit (POSTs only)."""
SUBACCOUNT_LIMIT: Limit = (1000, "500", False)


class OkxRateLimiter:
    """Token buckets per endpoint (and instrument where OKX counts per instrument)."""

    def __init__(
        self,
        clock_ns: Callable[[], int],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limits: dict[str, Limit] | None = None,
    ) -> None:
        self._clock = clock_ns
        self._sleep = sleep
        self._limits = dict(ENDPOINT_LIMITS if limits is None else limits)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.waits = 0
        """How many times a request waited for tokens."""
        self.waited_ns = 0

    def _bucket(self, path: str, inst_id: str) -> TokenBucket:
        if path == "subaccount":
            cap, rate, per_inst = SUBACCOUNT_LIMIT
        else:
            cap, rate, per_inst = self._limits.get(path, DEFAULT_LIMIT)
        key = (path, inst_id if per_inst else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.per_second(cap, rate, now_ns=self._clock())
        return bucket

    def buckets_for(self, method: str, path: str, inst_id: str) -> list[TokenBucket]:
        out = [self._bucket(path, inst_id)]
        if method == "POST" and path in ORDER_ENDPOINTS:
            out.append(self._bucket("subaccount", ""))
        return out

    async def acquire(self, method: str, path: str, inst_id: str = "", n: int = 1) -> None:
        """Wait until ``n`` tokens are in every bucket of this request, then take them."""
        buckets = self.buckets_for(method, path, inst_id)
        while True:
            now = self._clock()
            wait = max(b.wait_ns(now, min(n, b.capacity)) for b in buckets)
            if wait <= 0:
                for b in buckets:
                    b.take(now, n)
                return
            self.waits += 1
            self.waited_ns += wait
            await self._sleep(wait / 1e9)
