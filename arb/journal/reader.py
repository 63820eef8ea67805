"""Reading a journal back: every record type, open orders, fills, totals and the row digest."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

from arb.core.instruments import Instrument
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.types import Side
from arb.journal.schema import DIGEST_TABLES
from arb.journal.schema import SCHEMA_VERSION
from arb.journal.schema import JournalError

__all__ = [
    "Balance",
    "Decision",
    "Fill",
    "JournalReader",
    "OpenOrder",
    "Pnl",
    "Rollback",
    "Run",
    "Totals",
    "open_journal",
]


class Run(msgspec.Struct, frozen=True, kw_only=True):
    run: int
    """1, 2, ... in the order runs were begun in this journal."""
    run_id: str
    config_digest: str
    recording: str
    started_wall_ns: int


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    opportunity_id: str
    decision: str
    """``TRADE`` or ``REFUSED``."""
    code: str
    """The refusal reason code (``STALE_BOOK``, ...); may be empty for ``TRADE``."""


class Rollback(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    opportunity_id: str
    decision: str
    """``HEDGE``, ``UNWIND``, ``ESCALATE`` or ``DONE``."""
    residual_qty: int
    """Raw size left unhedged (signed: positive = long excess) when the decision was taken."""
    residual_notional: int
    """Quote value of the residual at AMOUNT_PRECISION."""
    cost: int
    """What the rollback cost (or is expected to) at AMOUNT_PRECISION; negative = a gain."""
    code: str


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    venue: str
    asset: str
    amount: int
    """At AMOUNT_PRECISION."""


class Pnl(msgspec.Struct, frozen=True, kw_only=True):
    """A PnL snapshot: cumulative values at ``ts``, as the engine computed them."""

    ts: int
    realized: int
    fees: int
    unhedged_notional: int


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """A unique fill with the opportunity and symbol of its order (empty if the order is not
    journaled)."""

    opportunity_id: str
    symbol: str
    event: OrderFilled


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order with no terminal event (reject, cancel) and fills short of its size."""

    order: PlaceOrder
    filled_qty: int
    venue_order_id: str
    """From the venue's ack; empty if no ack was journaled yet."""


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    runs: int
    opportunities: int
    decisions: dict[str, int]
    """Count per decision (``TRADE``, ``REFUSED``)."""
    refusals: dict[str, int]
    """Count per refusal code."""
    orders: int
    cancels: int
    order_events: int
    rejects: int
    fills: int
    """Unique fills."""
    duplicate_fills: int
    """Fill events received again with a known (venue, trade id): journaled, counted once."""
    rollbacks: dict[str, int]
    """Count per rollback decision."""
    fees: dict[str, int]
    """Sum of fees of unique fills per fee currency, at AMOUNT_PRECISION."""
    realized_pnl: int
    """From the last PnL snapshot (0 without one); likewise ``pnl_fees`` and
    ``unhedged_notional``."""
    pnl_fees: int
    unhedged_notional: int


_legs_decoder = msgspec.json.Decoder(tuple[Leg, ...])
_inputs_decoder = msgspec.json.Decoder(dict[str, int | float | str])
_event_decoder = msgspec.json.Decoder(OrderEvent)
_accepted_decoder = msgspec.json.Decoder(OrderAccepted)
_instrument_decoder = msgspec.json.Decoder(Instrument)
_encoder = msgspec.json.Encoder()


def _amt(s: str) -> int:
    return to_raw(s, AMOUNT_PRECISION)


def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; the writer issues BEGIN/COMMIT itself.
    try:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.Error as e:
        raise JournalError(f"{target}: cannot open journal: {e}") from e
    return conn


class JournalReader:
    """Read access to a journal on an open connection (see ``open_journal``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._conn = conn

    def _check_version(self) -> None:
        try:
            row = self._conn.execute(
                "SELECT version, amount_precision FROM schema_version"
            ).fetchone()
        except sqlite3.DatabaseError as e:
            raise JournalError(f"{self.path}: not an arb journal: {e}") from e
        if row != (SCHEMA_VERSION, AMOUNT_PRECISION):
            raise JournalError(
                f"{self.path}: journal schema (version, amount precision) is {row}; "
                f"this arb reads ({SCHEMA_VERSION}, {AMOUNT_PRECISION})"
            )

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()

    def _count(self, table: str, where: str = "") -> int:
        n: int = self._conn.execute(f"SELECT COUNT(*) FROM {table} {where}").fetchone()[0]  # noqa: S608
        return n

    # -- records ------------------------------------------------------------------------------

    def runs(self) -> list[Run]:
        return [
            Run(run=r, run_id=i, config_digest=c, recording=rec, started_wall_ns=t)
            for r, i, c, rec, t in self._rows(
                "SELECT run, run_id, config_digest, recording, started_wall_ns "
                "FROM runs ORDER BY run"
            )
        ]

    def instruments(self) -> list[Instrument]:
        rows = self._rows("SELECT body FROM instruments ORDER BY venue, symbol")
        return [_instrument_decoder.decode(b) for (b,) in rows]

    def opportunities(self) -> list[Opportunity]:
        """Every opportunity journaled, in the order seen."""
        return [_opportunity(r) for r in self._rows(_OPP_SQL + " ORDER BY seq")]

    def opportunity(self, opportunity_id: str) -> Opportunity | None:
        rows = self._rows(_OPP_SQL + " WHERE id = ?", (opportunity_id,))
        return _opportunity(rows[0]) if rows else None

    def decisions(self) -> list[Decision]:
        rows = self._rows("SELECT ts, opportunity_id, decision, code FROM decisions ORDER BY seq")
        return [Decision(ts=t, opportunity_id=o, decision=d, code=c) for t, o, d, c in rows]

    def orders(self) -> list[PlaceOrder]:
        """Every order sent (each client order id once), in the order sent."""
        return [_order(r) for r in self._rows(_ORDER_SQL + " ORDER BY seq")]

    def cancels(self) -> list[CancelOrder]:
        rows = self._rows("SELECT venue, symbol, client_order_id, ts FROM cancels ORDER BY seq")
        return [CancelOrder(venue=v, symbol=s, client_order_id=c, ts=t) for v, s, c, t in rows]

    def order_events(self) -> list[OrderEvent]:
        """Every order event as received, duplicates included, in the order received."""
        return [_event_decoder.decode(b) for (b,) in self._rows(_EVENTS_SQL)]

    def fills(self, opportunity_id: str | None = None) -> list[Fill]:
        """Unique fills in the order received; only those of ``opportunity_id`` if given."""
        if opportunity_id is None:
            rows = self._rows(_FILL_SQL + " ORDER BY f.seq")
        else:
            rows = self._rows(
                _FILL_SQL + " WHERE o.opportunity_id = ? ORDER BY f.seq", (opportunity_id,)
            )
        return [_fill(r) for r in rows]

    def fills_by_opportunity(self) -> dict[str, list[Fill]]:
        out: dict[str, list[Fill]] = {}
        for f in self.fills():
            out.setdefault(f.opportunity_id, []).append(f)
        return out

    def rollbacks(self) -> list[Rollback]:
        rows = self._rows(
            "SELECT ts, opportunity_id, decision, residual_qty, residual_notional, cost, code "
            "FROM rollbacks ORDER BY seq"
        )
        return [
            Rollback(
                ts=t,
                opportunity_id=o,
                decision=d,
                residual_qty=int(q),
                residual_notional=_amt(n),
                cost=_amt(c),
                code=code,
            )
            for t, o, d, q, n, c, code in rows
        ]

    def balances(self) -> list[Balance]:
        rows = self._rows("SELECT ts, venue, asset, amount FROM balances ORDER BY seq")
        return [Balance(ts=t, venue=v, asset=a, amount=_amt(x)) for t, v, a, x in rows]

    def last_balances(self) -> dict[str, dict[str, int]]:
        """The latest journaled amount per venue and asset."""
        out: dict[str, dict[str, int]] = {}
        for b in self.balances():
            out.setdefault(b.venue, {})[b.asset] = b.amount
        return out

    def pnl(self) -> list[Pnl]:
        rows = self._rows("SELECT ts, realized, fees, unhedged_notional FROM pnl ORDER BY seq")
        return [
            Pnl(ts=t, realized=_amt(r), fees=_amt(f), unhedged_notional=_amt(u))
            for t, r, f, u in rows
        ]

    # -- restart recovery and the report ----------------------------------------------------

    def open_orders(self) -> list[OpenOrder]:
        """Orders with no reject or cancel and fills short of their size, in the order sent."""
        rows = self._rows(_OPEN_SQL)
        out: list[OpenOrder] = []
        for r in rows:
            order = _order(r)
            key = (order.venue, order.client_order_id)
            filled = sum(
                int(q)
                for (q,) in self._rows(
                    "SELECT qty FROM fills WHERE venue = ? AND client_order_id = ?", key
                )
            )
            if filled >= order.qty:
                continue
            acks = self._rows(
                "SELECT body FROM order_events WHERE venue = ? AND client_order_id = ? "
                "AND type = 'OrderAccepted' ORDER BY seq LIMIT 1",
                key,
            )
            voi = _accepted_decoder.decode(acks[0][0]).venue_order_id if acks else ""
            out.append(OpenOrder(order=order, filled_qty=filled, venue_order_id=voi))
        return out

    def totals(self) -> Totals:
        decisions = dict(self._rows("SELECT decision, COUNT(*) FROM decisions GROUP BY decision"))
        refusals = dict(
            self._rows(
                "SELECT code, COUNT(*) FROM decisions WHERE decision = 'REFUSED' GROUP BY code"
            )
        )
        rollbacks = dict(self._rows("SELECT decision, COUNT(*) FROM rollbacks GROUP BY decision"))
        fees: Counter[str] = Counter()
        for ccy, fee in self._rows("SELECT fee_ccy, fee FROM fills"):
            fees[ccy] += _amt(fee)
        last = self._rows(
            "SELECT realized, fees, unhedged_notional FROM pnl ORDER BY seq DESC LIMIT 1"
        )
        realized, pnl_fees, unhedged = (_amt(x) for x in last[0]) if last else (0, 0, 0)
        fills = self._count("fills")
        return Totals(
            runs=self._count("runs"),
            opportunities=self._count("opportunities"),
            decisions=decisions,
            refusals=refusals,
            orders=self._count("orders"),
            cancels=self._count("cancels"),
            order_events=self._count("order_events"),
            rejects=self._count("order_events", "WHERE type = 'OrderRejected'"),
            fills=fills,
            duplicate_fills=self._count("order_events", "WHERE type = 'OrderFilled'") - fills,
            rollbacks=rollbacks,
            fees=dict(sorted(fees.items())),
            realized_pnl=realized,
            pnl_fees=pnl_fees,
            unhedged_notional=unhedged,
        )

    # -- integrity --------------------------------------------------------------------------

    def digest(self) -> str:
        """sha256 (hex) of the journal's rows, not of the file's bytes.

        Every table in a fixed order, its rows ordered by primary key, each row as a JSON
        array of its column values (after a header naming the table and its columns), one per
        line. Columns that depend on the wall clock or the machine are left out
        (``runs.started_wall_ns``, ``runs.recording``; see ``schema.DIGEST_TABLES``). Rows not
        yet committed by this connection are included, so the digest does not depend on the
        commit batching. The same events in the same order give the same digest on any machine.
        """
        h = hashlib.sha256(b"arb-journal\n")
        for table, order_by, excluded in DIGEST_TABLES:
            cols = [r[1] for r in self._rows(f"PRAGMA table_info({table})") if r[1] not in excluded]
            h.update(_encoder.encode([table, cols]) + b"\n")
            cur = self._conn.execute(
                f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order_by}"  # noqa: S608
            )
            for row in cur:
                h.update(_encoder.encode(row) + b"\n")
        return h.hexdigest()

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` or the problems found."""
        return "\n".join(r[0] for r in self._rows("PRAGMA integrity_check"))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_OPP_SQL = (
    "SELECT id, ts, kind, symbol, quote, legs, gross, fees, haircut, expected_profit, "
    "expected_profit_bps, inputs FROM opportunities"
)
_ORDER_SQL = (
    "SELECT venue, client_order_id, symbol, side, order_type, px, qty, ts, opportunity_id "
    "FROM orders"
)
_EVENTS_SQL = "SELECT body FROM order_events ORDER BY seq"
_OPEN_SQL = (
    "SELECT venue, client_order_id, symbol, side, order_type, px, qty, ts, opportunity_id "
    "FROM orders WHERE NOT EXISTS (SELECT 1 FROM order_events e WHERE e.venue = orders.venue "
    "AND e.client_order_id = orders.client_order_id "
    "AND e.type IN ('OrderRejected', 'OrderCanceled')) ORDER BY seq"
)
_FILL_SQL = (
    "SELECT COALESCE(o.opportunity_id, ''), COALESCE(o.symbol, ''), f.venue, f.client_order_id, "
    "f.trade_id, f.side, f.px, f.qty, f.fee, f.fee_ccy, f.liquidity, f.ts_event, f.ts_recv "
    "FROM fills f LEFT JOIN orders o ON o.venue = f.venue AND o.client_order_id = f.client_order_id"
)


def _opportunity(r: Any) -> Opportunity:
    oid, ts, kind, symbol, quote, legs, gross, fees, haircut, profit, bps, inputs = r
    return Opportunity(
        id=oid,
        kind=kind,
        ts=ts,
        symbol=symbol,
        quote=quote,
        legs=_legs_decoder.decode(legs),
        gross_profit=_amt(gross),
        fees=_amt(fees),
        latency_haircut=_amt(haircut),
        expected_profit=_amt(profit),
        expected_profit_bps=bps,
        inputs=_inputs_decoder.decode(inputs),
    )


def _order(r: Any) -> PlaceOrder:
    venue, cid, symbol, side, order_type, px, qty, ts, opp = r
    return PlaceOrder(
        venue=venue,
        symbol=symbol,
        client_order_id=cid,
        side=Side[side],
        order_type=OrderType(order_type),
        px=int(px),
        qty=int(qty),
        ts=ts,
        opportunity_id=opp,
    )


def _fill(r: Any) -> Fill:
    opp, symbol, venue, cid, trade_id, side, px, qty, fee, fee_ccy, liq, ts_event, ts_recv = r
    event = OrderFilled(
        venue=venue,
        client_order_id=cid,
        trade_id=trade_id,
        side=Side[side],
        px=int(px),
        qty=int(qty),
        fee=_amt(fee),
        fee_ccy=fee_ccy,
        liquidity=liq,
        ts_event=ts_event,
        ts_recv=ts_recv,
    )
    return Fill(opportunity_id=opp, symbol=symbol, event=event)


def open_journal(path: str | os.PathLike[str]) -> JournalReader:
    """Open an existing journal read-only (for reports). Raises ``JournalError``."""
    p = Path(path)
    if not p.is_file():
        raise JournalError(f"{p}: no journal there")
    reader = JournalReader(_connect(p.resolve().as_uri() + "?mode=ro", uri=True), p)
    try:
        reader._check_version()
    except BaseException:
        reader.close()
        raise
    return reader
