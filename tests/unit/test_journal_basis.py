"""Journal schema 3: funding settlements and strategy positions (basis trading), their digest,
the in-place upgrade of a version-2 journal, and crash safety of the new records."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from arb.core.messages import CancelOrder
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.types import Side
from arb.journal import SCHEMA_VERSION
from arb.journal import FundingRow
from arb.journal import Journal
from arb.journal import JournalError
from arb.journal import PositionRow
from arb.journal import open_journal
from arb.journal.schema import DDL_V2
from arb.journal.schema import DIGEST_TABLES
from arb.journal.schema import TABLE_SINCE

ROOT = Path(__file__).resolve().parents[2]
UNIT = POW10[AMOUNT_PRECISION]
PAIR = "okx:BTC-USDT/okx:BTC-USD-SWAP"
# Past 64 bits at AMOUNT_PRECISION (~1.2e5 units): stored as TEXT, read back exactly.
BIG = 123_456 * UNIT + 789_012_345_678_901_234


def funding_kw(**kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": 1_700_000_000 * 10**9,
        "venue": "okx",
        "symbol": "BTC-USD-SWAP",
        "amount": -(10**13) - 1,  # -0.000010000000000001 BTC: paid
        "ccy": "BTC",
        "rate_ppb": 100_000,
        "position": -1_500,
        "value": BIG,
        "mark_px": 6_543_210,
        "source": "basis",
        "position_id": "B1",
        "amount_quote": -654 * UNIT // 1000 - 7,
        "quote": "USDT",
    }
    return fields | kw


def open_kw(position_id: str = "B1", **kw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": 1_000,
        "position_id": position_id,
        "event": "open",
        "strategy": "basis",
        "pair": PAIR,
        "direction": "long_spot",
        "quote": "USDT",
        "spot_venue": "okx",
        "spot_symbol": "BTC-USDT",
        "spot_qty": 15 * 10**16,  # raw base at 18 decimals: 0.15 BTC
        "spot_px": 6_500_010,
        "perp_venue": "okx",
        "perp_symbol": "BTC-USD-SWAP",
        "perp_qty": -98,
        "perp_px": 6_510_000,
        "perp_ccy": "BTC",
        "horizon_end_ns": 1_000 + 86_400 * 10**9,
        "spot_flow": -(9_750 * UNIT + 15 * UNIT // 10**6),
        "perp_flow": 150_537_634_408_602,
        "fees_quote": 9 * UNIT + 1,
        "fees": {"USDT": 4 * UNIT, "BTC": -(10**12)},
    }
    return fields | kw


def close_kw(position_id: str = "B1", **kw: Any) -> dict[str, Any]:
    fields = open_kw(position_id) | {
        "ts": 2_000,
        "event": "close",
        "spot_px": 6_600_000,
        "perp_px": 6_601_000,
        "horizon_end_ns": 0,
        "spot_flow": 150 * UNIT,
        "perp_flow": -(10**15) - 3,
        "conversion_px": 6_601_000,
        "funding": -(10**13) - 1,
        "funding_quote": -654 * UNIT // 1000 - 7,
        "fees_quote": 18 * UNIT + 2,
        "realised": -(UNIT // 3),
        "holding_ns": 1_000,
    }
    return fields | kw


def test_funding_rows_round_trip_exactly(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_funding(**funding_kw())
        j.record_funding(**funding_kw(ts=2, amount=BIG, position=1_500))
        j.record_funding(
            ts=3,
            venue="sim-okx",
            symbol="BTC-USDT-PERP",
            amount=-1,
            ccy="USDT",
            rate_ppb=-50,
            position=7,
            value=UNIT // 7,
            source="recorded",
        )
    with open_journal(tmp_path / "j.sqlite") as r:
        rows = r.funding()
        assert rows[0] == FundingRow(**funding_kw())
        assert rows[1].amount == BIG
        assert rows[1].position == 1_500
        venue_row = rows[2]
        assert venue_row.position_id == ""
        assert venue_row.mark_px == 0
        assert (venue_row.amount_quote, venue_row.quote) == (0, "")
        assert (venue_row.amount, venue_row.value, venue_row.rate_ppb) == (-1, UNIT // 7, -50)
        assert r.funding("B1") == rows[:2]
        assert r.funding("") == [venue_row]
        assert r.funding("nope") == []
        totals = {"BTC": BIG - 10**13 - 1, "USDT": -1}
        assert r.funding_totals() == totals
        assert r.funding_totals("B1") == {"BTC": BIG - 10**13 - 1}
        assert r.totals().funding == totals


def test_funding_money_is_exact_decimal_text(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_funding(**funding_kw())
        row = j._conn.execute(
            "SELECT amount, value, amount_quote, position, mark_px FROM funding"
        ).fetchone()
    assert row == (
        "-0.000010000000000001",
        "123456.789012345678901234",
        "-0.654000000000000007",
        "-1500",
        "6543210",
    )


def test_position_open_and_close_round_trip_and_open_positions(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.record_position(**open_kw("B1"))
        assert j.record_position(**open_kw("B2", ts=1_500, direction="short_spot"))
        assert j.record_position(**close_kw("B1"))
        # an event journaled again (a restart re-booking it) is written once
        assert not j.record_position(**open_kw("B1", spot_qty=1))
        assert not j.record_position(**close_kw("B1", realised=0))
    with open_journal(tmp_path / "j.sqlite") as r:
        rows = r.positions()
        defaults = {"conversion_px": 0, "funding": 0, "funding_quote": 0, "realised": 0}
        assert rows[0] == PositionRow(**(defaults | {"holding_ns": 0} | open_kw("B1")))
        assert rows[2] == PositionRow(**close_kw("B1"))
        assert [(p.position_id, p.event) for p in rows] == [
            ("B1", "open"),
            ("B2", "open"),
            ("B1", "close"),
        ]
        assert rows[0].fees == {"BTC": -(10**12), "USDT": 4 * UNIT}
        assert rows[2].realised == -(UNIT // 3)
        assert [p.position_id for p in r.open_positions()] == ["B2"]
        t = r.totals()
        assert (t.positions_opened, t.positions_closed) == (2, 1)
        money = r._conn.execute(
            "SELECT spot_flow, realised, fees, spot_qty FROM positions WHERE event = 'close'"
        ).fetchone()
    assert money == (
        "150.000000000000000000",
        "-0.333333333333333333",
        '{"BTC":-1000000000000,"USDT":4000000000000000000}',
        "150000000000000000",
    )


def test_unknown_position_event_is_refused_and_writes_nothing(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        with pytest.raises(ValueError, match="event must be one of"):
            j.record_position(**open_kw(event="funding"))
        assert j.positions() == []


def test_empty_journal_has_no_funding_and_no_positions(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert (j.funding(), j.positions(), j.open_positions()) == ([], [], [])
        assert j.funding_totals() == j.totals().funding == {}


# -- digest -----------------------------------------------------------------------------------


def session(j: Journal, funding: dict[str, Any] | None = None) -> None:
    j.begin_run(config_digest="cfg", run_id="R", started_wall_ns=1)
    j.record_position(**open_kw())
    j.record_funding(**funding_kw(**(funding or {})))
    j.record_funding(**funding_kw(ts=2, position_id="", source="recorded"))
    j.record_position(**close_kw())


def session_digest(path: Path, *, commit_every: int = 1, **funding: Any) -> str:
    with Journal(path, commit_every=commit_every) as j:
        session(j, funding)
        return j.digest()


def test_digest_is_stable_for_the_same_funding_and_positions(tmp_path):
    d1 = session_digest(tmp_path / "a.sqlite")
    d2 = session_digest(tmp_path / "b.sqlite", commit_every=3)
    assert d1 == d2
    with open_journal(tmp_path / "a.sqlite") as r:
        assert r.digest() == d1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": -(10**13)},  # one unit in the 18th decimal
        {"rate_ppb": 100_001},
        {"position": -1_499},
        {"position_id": "B2"},
        {"source": "config"},
        {"amount_quote": 0},
        {"ts": 1_700_000_000 * 10**9 + 1},
    ],
)
def test_digest_changes_when_a_funding_row_changes(tmp_path, change):
    assert session_digest(tmp_path / "a.sqlite") != session_digest(tmp_path / "b.sqlite", **change)


def test_digest_changes_with_a_position_event(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        before = j.digest()
        j.record_position(**open_kw())
        after = j.digest()
        assert after != before
        assert not j.record_position(**open_kw())  # a repeat writes nothing
        assert j.digest() == after


def test_digest_covers_every_table_in_a_fresh_journal(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        tables = {
            n
            for (n,) in j._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall()
        }
    assert tables == {t for t, _, _ in DIGEST_TABLES}


# -- migration from version 2 -----------------------------------------------------------------

# The digest of ``v2_session`` as the version-2 code (commit fd80dc5) computed it: the v3 reader
# gives the same for a version-2 journal, so old reports' journal_sha256 still verify.
V2_SESSION_DIGEST = "586ac55fdbe0c4dd21b4a9cfeae6d66182699f9f9ac10183fbf142cd5ff87597"
V2_TABLES = [t for t, _, _ in DIGEST_TABLES if TABLE_SINCE.get(t, 2) == 2]


def v2_session(j: Journal) -> None:
    # Records whose columns hold no msgspec JSON of core structs, so that the pinned digest
    # above depends on the journal's rules only.
    j.begin_run(config_digest="v2", run_id="v2-run", recording="/x", started_wall_ns=1)
    j.record_decision(ts=1, opportunity_id="o1", decision="TRADE")
    j.record_decision(ts=1, opportunity_id="o2", decision="REFUSED", code="STALE_BOOK")
    j.record_order(
        PlaceOrder(
            venue="okx",
            symbol="BTC-USDT",
            client_order_id="o1L0A0",
            side=Side.BUY,
            order_type=OrderType.IOC,
            px=6_500_000,
            qty=123 * 10**15,
            ts=2,
            opportunity_id="o1",
        )
    )
    j.record_cancel(CancelOrder(venue="okx", symbol="BTC-USDT", client_order_id="o1L0A0", ts=3))
    j.record_rollback(
        ts=4,
        opportunity_id="o1",
        decision="UNWIND",
        residual_qty=-5,
        residual_notional=UNIT,
        cost=-3,
        code="X",
    )
    j.record_balances(ts=5, venue="okx", balances={"USDT": -UNIT // 3, "BTC": 7})
    j.record_pnl(ts=6, realized=-1, fees=2, unhedged_notional=0)


def schema_of(target: sqlite3.Connection | Path) -> list[Any]:
    conn = target if isinstance(target, sqlite3.Connection) else sqlite3.connect(target)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        if conn is not target:
            conn.close()


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()  # noqa: S608
            for t in V2_TABLES
            if t != "schema_version"
        }
    finally:
        conn.close()


def make_v2_journal(path: Path) -> None:
    """A version-2 journal: written by this code, then downgraded to exactly the version-2
    schema (the new tables dropped, the version set back), checked against ``DDL_V2``."""
    with Journal(path) as j:
        v2_session(j)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(
            "BEGIN; DROP TABLE funding; DROP TABLE positions; "
            "UPDATE schema_version SET version = 2; COMMIT;"
        )
        ref = sqlite3.connect(":memory:")
        ref.executescript(DDL_V2)
        assert schema_of(conn) == schema_of(ref)
        ref.close()
    finally:
        conn.close()


def test_version_2_journal_is_read_as_it_is(tmp_path):
    path = tmp_path / "v2.sqlite"
    make_v2_journal(path)
    with open_journal(path) as r:
        assert r.version == 2
        assert r.digest() == V2_SESSION_DIGEST
        assert (r.funding(), r.positions(), r.open_positions()) == ([], [], [])
        t = r.totals()
        assert t.funding == {}
        assert (t.positions_opened, t.positions_closed) == (0, 0)
        assert t.decisions == {"TRADE": 1, "REFUSED": 1}
        assert [b.amount for b in r.balances()] == [7, -UNIT // 3]
    # reading does not upgrade
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchone() == (2,)
    conn.close()


def test_version_2_journal_is_upgraded_in_place_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v2.sqlite"
    make_v2_journal(path)
    before = table_rows(path)
    with Journal(path) as j:
        assert j.version == SCHEMA_VERSION == 3
        assert (j.funding(), j.positions()) == ([], [])
        # the upgraded journal takes the new records and the old ones go on
        assert j.begin_run(config_digest="v3") == 2
        j.record_position(**open_kw())
        j.record_funding(**funding_kw())
        upgraded = j.digest()
    after = table_rows(path)
    assert {t: rows for t, rows in after.items() if t != "runs"} == {
        t: rows for t, rows in before.items() if t != "runs"
    }
    assert after["runs"][:1] == before["runs"]
    # same schema and rows as a journal created at version 3 with the same events
    fresh = tmp_path / "v3.sqlite"
    with Journal(fresh) as j:
        v2_session(j)
        j.begin_run(config_digest="v3")
        j.record_position(**open_kw())
        j.record_funding(**funding_kw())
        assert j.digest() == upgraded
        assert schema_of(j._conn) == schema_of(path)
    with open_journal(path) as r:
        assert r.version == 3
        assert r.integrity_check() == "ok"
        assert [p.position_id for p in r.open_positions()] == ["B1"]
        assert r.funding_totals() == {"BTC": -(10**13) - 1}
    with Journal(path) as j:  # reopening an upgraded journal changes nothing
        assert j.digest() == upgraded


def test_failed_upgrade_leaves_the_version_2_journal_as_it_was(tmp_path):
    path = tmp_path / "v2.sqlite"
    make_v2_journal(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE positions (x INTEGER)")  # in the way of the upgrade
    conn.close()
    with pytest.raises(JournalError, match="not an arb journal"):
        Journal(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchone() == (2,)
    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "funding" not in names
    conn.close()


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        ("UPDATE schema_version SET version = 1", "(1, 18)"),
        ("UPDATE schema_version SET version = 4", "(4, 18)"),
        ("UPDATE schema_version SET amount_precision = 9", "(2, 9)"),
    ],
)
def test_versions_that_cannot_be_upgraded_are_refused(tmp_path, sql, row):
    path = tmp_path / "j.sqlite"
    make_v2_journal(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(sql)
    conn.close()
    with pytest.raises(JournalError, match=row.replace("(", r"\(").replace(")", r"\)")):
        Journal(path)
    with pytest.raises(JournalError):
        open_journal(path)
    conn = sqlite3.connect(path)
    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "funding" not in names
    conn.close()


# -- crash safety -----------------------------------------------------------------------------

# Cycles of 4 events: position open, 2 funding settlements, position close; prints the cycles
# done after each one, for at most 100,000 cycles or 20 s.
CHILD = r"""
import sys, time
from arb.journal import Journal

path, commit_every = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 20
j = Journal(path, commit_every=commit_every)
j.begin_run(config_digest="crash", run_id="crash")
j.flush()
unit = 10**18
for i in range(100_000):
    if time.monotonic() > deadline:
        break
    pid = f"B{i}"
    leg = dict(strategy="basis", pair="a:X-USDT/a:X-USDT-PERP", direction="long_spot",
               quote="USDT", spot_venue="a", spot_symbol="X-USDT", spot_qty=5,
               perp_venue="a", perp_symbol="X-USDT-PERP", perp_qty=-5, perp_ccy="USDT")
    j.record_position(ts=i, position_id=pid, event="open", spot_flow=-i * unit - 1, **leg)
    for k in range(2):
        j.record_funding(ts=i, venue="a", symbol="X-USDT-PERP", amount=-i - 1, ccy="USDT",
                         rate_ppb=10, position=-5, source="basis", position_id=pid)
    j.record_position(ts=i, position_id=pid, event="close", realised=-i, **leg)
    print(i + 1, flush=True)
"""
EVENTS_PER_CYCLE = 4
KILL_AFTER = 200
skip_windows = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def run_child(path: Path, commit_every: int, *, cycles: int | None = None) -> int:
    script = CHILD if cycles is None else CHILD.replace("range(100_000)", f"range({cycles})")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(commit_every)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    assert proc.stdout is not None
    done = 0
    try:
        for line in proc.stdout:
            done = int(line)
            if cycles is None and done >= KILL_AFTER:
                break
    finally:
        if cycles is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
        proc.stdout.close()
    if cycles is None:
        assert proc.returncode == -signal.SIGKILL, "the writer finished before it was killed"
    else:
        assert proc.returncode == 0
    return done


def read_back(path: Path) -> tuple[int, int, int, list[str]]:
    with open_journal(path) as r:
        assert r.integrity_check() == "ok"
        positions = r.positions()
        funding = r.funding()
        opened = [p for p in positions if p.event == "open"]
        closed = [p for p in positions if p.event == "close"]
        assert [p.position_id for p in opened] == [f"B{i}" for i in range(len(opened))]
        assert [p.spot_flow for p in opened] == [-i * UNIT - 1 for i in range(len(opened))]
        assert [f.amount for f in funding] == [-(i // 2) - 1 for i in range(len(funding))]
        r.digest()
        return len(opened), len(funding), len(closed), [p.position_id for p in r.open_positions()]


@skip_windows
def test_killed_writer_committing_every_event_loses_no_funding_or_position(tmp_path):
    path = tmp_path / "j.sqlite"
    done = run_child(path, commit_every=1)
    opened, funding, closed, still_open = read_back(path)
    assert opened >= done
    # each event committed on its own: the last cycle may be cut between events, no earlier one
    assert closed in (opened - 1, opened)
    assert 2 * (opened - 1) <= funding <= 2 * opened
    assert still_open == ([] if closed == opened else [f"B{opened - 1}"])
    with Journal(path) as j:  # restart: the journal takes new writes
        assert j.begin_run(config_digest="crash", run_id="restart") == 2


@skip_windows
def test_killed_writer_committing_in_batches_leaves_only_whole_cycles(tmp_path):
    path = tmp_path / "j.sqlite"
    done = run_child(path, commit_every=EVENTS_PER_CYCLE)
    opened, funding, closed, still_open = read_back(path)
    assert opened >= done
    assert (funding, closed, still_open) == (2 * opened, opened, [])


def test_child_script_completes_cycles_without_being_killed(tmp_path):
    # guards the crash tests against a broken child script passing for the wrong reason
    path = tmp_path / "j.sqlite"
    assert run_child(path, commit_every=1, cycles=3) == 3
    assert read_back(path) == (3, 6, 3, [])
