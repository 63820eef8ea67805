"""The journal: an embedded SQLite file holding what the engine saw, decided, sent and received.

One file per run directory (``DIR/journal.sqlite``), in WAL mode. ``Journal`` writes it (one
``record_*`` method per record type, taking the core messages) and reads it back;
``open_journal`` opens one read-only for reports.

Tables (schema version 3; column types in ``arb.journal.schema``)::

    schema_version  version, amount_precision
    runs            run, run_id, config_digest, recording, started_wall_ns
    instruments     (venue, symbol), price_precision, size_precision, body (Instrument JSON)
    opportunities   id (unique), ts, kind, symbol, quote, legs (JSON), gross, fees, haircut,
                    expected_profit, expected_profit_bps, inputs (JSON, sorted keys)
    decisions       ts, opportunity_id, decision (TRADE | REFUSED), code
    orders          PlaceOrder commands: (venue, client_order_id) unique, symbol, side,
                    order_type, px, qty, ts, opportunity_id
    cancels         CancelOrder commands: venue, client_order_id, symbol, ts
    order_events    every OrderAccepted/Rejected/Filled/Canceled as received (duplicates too):
                    venue, client_order_id, type, ts_event, ts_recv, body (tagged JSON)
    fills           unique (venue, trade_id): client_order_id, side, px, qty, fee, fee_ccy,
                    liquidity, ts_event, ts_recv
    rollbacks       ts, opportunity_id, decision (HEDGE | UNWIND | ESCALATE | DONE),
                    residual_qty, residual_notional, cost, code
    balances        ts, venue, asset, amount
    pnl             ts, realized, fees, unhedged_notional
    funding         (version 3) one funding settlement of one position: ts, venue, symbol,
                    position_id ('' = not a strategy position), position (signed contracts),
                    mark_px, value, rate_ppb, amount (signed, > 0 = received), ccy,
                    amount_quote, quote, source
    positions       (version 3) a strategy position opened or closed: unique (position_id,
                    event in open | close), strategy, pair, direction, quote, spot venue,
                    symbol, qty, px, perp venue, symbol, qty (contracts), px, perp_ccy,
                    horizon_end_ns, spot_flow, perp_flow, conversion_px, funding,
                    funding_quote, fees_quote, fees (JSON per currency), realised, holding_ns

Every event table has an INTEGER ``seq`` primary key in the order written. Money is exact
decimal TEXT at ``AMOUNT_PRECISION``; raw prices and sizes are INTEGER (see the instruments
table for their precisions); times are INTEGER ns.

Durability: each ``record_*`` is atomic; commits happen every ``commit_every`` events and on
``flush()``/``close()``. A killed process loses only what was not committed yet, and a reopened
journal never shows part of an event or of a batch.

Determinism: ``digest()`` is a sha256 over the rows (not the file bytes), so the same events in
the same order give the same digest on every run and machine. Left out of it:
``runs.started_wall_ns`` (wall clock) and ``runs.recording`` (a path). Decision latency measured
in process is not journaled at all (it belongs to the report).

Versions: ``Journal`` upgrades a version-2 journal in place (it adds the funding and positions
tables and bumps the version, in one transaction); ``open_journal`` reads versions 2 and 3 as
they are (a version-2 journal has no funding and no positions, and keeps its version-2 digest).
"""

from arb.journal.reader import Balance
from arb.journal.reader import Decision
from arb.journal.reader import Fill
from arb.journal.reader import FundingRow
from arb.journal.reader import JournalReader
from arb.journal.reader import OpenOrder
from arb.journal.reader import Pnl
from arb.journal.reader import PositionRow
from arb.journal.reader import Rollback
from arb.journal.reader import Run
from arb.journal.reader import Totals
from arb.journal.reader import open_journal
from arb.journal.schema import DECISIONS
from arb.journal.schema import POSITION_EVENTS
from arb.journal.schema import READABLE_VERSIONS
from arb.journal.schema import ROLLBACK_DECISIONS
from arb.journal.schema import SCHEMA_VERSION
from arb.journal.schema import JournalError
from arb.journal.writer import SYNCHRONOUS
from arb.journal.writer import Journal

__all__ = [
    "DECISIONS",
    "POSITION_EVENTS",
    "READABLE_VERSIONS",
    "ROLLBACK_DECISIONS",
    "SCHEMA_VERSION",
    "SYNCHRONOUS",
    "Balance",
    "Decision",
    "Fill",
    "FundingRow",
    "Journal",
    "JournalError",
    "JournalReader",
    "OpenOrder",
    "Pnl",
    "PositionRow",
    "Rollback",
    "Run",
    "Totals",
    "open_journal",
]
