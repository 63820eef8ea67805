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
from arb.journal.schema import MIGRATIONS
from arb.journal.schema import POSITION_EVENTS
from arb.journal.schema import ROLLBACK_DECISIONS
from arb.journal.schema import SCHEMA_VERSION
from arb.journal.schema import JournalError

__all__ = ["SYNCHRONOUS", "Journal"]

SYNCHRONOUS = ("NORMAL", "FULL")

_encoder = msgspec.json.Encoder()
_sorted_encoder = msgspec.json.Encoder(order="sorted")


def _amt(x: int) -> str:
    return from_raw(x, AMOUNT_PRECISION)


def _migrate(c: sqlite3.Connection) -> None:
    # Inside the caller's transaction: upgrade a known older version step by step; anything
    # else is left as it is for _check_version to refuse.
    rows = c.execute("SELECT version, amount_precision FROM schema_version").fetchall()
    if len(rows) != 1 or rows[0][1] != AMOUNT_PRECISION:
        return
    version = rows[0][0]
    while version in MIGRATIONS and version < SCHEMA_VERSION:
        for stmt in MIGRATIONS[version].split(";"):
            if stmt.strip():
                c.execute(stmt)
        version += 1
        c.execute("UPDATE schema_version SET version = ?", (version,))


class Journal(JournalReader):
    """The run's journal, opened (created if missing) on ``path`` for writing and reading.

    Every ``record_*`` call is one event, written atomically (a savepoint: all of its rows or
    none). Events are committed every ``commit_every`` events (1 = each event, for live
    trading; a few hundred for replay) and by ``flush()`` / ``close()``; what was committed
    survives a crash of the process. ``synchronous="NORMAL"`` (WAL) loses nothing on a process
    crash but may lose the last commits on a power loss or OS crash; ``"FULL"`` syncs every
    commit to disk and loses nothing there either, at a cost per commit.

    A journal of an older schema version that ``schema.MIGRATIONS`` knows (version 2) is
    upgraded in place on opening, in one transaction: the new tables are created and the
    version is bumped; the rows already there are not touched.

    Raises ``JournalError`` when ``path`` is not a journal or has a schema version (or amount
    precision) it cannot upgrade.
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
            else:
                _migrate(c)
            c.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            raise JournalError(f"{self.path}: not an arb journal: {e}") from e
        if mode != "wal":
            raise JournalError(f"{self.path}: WAL mode refused (journal_mode={mode})")
        self._check_version((SCHEMA_VERSION,))

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

    def record_funding(
        self,
        *,
        ts: int,
        venue: str,
        symbol: str,
        amount: int,
        ccy: str,
        rate_ppb: int,
        position: int,
        source: str,
        value: int = 0,
        mark_px: int = 0,
        position_id: str = "",
        amount_quote: int = 0,
        quote: str = "",
    ) -> None:
        """Journal one funding settlement of one position (each one, as it was booked).

        ``amount`` is what was received, in ``ccy`` at AMOUNT_PRECISION (negative: paid), at
        ``rate_ppb`` on ``position`` signed contracts (raw, long > 0) settled at ``ts``.
        ``value`` (the position's value in ``ccy``) and ``mark_px`` (raw) are 0 when the source
        does not give them. ``position_id`` ties the payment to a strategy position (``""``: a
        venue's account settlement, e.g. the simulated venue's); ``amount_quote`` is the amount
        valued in ``quote`` (the position's quote currency), 0 and ``""`` when not valued.
        ``source`` says who computed it (``"recorded"``, ``"config"``, ``"basis"``, ...).

        Explicit fields rather than a struct: the core's and the simulated venue's
        ``FundingPayment`` differ, and the journal stays independent of both.
        """
        with self._event() as c:
            c.execute(
                "INSERT INTO funding (ts, venue, symbol, position_id, position, mark_px, value, "
                "rate_ppb, amount, ccy, amount_quote, quote, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ts,
                    venue,
                    symbol,
                    position_id,
                    str(position),
                    str(mark_px),
                    _amt(value),
                    rate_ppb,
                    _amt(amount),
                    ccy,
                    _amt(amount_quote),
                    quote,
                    source,
                ),
            )

    def record_position(
        self,
        *,
        ts: int,
        position_id: str,
        event: str,
        strategy: str,
        pair: str,
        direction: str,
        quote: str,
        spot_venue: str,
        spot_symbol: str,
        spot_qty: int,
        perp_venue: str,
        perp_symbol: str,
        perp_qty: int,
        perp_ccy: str,
        spot_px: int = 0,
        perp_px: int = 0,
        horizon_end_ns: int = 0,
        spot_flow: int = 0,
        perp_flow: int = 0,
        conversion_px: int = 0,
        funding: int = 0,
        funding_quote: int = 0,
        fees_quote: int = 0,
        fees: Mapping[str, int] | None = None,
        realised: int = 0,
        holding_ns: int = 0,
    ) -> bool:
        """Journal a strategy position's ``open`` or ``close``; ``False`` (nothing written) when
        that event of ``position_id`` is already journaled.

        Sizes are raw and signed (long > 0): ``spot_qty`` base units, ``perp_qty`` contracts;
        on ``close`` they are the size that was closed. ``spot_px`` / ``perp_px`` are the raw
        average fill prices of the event (entry on ``open``, exit on ``close``). Money is at
        AMOUNT_PRECISION: ``spot_flow`` (quote) and ``perp_flow`` (``perp_ccy``, the perp's PnL
        currency) are the legs' cash flows after the event (on ``close``: each leg's PnL);
        ``funding`` (``perp_ccy``) and ``funding_quote`` the funding received in total;
        ``fees_quote`` the fees valued in the quote and ``fees`` each fee per currency as
        charged; on ``close``, ``realised`` (quote), ``conversion_px`` (raw price an inverse
        perp's PnL was valued at) and ``holding_ns``. ``BasisPosition`` (open) and
        ``BasisClose`` (close) of ``arb.core.basis`` hold these values; they are passed as
        fields so that the journal does not depend on the strategy's structs.
        """
        if event not in POSITION_EVENTS:
            raise ValueError(f"event must be one of {POSITION_EVENTS}, was {event!r}")
        fees_json = _sorted_encoder.encode(dict(fees or {})).decode()
        with self._event() as c:
            cur = c.execute(
                "INSERT INTO positions (ts, position_id, event, strategy, pair, direction, quote, "
                "spot_venue, spot_symbol, spot_qty, spot_px, perp_venue, perp_symbol, perp_qty, "
                "perp_px, perp_ccy, horizon_end_ns, spot_flow, perp_flow, conversion_px, "
                "funding, funding_quote, fees_quote, fees, realised, holding_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?) ON CONFLICT (position_id, event) DO NOTHING",
                (
                    ts,
                    position_id,
                    str(event),
                    strategy,
                    pair,
                    str(direction),
                    quote,
                    spot_venue,
                    spot_symbol,
                    str(spot_qty),
                    str(spot_px),
                    perp_venue,
                    perp_symbol,
                    str(perp_qty),
                    str(perp_px),
                    perp_ccy,
                    horizon_end_ns,
                    _amt(spot_flow),
                    _amt(perp_flow),
                    str(conversion_px),
                    _amt(funding),
                    _amt(funding_quote),
                    _amt(fees_quote),
                    fees_json,
                    _amt(realised),
                    holding_ns,
                ),
            )
            return cur.rowcount == 1
