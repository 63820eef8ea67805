"""Metrics endpoint on loopback: scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from arb.ops.metrics import LatencyHistogram
from arb.ops.metrics import MetricsServer
from arb.ops.metrics import MetricsSnapshot

pytestmark = pytest.mark.integration

LIMIT_S = 5.0


@dataclass
class FakeEngine:
    """A mutable stand-in for the engine's counters."""

    latencies: list[int] = field(default_factory=list)
    messages: dict[str, int] = field(default_factory=lambda: {"okx": 10, "binance": 7})
    trading: bool = True
    kill: bool = False
    reason: str = ""
    broken: bool = False
    calls: int = 0

    def snapshot(self) -> MetricsSnapshot:
        self.calls += 1
        if self.broken:
            raise RuntimeError("engine state unavailable")
        return MetricsSnapshot(
            messages=dict(self.messages),
            book_age_s={("okx", "BTC-USDT"): 0.25, ("binance", "BTC-USDT"): 1.5},
            books_valid={("okx", "BTC-USDT"): True, ("binance", "ETH-USDT"): False},
            decision_latency_ns=self.latencies,
            opportunities=12,
            trades=4,
            refusals={"RISK_NOTIONAL": 3, "STALE_QUOTE": 5},
            orders={"okx": 6, "binance": 5},
            fills={"okx": 4, "binance": 4},
            rollbacks=1,
            rollback_orders=2,
            residual_exposure=3.5,
            max_residual_exposure=9.25,
            realized_pnl=-1.75,
            balances={("okx", "USDT"): 1000.0, ("binance", "BTC"): 0.5},
            rate_limit_waits={"okx": 2},
            errors={("okx", "51008"): 1},
            decode_errors={"binance": 3},
            book_failures=2,
            trading_enabled=self.trading,
            disabled_reason=self.reason,
            kill_switch=self.kill,
            halted_venues=["binance"],
            open_trades=1,
            uptime_s=42.0,
        )


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), LIMIT_S))


async def get(server: MetricsServer, path: str) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{server.port}{path}"
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            assert isinstance(smp, Sample)
            out[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
    return out


def val(data: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str):
    return data[(name, tuple(sorted(labels.items())))]


def test_scrape_exposes_every_family_with_values_and_labels():
    eng = FakeEngine()

    async def body() -> None:
        server = MetricsServer(eng.snapshot, host="127.0.0.1", port=0)
        await server.start()
        try:
            assert server.port > 0
            status, ctype, text = await get(server, "/metrics")
        finally:
            await server.close()
        assert status == 200
        assert ctype == CONTENT_TYPE_LATEST
        d = samples(text)
        assert val(d, "arb_messages_total", venue="okx") == 10
        assert val(d, "arb_messages_total", venue="binance") == 7
        assert val(d, "arb_book_age_seconds", venue="binance", symbol="BTC-USDT") == 1.5
        assert val(d, "arb_book_valid", venue="okx", symbol="BTC-USDT") == 1
        assert val(d, "arb_book_valid", venue="binance", symbol="ETH-USDT") == 0
        assert val(d, "arb_opportunities_total") == 12
        assert val(d, "arb_trades_total") == 4
        assert val(d, "arb_refusals_total", code="STALE_QUOTE") == 5
        assert val(d, "arb_orders_total", venue="okx") == 6
        assert val(d, "arb_fills_total", venue="binance") == 4
        assert val(d, "arb_rollbacks_total") == 1
        assert val(d, "arb_rollback_orders_total") == 2
        assert val(d, "arb_residual_exposure") == 3.5
        assert val(d, "arb_max_residual_exposure") == 9.25
        assert val(d, "arb_realized_pnl") == -1.75
        assert val(d, "arb_balance", venue="binance", asset="BTC") == 0.5
        assert val(d, "arb_rate_limit_waits_total", venue="okx") == 2
        assert val(d, "arb_errors_total", venue="okx", code="51008") == 1
        assert val(d, "arb_decode_errors_total", venue="binance") == 3
        assert val(d, "arb_book_failures_total") == 2
        assert val(d, "arb_trading_enabled") == 1
        assert val(d, "arb_kill_switch") == 0
        assert val(d, "arb_venue_halted", venue="binance") == 1
        assert val(d, "arb_venue_halted", venue="okx") == 0
        assert val(d, "arb_open_trades") == 1
        assert val(d, "arb_uptime_seconds") == 42.0
        assert val(d, "arb_decision_latency_seconds_count") == 0

    run(body)


def test_latency_samples_are_counted_once_across_scrapes():
    eng = FakeEngine(latencies=[500, 1_000, 7_000])  # 0.5 us, 1 us (on a bound), 7 us

    async def body() -> None:
        server = MetricsServer(eng.snapshot)
        await server.start()
        try:
            first = samples((await get(server, "/metrics"))[2])
            eng.latencies.extend([2_000_000, 500_000_000])  # 2 ms, 0.5 s (above every bucket)
            second = samples((await get(server, "/metrics"))[2])
            third = samples((await get(server, "/metrics"))[2])
        finally:
            await server.close()
        h = "arb_decision_latency_seconds"
        assert val(first, f"{h}_count") == 3
        assert val(first, f"{h}_bucket", le="1e-06") == 2
        assert val(first, f"{h}_bucket", le="1e-05") == 3
        assert val(first, f"{h}_bucket", le="+Inf") == 3
        assert val(first, f"{h}_sum") == pytest.approx(8.5e-6)
        assert val(second, f"{h}_count") == 5
        assert val(second, f"{h}_bucket", le="0.001") == 3
        assert val(second, f"{h}_bucket", le="0.0025") == 4
        assert val(second, f"{h}_bucket", le="0.1") == 4
        assert val(second, f"{h}_bucket", le="+Inf") == 5
        assert val(second, f"{h}_sum") == pytest.approx(0.5020085)
        assert third == second  # nothing new: nothing counted again

    run(body)


def test_healthz_is_200_while_trading_then_503_with_the_reason():
    eng = FakeEngine()

    async def body() -> None:
        server = MetricsServer(eng.snapshot)
        await server.start()
        try:
            ok = await get(server, "/healthz")
            eng.trading, eng.kill, eng.reason = False, True, "kill switch: SIGUSR1"
            down = await get(server, "/healthz")
            eng.reason = ""
            derived = await get(server, "/healthz")
            metrics = samples((await get(server, "/metrics"))[2])
        finally:
            await server.close()
        assert (ok[0], ok[2]) == (200, "ok")
        assert (down[0], down[2]) == (503, "kill switch: SIGUSR1")
        assert derived[0] == 503
        assert "kill switch" in derived[2]
        assert val(metrics, "arb_trading_enabled") == 0
        assert val(metrics, "arb_kill_switch") == 1

    run(body)


def test_failing_snapshot_answers_500_and_the_server_keeps_serving(caplog):
    eng = FakeEngine(broken=True)

    async def body() -> None:
        server = MetricsServer(eng.snapshot)
        await server.start()
        try:
            bad_metrics = await get(server, "/metrics")
            bad_health = await get(server, "/healthz")
            eng.broken = False
            good = await get(server, "/metrics")
        finally:
            await server.close()
        assert bad_metrics[0] == 500
        assert bad_health[0] == 500
        assert good[0] == 200
        assert val(samples(good[2]), "arb_trades_total") == 4

    with caplog.at_level("ERROR", logger="arb.ops.metrics"):
        run(body)
    errors = [r for r in caplog.records if r.name == "arb.ops.metrics"]
    assert len(errors) == 2
    assert all(r.exc_info is not None for r in errors)


def test_render_without_server_and_own_registry_per_server():
    a = MetricsServer(FakeEngine().snapshot)
    b = MetricsServer(FakeEngine(messages={"kraken": 1}).snapshot)
    assert a.registry is not b.registry
    assert b'arb_messages_total{venue="okx"} 10.0' in a.render()
    rendered = b.render()
    assert b'arb_messages_total{venue="kraken"} 1.0' in rendered
    assert b'arb_messages_total{venue="okx"}' not in rendered


def test_close_twice_and_port_released():
    async def body() -> None:
        server = MetricsServer(FakeEngine().snapshot)
        await server.start()
        port = server.port
        await server.close()
        await server.close()
        again = MetricsServer(FakeEngine().snapshot, port=port)
        await again.start()
        try:
            assert again.port == port
            assert (await get(again, "/healthz"))[0] == 200
        finally:
            await again.close()

    run(body)


def test_histogram_restarts_cursor_when_the_array_is_replaced():
    h = LatencyHistogram()
    assert h.update([1_000, 2_000]) == 2
    assert h.update([1_000, 2_000]) == 0
    assert h.update([5]) == 0  # shorter: a new array; its past is not counted
    assert h.update([5, 6]) == 1
    assert h.count == 3
