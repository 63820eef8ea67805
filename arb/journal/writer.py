"""Writing the journal: one method per record type, committed per event or per small batch."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import msgspec

from arb.core.instruments import Instrument
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import from_raw
from arb.core.opportunity import Opportunity
from arb.journal.reader import JournalReader
from arb.journal.reader import _connect
from arb.journal.schema import DDL
from arb.journal.schema import DECISIONS
from arb.journal.schema import ROLLBACK_DECISIONS
from arb.journal.schema import SCHEMA_VERSION
from arb.journal.schema import JournalError

__all__ = ["SYNCHRONOUS", "Journal"]

SYNCHRONOUS = ("NORMAL", "FULL")

_encoder = msgspec.json.Encoder()
_sorted_encoder = msgspec.json.Encoder(order="sorted")


def _amt(x: int) -> str:
    return from_raw(x, AMOUNT_PRECISION)


class Journal(JournalReader):
    """The run's journal, opened (created if missing) on ``path`` for writing and reading.

    Every ``record_*`` call is one event, written atomically (a savepoint: all of its rows or
    none). Events are committed every ``commit_every`` events (1 = each event, for live
    trading; a few hundred for replay) and by ``flush()`` / ``close()``; what was committed
    survives a crash of the process. ``synchronous="NORMAL"`` (WAL) loses nothing on a process
    crash but may lose the last commits on a power loss or OS crash; ``"FULL"`` syncs every
    commit to disk and loses nothing there either, at a cost per commit.

    Raises ``JournalError`` when ``path`` is not a journal or has another schema version.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        commit_every: int = 1,
        synchronous: str = "NORMAL",
    ) -> None:
        if commit_every < 1:
            raise ValueError(f"commit_every must be >= 1, was {commit_every}")
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, was {synchronous!r}")
        p = Path(path)
        super().__init__(_connect(str(p), uri=False), p)
        self.commit_every = commit_every
        self._pending = 0
        self._closed = False
        try:
            self._setup(synchronous)
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, synchronous: str) -> None:
        c = self._conn
        try:
            mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            c.execute(f"PRAGMA synchronous={synchronous}")
            c.execute("BEGIN IMMEDIATE")
            fresh = not c.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'schema_version'"
            ).fetchall()
            if fresh:
                for stmt in DDL.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(
                    "INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION, AMOUNT_PRECISION)
                )
            c.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            raise JournalError(f"{self.path}: not an arb journal: {e}") from e
        if mode != "wal":
            raise JournalError(f"{self.path}: WAL mode refused (journal_mode={mode})")
        self._check_version()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def _event(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        c = self._conn
        if not c.in_transaction:
            c.execute("BEGIN")
        c.execute("SAVEPOINT event")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK TO event")
            c.execute("RELEASE event")
            raise
        c.execute("RELEASE event")
        self._pending += 1
        if self._pending >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        """Commit the events written since the last commit."""
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._pending = 0

    def close(self) -> None:
        """Commit and close. Closing twice is harmless."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            super().close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- records ----------------------------------------------------------------------------

    def begin_run(
        self,
        *,
        config_digest: str,
        recording: str = "",
        run_id: str | None = None,
        started_wall_ns: int | None = None,
    ) -> int:
        """Start a run and return its number (1, 2, ... per journal).

        ``run_id`` defaults to ``run<number>``; pass a deterministic one in replay (it is part
        of the digest). ``recording`` (a path) and ``started_wall_ns`` (default: now) are kept
        out of the digest.
        """
        with self._event() as c:
            (n,) = c.execute("SELECT COALESCE(MAX(run), 0) + 1 FROM runs").fetchone()
            c.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                (
                    n,
                    f"run{n}" if run_id is None else run_id,
                    config_digest,
                    recording,
                    time.time_ns() if started_wall_ns is None else started_wall_ns,
                ),
            )
        run: int = n
        return run

    def record_instrument(self, inst: Instrument) -> None:
        """Keep an instrument's metadata (precisions of raw prices and sizes); the last wins."""
        with self._event() as c:
            c.execute(
                "INSERT INTO instruments VALUES (?, ?, ?, ?, ?) ON CONFLICT (venue, symbol) "
                "DO UPDATE SET price_precision = excluded.price_precision, "
                "size_precision = excluded.size_precision, body = excluded.body",
                (
                    inst.venue,
                    inst.symbol,
                    inst.price_precision,
                    inst.size_precision,
                    _encoder.encode(inst).decode(),
                ),
            )

    def record_opportunity(self, opp: Opportunity) -> bool:
        """Journal an opportunity; ``False`` (and nothing written) if its id is known."""
        with self._event() as c:
            cur = c.execute(
                "INSERT INTO opportunities (id, ts, kind, symbol, quote, legs, gross, fees, "
                "haircut, expected_profit, expected_profit_bps, inputs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (
                    opp.id,
                    opp.ts,
                    opp.kind,
                    opp.symbol,
                    opp.quote,
                    _encoder.encode(opp.legs).decode(),
                    _amt(opp.gross_profit),
                    _amt(opp.fees),
                    _amt(opp.latency_haircut),
                    _amt(opp.expected_profit),
                    opp.expected_profit_bps,
                    _sorted_encoder.encode(opp.inputs).decode(),
                ),
            )
            return cur.rowcount == 1

    def record_decision(
        self, *, ts: int, opportunity_id: str, decision: str, code: str = ""
    ) -> None:
        """Journal what was done with an opportunity: ``TRADE`` or ``REFUSED`` with its code."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, was {decision!r}")
        with self._event() as c:
            c.execute(
                "INSERT INTO decisions (ts, opportunity_id, decision, code) VALUES (?, ?, ?, ?)",
                (ts, opportunity_id, str(decision), code),
            )

    def record_order(self, cmd: PlaceOrder) -> bool:
        """Journal an order sent; ``False`` (nothing written) for a retry of a known client
        order id on the same venue."""
        with self._event() as c:
            cur = c.execute(
                "INSERT INTO orders (venue, client_order_id, symbol, side, order_type, px, qty, "
                "ts, opportunity_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (venue, client_order_id) DO NOTHING",
                (
                    cmd.venue,
                    cmd.client_order_id,
                    cmd.symbol,
                    cmd.side.name,
                    cmd.order_type.value,
                    str(cmd.px),
                    str(cmd.qty),
                    cmd.ts,
                    cmd.opportunity_id,
                ),
            )
            return cur.rowcount == 1

    def record_cancel(self, cmd: CancelOrder) -> None:
        """Journal a cancel request (each one, repeats included)."""
        with self._event() as c:
            c.execute(
                "INSERT INTO cancels (venue, client_order_id, symbol, ts) VALUES (?, ?, ?, ?)",
                (cmd.venue, cmd.client_order_id, cmd.symbol, cmd.ts),
            )

    def record_command(self, cmd: Command) -> bool:
        """``record_order`` or ``record_cancel``; ``False`` only for an order retry."""
        if isinstance(cmd, PlaceOrder):
            return self.record_order(cmd)
        self.record_cancel(cmd)
        return True

    def record_event(self, ev: OrderEvent) -> bool:
        """Journal an order event as received. A fill is also added to ``fills`` unless its
        (venue, trade id) is known; returns ``False`` only for such a duplicate fill."""
        if not isinstance(ev, OrderAccepted | OrderRejected | OrderFilled | OrderCanceled):
            raise TypeError(f"not an order event: {type(ev).__name__}")
        with self._event() as c:
            c.execute(
                "INSERT INTO order_events (venue, client_order_id, type, ts_event, ts_recv, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    ev.venue,
                    ev.client_order_id,
                    type(ev).__name__,
                    ev.ts_event,
                    ev.ts_recv,
                    _encoder.encode(ev).decode(),
                ),
            )
            if not isinstance(ev, OrderFilled):
                return True
            cur = c.execute(
                "INSERT INTO fills (venue, trade_id, client_order_id, side, px, qty, fee, "
                "fee_ccy, liquidity, ts_event, ts_recv) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (venue, trade_id) DO NOTHING",
                (
                    ev.venue,
                    ev.trade_id,
                    ev.client_order_id,
                    ev.side.name,
                    str(ev.px),
                    str(ev.qty),
                    _amt(ev.fee),
                    ev.fee_ccy,
                    ev.liquidity,
                    ev.ts_event,
                    ev.ts_recv,
                ),
            )
            return cur.rowcount == 1

    def record_rollback(
        self,
        *,
        ts: int,
        opportunity_id: str,
        decision: str,
        residual_qty: int,
        residual_notional: int,
        cost: int,
        code: str = "",
    ) -> None:
        """Journal a rollback decision (``HEDGE``, ``UNWIND``, ``ESCALATE``, ``DONE``) with the
        residual (raw size, signed; quote notional) and its cost, at AMOUNT_PRECISION."""
        if decision not in ROLLBACK_DECISIONS:
            raise ValueError(f"decision must be one of {ROLLBACK_DECISIONS}, was {decision!r}")
        with self._event() as c:
            c.execute(
                "INSERT INTO rollbacks (ts, opportunity_id, decision, residual_qty, "
                "residual_notional, cost, code) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    ts,
                    opportunity_id,
                    str(decision),
                    str(residual_qty),
                    _amt(residual_notional),
                    _amt(cost),
                    code,
                ),
            )

    def record_balances(self, *, ts: int, venue: str, balances: Mapping[str, int]) -> None:
        """Journal a balance snapshot of one venue (one row per asset, in asset order)."""
        with self._event() as c:
            c.executemany(
                "INSERT INTO balances (ts, venue, asset, amount) VALUES (?, ?, ?, ?)",
                [(ts, venue, a, _amt(balances[a])) for a in sorted(balances)],
            )

    def record_pnl(self, *, ts: int, realized: int, fees: int, unhedged_notional: int) -> None:
        """Journal a PnL snapshot: cumulative realized PnL and fees, current unhedged notional."""
        with self._event() as c:
            c.execute(
                "INSERT INTO pnl (ts, realized, fees, unhedged_notional) VALUES (?, ?, ?, ?)",
                (ts, _amt(realized), _amt(fees), _amt(unhedged_notional)),
            )
