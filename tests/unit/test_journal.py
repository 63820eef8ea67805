"""The SQLite journal: round trips, duplicate fills, atomic events, read-back helpers, digest."""

import sqlite3
from typing import Any

import msgspec
import pytest

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.types import Side
from arb.journal import Balance
from arb.journal import Decision
from arb.journal import Journal
from arb.journal import JournalError
from arb.journal import Pnl
from arb.journal import Rollback
from arb.journal import open_journal

USDT = POW10[AMOUNT_PRECISION]  # one unit at AMOUNT_PRECISION

INST = Instrument.create(
    venue="binance",
    symbol="LINK-USDT",
    venue_symbol="LINKUSDT",
    kind=InstrumentKind.SPOT,
    base="LINK",
    quote="USDT",
    tick_size="0.001",
    lot_size="0.01",
)


def make_opp(i: int, **kw) -> Opportunity:
    legs = (
        Leg(
            venue="binance",
            symbol="LINK-USDT",
            side=Side.BUY,
            px=15_000 + i,
            qty=1_000,
            expected_notional=150 * USDT,
            fee=15 * USDT // 100,
        ),
        Leg(
            venue="huobi",
            symbol="LINK-USDT",
            side=Side.SELL,
            px=15_100,
            qty=1_000,
            expected_notional=151 * USDT,
            fee=15 * USDT // 100,
        ),
    )
    fields: dict[str, Any] = {
        "id": f"opp{i}",
        "kind": "spatial",
        "ts": 1_000_000 + i,
        "symbol": "LINK-USDT",
        "quote": "USDT",
        "legs": legs,
        "gross_profit": USDT,
        "fees": 3 * USDT // 10,
        "latency_haircut": USDT // 10,
        "expected_profit": 6 * USDT // 10,
        "expected_profit_bps": 39.7351,
        "inputs": {"age_binance_ns": 1_500_000, "vol_bps": 2.5, "fee_src": "config"},
    }
    return msgspec.structs.replace(Opportunity(**fields), **kw)


def make_order(i: int, leg: int, **kw) -> PlaceOrder:
    fields: dict[str, Any] = {
        "venue": "binance" if leg == 0 else "huobi",
        "symbol": "LINK-USDT",
        "client_order_id": client_order_id(f"opp{i}", leg),
        "side": Side.BUY if leg == 0 else Side.SELL,
        "order_type": OrderType.IOC,
        "px": 15_000 + i,
        "qty": 1_000,
        "ts": 1_000_010 + i,
        "opportunity_id": f"opp{i}",
    }
    return msgspec.structs.replace(PlaceOrder(**fields), **kw)


def make_fill(order: PlaceOrder, trade_id: str, qty: int, **kw) -> OrderFilled:
    fields: dict[str, Any] = {
        "venue": order.venue,
        "client_order_id": order.client_order_id,
        "trade_id": trade_id,
        "side": order.side,
        "px": order.px,
        "qty": qty,
        "fee": 75 * USDT // 1000,
        "fee_ccy": "USDT",
        "liquidity": "taker",
        "ts_event": order.ts + 500,
        "ts_recv": order.ts + 900,
    }
    return msgspec.structs.replace(OrderFilled(**fields), **kw)


def accepted(order: PlaceOrder) -> OrderAccepted:
    return OrderAccepted(
        venue=order.venue,
        client_order_id=order.client_order_id,
        venue_order_id=f"V{order.client_order_id}",
        ts_event=order.ts + 400,
        ts_recv=order.ts + 800,
    )


def write_session(j: Journal, *, fill_qty: int = 400, refusal: str = "STALE_BOOK") -> None:
    """A small replay: two traded opportunities (one with a partial fill and a rollback), one
    refused, balances and PnL. The keyword arguments change one event each."""
    j.begin_run(config_digest="cfg0", run_id="replay-cfg0", recording="/data/rec")
    j.record_instrument(INST)
    o0, o1, o2 = make_opp(0), make_opp(1), make_opp(2)
    for o in (o0, o1, o2):
        j.record_opportunity(o)
    j.record_decision(ts=o0.ts, opportunity_id=o0.id, decision="TRADE")
    j.record_decision(ts=o1.ts, opportunity_id=o1.id, decision="TRADE")
    j.record_decision(ts=o2.ts, opportunity_id=o2.id, decision="REFUSED", code=refusal)
    for i in (0, 1):
        a, b = make_order(i, 0), make_order(i, 1)
        j.record_order(a)
        j.record_order(b)
        j.record_event(accepted(a))
        j.record_event(accepted(b))
        j.record_event(make_fill(a, f"t{i}a", 1_000))
        qty = 1_000 if i == 0 else fill_qty
        j.record_event(make_fill(b, f"t{i}b", qty))
        if qty < b.qty:
            j.record_event(
                OrderCanceled(
                    venue=b.venue,
                    client_order_id=b.client_order_id,
                    reason="IOC_REMAINDER",
                    ts_event=b.ts + 600,
                    ts_recv=b.ts + 950,
                )
            )
            j.record_rollback(
                ts=b.ts + 1_000,
                opportunity_id=f"opp{i}",
                decision="HEDGE",
                residual_qty=b.qty - qty,
                residual_notional=(b.qty - qty) * 15 * USDT // 1000,
                cost=USDT // 50,
                code="SHORT_LEG",
            )
    j.record_balances(ts=2_000_000, venue="binance", balances={"USDT": 1_000 * USDT, "LINK": 0})
    j.record_pnl(ts=2_000_000, realized=USDT // 2, fees=3 * USDT // 10, unhedged_notional=0)


def session_digest(path, **kw) -> str:
    with Journal(path, commit_every=kw.pop("commit_every", 1)) as j:
        write_session(j, **kw)
        return j.digest()


def test_every_record_type_round_trips(tmp_path):
    opp = make_opp(7)
    order = make_order(7, 0)
    cancel = CancelOrder(venue="binance", symbol="LINK-USDT", client_order_id="x1", ts=5)
    events: list[OrderEvent] = [
        accepted(order),
        OrderRejected(venue="huobi", client_order_id="x2", reason="OFF_LOT", ts_event=1, ts_recv=2),
        make_fill(order, "t1", 300, fee=-5),
        OrderCanceled(
            venue="binance", client_order_id="x1", reason="REQUESTED", ts_event=3, ts_recv=4
        ),
    ]
    with Journal(tmp_path / "j.sqlite") as j:
        run = j.begin_run(config_digest="abc", recording="r", run_id="R", started_wall_ns=42)
        j.record_instrument(INST)
        assert j.record_opportunity(opp)
        j.record_decision(ts=9, opportunity_id=opp.id, decision="REFUSED", code="MAX_NOTIONAL")
        assert j.record_command(order)
        assert j.record_command(cancel)
        assert all(j.record_event(e) for e in events)
        j.record_rollback(
            ts=10,
            opportunity_id=opp.id,
            decision="UNWIND",
            residual_qty=-700,
            residual_notional=-105 * USDT // 10,
            cost=-1,
            code="LONG_EXCESS",
        )
        j.record_balances(ts=11, venue="huobi", balances={"USDT": 10**25, "LINK": -3})
        j.record_pnl(ts=12, realized=-(10**20), fees=7, unhedged_notional=105 * USDT // 10)
    with open_journal(tmp_path / "j.sqlite") as r:
        assert run == 1
        [got_run] = r.runs()
        assert (got_run.run_id, got_run.config_digest, got_run.recording) == ("R", "abc", "r")
        assert got_run.started_wall_ns == 42
        assert r.instruments() == [INST]
        assert r.opportunities() == [opp]
        assert r.opportunity(opp.id) == opp
        assert r.opportunity("nope") is None
        assert r.decisions() == [
            Decision(ts=9, opportunity_id=opp.id, decision="REFUSED", code="MAX_NOTIONAL")
        ]
        assert r.orders() == [order]
        assert r.cancels() == [cancel]
        assert r.order_events() == events
        [fill] = r.fills()
        assert (fill.opportunity_id, fill.symbol, fill.event) == (opp.id, "LINK-USDT", events[2])
        assert r.rollbacks() == [
            Rollback(
                ts=10,
                opportunity_id=opp.id,
                decision="UNWIND",
                residual_qty=-700,
                residual_notional=-105 * USDT // 10,
                cost=-1,
                code="LONG_EXCESS",
            )
        ]
        assert r.balances() == [
            Balance(ts=11, venue="huobi", asset="LINK", amount=-3),
            Balance(ts=11, venue="huobi", asset="USDT", amount=10**25),
        ]
        assert r.last_balances() == {"huobi": {"LINK": -3, "USDT": 10**25}}
        assert r.pnl() == [
            Pnl(ts=12, realized=-(10**20), fees=7, unhedged_notional=105 * USDT // 10)
        ]
        assert r.integrity_check() == "ok"


def test_money_is_exact_decimal_text_and_raw_prices_integer_text(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        # -10 trillion USDT and one smallest unit: far past 64 bits
        j.record_pnl(ts=1, realized=-(10**13 * USDT) - 1, fees=USDT // 4, unhedged_notional=0)
        j.record_order(make_order(0, 0))
    conn = sqlite3.connect(tmp_path / "j.sqlite")
    assert conn.execute("SELECT realized, fees, unhedged_notional FROM pnl").fetchone() == (
        "-10000000000000." + "0" * (AMOUNT_PRECISION - 1) + "1",
        "0.25" + "0" * (AMOUNT_PRECISION - 2),
        "0." + "0" * AMOUNT_PRECISION,
    )
    assert conn.execute("SELECT side, order_type, px, qty FROM orders").fetchone() == (
        "BUY",
        "ioc",
        "15000",
        "1000",
    )
    conn.close()


def test_duplicate_fill_is_journaled_as_an_event_and_inserted_once(tmp_path):
    order = make_order(0, 0)
    fill = make_fill(order, "t1", 400)
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_order(order)
        assert j.record_event(fill) is True
        assert j.record_event(msgspec.structs.replace(fill, ts_recv=fill.ts_recv + 5)) is False
        assert j.record_event(make_fill(order, "t2", 100)) is True
        # the same trade id on another venue is another trade
        assert j.record_event(msgspec.structs.replace(fill, venue="huobi")) is True
        assert len(j.order_events()) == 4
        assert [f.event.trade_id for f in j.fills()] == ["t1", "t2", "t1"]
        totals = j.totals()
        assert (totals.fills, totals.duplicate_fills) == (3, 1)


def test_order_retry_and_repeated_opportunity_are_recorded_once(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.record_order(make_order(0, 0)) is True
        assert j.record_order(make_order(0, 0, ts=99)) is False
        assert j.record_order(make_order(0, 0, venue="huobi")) is True
        assert j.record_opportunity(make_opp(0)) is True
        assert j.record_opportunity(make_opp(0, ts=5)) is False
        assert [o.ts for o in j.orders()] == [1_000_010, 1_000_010]
        assert [o.ts for o in j.opportunities()] == [1_000_000]


def test_open_orders_exclude_rejected_canceled_and_fully_filled(tmp_path):
    rested = make_order(0, 0, order_type=OrderType.LIMIT)
    partly = make_order(1, 0)
    full = make_order(2, 0)
    rejected = make_order(3, 0)
    canceled = make_order(4, 0)
    unacked = make_order(5, 0)
    with Journal(tmp_path / "j.sqlite") as j:
        for o in (rested, partly, full, rejected, canceled, unacked):
            j.record_order(o)
        for o in (rested, partly, full, canceled):
            j.record_event(accepted(o))
        j.record_event(make_fill(partly, "p1", 300))
        j.record_event(make_fill(partly, "p1", 300))  # duplicate: counted once
        j.record_event(make_fill(full, "f1", 600))
        j.record_event(make_fill(full, "f2", 400))
        j.record_event(
            OrderRejected(
                venue=rejected.venue,
                client_order_id=rejected.client_order_id,
                reason="INSUFFICIENT_BALANCE",
                ts_event=1,
                ts_recv=2,
            )
        )
        j.record_event(
            OrderCanceled(
                venue=canceled.venue,
                client_order_id=canceled.client_order_id,
                reason="REQUESTED",
                ts_event=1,
                ts_recv=2,
            )
        )
        got = [(o.order, o.filled_qty, o.venue_order_id) for o in j.open_orders()]
    assert got == [
        (rested, 0, f"V{rested.client_order_id}"),
        (partly, 300, f"V{partly.client_order_id}"),
        (unacked, 0, ""),
    ]


def test_fills_per_opportunity_and_totals(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        write_session(j)
        by_opp = j.fills_by_opportunity()
        assert {k: [f.event.qty for f in v] for k, v in by_opp.items()} == {
            "opp0": [1_000, 1_000],
            "opp1": [1_000, 400],
        }
        assert [f.event.trade_id for f in j.fills("opp1")] == ["t1a", "t1b"]
        assert j.fills("opp2") == []
        totals = j.totals()
    assert totals.runs == 1
    assert totals.opportunities == 3
    assert totals.decisions == {"TRADE": 2, "REFUSED": 1}
    assert totals.refusals == {"STALE_BOOK": 1}
    assert (totals.orders, totals.cancels, totals.order_events, totals.rejects) == (4, 0, 9, 0)
    assert (totals.fills, totals.duplicate_fills) == (4, 0)
    assert totals.rollbacks == {"HEDGE": 1}
    assert totals.fees == {"USDT": 4 * 75 * USDT // 1000}
    assert (totals.realized_pnl, totals.pnl_fees, totals.unhedged_notional) == (
        USDT // 2,
        3 * USDT // 10,
        0,
    )


def test_empty_journal_totals_are_zero(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        t = j.totals()
        assert (t.opportunities, t.decisions, t.fees, t.realized_pnl) == (0, {}, {}, 0)
        assert j.open_orders() == []


def test_digest_is_equal_for_the_same_events_in_two_journals(tmp_path):
    d1 = session_digest(tmp_path / "a.sqlite")
    d2 = session_digest(tmp_path / "b.sqlite")
    assert d1 == d2
    assert len(d1) == 64


@pytest.mark.parametrize(
    "change", [{"fill_qty": 401}, {"refusal": "MAX_UNHEDGED"}], ids=["fill_qty", "refusal_code"]
)
def test_digest_changes_when_one_event_changes(tmp_path, change):
    assert session_digest(tmp_path / "a.sqlite") != session_digest(tmp_path / "b.sqlite", **change)


def test_digest_changes_with_one_more_event(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        write_session(j)
        before = j.digest()
        j.record_pnl(ts=3, realized=0, fees=0, unhedged_notional=0)
        assert j.digest() != before


def test_digest_is_independent_of_commit_batching_wall_clock_and_paths(tmp_path):
    d1 = session_digest(tmp_path / "a.sqlite", commit_every=1)
    d2 = session_digest(tmp_path / "b.sqlite", commit_every=7)
    with Journal(tmp_path / "c.sqlite", commit_every=1000) as j:
        write_session(j)
        j.flush()
        conn = sqlite3.connect(tmp_path / "c.sqlite")
        conn.execute("UPDATE runs SET started_wall_ns = 123, recording = '/elsewhere/rec'")
        conn.commit()
        conn.close()
        d3 = j.digest()
    with open_journal(tmp_path / "a.sqlite") as r:
        d4 = r.digest()
    assert d1 == d2 == d3 == d4


def test_commit_every_batches_until_flush(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path, commit_every=3) as j:
        other = sqlite3.connect(path)

        def committed():
            return other.execute("SELECT COUNT(*) FROM pnl").fetchone()[0]

        for ts in (1, 2):
            j.record_pnl(ts=ts, realized=0, fees=0, unhedged_notional=0)
        assert committed() == 0
        assert len(j.pnl()) == 2  # the writer sees its own batch
        j.record_pnl(ts=3, realized=0, fees=0, unhedged_notional=0)
        assert committed() == 3
        j.record_pnl(ts=4, realized=0, fees=0, unhedged_notional=0)
        assert committed() == 3
        j.flush()
        assert committed() == 4
        j.record_pnl(ts=5, realized=0, fees=0, unhedged_notional=0)
    assert committed() == 5
    other.close()


def test_an_event_that_fails_midway_leaves_no_row(tmp_path):
    order = make_order(0, 0)
    with Journal(tmp_path / "j.sqlite", commit_every=2) as j:
        j.record_order(order)
        broken = msgspec.structs.replace(make_fill(order, "t1", 10), fee_ccy=None)
        with pytest.raises(sqlite3.IntegrityError):
            j.record_event(broken)  # order_event row written, then the fill row refused
        with pytest.raises(ValueError, match="decision"):
            j.record_decision(ts=1, opportunity_id="o", decision="MAYBE")
        with pytest.raises(ValueError, match="decision"):
            j.record_rollback(
                ts=1,
                opportunity_id="o",
                decision="PANIC",
                residual_qty=0,
                residual_notional=0,
                cost=0,
            )
        j.record_event(make_fill(order, "t2", 10))
    with open_journal(tmp_path / "j.sqlite") as r:
        assert [type(e).__name__ for e in r.order_events()] == ["OrderFilled"]
        assert [f.event.trade_id for f in r.fills()] == ["t2"]
        assert r.decisions() == []
        assert r.rollbacks() == []


def test_reopened_journal_appends_and_numbers_runs(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        assert j.begin_run(config_digest="c") == 1
        j.record_order(make_order(0, 0))
    with Journal(path) as j:
        assert j.begin_run(config_digest="c") == 2
        assert [o.order.client_order_id for o in j.open_orders()] == ["opp0L0A0"]
        assert [r.run_id for r in j.runs()] == ["run1", "run2"]


def test_journal_uses_wal_and_the_chosen_synchronous_level(tmp_path):
    with Journal(tmp_path / "a.sqlite") as j:
        assert j._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert j._conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with Journal(tmp_path / "b.sqlite", synchronous="FULL") as j:
        assert j._conn.execute("PRAGMA synchronous").fetchone() == (2,)


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"commit_every": 0}, "commit_every"), ({"synchronous": "OFF"}, "synchronous")],
)
def test_bad_options_are_refused(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        Journal(tmp_path / "j.sqlite", **kw)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="not an arb journal"):
        Journal(junk)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="not an arb journal"):
        open_journal(other)
    with pytest.raises(JournalError, match="no journal"):
        open_journal(tmp_path / "missing.sqlite")


def test_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="schema"):
        Journal(path)


def test_closed_journal_refuses_writes(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.close()
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.record_pnl(ts=1, realized=0, fees=0, unhedged_notional=0)


def test_raw_sizes_past_64_bits_round_trip_exactly(tmp_path):
    # 27.5 units at 18 decimals (as Huobi publishes LINK sizes) is past SQLite's 64 bits.
    qty = 27_500_000_000_000_000_001
    order = msgspec.structs.replace(make_order(0, 0), qty=qty)
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_order(order)
        j.record_event(make_fill(order, "t1", qty))
    with open_journal(tmp_path / "j.sqlite") as r:
        assert r.orders()[0].qty == qty
        assert r.fills()[0].event.qty == qty
