"""The replay report: ``report.json`` (machine-readable), ``report.md`` (tables a trader reads)
and ``pnl.png`` (equity, spreads and trades over time).

Money is exact: decimal numbers in the JSON (never floats), in the home currency (the quote
of the configured pairs). Definitions:

``pnl_quote``
    Change of all balances on all venues since the start, valued at the final marks (mid of
    the books): fees, slippage and anything left unhedged included.
``fees_quote``
    Fees paid in the home currency (negative: rebates).
``rollback_loss_quote``
    What rollback orders cost against the legs' prices (hedge: against the leg's limit;
    unwind: against the leg's average fill) plus their fees. Positive = money lost.
``max_unhedged_notional_quote`` / ``unhedged_notional_end_quote``
    The largest sum over trades of their residual exposure during the run, and the inventory
    change of every non-home asset across venues at the end (home value, absolute).
``decision_latency_us``
    Frame in (bytes) to detector decision, in process, per evaluated book update.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from arb.config import Config
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import from_raw
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import unit_value
from arb.journal import Journal

if TYPE_CHECKING:
    from arb.engine import Engine
    from venues.sim.venue import SimVenue

__all__ = [
    "LatencySummary",
    "ReplayReport",
    "StrategySummary",
    "TradeRow",
    "VenueSummary",
    "build_report",
    "write_outputs",
]


def _dec(raw: int) -> Decimal:
    # exact, without trailing zeros: 2.5, 0, 1500 (never an exponent)
    s = from_raw(raw, AMOUNT_PRECISION)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return Decimal(s if s not in ("", "-", "-0") else "0")


def _m(d: Decimal, places: int = 4) -> str:
    """Money for humans: rounded half-even to ``places`` decimals (the JSON is exact)."""
    return f"{d.quantize(Decimal(1).scaleb(-places)):,}"


class LatencySummary(msgspec.Struct, kw_only=True):
    n: int
    p50: float
    p90: float
    p99: float
    max: float


class VenueSummary(msgspec.Struct, kw_only=True):
    orders: int
    rollback_orders: int
    fills: int
    rejects: int
    volume_quote: Decimal
    fees_quote: Decimal
    balances_start: dict[str, Decimal]
    balances_end: dict[str, Decimal]


class StrategySummary(msgspec.Struct, kw_only=True):
    """One strategy's share of the run (``Opportunity.kind``)."""

    opportunities: int
    trades: int
    rollbacks: int
    expected_profit_quote: Decimal
    pnl_quote: Decimal
    fees_quote: Decimal
    funding_quote: Decimal = Decimal(0)
    """Funding received (negative: paid) on the strategy's positions (basis)."""


class TradeRow(msgspec.Struct, kw_only=True):
    opportunity_id: str
    kind: str
    symbol: str
    ts_start: int
    duration_ms: float
    expected_profit_quote: Decimal
    pnl_quote: Decimal
    fees_quote: Decimal
    residual_quote: Decimal
    rollback: bool
    outcome: str


class ReplayReport(msgspec.Struct, kw_only=True):
    config: str
    recordings: list[str]
    run_id: str
    quote: str
    start_ns: int
    end_ns: int
    frames: int
    book_updates: int
    decode_errors: int
    book_failures: int
    opportunities: int
    trades: int
    legs_sent: int
    legs_filled: int
    partial_fills: int
    legs_unfilled: int
    rejects: int
    rollbacks: int
    rollback_orders: int
    escalations: int
    rollback_loss_quote: Decimal
    max_unhedged_notional_quote: Decimal
    unhedged_notional_end_quote: Decimal
    unhedged_end_by_asset: dict[str, Decimal]
    fees_quote: Decimal
    pnl_quote: Decimal
    trades_pnl_quote: Decimal
    expected_profit_quote: Decimal
    refusals: dict[str, int]
    detector_refusals: dict[str, int]
    races: dict[str, int]
    decision_latency_us: LatencySummary
    venues: dict[str, VenueSummary]
    unfinished_trades: int
    ledger_matches_venues: bool
    kill_switch: str
    stopped: str
    wall_s: float
    frames_per_s: float
    journal_sha256: str
    strategies: dict[str, StrategySummary] = {}
    trade_list: list[TradeRow] = []


def _latency(samples: list[int]) -> LatencySummary:
    if not samples:
        return LatencySummary(n=0, p50=0.0, p90=0.0, p99=0.0, max=0.0)
    s = sorted(samples)
    n = len(s)

    def q(p: float) -> float:
        return round(s[min(n - 1, int(p * n))] / 1000, 3)

    return LatencySummary(n=n, p50=q(0.5), p90=q(0.9), p99=q(0.99), max=round(s[-1] / 1000, 3))


def final_marks(engine: Engine, home: str) -> dict[str, int]:
    """Home value of one unit of each asset: the last valid mid of its books, else the
    executor's last mark."""
    marks = dict(engine.executor.marks)
    for key in sorted(engine.books):
        sync = engine.books[key]
        inst = engine.instruments[key]
        if inst.quote != home or not sync.valid:
            continue
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        if bid is not None and ask is not None:
            marks[inst.base] = unit_value(inst, (bid[0] + ask[0]) // 2)
    return marks


def build_report(
    cfg: Config,
    engine: Engine,
    sims: Mapping[str, SimVenue],
    journal: Journal,
    *,
    config_path: str,
    recordings: list[str],
    drained: bool,
    stopped: str,
    wall_s: float,
) -> ReplayReport:
    """Collect the numbers of a finished replay (the journal is flushed, still open)."""
    home = _home(cfg)
    ex = engine.executor
    st = ex.stats
    ledger = engine.ledger
    marks = final_marks(engine, home)
    exposure = ledger.exposure(marks, home)
    venues = _venues(engine, home)
    matches = all(
        {a: x for a, x in sims[v].totals().items() if x}
        == {a: x for a, x in ledger.totals.get(v, {}).items() if x}
        for v in sims
    )
    es = engine.stats
    return ReplayReport(
        config=config_path,
        recordings=recordings,
        run_id=cfg.replay.run_id,
        quote=home,
        start_ns=engine.stats.first_ts,
        end_ns=engine.now,
        frames=es.frames,
        book_updates=es.book_updates,
        decode_errors=es.decode_errors,
        book_failures=es.book_failures,
        opportunities=st.opportunities,
        trades=st.trades,
        legs_sent=st.legs_sent,
        legs_filled=st.legs_filled,
        partial_fills=st.partial_fills,
        legs_unfilled=st.legs_unfilled,
        rejects=st.rejects,
        rollbacks=st.rollbacks,
        rollback_orders=st.rollback_orders,
        escalations=st.escalations,
        rollback_loss_quote=_dec(st.rollback_loss),
        max_unhedged_notional_quote=_dec(st.max_unhedged),
        unhedged_notional_end_quote=_dec(sum(abs(v) for v in exposure.values())),
        unhedged_end_by_asset={a: _dec(v) for a, v in exposure.items() if v},
        fees_quote=_dec(ledger.fees.get(home, 0)),
        pnl_quote=_dec(ledger.equity_change(marks, home)),
        trades_pnl_quote=_dec(sum(t.pnl for t in ex.finished)),
        expected_profit_quote=_dec(sum(t.expected_profit for t in ex.finished)),
        refusals=dict(sorted(st.refusals.items())),
        detector_refusals=dict(sorted(es.detector_refusals.items())),
        races=ex.race_counts(),
        decision_latency_us=_latency(list(engine.latency_ns)),
        venues=venues,
        unfinished_trades=ex.active,
        ledger_matches_venues=matches,
        kill_switch=engine.risk.state.kill_switch_reason,
        stopped=stopped or ("" if drained else "drain deadline reached with trades open"),
        wall_s=round(wall_s, 3),
        frames_per_s=round(es.frames / wall_s, 1) if wall_s > 0 else 0.0,
        journal_sha256=journal.digest(),
        strategies=strategies(engine),
        trade_list=[
            TradeRow(
                opportunity_id=t.opportunity_id,
                kind=t.kind,
                symbol=t.symbol,
                ts_start=t.ts_start,
                duration_ms=round((t.ts_done - t.ts_start) / 1e6, 3),
                expected_profit_quote=_dec(t.expected_profit),
                pnl_quote=_dec(t.pnl),
                fees_quote=_dec(t.fees),
                residual_quote=_dec(t.residual),
                rollback=t.rollback,
                outcome="balanced" if t.reason == DONE_BALANCED else t.reason,
            )
            for t in ex.finished
        ],
    )


def strategies(engine: Engine) -> dict[str, StrategySummary]:
    """Opportunities, trades and money per strategy, from the executor's finished trades."""
    ex = engine.executor
    out: dict[str, StrategySummary] = {}
    kinds = sorted(ex.stats.by_kind.keys() | {t.kind for t in ex.finished})
    for kind in kinds:
        counts = ex.stats.by_kind.get(kind, {})
        done = [t for t in ex.finished if t.kind == kind]
        out[kind] = StrategySummary(
            opportunities=counts.get("opportunities", 0),
            trades=counts.get("trades", 0),
            rollbacks=sum(1 for t in done if t.rollback),
            expected_profit_quote=_dec(sum(t.expected_profit for t in done)),
            pnl_quote=_dec(sum(t.pnl for t in done)),
            fees_quote=_dec(sum(t.fees for t in done)),
            funding_quote=_dec(engine.basis.funding_quote)
            if kind == "basis" and engine.basis is not None
            else Decimal(0),
        )
    return out


def _home(cfg: Config) -> str:
    return cfg.pairs[0].symbol.split("-")[1]


def _venues(engine: Engine, home: str) -> dict[str, VenueSummary]:
    ledger = engine.ledger
    out: dict[str, VenueSummary] = {}
    ex = engine.executor
    orders = ex.all_orders()
    for v in sorted(engine.venues):
        mine = [o for o in orders if o.venue == v]
        rollbacks = sum(1 for o in mine if ex.is_rollback(o))
        out[v] = VenueSummary(
            orders=len(mine) - rollbacks,
            rollback_orders=rollbacks,
            fills=sum(len(o.trade_ids) for o in mine),
            rejects=sum(1 for o in mine if o.reject_reason),
            volume_quote=_dec(sum(o.notional for o in mine)),
            fees_quote=_dec(sum(o.fees.get(home, 0) for o in mine)),
            balances_start={a: _dec(x) for a, x in sorted(ledger.start.get(v, {}).items())},
            balances_end={a: _dec(x) for a, x in sorted(ledger.totals.get(v, {}).items())},
        )
    return out


# -- outputs ---------------------------------------------------------------------------------

_json = msgspec.json.Encoder(decimal_format="number")


def write_outputs(out: Path, report: ReplayReport, engine: Engine) -> None:
    """Write ``report.json``, ``report.md`` and ``pnl.png`` into ``out``."""
    (out / "report.json").write_bytes(msgspec.json.format(_json.encode(report), indent=2) + b"\n")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    from arb.plot import write_pnl_png

    unit = float(10**AMOUNT_PRECISION)
    equity: list[tuple[int, float]] = []
    total = 0
    trades: list[tuple[int, float, str]] = []
    for t in sorted(engine.executor.finished, key=lambda r: r.ts_done):
        total += t.pnl
        equity.append((t.ts_done, total / unit))
        trades.append((t.ts_done, t.pnl / unit, "rollback" if t.rollback else "trade"))
    write_pnl_png(
        out / "pnl.png",
        title=f"arb replay {report.run_id}: {report.trades} trades, PnL "
        f"{_m(report.pnl_quote, 2)} {report.quote}",
        equity=equity,
        spreads=engine.spreads,
        trades=trades,
        unhedged=engine.unhedged_series,
        quote=report.quote,
    )


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render_markdown(r: ReplayReport) -> str:
    """The report as Markdown tables."""
    q = r.quote
    lat = r.decision_latency_us
    lines = [
        f"# arb replay report: {r.run_id}",
        "",
        f"Config `{r.config}`; recordings {', '.join(f'`{x}`' for x in r.recordings)}.",
        "",
        "## Result",
        "",
        _row("", "value"),
        _row("---", "---:"),
        _row(f"PnL ({q}, all venues at final marks)", _m(r.pnl_quote)),
        _row(f"sum of trade PnL ({q})", _m(r.trades_pnl_quote)),
        _row(f"expected profit of the trades ({q})", _m(r.expected_profit_quote)),
        _row(f"fees ({q})", _m(r.fees_quote)),
        _row(f"rollback loss ({q})", _m(r.rollback_loss_quote)),
        _row(f"max unhedged notional ({q})", _m(r.max_unhedged_notional_quote)),
        _row(f"unhedged notional at the end ({q})", _m(r.unhedged_notional_end_quote)),
        _row("unfinished trades", r.unfinished_trades),
        _row("ledger agrees with the venues", "yes" if r.ledger_matches_venues else "**NO**"),
        _row("kill switch", r.kill_switch or "not tripped"),
        _row("stopped early", r.stopped or "no"),
        "",
        "## Execution",
        "",
        _row("opportunities", "trades", "legs sent", "legs filled", "partial", "unfilled"),
        _row(*["---:"] * 6),
        _row(
            r.opportunities, r.trades, r.legs_sent, r.legs_filled, r.partial_fills, r.legs_unfilled
        ),
        "",
        _row("rejects", "rollbacks", "rollback orders", "escalations"),
        _row(*["---:"] * 4),
        _row(r.rejects, r.rollbacks, r.rollback_orders, r.escalations),
        "",
    ]
    lines += _strategies(r)
    lines += _counts("Risk refusals", r.refusals)
    lines += _counts("Detector: why book updates did not trade", r.detector_refusals)
    lines += _counts("Event races handled (not errors)", r.races)
    lines += [
        "## Venues",
        "",
        _row("venue", "orders", "rollback orders", "fills", "rejects", f"volume {q}", f"fees {q}"),
        _row("---", *["---:"] * 6),
    ]
    for v, s in r.venues.items():
        lines.append(
            _row(
                v,
                s.orders,
                s.rollback_orders,
                s.fills,
                s.rejects,
                _m(s.volume_quote, 2),
                _m(s.fees_quote),
            )
        )
    lines += [
        "",
        _row("venue", "asset", "start", "end", "change"),
        _row("---", "---", *["---:"] * 3),
    ]
    for v, s in r.venues.items():
        for asset in sorted(s.balances_start.keys() | s.balances_end.keys()):
            a0 = s.balances_start.get(asset, Decimal(0))
            a1 = s.balances_end.get(asset, Decimal(0))
            lines.append(_row(v, asset, _m(a0, 8), _m(a1, 8), _m(a1 - a0, 8)))
    lines += _trades(r)
    lines += [
        "",
        "## Speed",
        "",
        _row("frames", "book updates", "decode errors", "book failures", "frames/s (wall)"),
        _row(*["---:"] * 5),
        _row(r.frames, r.book_updates, r.decode_errors, r.book_failures, r.frames_per_s),
        "",
        "Decision latency (frame in to detector decision, in process, us):",
        "",
        _row("n", "p50", "p90", "p99", "max"),
        _row(*["---:"] * 5),
        _row(lat.n, lat.p50, lat.p90, lat.p99, lat.max),
        "",
        f"Journal digest (sha256 of its rows): `{r.journal_sha256}`",
        "",
    ]
    return "\n".join(lines)


MAX_TRADE_ROWS = 50


def _strategies(r: ReplayReport) -> list[str]:
    q = r.quote
    out = [
        "## Strategies",
        "",
        _row("strategy", "opportunities", "trades", "rollbacks", f"expected {q}", f"PnL {q}",
             f"fees {q}", f"funding {q}"),
        _row("---", *["---:"] * 7),
    ]  # fmt: skip
    if not r.strategies:
        return [*out[:2], "none", ""]
    for kind, s in r.strategies.items():
        out.append(
            _row(kind, s.opportunities, s.trades, s.rollbacks, _m(s.expected_profit_quote),
                 _m(s.pnl_quote), _m(s.fees_quote), _m(s.funding_quote))
        )  # fmt: skip
    return [*out, ""]


def _trades(r: ReplayReport) -> list[str]:
    rows = r.trade_list
    out = ["", f"## Trades ({len(rows)})", ""]
    if not rows:
        return [*out, "none"]
    shown = rows if len(rows) <= MAX_TRADE_ROWS else sorted(rows, key=lambda t: t.pnl_quote)
    if len(rows) > MAX_TRADE_ROWS:
        out += [f"The {MAX_TRADE_ROWS} worst by PnL (all of them in report.json).", ""]
    out += [
        _row("start (UTC)", "opportunity", "strategy", "symbol", "ms", f"expected {r.quote}",
             f"PnL {r.quote}", f"fees {r.quote}", "rollback", "outcome"),
        _row("---", "---", "---", "---", *["---:"] * 4, "---", "---"),
    ]  # fmt: skip
    for t in shown[:MAX_TRADE_ROWS]:
        start = datetime.fromtimestamp(t.ts_start / 1e9, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
        out.append(
            _row(start, t.opportunity_id, t.kind, t.symbol, t.duration_ms,
                 _m(t.expected_profit_quote),
                 _m(t.pnl_quote), _m(t.fees_quote), "yes" if t.rollback else "", f"`{t.outcome}`")
        )  # fmt: skip
    return out


def _counts(title: str, counts: Mapping[str, int]) -> list[str]:
    if not counts:
        return [f"## {title}", "", "none", ""]
    out = [f"## {title}", "", _row("code", "count"), _row("---", "---:")]
    out += [_row(f"`{k}`", n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return [*out, ""]
