"""Property: whatever the market and the orders, the simulated venue's accounts add up.

Balances (available and total) never go negative, and each asset's change is exactly the
sum of the fills the engine was told about (base quantities, quote notionals and fees).
"""

from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
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
from arb.core.money import notional_amount
from arb.core.types import Side
from venues.sim import SimVenue
from venues.sim import SimVenueConfig
from venues.sim import UniformLatency

V = "simp"
SYM = "BTC-USDT"


def instrument(tick: str, lot: str, min_size: str, min_notional: str) -> Instrument:
    return Instrument.create(
        venue=V,
        symbol=SYM,
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=tick,
        lot_size=lot,
        min_size=min_size,
        min_notional=min_notional,
    )


# Same raw numbers, two scales: 2 + 3 decimals (exact notionals) and 8 + 6 decimals (each
# fill's notional rounds at AMOUNT_PRECISION).
COARSE = instrument("0.05", "0.002", "0.010", "1")
FINE = instrument("0.00000005", "0.000002", "0.00001", "0")

px_st = st.integers(min_value=1960, max_value=2060).map(lambda i: i * 5)  # 98.00 .. 103.00
size_st = st.integers(min_value=1, max_value=1500).map(lambda i: i * 2)
levels_st = st.lists(st.tuples(px_st, size_st), max_size=12)

place_st = st.tuples(
    st.just("place"),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(list(OrderType)),
    px_st,
    st.integers(min_value=0, max_value=600).map(lambda i: i * 2),
)
op_st = st.one_of(
    place_st,
    place_st,
    st.tuples(st.just("book"), levels_st, px_st),
    st.tuples(
        st.just("delta"),
        st.lists(st.tuples(px_st, st.sampled_from([0, 2, 500, 2000])), max_size=4),
        px_st,
    ),
    st.tuples(st.just("trade"), px_st, size_st, st.sampled_from(["buy", "sell", ""])),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("wait"), st.integers(min_value=0, max_value=8_000)),
)


def market_from(levels, mid=10000):
    # Split random levels into an uncrossed book around ``mid``.
    bids = {px: q for px, q in levels if px < mid}
    asks = {px: q for px, q in levels if px >= mid}
    return sorted(bids.items(), reverse=True), sorted(asks.items())


def flows(inst: Instrument, events) -> dict[str, int]:
    base_unit = 10 ** (AMOUNT_PRECISION - inst.size_precision)
    out = {"BTC": 0, "USDT": 0}
    for e in events:
        if not isinstance(e, OrderFilled):
            continue
        if e.side is Side.BUY:
            out["BTC"] += e.qty * base_unit
            out["USDT"] -= notional_amount(inst, e.px, e.qty, round_up=True) + e.fee
        else:
            out["BTC"] -= e.qty * base_unit
            out["USDT"] += notional_amount(inst, e.px, e.qty, round_up=False) - e.fee
    return out


def assert_never_negative(v: SimVenue) -> None:
    avail, totals = v.balances(), v.totals()
    assert all(x >= 0 for x in avail.values()), avail
    assert all(avail[a] <= totals[a] for a in totals)


def apply(v: SimVenue, op, t: int, cids: list[str]) -> None:
    kind = op[0]
    if kind in ("book", "delta"):
        bids, asks = market_from(op[1], op[2])
        cls = BookSnapshot if kind == "book" else BookDelta
        v.on_market(
            cls(venue=V, symbol=SYM, channel="c", ts_event=t, ts_recv=t, bids=bids, asks=asks)
        )
    elif kind == "trade":
        v.on_market(
            Trade(
                venue=V,
                symbol=SYM,
                ts_event=t,
                ts_recv=t,
                trade_id=str(t),
                px=op[1],
                qty=op[2],
                side=op[3],
            )
        )
    elif kind == "place":
        cid = f"c{len(cids)}"
        cids.append(cid)
        _, side, otype, px, qty = op
        v.submit(
            PlaceOrder(
                venue=V,
                symbol=SYM,
                client_order_id=cid,
                side=side,
                order_type=otype,
                px=px,
                qty=qty,
                ts=t,
            ),
            t,
        )
    elif kind == "cancel" and cids:
        cid = cids[op[1] % len(cids)]
        v.submit(CancelOrder(venue=V, symbol=SYM, client_order_id=cid, ts=t), t)


def drain(v: SimVenue) -> list:
    out: list = []
    while (due := v.due()) is not None:
        out += v.advance(due)
        assert_never_negative(v)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inst=st.sampled_from([COARSE, FINE]),
    taker=st.integers(min_value=0, max_value=3000),
    maker=st.integers(min_value=-300, max_value=3000),
    usdt=st.sampled_from(["0", "0.5", "150", "1000", "12345.678901234567", "99999"]),
    btc=st.sampled_from(["0", "0.01", "1", "5"]),
    fraction=st.sampled_from([1.0, 0.5, 0.3]),
    reject_rate=st.sampled_from([0.0, 0.25]),
    seed=st.integers(min_value=0, max_value=3),
    start=levels_st,
    ops=st.lists(op_st, min_size=8, max_size=60),
)
def test_balances_never_negative_and_changes_equal_fills_and_fees(
    inst, taker, maker, usdt, btc, fraction, reject_rate, seed, start, ops
):
    cfg = SimVenueConfig(
        order_latency=UniformLatency(min_ms=0, max_ms=0.003),
        event_latency=UniformLatency(min_ms=0, max_ms=0.002),
        taker_fee_ppm=taker,
        maker_fee_ppm=maker,
        balances={"USDT": usdt, "BTC": btc},
        partial_fill_fraction=fraction,
        reject_rate=reject_rate,
        seed=seed,
    )
    v = SimVenue(V, [inst], cfg)
    initial = v.totals()
    t = 0
    apply(v, ("book", start, 10000), t, [])
    events: list = []
    cids: list[str] = []
    for op in ops:
        t += 1_000 + (op[1] if op[0] == "wait" else 0)
        apply(v, op, t, cids)
        events += v.advance(t)
        assert_never_negative(v)
    events += drain(v)
    t = max([t, *(e.ts_recv for e in events)])
    for cid in v.open_orders():
        v.submit(CancelOrder(venue=V, symbol=SYM, client_order_id=cid, ts=t), t)
    events += drain(v)

    assert v.open_orders() == []
    assert v.balances() == v.totals()
    got = flows(inst, events)
    for asset in ("BTC", "USDT"):
        assert v.totals().get(asset, 0) - initial.get(asset, 0) == got[asset]
    check_orders(ops, events)


def check_orders(ops, events) -> None:
    fills = [e for e in events if isinstance(e, OrderFilled)]
    event(f"fills: {'none' if not fills else 'some'}")
    event(f"maker fills: {any(e.liquidity == 'maker' for e in fills)}")
    trade_ids = [e.trade_id for e in events if isinstance(e, OrderFilled)]
    assert len(trade_ids) == len(set(trade_ids))
    # every order is answered once, ends once, and never fills more than it asked
    qty_of: dict[str, int] = {}
    for op in ops:
        if op[0] == "place":
            qty_of[f"c{len(qty_of)}"] = op[4]
    filled: dict[str, int] = {}
    for e in events:
        if isinstance(e, OrderFilled):
            filled[e.client_order_id] = filled.get(e.client_order_id, 0) + e.qty
    assert all(filled[c] <= qty_of[c] for c in filled)
    answered = [e.client_order_id for e in events if isinstance(e, OrderAccepted | OrderRejected)]
    assert sorted(answered) == sorted(qty_of)
    ended = [e.client_order_id for e in events if isinstance(e, OrderCanceled)]
    assert len(ended) == len(set(ended))
    assert [e.ts_recv for e in events] == sorted(e.ts_recv for e in events)
