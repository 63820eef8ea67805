"""Reading a journal back: every record type, open orders and positions, fills, totals and the
row digest."""

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
from arb.journal.schema import READABLE_VERSIONS
from arb.journal.schema import SCHEMA_VERSION
from arb.journal.schema import TABLE_SINCE
from arb.journal.schema import JournalError

__all__ = [
    "Balance",
    "Decision",
    "Fill",
    "FundingRow",
    "JournalReader",
    "OpenOrder",
    "Pnl",
    "PositionRow",
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


class FundingRow(msgspec.Struct, frozen=True, kw_only=True):
    """One funding settlement of one position (``Journal.record_funding``)."""

    ts: int
    """The funding time settled (ns)."""
    venue: str
    symbol: str
    position_id: str
    """The strategy position paid or charged; empty for a venue's account settlement."""
    position: int
    """Signed contracts (long > 0), raw at the instrument's size precision."""
    mark_px: int
    """Raw mark price of the settlement; 0 when the source did not give it."""
    value: int
    """The position's value in ``ccy`` at AMOUNT_PRECISION; 0 when not given."""
    rate_ppb: int
    amount: int
    """Received (negative: paid) in ``ccy`` at AMOUNT_PRECISION."""
    ccy: str
    amount_quote: int
    """``amount`` valued in ``quote``; 0 (and ``quote`` empty) when not valued."""
    quote: str
    source: str


class PositionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy position opened or closed (``Journal.record_position``): sizes and prices
    raw (sizes signed, long > 0; ``perp_qty`` in contracts), money at AMOUNT_PRECISION."""

    ts: int
    position_id: str
    event: str
    """``open`` or ``close``."""
    strategy: str
    pair: str
    direction: str
    quote: str
    """Currency of ``spot_flow``, ``funding_quote``, ``fees_quote`` and ``realised``."""
    spot_venue: str
    spot_symbol: str
    spot_qty: int
    spot_px: int
    """Average fill price of the event: entry (``open``) or exit (``close``)."""
    perp_venue: str
    perp_symbol: str
    perp_qty: int
    perp_px: int
    perp_ccy: str
    """Currency of ``perp_flow`` and ``funding`` (the perp's PnL currency)."""
    horizon_end_ns: int
    spot_flow: int
    """The leg's cash flow after the event (on ``close``: the leg's PnL); so ``perp_flow``."""
    perp_flow: int
    conversion_px: int
    funding: int
    funding_quote: int
    fees_quote: int
    fees: dict[str, int]
    """Each fee per currency, as charged."""
    realised: int
    """On ``close``: ``spot_flow + perp PnL in the quote + funding_quote - fees_quote``."""
    holding_ns: int


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
    funding: dict[str, int] = {}
    """Sum of funding received (negative: paid) per currency, at AMOUNT_PRECISION."""
    positions_opened: int = 0
    positions_closed: int = 0


_legs_decoder = msgspec.json.Decoder(tuple[Leg, ...])
_inputs_decoder = msgspec.json.Decoder(dict[str, int | float | str])
_event_decoder = msgspec.json.Decoder(OrderEvent)
_accepted_decoder = msgspec.json.Decoder(OrderAccepted)
_instrument_decoder = msgspec.json.Decoder(Instrument)
_fees_decoder = msgspec.json.Decoder(dict[str, int])
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
        self.version = SCHEMA_VERSION
        """The journal's schema version (older ones lack tables: their queries give none)."""

    def _check_version(self, versions: tuple[int, ...] = READABLE_VERSIONS) -> None:
        try:
            row = self._conn.execute(
                "SELECT version, amount_precision FROM schema_version"
            ).fetchone()
        except sqlite3.DatabaseError as e:
            raise JournalError(f"{self.path}: not an arb journal: {e}") from e
        if row is None or row[0] not in versions or row[1] != AMOUNT_PRECISION:
            wanted = " or ".join(f"({v}, {AMOUNT_PRECISION})" for v in versions)
            raise JournalError(
                f"{self.path}: journal schema (version, amount precision) is {row}; "
                f"this arb reads {wanted}"
            )
        self.version = row[0]

    def _has(self, table: str) -> bool:
        return TABLE_SINCE.get(table, 2) <= self.version

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

    def funding(self, position_id: str | None = None) -> list[FundingRow]:
        """Funding settlements in the order journaled; only those of ``position_id`` if given
        (``""``: those tied to no position)."""
        if not self._has("funding"):
            return []
        if position_id is None:
            rows = self._rows(_FUNDING_SQL + " ORDER BY seq")
        else:
            rows = self._rows(_FUNDING_SQL + " WHERE position_id = ? ORDER BY seq", (position_id,))
        return [_funding(r) for r in rows]

    def funding_totals(self, position_id: str | None = None) -> dict[str, int]:
        """Funding received (negative: paid) per currency, sorted by currency; only that of
        ``position_id`` if given."""
        out: Counter[str] = Counter()
        for f in self.funding(position_id):
            out[f.ccy] += f.amount
        return dict(sorted(out.items()))

    def positions(self) -> list[PositionRow]:
        """Every position event (``open``, ``close``) in the order journaled."""
        if not self._has("positions"):
            return []
        return [_position(r) for r in self._rows(_POSITION_SQL + " ORDER BY seq")]

    # -- restart recovery and the report ----------------------------------------------------

    def open_positions(self) -> list[PositionRow]:
        """The ``open`` rows of positions with no ``close`` row, in the order opened (restart
        recovery: their funding since is ``funding(position_id)``)."""
        if not self._has("positions"):
            return []
        return [_position(r) for r in self._rows(_OPEN_POSITIONS_SQL)]

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
        positions = (
            dict(self._rows("SELECT event, COUNT(*) FROM positions GROUP BY event"))
            if self._has("positions")
            else {}
        )
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
            funding=self.funding_totals(),
            positions_opened=positions.get("open", 0),
            positions_closed=positions.get("close", 0),
        )

    # -- integrity --------------------------------------------------------------------------

    def digest(self) -> str:
        """sha256 (hex) of the journal's rows, not of the file's bytes.

        Every table in a fixed order, its rows ordered by primary key, each row as a JSON
        array of its column values (after a header naming the table and its columns), one per
        line. Columns that depend on the wall clock or the machine are left out
        (``runs.started_wall_ns``, ``runs.recording``; see ``schema.DIGEST_TABLES``). A journal
        of an older schema version is digested over its own tables, as that version did. Rows not
        yet committed by this connection are included, so the digest does not depend on the
        commit batching. The same events in the same order give the same digest on any machine.
        """
        h = hashlib.sha256(b"arb-journal\n")
        for table, order_by, excluded in DIGEST_TABLES:
            if not self._has(table):
                continue
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


_FUNDING_SQL = (
    "SELECT ts, venue, symbol, position_id, position, mark_px, value, rate_ppb, amount, ccy, "
    "amount_quote, quote, source FROM funding"
)
# PositionRow's fields are the positions table's columns, in the same order.
_POSITION_SQL = f"SELECT {', '.join(PositionRow.__struct_fields__)} FROM positions"  # noqa: S608
_OPEN_POSITIONS_SQL = (
    _POSITION_SQL  # noqa: S608
    + " p WHERE p.event = 'open' AND NOT EXISTS (SELECT 1 FROM positions c "
    "WHERE c.position_id = p.position_id AND c.event = 'close') ORDER BY p.seq"
)
_POSITION_RAW = ("spot_qty", "spot_px", "perp_qty", "perp_px", "conversion_px")
_POSITION_MONEY = ("spot_flow", "perp_flow", "funding", "funding_quote", "fees_quote", "realised")


def _funding(r: Any) -> FundingRow:
    ts, venue, symbol, pid, position, mark, value, rate, amount, ccy, amount_q, quote, src = r
    return FundingRow(
        ts=ts,
        venue=venue,
        symbol=symbol,
        position_id=pid,
        position=int(position),
        mark_px=int(mark),
        value=_amt(value),
        rate_ppb=rate,
        amount=_amt(amount),
        ccy=ccy,
        amount_quote=_amt(amount_q),
        quote=quote,
        source=src,
    )


def _position(r: Any) -> PositionRow:
    f = dict(zip(PositionRow.__struct_fields__, r, strict=True))
    for k in _POSITION_RAW:
        f[k] = int(f[k])
    for k in _POSITION_MONEY:
        f[k] = _amt(f[k])
    f["fees"] = _fees_decoder.decode(f["fees"])
    return PositionRow(**f)


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
