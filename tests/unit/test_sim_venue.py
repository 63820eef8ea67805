"""Simulated venue scenarios on a virtual clock: matching, fees, balances, latency, faults."""

from typing import Any

import msgspec
import pytest

from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.types import Side
from arb.ports import ExecutionVenue
from venues.sim import SimVenue
from venues.sim import SimVenueConfig
from venues.sim import UniformLatency

V = "simx"
SYM = "BTC-USDT"
MS = 1_000_000
USDT = POW10[AMOUNT_PRECISION]  # one unit of any asset at AMOUNT_PRECISION
BTC = POW10[AMOUNT_PRECISION]
Q = 1000  # 1.000 BTC raw (size precision 3)

INST = Instrument.create(
    venue=V,
    symbol=SYM,
    venue_symbol="BTCUSDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size="0.05",  # price precision 2, tick raw 5
    lot_size="0.002",  # size precision 3, lot raw 2
    min_size="0.010",
    min_notional="5",
)
PERP = Instrument.create(
    venue=V,
    symbol="BTC-USDT-PERP",
    venue_symbol="BTC-USDT-SWAP",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="1",
    contract_value="0.01",
)
OPT = Instrument.create(
    venue=V,
    symbol="BTC-USD-20240927-60000-C",
    venue_symbol="BTC-USD-240927-60000-C",
    kind=InstrumentKind.OPTION,
    base="BTC",
    quote="USD",
    tick_size="0.0005",
    lot_size="1",
)
ASKS = [(10000, 1 * Q), (10050, 2 * Q), (10100, 3 * Q)]  # 100.00 x1, 100.50 x2, 101.00 x3
BIDS = [(9950, 1 * Q), (9900, 2 * Q)]


def cfg(**kw: Any) -> SimVenueConfig:
    base: dict[str, Any] = {
        "taker_fee_ppm": 1000,
        "maker_fee_ppm": 200,
        "balances": {"USDT": "1000", "BTC": "5"},
    }
    base.update(kw)
    return SimVenueConfig(**base)


def snapshot(bids=BIDS, asks=ASKS, ts=0, seq=-1, venue=V) -> BookSnapshot:
    return BookSnapshot(
        venue=venue,
        symbol=SYM,
        channel="depth",
        ts_event=ts,
        ts_recv=ts,
        seq=seq,
        bids=list(bids),
        asks=list(asks),
    )


def delta(bids=(), asks=(), ts=0, seq=-1) -> BookDelta:
    return BookDelta(
        venue=V,
        symbol=SYM,
        channel="depth",
        ts_event=ts,
        ts_recv=ts,
        first_seq=seq,
        last_seq=seq,
        bids=list(bids),
        asks=list(asks),
    )


def trade(px, qty, side, ts=0) -> Trade:
    return Trade(
        venue=V, symbol=SYM, ts_event=ts, ts_recv=ts, trade_id="x", px=px, qty=qty, side=side
    )


def place(cid, side, qty, px=0, order_type=OrderType.IOC, symbol=SYM, ts=0) -> PlaceOrder:
    return PlaceOrder(
        venue=V,
        symbol=symbol,
        client_order_id=cid,
        side=side,
        order_type=order_type,
        px=px,
        qty=qty,
        ts=ts,
    )


def venue(**kw) -> SimVenue:
    v = SimVenue(V, [INST, PERP, OPT], cfg(**kw))
    v.on_market(snapshot())
    return v


def run(v: SimVenue, cmd, now=0):
    """Submit at ``now`` and drain everything (zero latency unless configured)."""
    v.submit(cmd, now)
    return drain(v)


def drain(v: SimVenue):
    out = []
    while (t := v.due()) is not None:
        out += v.advance(t)
    return out


def kinds(events):
    return [type(e).__name__ for e in events]


def fills(events):
    return [e for e in events if isinstance(e, OrderFilled)]


def test_sim_venue_is_an_execution_venue():
    v: ExecutionVenue = venue()
    assert v.venue == V
    assert v.due() is None
    assert v.advance(10**9) == []


def test_ioc_walks_three_levels_with_exact_fees_and_balances():
    v = venue()
    ev = run(v, place("a", Side.BUY, 5 * Q, px=10100))
    assert kinds(ev) == ["OrderAccepted", "OrderFilled", "OrderFilled", "OrderFilled"]
    f = fills(ev)
    assert [(x.px, x.qty) for x in f] == [(10000, 1000), (10050, 2000), (10100, 2000)]
    # 100 + 201 + 202 = 503 USDT notional; 10 bps taker fee per level, in USDT
    assert [x.fee for x in f] == [USDT // 10, 201 * USDT // 1000, 202 * USDT // 1000]
    assert {x.fee_ccy for x in f} == {"USDT"}
    assert {x.liquidity for x in f} == {"taker"}
    assert v.balances() == {"USDT": 1000 * USDT - 503 * USDT - 503 * USDT // 1000, "BTC": 10 * BTC}
    assert v.balances() == v.totals()
    assert v.open_orders() == []


def test_ioc_partial_fill_cancels_the_remainder():
    v = venue()
    ev = run(v, place("a", Side.BUY, 2 * Q, px=10000))
    assert kinds(ev) == ["OrderAccepted", "OrderFilled", "OrderCanceled"]
    assert fills(ev)[0].qty == Q
    assert ev[-1].reason == "IOC_REMAINDER"
    assert v.balances()["BTC"] == 6 * BTC


def test_sell_ioc_walks_the_bids_and_pays_the_fee_from_proceeds():
    v = venue()
    ev = run(v, place("s", Side.SELL, 2 * Q, px=9900))
    assert [(x.px, x.qty) for x in fills(ev)] == [(9950, 1000), (9900, 1000)]
    proceeds = 99_50 * USDT // 100 + 99 * USDT
    fee = proceeds // 1000
    assert v.balances() == {"USDT": 1000 * USDT + proceeds - fee, "BTC": 3 * BTC}


def test_fok_that_cannot_fill_completely_fills_nothing():
    v = venue()
    ev = run(v, place("f", Side.BUY, 4 * Q, px=10050, order_type=OrderType.FOK))
    assert kinds(ev) == ["OrderAccepted", "OrderCanceled"]
    assert ev[-1].reason == "FOK_NOT_FILLABLE"
    assert v.balances() == {"USDT": 1000 * USDT, "BTC": 5 * BTC}
    # nothing was consumed: the same liquidity is still there
    ev = run(v, place("g", Side.BUY, 3 * Q, px=10050, order_type=OrderType.FOK))
    assert sum(x.qty for x in fills(ev)) == 3 * Q


def test_market_order_walks_without_limit_and_reserves_its_exact_cost():
    v = venue(balances={"USDT": "604.604", "BTC": "0"})  # 100 + 201 + 303 + 0.1% fee
    ev = run(v, place("m", Side.BUY, 6 * Q, order_type=OrderType.MARKET))
    assert sum(x.qty for x in fills(ev)) == 6 * Q
    assert v.balances() == {"USDT": 0, "BTC": 6 * BTC}
    v = venue(balances={"USDT": "604.603999999999", "BTC": "0"})
    ev = run(v, place("m", Side.BUY, 6 * Q, order_type=OrderType.MARKET))
    assert ev[0].reason == "INSUFFICIENT_BALANCE"


def test_market_order_on_an_exhausted_book_cancels_the_remainder():
    v = venue(balances={"USDT": "0", "BTC": "5"})
    run(v, place("a", Side.SELL, 3 * Q, order_type=OrderType.MARKET))
    ev = run(v, place("b", Side.SELL, 1 * Q, order_type=OrderType.MARKET))
    assert kinds(ev) == ["OrderAccepted", "OrderCanceled"]
    assert ev[-1].reason == "IOC_REMAINDER"


def test_liquidity_taken_is_gone_until_the_venue_updates_that_level():
    v = venue()
    assert fills(run(v, place("a", Side.BUY, Q, px=10000)))[0].qty == Q
    second = run(v, place("b", Side.BUY, Q, px=10000))
    assert kinds(second) == ["OrderAccepted", "OrderCanceled"]
    assert v.book(SYM).available(Side.SELL, 10000) == 0
    v.on_market(delta(asks=[(10050, 2 * Q)], ts=1))  # another level: 100.00 stays consumed
    assert kinds(run(v, place("c", Side.BUY, Q, px=10000, ts=1), now=1))[-1] == "OrderCanceled"
    v.on_market(delta(asks=[(10000, Q // 2)], ts=2))  # the venue says: 0.5 there now
    ev = run(v, place("d", Side.BUY, Q, px=10000), now=2)
    assert [x.qty for x in fills(ev)] == [Q // 2]


def test_a_snapshot_restores_all_consumed_liquidity():
    v = venue(balances={"USDT": "10000"})
    run(v, place("a", Side.BUY, 6 * Q, px=10100))
    v.on_market(snapshot(ts=5))
    assert sum(x.qty for x in fills(run(v, place("b", Side.BUY, 6 * Q, px=10100), now=5))) == 6000


def test_resting_limit_fills_as_maker_when_the_book_trades_through_it():
    v = venue()
    ev = run(v, place("r", Side.BUY, Q, px=9980, order_type=OrderType.LIMIT))
    assert kinds(ev) == ["OrderAccepted"]
    assert v.open_orders() == ["r"]
    # reserved: 99.80 + 0.1% (highest fee it may pay)
    assert v.balances()["USDT"] == 1000 * USDT - 9980 * USDT // 100 - 998 * USDT // 10_000
    v.on_market(delta(asks=[(9970, 400)], ts=10))  # an ask crosses the resting bid
    ev = drain(v)
    f = fills(ev)
    assert [(x.px, x.qty, x.liquidity) for x in f] == [(9980, 400, "maker")]
    # 99.80 x 0.400 (scale 2 + 3) at AMOUNT_PRECISION, then 2 bps maker
    assert f[0].fee == 9980 * 400 * USDT // 10**5 * 200 // 10**6
    assert f[0].ts_event == 10
    v.on_market(trade(9990, 300, "buy", ts=11))  # a buyer lifting asks does not hit our bid
    assert drain(v) == []
    v.on_market(trade(9980, 5000, "sell", ts=12))  # a seller at our price fills the rest
    f2 = fills(drain(v))
    assert [(x.px, x.qty) for x in f2] == [(9980, 600)]
    assert v.open_orders() == []
    cost = 9980 * USDT // 100 + f[0].fee + f2[0].fee
    assert v.balances() == v.totals() == {"USDT": 1000 * USDT - cost, "BTC": 6 * BTC}


def test_limit_takes_what_crosses_and_rests_the_rest():
    v = venue()
    ev = run(v, place("l", Side.SELL, 2 * Q, px=9950, order_type=OrderType.LIMIT))
    assert kinds(ev) == ["OrderAccepted", "OrderFilled"]
    assert fills(ev)[0].liquidity == "taker"
    assert v.open_orders() == ["l"]
    assert v.balances()["BTC"] == 3 * BTC  # 1 sold, 1 reserved
    ev = run(v, CancelOrder(venue=V, symbol=SYM, client_order_id="l", ts=0))
    assert kinds(ev) == ["OrderCanceled"]
    assert ev[0].reason == "REQUESTED"
    assert v.balances()["BTC"] == 4 * BTC


def test_cancel_of_a_terminal_or_unknown_order_is_ignored():
    v = venue()
    run(v, place("a", Side.BUY, Q, px=10000))
    assert run(v, CancelOrder(venue=V, symbol=SYM, client_order_id="a", ts=0)) == []
    assert run(v, CancelOrder(venue=V, symbol=SYM, client_order_id="zz", ts=0)) == []


def test_cancel_never_overtakes_its_order():
    for seed in range(20):
        v = venue(order_latency=UniformLatency(min_ms=1, max_ms=100), seed=seed)
        v.submit(place("r", Side.BUY, Q, px=9000, order_type=OrderType.LIMIT), 0)
        v.submit(CancelOrder(venue=V, symbol=SYM, client_order_id="r", ts=0), 0)
        assert kinds(drain(v)) == ["OrderAccepted", "OrderCanceled"]


@pytest.mark.parametrize(
    ("cmd", "code"),
    [
        (place("x", Side.BUY, Q, px=10000, symbol="ETH-USDT"), "UNKNOWN_SYMBOL"),
        (place("x", Side.BUY, 1, px=100, symbol=OPT.symbol), "UNSUPPORTED_INSTRUMENT"),
        # 100 contracts x 0.01 BTC x 60000.0 = 60000 USDT of exposure needs 12000 USDT margin
        (
            place("x", Side.BUY, 100, px=600000, order_type=OrderType.LIMIT, symbol=PERP.symbol),
            "INSUFFICIENT_BALANCE",
        ),
        (place("x", Side.BUY, Q, px=10001), "OFF_TICK"),
        (place("x", Side.BUY, Q, px=0), "OFF_TICK"),
        (place("x", Side.BUY, 1001, px=10000), "OFF_LOT"),
        (place("x", Side.BUY, 0, px=10000), "OFF_LOT"),
        (place("x", Side.BUY, 8, px=10000), "BELOW_MIN_SIZE"),
        (place("x", Side.BUY, 10, px=10000), "BELOW_MIN_NOTIONAL"),  # 0.01 x 100 = 1 < 5
        (place("x", Side.BUY, 10 * Q, px=10100), "INSUFFICIENT_BALANCE"),  # 1010 + fee > 1000
        (place("x", Side.SELL, 6 * Q, px=9900), "INSUFFICIENT_BALANCE"),
    ],
)
def test_each_reject_code(cmd, code):
    v = venue()
    ev = run(v, cmd)
    assert kinds(ev) == ["OrderRejected"]
    assert ev[0].reason == code
    assert v.balances() == {"USDT": 1000 * USDT, "BTC": 5 * BTC}


def test_buy_needs_notional_plus_fee_exactly():
    # 9 BTC at 100.00 = 900 USDT + 0.9 fee: 900.9 is enough, a hair less is not
    asks = [(10000, 10 * Q)]
    ok = SimVenue(V, [INST], cfg(balances={"USDT": "900.9"}))
    ok.on_market(snapshot(asks=asks))
    assert kinds(run(ok, place("a", Side.BUY, 9 * Q, px=10000)))[-1] == "OrderFilled"
    assert ok.balances()["USDT"] == 0
    short = SimVenue(V, [INST], cfg(balances={"USDT": "900.899999999999"}))
    short.on_market(snapshot(asks=asks))
    assert run(short, place("a", Side.BUY, 9 * Q, px=10000))[0].reason == "INSUFFICIENT_BALANCE"


def test_random_reject_knob():
    v = venue(reject_rate=1.0)
    assert run(v, place("x", Side.BUY, Q, px=10000))[0].reason == "RANDOM_REJECT"

    def outcomes(seed):
        v = venue(reject_rate=0.5, seed=seed, balances={"USDT": "1000000"})
        return [kinds(run(v, place(f"o{i}", Side.BUY, 60, px=9000)))[0] for i in range(200)]

    a = outcomes(3)
    assert a == outcomes(3)
    assert 60 < a.count("OrderRejected") < 140
    assert a != outcomes(4)


def test_partial_fill_fraction_caps_the_taker_part():
    v = venue(partial_fill_fraction=0.5)
    ev = run(v, place("a", Side.BUY, 3 * Q, px=10100))
    assert sum(x.qty for x in fills(ev)) == 1500
    assert ev[-1].reason == "IOC_REMAINDER"
    ev = run(v, place("f", Side.BUY, 2 * Q, px=10100, order_type=OrderType.FOK))
    assert ev[-1].reason == "FOK_NOT_FILLABLE"
    v = venue(partial_fill_fraction=0.3)
    ev = run(v, place("b", Side.BUY, 70, px=10100))  # 21 raw rounds down to the lot (20)
    assert [x.qty for x in fills(ev)] == [20]


def test_events_arrive_only_after_order_and_delivery_latency():
    v = venue(order_latency=10.0, event_latency=5.0)
    v.submit(place("a", Side.BUY, Q, px=10000, ts=100), 100)
    assert v.due() == 100 + 10 * MS
    assert v.advance(100 + 10 * MS - 1) == []
    assert v.advance(100 + 10 * MS) == []  # matched at arrival, not yet delivered
    assert v.due() == 100 + 15 * MS
    assert v.advance(100 + 15 * MS - 1) == []
    ev = v.advance(100 + 15 * MS)
    assert kinds(ev) == ["OrderAccepted", "OrderFilled"]
    assert {(e.ts_event, e.ts_recv) for e in ev} == {(100 + 10 * MS, 100 + 15 * MS)}
    assert v.due() is None


def test_the_book_at_arrival_is_what_matches():
    v = venue(order_latency=10.0, event_latency=0.0)
    v.submit(place("a", Side.BUY, Q, px=10000), 0)
    v.on_market(delta(asks=[(10000, 0)], ts=5 * MS))  # before arrival: 100.00 is gone
    v.on_market(delta(asks=[(10000, Q)], ts=10 * MS))  # same time as arrival: after it
    assert kinds(drain(v)) == ["OrderAccepted", "OrderCanceled"]


def test_extra_delay_is_added_to_the_trip():
    v = venue(order_latency=1.0, extra_delay_ms=4.0)
    v.submit(place("a", Side.BUY, Q, px=10000), 0)
    assert v.due() == 5 * MS


def test_deliveries_keep_their_order_with_random_latency():
    v = venue(
        order_latency=UniformLatency(min_ms=1, max_ms=50),
        seed=9,
        balances={"USDT": "100000", "BTC": "0"},
    )
    for i in range(30):
        v.submit(place(f"o{i}", Side.BUY, 60, px=10100), i * MS)
    ev = drain(v)
    assert [e.ts_recv for e in ev] == sorted(e.ts_recv for e in ev)
    assert all(e.ts_recv >= e.ts_event for e in ev)
    accepted = [e.client_order_id for e in ev if isinstance(e, OrderAccepted)]
    assert len(accepted) == 30


def test_trade_ids_are_unique():
    v = venue(balances={"USDT": "100000", "BTC": "100"})
    seen = []
    for i in range(50):
        v.on_market(snapshot(ts=i))
        seen += [f.trade_id for f in fills(run(v, place(f"b{i}", Side.BUY, 4 * Q, px=10100), i))]
        seen += [f.trade_id for f in fills(run(v, place(f"s{i}", Side.SELL, 2 * Q, px=9900), i))]
    assert len(seen) == 50 * 5
    assert len(set(seen)) == len(seen)


def test_a_repeated_client_order_id_places_nothing_and_answers_with_the_order():
    v = venue()
    first = run(v, place("a", Side.BUY, Q, px=10100))
    again = run(v, place("a", Side.BUY, Q, px=10100))
    assert kinds(again) == ["OrderAccepted"]
    assert again[0].venue_order_id == first[0].venue_order_id
    assert v.balances()["BTC"] == 6 * BTC
    bad = run(v, place("b", Side.BUY, 1001, px=10100))
    assert run(v, place("b", Side.BUY, Q, px=10100))[0].reason == bad[0].reason == "OFF_LOT"


def test_stale_deltas_quotes_and_other_venues_do_not_change_the_book():
    v = SimVenue(V, [INST], cfg())
    v.on_market(snapshot(seq=10))
    v.on_market(delta(asks=[(10000, 0)], seq=9))  # older than the snapshot
    v.on_market(snapshot(asks=[], venue="other"))
    v.on_market(
        Quote(
            venue=V,
            symbol=SYM,
            channel="bbo",
            ts_event=0,
            ts_recv=0,
            bid_px=1,
            bid_qty=1,
            ask_px=20000,
            ask_qty=1,
        )
    )
    assert v.book(SYM).available(Side.SELL, 10000) == Q


def test_command_for_another_venue_is_a_bug():
    from arb.core.errors import InvariantViolation

    v = venue()
    with pytest.raises(InvariantViolation):
        v.submit(
            PlaceOrder(
                venue="other",
                symbol=SYM,
                client_order_id="a",
                side=Side.BUY,
                order_type=OrderType.IOC,
                px=10000,
                qty=Q,
                ts=0,
            ),
            0,
        )


def test_rejections_and_cancels_carry_the_venue_and_order():
    v = venue()
    ev = run(v, place("x", Side.BUY, Q, px=10001))
    assert isinstance(ev[0], OrderRejected)
    assert (ev[0].venue, ev[0].client_order_id) == (V, "x")
    ev = run(v, place("y", Side.BUY, 2 * Q, px=10000))
    assert isinstance(ev[-1], OrderCanceled)
    assert (ev[-1].venue, ev[-1].client_order_id) == (V, "y")


def test_a_resting_fill_consumes_the_liquidity_it_met():
    v = venue()
    run(v, place("r", Side.SELL, Q, px=10000, order_type=OrderType.LIMIT))  # above the 99.50 bid
    assert v.open_orders() == ["r"]
    v.on_market(snapshot(bids=[(10010, 3 * Q // 2)], asks=[(10100, Q)], ts=5))
    f = fills(drain(v))
    assert [(x.px, x.qty, x.liquidity) for x in f] == [(10000, Q, "maker")]
    # the bid at 100.10 had 1.5; our resting sell took 1.0 of it
    assert v.book(SYM).available(Side.BUY, 10010) == Q // 2
    ev = run(v, place("s", Side.SELL, Q, px=10010), now=5)
    assert [x.qty for x in fills(ev)] == [Q // 2]


def test_a_trade_of_unknown_side_through_the_price_fills_resting_orders_by_priority():
    v = venue(balances={"USDT": "1000", "BTC": "0"})
    run(v, place("lo", Side.BUY, Q, px=9700, order_type=OrderType.LIMIT))
    run(v, place("hi", Side.BUY, Q, px=9800, order_type=OrderType.LIMIT))
    v.on_market(trade(9700, 3 * Q // 2, "", ts=3))
    f = fills(drain(v))
    assert [(x.client_order_id, x.px, x.qty) for x in f] == [("hi", 9800, Q), ("lo", 9700, Q // 2)]
    assert v.open_orders() == ["lo"]


def test_a_sequence_reset_that_names_the_last_id_as_its_predecessor_is_applied():
    # OKX may reset seqId to a smaller number; prevSeqId still names the last one applied.
    v = SimVenue(V, [INST], cfg())
    v.on_market(snapshot(seq=100))
    reset = msgspec.structs.replace(
        delta(asks=[(10000, 0)], seq=3), prev_seq=100
    )  # seqId 3 < 100, prevSeqId 100
    v.on_market(reset)
    assert v.book(SYM).available(Side.SELL, 10000) == 0
    v.on_market(msgspec.structs.replace(delta(asks=[(10000, 5 * Q)], seq=4), prev_seq=3))
    assert v.book(SYM).available(Side.SELL, 10000) == 5 * Q
    # a replayed old delta (its predecessor is not the last id) is still dropped
    v.on_market(msgspec.structs.replace(delta(asks=[(10000, 0)], seq=2), prev_seq=1))
    assert v.book(SYM).available(Side.SELL, 10000) == 5 * Q
