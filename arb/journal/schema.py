"""The journal's SQLite schema (version 3), its migrations, its digest rules and its error.

Column representations, one per column:

- times (``ts``, ``ts_event``, ``ts_recv``, ``started_wall_ns``): INTEGER nanoseconds;
- raw prices and sizes (``px``, ``qty``, ``residual_qty``, ``*_px``, ``*_qty``, ``position``):
  TEXT, the decimal digits of the
  raw integer at the instrument's precisions, which the ``instruments`` table holds. Not
  INTEGER: a size with 18 decimals (as some venues publish) overflows SQLite's 64 bits past
  9.2 units, and SQLite would silently store such a number as a float;
- money (fees, profits, costs, balances, PnL, notionals): TEXT, the exact decimal string of the
  amount at ``AMOUNT_PRECISION`` (``from_raw(amount, 18)``: ``"-1.250000000000000000"``).
  Amounts at ``10**18`` per unit overflow 64 bits past ~9.2 units, so they are never INTEGER. Sum
  them in Python (``to_raw``), never with SQL ``SUM`` (which goes through floating point);
- sides: TEXT ``BUY`` / ``SELL``; order types: TEXT ``limit`` / ``ioc`` / ``fok`` / ``market``;
- structured values (legs, inputs, order events, instruments, fees per currency): TEXT, msgspec
  JSON (exact ints, sorted keys).

Versions: 2 is ``DDL_V2`` (frozen: what version 2 of arb created); 3 adds ``DDL_V3`` (``funding``
and ``positions``). A version-2 journal is upgraded in place by ``Journal`` (``MIGRATIONS``: new
tables only, in one transaction; old rows are not touched) and read as it is by
``open_journal`` (``READABLE_VERSIONS``). Version 1 (INTEGER prices and sizes) is refused.
"""

from __future__ import annotations

from arb.core.errors import ArbError

__all__ = [
    "DDL",
    "DDL_V2",
    "DDL_V3",
    "DECISIONS",
    "DIGEST_TABLES",
    "EVENT_TYPES",
    "MIGRATIONS",
    "POSITION_EVENTS",
    "READABLE_VERSIONS",
    "ROLLBACK_DECISIONS",
    "SCHEMA_VERSION",
    "TABLE_SINCE",
    "TERMINAL_EVENT_TYPES",
    "JournalError",
]

SCHEMA_VERSION = 3
"""The version ``Journal`` creates and writes."""

READABLE_VERSIONS = (2, 3)
"""Versions ``open_journal`` reads (a version-2 journal has no funding and no positions)."""

DECISIONS = ("TRADE", "REFUSED")
"""What the engine did with an opportunity."""

ROLLBACK_DECISIONS = ("HEDGE", "UNWIND", "ESCALATE", "DONE")
"""What the rollback planner decided for an opportunity whose legs filled unequally."""

EVENT_TYPES = ("OrderAccepted", "OrderRejected", "OrderFilled", "OrderCanceled")
"""``order_events.type``: the msgspec tag (class name) of the event."""

TERMINAL_EVENT_TYPES = ("OrderRejected", "OrderCanceled")
"""Events after which an order is no longer open (as is an order whose fills reach its qty);
``JournalReader.open_orders`` spells them out in its query."""

POSITION_EVENTS = ("open", "close")
"""``positions.event``: a strategy position was opened (entry fills booked) or closed (flat,
PnL realised)."""


class JournalError(ArbError):
    """A journal file cannot be opened or used (not a journal, other schema version, closed)."""


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


DDL_V2 = f"""
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    amount_precision INTEGER NOT NULL
);
CREATE TABLE runs (
    run INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    recording TEXT NOT NULL,
    started_wall_ns INTEGER NOT NULL
);
CREATE TABLE instruments (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    price_precision INTEGER NOT NULL,
    size_precision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (venue, symbol)
);
CREATE TABLE opportunities (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT NOT NULL,
    quote TEXT NOT NULL,
    legs TEXT NOT NULL,
    gross TEXT NOT NULL,
    fees TEXT NOT NULL,
    haircut TEXT NOT NULL,
    expected_profit TEXT NOT NULL,
    expected_profit_bps REAL NOT NULL,
    inputs TEXT NOT NULL
);
CREATE TABLE decisions (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    opportunity_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ({_in(DECISIONS)})),
    code TEXT NOT NULL
);
CREATE TABLE orders (
    seq INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    order_type TEXT NOT NULL,
    px TEXT NOT NULL,
    qty TEXT NOT NULL,
    ts INTEGER NOT NULL,
    opportunity_id TEXT NOT NULL,
    UNIQUE (venue, client_order_id)
);
CREATE TABLE cancels (
    seq INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    ts INTEGER NOT NULL
);
CREATE TABLE order_events (
    seq INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ({_in(EVENT_TYPES)})),
    ts_event INTEGER NOT NULL,
    ts_recv INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX order_events_by_order ON order_events (venue, client_order_id);
CREATE TABLE fills (
    seq INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    px TEXT NOT NULL,
    qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_ccy TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    ts_event INTEGER NOT NULL,
    ts_recv INTEGER NOT NULL,
    UNIQUE (venue, trade_id)
);
CREATE INDEX fills_by_order ON fills (venue, client_order_id);
CREATE TABLE rollbacks (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    opportunity_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ({_in(ROLLBACK_DECISIONS)})),
    residual_qty TEXT NOT NULL,
    residual_notional TEXT NOT NULL,
    cost TEXT NOT NULL,
    code TEXT NOT NULL
);
CREATE TABLE balances (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    venue TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL
);
CREATE TABLE pnl (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    realized TEXT NOT NULL,
    fees TEXT NOT NULL,
    unhedged_notional TEXT NOT NULL
);
"""
"""Version 2, frozen: a version-2 journal has exactly these tables. Never edit it; add a
version."""

DDL_V3 = f"""
CREATE TABLE funding (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    position_id TEXT NOT NULL,
    position TEXT NOT NULL,
    mark_px TEXT NOT NULL,
    value TEXT NOT NULL,
    rate_ppb INTEGER NOT NULL,
    amount TEXT NOT NULL,
    ccy TEXT NOT NULL,
    amount_quote TEXT NOT NULL,
    quote TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX funding_by_position ON funding (position_id);
CREATE TABLE positions (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    position_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ({_in(POSITION_EVENTS)})),
    strategy TEXT NOT NULL,
    pair TEXT NOT NULL,
    direction TEXT NOT NULL,
    quote TEXT NOT NULL,
    spot_venue TEXT NOT NULL,
    spot_symbol TEXT NOT NULL,
    spot_qty TEXT NOT NULL,
    spot_px TEXT NOT NULL,
    perp_venue TEXT NOT NULL,
    perp_symbol TEXT NOT NULL,
    perp_qty TEXT NOT NULL,
    perp_px TEXT NOT NULL,
    perp_ccy TEXT NOT NULL,
    horizon_end_ns INTEGER NOT NULL,
    spot_flow TEXT NOT NULL,
    perp_flow TEXT NOT NULL,
    conversion_px TEXT NOT NULL,
    funding TEXT NOT NULL,
    funding_quote TEXT NOT NULL,
    fees_quote TEXT NOT NULL,
    fees TEXT NOT NULL,
    realised TEXT NOT NULL,
    holding_ns INTEGER NOT NULL,
    UNIQUE (position_id, event)
);
"""
"""Version 3: funding settlements and strategy positions (see ``arb.journal``)."""

DDL = DDL_V2 + DDL_V3
"""Every table of the current version, as a new journal is created."""

MIGRATIONS: dict[int, str] = {2: DDL_V3}
"""``{version: DDL that upgrades it to version + 1}``; run by ``Journal`` on an older journal."""

TABLE_SINCE: dict[str, int] = {"funding": 3, "positions": 3}
"""The version that added a table (tables not listed are in version 2)."""

DIGEST_TABLES: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("schema_version", "version", frozenset()),
    # started_wall_ns is wall-clock time; recording is a file-system path (machine-dependent).
    ("runs", "run", frozenset({"started_wall_ns", "recording"})),
    ("instruments", "venue, symbol", frozenset()),
    ("opportunities", "seq", frozenset()),
    ("decisions", "seq", frozenset()),
    ("orders", "seq", frozenset()),
    ("cancels", "seq", frozenset()),
    ("order_events", "seq", frozenset()),
    ("fills", "seq", frozenset()),
    ("rollbacks", "seq", frozenset()),
    ("balances", "seq", frozenset()),
    ("pnl", "seq", frozenset()),
    ("funding", "seq", frozenset()),
    ("positions", "seq", frozenset()),
)
"""``(table, ORDER BY, columns left out of the digest)`` for every table, in digest order.
A journal of an older version is digested over its own tables only (``TABLE_SINCE``), so its
digest stays the one its version computed."""
