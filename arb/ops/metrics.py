"""Prometheus metrics of the live engine, served from the engine's own asyncio loop.

The engine never touches a metric on its hot path: it keeps its plain counters, and the server
reads them at scrape time through a snapshot callable returning a ``MetricsSnapshot``. The only
state kept here is the decision-latency histogram: the engine exposes its whole append-only array
of latencies and the collector adds the samples past its cursor at each scrape, so every sample
is counted exactly once.

Endpoints (aiohttp, one ``CollectorRegistry`` per server, never the global one):

- ``GET /metrics``: Prometheus text exposition (``arb_*`` families; ``arb_venue_halted`` is 0
  for every venue in ``messages`` that is not halted);
- ``GET /healthz``: ``200 ok`` while trading is enabled, else ``503`` and the reason;

a snapshot callable that raises answers ``500`` (logged); the server keeps running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry

__all__ = [
    "LATENCY_BUCKETS_S",
    "ArbCollector",
    "LatencyHistogram",
    "MetricsServer",
    "MetricsSnapshot",
]

log = logging.getLogger("arb.ops.metrics")

LATENCY_BUCKETS_S: tuple[float, ...] = (
    1e-6,
    2.5e-6,
    5e-6,
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    1e-2,
    2.5e-2,
    5e-2,
    1e-1,
)
"""Upper bounds of the decision-latency histogram: 1 us .. 100 ms (1, 2.5, 5 per decade)."""


class MetricsSnapshot(msgspec.Struct, kw_only=True):
    """What the engine reports at one scrape; every field has a neutral default."""

    messages: dict[str, int] = {}
    """Frames received, per venue."""
    book_age_s: dict[tuple[str, str], float] = {}
    """(venue, symbol) -> seconds since the book's last update; missing/invalid books absent."""
    books_valid: dict[tuple[str, str], bool] = {}
    decision_latency_ns: Sequence[int] = ()
    """The engine's whole append-only array of decision latencies (ns) so far."""
    opportunities: int = 0
    trades: int = 0
    refusals: dict[str, int] = {}
    """Refused opportunities, by refusal code."""
    orders: dict[str, int] = {}
    fills: dict[str, int] = {}
    rollbacks: int = 0
    rollback_orders: int = 0
    residual_exposure: float = 0.0
    """Current residual unhedged exposure, home currency."""
    max_residual_exposure: float = 0.0
    realized_pnl: float = 0.0
    balances: dict[tuple[str, str], float] = {}
    """(venue, asset) -> amount."""
    rate_limit_waits: dict[str, int] = {}
    errors: dict[tuple[str, str], int] = {}
    """(venue, error code) -> count."""
    decode_errors: dict[str, int] = {}
    book_failures: int = 0
    trading_enabled: bool = False
    disabled_reason: str = ""
    """Why trading is disabled (the ``/healthz`` 503 text); derived when empty."""
    kill_switch: bool = False
    halted_venues: list[str] = []
    open_trades: int = 0
    uptime_s: float = 0.0


class LatencyHistogram:
    """Cumulative histogram fed from an append-only array through a cursor.

    ``update(samples)`` adds ``samples[cursor:]`` and moves the cursor to the end. If the array
    became shorter than the cursor (the engine replaced it), the cursor restarts at its end and
    nothing is counted twice.
    """

    def __init__(self, bounds_s: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.bounds_s = tuple(bounds_s)
        self._bounds_ns = np.array([round(b * 1e9) for b in self.bounds_s], dtype=np.int64)
        self._counts = np.zeros(len(self.bounds_s) + 1, dtype=np.int64)  # last: above all
        self.cursor = 0
        self.sum_s = 0.0

    @property
    def count(self) -> int:
        """Number of samples counted."""
        return int(self._counts.sum())

    def update(self, samples: Sequence[int]) -> int:
        """Count the samples past the cursor; return how many were added."""
        n = len(samples)
        if n < self.cursor:
            self.cursor = n
        if n == self.cursor:
            return 0
        new = np.asarray(samples[self.cursor : n], dtype=np.int64)
        # side="left": a sample equal to a bound belongs to that bound's bucket (le).
        idx = np.searchsorted(self._bounds_ns, new, side="left")
        self._counts += np.bincount(idx, minlength=len(self._counts))
        self.sum_s += float(new.sum()) / 1e9
        self.cursor = n
        return len(new)

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, ``+Inf`` last."""
        cum = np.cumsum(self._counts)
        out = [(repr(b), float(c)) for b, c in zip(self.bounds_s, cum[:-1], strict=True)]
        out.append(("+Inf", float(cum[-1])))
        return out


def _counter(name: str, doc: str, labels: Sequence[str], values: Mapping[Any, float]) -> Metric:
    fam = CounterMetricFamily(name, doc, labels=labels)
    for key, value in values.items():
        fam.add_metric(_label_values(key), value)
    return fam


def _gauge(name: str, doc: str, labels: Sequence[str], values: Mapping[Any, float]) -> Metric:
    fam = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in values.items():
        fam.add_metric(_label_values(key), value)
    return fam


def _label_values(key: object) -> list[str]:
    return [str(k) for k in key] if isinstance(key, tuple) else [str(key)]


class ArbCollector:
    """Custom collector: one snapshot per ``collect`` turned into ``arb_*`` families.

    Parameters
    ----------
    snapshot
        Called once per collection; an exception propagates to the caller.
    """

    def __init__(self, snapshot: Callable[[], MetricsSnapshot]) -> None:
        self._snapshot = snapshot
        self.latency = LatencyHistogram()

    def describe(self) -> list[Metric]:
        """Nothing to describe up front (keeps ``register`` from calling ``collect``)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families of a fresh snapshot."""
        s = self._snapshot()
        self.latency.update(s.decision_latency_ns)
        yield from self._per_venue(s)
        yield from self._trading(s)
        yield from self._state(s)

    def _per_venue(self, s: MetricsSnapshot) -> Iterator[Metric]:
        vs = ("venue", "symbol")
        yield _counter("arb_messages", "Frames received.", ["venue"], s.messages)
        yield _gauge(
            "arb_book_age_seconds", "Seconds since the book's last update.", vs, s.book_age_s
        )
        valid = {k: float(v) for k, v in s.books_valid.items()}
        yield _gauge("arb_book_valid", "1 if the book is valid.", vs, valid)
        yield _counter("arb_orders", "Orders sent.", ["venue"], s.orders)
        yield _counter("arb_fills", "Fills received.", ["venue"], s.fills)
        yield _gauge("arb_balance", "Balance per venue and asset.", ["venue", "asset"], s.balances)
        yield _counter(
            "arb_rate_limit_waits",
            "Waits imposed by rate limits.",
            ["venue"],
            s.rate_limit_waits,
        )
        yield _counter("arb_errors", "Venue errors by code.", ["venue", "code"], s.errors)
        yield _counter(
            "arb_decode_errors", "Frames that failed to decode.", ["venue"], s.decode_errors
        )
        halted = dict.fromkeys(s.messages, 0.0) | dict.fromkeys(s.halted_venues, 1.0)
        yield _gauge("arb_venue_halted", "1 while the venue's breaker is open.", ["venue"], halted)

    def _trading(self, s: MetricsSnapshot) -> Iterator[Metric]:
        yield HistogramMetricFamily(
            "arb_decision_latency_seconds",
            "Book update to decision latency.",
            buckets=self.latency.buckets(),
            sum_value=self.latency.sum_s,
        )
        yield CounterMetricFamily("arb_opportunities", "Opportunities.", value=s.opportunities)
        yield CounterMetricFamily("arb_trades", "Trades started.", value=s.trades)
        yield _counter("arb_refusals", "Refused opportunities.", ["code"], s.refusals)
        yield CounterMetricFamily("arb_rollbacks", "Rollbacks.", value=s.rollbacks)
        yield CounterMetricFamily("arb_rollback_orders", "Rollback orders.", s.rollback_orders)
        yield GaugeMetricFamily("arb_residual_exposure", "Residual exposure.", s.residual_exposure)
        yield GaugeMetricFamily(
            "arb_max_residual_exposure", "Largest residual exposure.", s.max_residual_exposure
        )
        yield GaugeMetricFamily("arb_realized_pnl", "Realized PnL, home currency.", s.realized_pnl)
        yield GaugeMetricFamily("arb_open_trades", "Trades in flight.", s.open_trades)

    def _state(self, s: MetricsSnapshot) -> Iterator[Metric]:
        yield CounterMetricFamily("arb_book_failures", "Books failing a check.", s.book_failures)
        yield GaugeMetricFamily("arb_trading_enabled", "1 if trading.", float(s.trading_enabled))
        yield GaugeMetricFamily("arb_kill_switch", "1 if tripped.", float(s.kill_switch))
        yield GaugeMetricFamily("arb_uptime_seconds", "Seconds since start.", s.uptime_s)


def health_reason(s: MetricsSnapshot) -> str:
    """Return why trading is disabled ("" while it is enabled)."""
    if s.trading_enabled:
        return ""
    if s.disabled_reason:
        return s.disabled_reason
    if s.kill_switch:
        return "kill switch tripped"
    return "trading disabled"


class MetricsServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` (0: an ephemeral port, see ``port``)."""

    def __init__(
        self,
        snapshot: Callable[[], MetricsSnapshot],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._snapshot = snapshot
        self.host = host
        self._port = port
        self.registry = CollectorRegistry()
        self.collector = ArbCollector(snapshot)
        self.registry.register(self.collector)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port once started, else the port asked for."""
        return self._port

    def render(self) -> bytes:
        """Return the text exposition of a fresh snapshot (raises what the snapshot raises)."""
        return generate_latest(self.registry)

    async def start(self) -> None:
        """Bind and serve."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addr = runner.addresses[0]
        self._port = int(addr[1])
        log.info("metrics server listening", extra={"host": self.host, "port": self._port})

    async def close(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        try:
            body = self.render()
        except Exception:
            log.exception("metrics snapshot failed")
            return web.Response(status=500, text="metrics snapshot failed")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        try:
            reason = health_reason(self._snapshot())
        except Exception:
            log.exception("health snapshot failed")
            return web.Response(status=500, text="health snapshot failed")
        if reason:
            return web.Response(status=503, text=reason)
        return web.Response(status=200, text="ok")
