"""Client-side OKX rate limits: the client waits instead of being answered 50011."""

from __future__ import annotations

import asyncio

from venues.okx.ratelimit import OkxRateLimiter

PLACE = "/api/v5/trade/order"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000_000
        self.slept: list[float] = []

    def clock(self) -> int:
        return self.now

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += round(s * 1e9)


def run(limiter: OkxRateLimiter, calls: list[tuple[str, str, str]]) -> None:
    async def go() -> None:
        for method, path, inst in calls:
            await limiter.acquire(method, path, inst)

    asyncio.run(go())


def test_sixty_orders_per_instrument_go_at_once_the_61st_waits_one_refill():
    t = FakeTime()
    lim = OkxRateLimiter(t.clock, t.sleep)
    run(lim, [("POST", PLACE, "BTC-USDT")] * 60)
    assert t.slept == []
    run(lim, [("POST", PLACE, "BTC-USDT")])
    assert lim.waits == 1
    assert abs(t.slept[0] - 1 / 30) < 1e-9  # 60 per 2 s refills one every 33.3 ms


def test_instruments_have_their_own_order_buckets():
    t = FakeTime()
    lim = OkxRateLimiter(t.clock, t.sleep)
    run(lim, [("POST", PLACE, "BTC-USDT")] * 60 + [("POST", PLACE, "ETH-USDT")] * 60)
    assert t.slept == []


def test_new_orders_share_the_sub_account_limit_across_instruments():
    t = FakeTime()
    lim = OkxRateLimiter(t.clock, t.sleep)
    calls = [("POST", PLACE, f"I{i}-USDT") for i in range(20) for _ in range(50)]  # 1000
    run(lim, calls)
    assert t.slept == []
    run(lim, [("POST", PLACE, "NEW-USDT")])  # its own bucket is full, the account's is not
    assert lim.waits == 1


def test_reading_an_order_does_not_count_against_the_sub_account_limit():
    t = FakeTime()
    lim = OkxRateLimiter(t.clock, t.sleep)
    assert len(lim.buckets_for("GET", PLACE, "BTC-USDT")) == 1
    assert len(lim.buckets_for("POST", PLACE, "BTC-USDT")) == 2


def test_ip_limited_public_endpoint_waits_after_its_burst():
    t = FakeTime()
    lim = OkxRateLimiter(t.clock, t.sleep)
    run(lim, [("GET", "/api/v5/public/time", "")] * 11)  # 10 per 2 s
    assert len(t.slept) == 1
    assert abs(t.slept[0] - 0.2) < 1e-9
