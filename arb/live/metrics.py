"""The metrics snapshot of a running ``arb run``: read at scrape time, never on the hot path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from arb.core.money import AMOUNT_PRECISION
from arb.ops.metrics import MetricsSnapshot
from venues.live import LiveVenue

if TYPE_CHECKING:
    from arb.live.runner import LiveRunner

__all__ = ["snapshot"]

_UNIT = float(10**AMOUNT_PRECISION)


def snapshot(runner: LiveRunner) -> MetricsSnapshot:
    """Everything ``/metrics`` shows, from the runner's engine and links as they are now."""
    engine = runner.engine
    now = runner.clock()
    snap = MetricsSnapshot(
        messages={link.venue_id: link.messages for link in runner.links},
        rate_limit_waits={link.venue_id: link.rate_limit_waits() for link in runner.links},
        uptime_s=(now - runner.started_ns) / 1e9,
    )
    if engine is None:
        return snap
    ex = engine.executor
    xs = ex.stats
    risk = engine.risk.state
    book_age: dict[tuple[str, str], float] = {}
    valid: dict[tuple[str, str], bool] = {}
    for key, sync in engine.books.items():
        valid[key] = sync.valid
        if sync.valid and sync.book.ts_recv:
            book_age[key] = max(0.0, (now - sync.book.ts_recv) / 1e9)
    orders: dict[str, int] = {}
    fills: dict[str, int] = {}
    for o in ex.all_orders():
        orders[o.venue] = orders.get(o.venue, 0) + 1
        fills[o.venue] = fills.get(o.venue, 0) + len(o.trade_ids)
    errors: dict[tuple[str, str], int] = {}
    for link in runner.links:
        venue = link.execution
        if isinstance(venue, LiveVenue):
            for code, n in venue.errors.items():
                errors[(link.venue_id, code)] = n
    balances = {
        (v, asset): amount / _UNIT
        for v, assets in engine.ledger.totals.items()
        for asset, amount in assets.items()
    }
    snap.book_age_s = book_age
    snap.books_valid = valid
    snap.decision_latency_ns = engine.latency_ns
    snap.opportunities = xs.opportunities
    snap.trades = xs.trades
    snap.refusals = dict(xs.refusals)
    snap.orders = orders
    snap.fills = fills
    snap.rollbacks = xs.rollbacks
    snap.rollback_orders = xs.rollback_orders
    snap.residual_exposure = ex.unhedged_notional / _UNIT
    snap.max_residual_exposure = xs.max_unhedged / _UNIT
    snap.realized_pnl = ex.realized_pnl / _UNIT
    snap.balances = balances
    snap.errors = errors
    snap.decode_errors = {"all": engine.stats.decode_errors}
    snap.book_failures = engine.stats.book_failures
    snap.trading_enabled = engine.trading and not risk.kill_switch_reason
    snap.kill_switch = bool(risk.kill_switch_reason)
    snap.halted_venues = sorted(risk.disabled_venues)
    snap.open_trades = ex.active
    return snap
