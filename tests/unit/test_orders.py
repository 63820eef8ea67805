"""Order state machine: the transition table, venue races, fill dedup and accounting."""

import itertools

import msgspec
import pytest

from arb.core.errors import InvariantViolation
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
from arb.core.orders import RACES
from arb.core.orders import TERMINAL_STATES
from arb.core.orders import TRANSITIONS
from arb.core.orders import Order
from arb.core.orders import OrderState
from arb.core.orders import Race
from arb.core.orders import Trigger
from arb.core.types import Side

pytestmark = pytest.mark.unit

CID = "o1L0A0"
QTY = 10


def make_inst(tick: str = "0.01", lot: str = "1", venue: str = "A") -> Instrument:
    return Instrument.create(
        venue=venue,
        symbol="BTC-USDT",
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=tick,
        lot_size=lot,
    )


INST = make_inst()


def new_order(side: Side = Side.BUY, qty: int = QTY, inst: Instrument = INST, **kw) -> Order:
    cmd = PlaceOrder(
        venue=inst.venue,
        symbol=inst.symbol,
        client_order_id=CID,
        side=side,
        order_type=OrderType.IOC,
        px=10_000,
        qty=qty,
        ts=1_000,
    )
    order = Order.from_place(cmd, inst)
    for k, v in kw.items():
        setattr(order, k, v)
    return order


def state_of(order: Order) -> OrderState:
    # a call, so that the type checker does not narrow ``order.state`` across ``apply``
    return order.state


def ack(voi: str = "V1", ts: int = 2_000) -> OrderAccepted:
    return OrderAccepted(
        venue="A", client_order_id=CID, venue_order_id=voi, ts_event=ts, ts_recv=ts
    )


def fill(
    trade_id: str, qty: int, px: int = 10_000, side: Side = Side.BUY, fee: int = 5, ts: int = 3_000
) -> OrderFilled:
    return OrderFilled(
        venue="A",
        client_order_id=CID,
        trade_id=trade_id,
        side=side,
        px=px,
        qty=qty,
        fee=fee,
        fee_ccy="USDT",
        liquidity="taker",
        ts_event=ts,
        ts_recv=ts,
    )


def canceled(reason: str = "IOC_REMAINDER", ts: int = 4_000) -> OrderCanceled:
    return OrderCanceled(venue="A", client_order_id=CID, reason=reason, ts_event=ts, ts_recv=ts)


def rejected(reason: str = "INSUFFICIENT_BALANCE", ts: int = 2_000) -> OrderRejected:
    return OrderRejected(venue="A", client_order_id=CID, reason=reason, ts_event=ts, ts_recv=ts)


# -- the table, exhaustively -----------------------------------------------------------------

# A fill quantity already in each state, so that a fill of 1 is a "fill" and a fill of the
# rest is a "fill_complete" (FILLED has no rest: any fill is an over-fill).
FILLED_IN = {
    OrderState.PENDING_NEW: 0,
    OrderState.ACCEPTED: 0,
    OrderState.PARTIALLY_FILLED: 4,
    OrderState.FILLED: QTY,
    OrderState.CANCEL_PENDING: 4,
    OrderState.CANCELED: 4,
    OrderState.REJECTED: 0,
}


def drive(order: Order, trigger: Trigger) -> None:
    if trigger is Trigger.ACCEPTED:
        order.apply(ack())
    elif trigger is Trigger.REJECTED:
        order.apply(rejected())
    elif trigger is Trigger.FILL:
        order.apply(fill("T9", 1))
    elif trigger is Trigger.FILL_COMPLETE:
        order.apply(fill("T9", order.remaining))
    elif trigger is Trigger.CANCEL_REQUESTED:
        order.request_cancel(5_000)
    else:
        order.apply(canceled())


@pytest.mark.parametrize(
    ("state", "trigger"),
    list(itertools.product(OrderState, Trigger)),
    ids=lambda v: str(v),
)
def test_every_state_trigger_pair_is_in_the_table_or_raises(state, trigger):
    order = new_order(state=state, filled_qty=FILLED_IN[state])
    key = (state, trigger)
    if key in TRANSITIONS:
        drive(order, trigger)
        assert state_of(order) is TRANSITIONS[key]
        if key in RACES:
            assert order.races == {RACES[key]: 1}
        else:
            assert order.races == {}
    else:
        with pytest.raises(InvariantViolation) as e:
            drive(order, trigger)
        assert state_of(order) is state
        assert order.filled_qty == FILLED_IN[state]
        assert CID in str(e.value)


def test_table_covers_the_documented_pairs_only():
    assert len(list(itertools.product(OrderState, Trigger))) == 42
    assert len(TRANSITIONS) == 29
    assert set(RACES) <= set(TRANSITIONS)
    # nothing leaves REJECTED; FILLED only absorbs late/duplicate answers
    assert {k for k in TRANSITIONS if k[0] is OrderState.REJECTED} == {
        (OrderState.REJECTED, Trigger.REJECTED)
    }
    assert {v for (s, _), v in TRANSITIONS.items() if s is OrderState.FILLED} == {OrderState.FILLED}


def test_illegal_transition_names_order_state_and_trigger():
    order = new_order()
    order.apply(rejected())
    with pytest.raises(InvariantViolation, match=r"o1L0A0 on A.*rejected.*fill_complete"):
        order.apply(fill("T1", QTY))


def test_request_cancel_of_a_terminal_order_raises():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", QTY))
    with pytest.raises(InvariantViolation, match="cancel_requested"):
        order.request_cancel(5_000)


def test_reject_after_ack_raises():
    order = new_order()
    order.apply(ack())
    with pytest.raises(InvariantViolation, match="accepted on trigger rejected"):
        order.apply(rejected())


# -- normal life -----------------------------------------------------------------------------


def test_ioc_partial_fill_then_remainder_canceled():
    order = new_order()
    assert state_of(order) is OrderState.PENDING_NEW
    assert order.apply(ack())
    assert state_of(order) is OrderState.ACCEPTED
    assert order.ts_acked == 2_000
    assert order.venue_order_id == "V1"
    assert order.apply(fill("T1", 4))
    assert state_of(order) is OrderState.PARTIALLY_FILLED
    assert not order.is_terminal
    assert order.apply(canceled())
    assert state_of(order) is OrderState.CANCELED
    assert order.is_terminal
    assert order.cancel_reason == "IOC_REMAINDER"
    assert (order.filled_qty, order.remaining) == (4, 6)
    assert order.ts_terminal == 4_000
    assert order.races == {}


def test_full_fill_over_two_trades_accounts_notional_fees_and_avg_px():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", 4, px=10_000, fee=7))
    order.apply(fill("T2", 6, px=10_003, fee=9))
    assert state_of(order) is OrderState.FILLED
    assert order.ts_terminal == 3_000
    assert order.trade_ids == {"T1", "T2"}
    # 4 * 100.00 + 6 * 100.03 = 1000.18 USDT
    assert order.notional == 100_018 * 10 ** (AMOUNT_PRECISION - 2)
    assert order.fees == {"USDT": 16}
    assert order.fill_value == 4 * 10_000 + 6 * 10_003
    assert order.avg_px == 10_002  # 10001.8 rounds half up
    assert order.remaining == 0


def test_avg_px_is_none_before_a_fill():
    assert new_order().avg_px is None


def test_notional_rounds_against_us_when_finer_than_amount_precision():
    fine = make_inst(tick="0.0000000001", lot="0.000000001")  # scale 10 + 9 = 19
    assert fine.price_precision + fine.size_precision > AMOUNT_PRECISION
    buy = new_order(Side.BUY, inst=fine)
    buy.apply(fill("T1", 1, px=1, side=Side.BUY))
    sell = new_order(Side.SELL, inst=fine)
    sell.apply(fill("T1", 1, px=1, side=Side.SELL))
    assert buy.notional == 1  # 1e-19 paid rounds up to one unit of AMOUNT_PRECISION
    assert sell.notional == 0  # 1e-19 received rounds down


def test_request_cancel_returns_the_cancel_command_and_fills_still_count():
    order = new_order()
    order.apply(ack())
    cmd = order.request_cancel(5_000)
    assert cmd == CancelOrder(venue="A", symbol="BTC-USDT", client_order_id=CID, ts=5_000)
    assert state_of(order) is OrderState.CANCEL_PENDING
    assert order.ts_cancel_requested == 5_000
    assert order.apply(fill("T1", 3))
    assert state_of(order) is OrderState.CANCEL_PENDING
    assert order.apply(canceled("REQUESTED"))
    assert state_of(order) is OrderState.CANCELED
    assert order.filled_qty == 3


def test_rejected_order_keeps_reason_and_is_terminal():
    order = new_order()
    assert order.apply(rejected("OFF_LOT"))
    assert state_of(order) is OrderState.REJECTED
    assert order.reject_reason == "OFF_LOT"
    assert order.is_terminal
    assert order.ts_terminal == 2_000


def test_terminal_states():
    assert {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED} == TERMINAL_STATES


# -- races: handled and counted ----------------------------------------------------------------


def test_fill_before_ack_is_applied_and_the_late_ack_recorded():
    order = new_order()
    assert order.apply(fill("T1", 4, ts=1_500))
    assert state_of(order) is OrderState.PARTIALLY_FILLED
    assert order.races == {Race.FILL_BEFORE_ACK: 1}
    assert order.apply(ack(ts=2_500))
    assert state_of(order) is OrderState.PARTIALLY_FILLED
    assert order.ts_acked == 2_500
    assert order.races == {Race.FILL_BEFORE_ACK: 1, Race.LATE_ACK: 1}


def test_whole_fill_before_ack_then_ack():
    order = new_order()
    assert order.apply(fill("T1", QTY))
    assert state_of(order) is OrderState.FILLED
    assert order.apply(ack())
    assert state_of(order) is OrderState.FILLED
    assert order.venue_order_id == "V1"
    assert order.races == {Race.FILL_BEFORE_ACK: 1, Race.LATE_ACK: 1}


def test_cancel_before_ack_then_ack():
    order = new_order()
    assert order.apply(canceled())
    assert state_of(order) is OrderState.CANCELED
    assert order.apply(ack())
    assert state_of(order) is OrderState.CANCELED
    assert order.races == {Race.CANCELED_BEFORE_ACK: 1, Race.LATE_ACK: 1}


def test_late_fill_after_cancel_is_real_money():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", 3))
    order.apply(canceled())
    assert order.apply(fill("T2", 2, ts=9_000))
    assert state_of(order) is OrderState.CANCELED
    assert order.filled_qty == 5
    assert order.races == {Race.LATE_FILL: 1}
    assert order.ts_terminal == 4_000  # the first terminal event


def test_late_fill_completing_a_canceled_order_makes_it_filled():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", 3))
    order.apply(canceled())
    assert order.apply(fill("T2", 7))
    assert state_of(order) is OrderState.FILLED
    assert order.races == {Race.LATE_FILL: 1}


def test_duplicate_trade_id_is_counted_once():
    order = new_order()
    order.apply(ack())
    assert order.apply(fill("T1", 4, fee=5))
    notional = order.notional
    assert not order.apply(fill("T1", 4, fee=5))
    assert order.filled_qty == 4
    assert order.notional == notional
    assert order.fees == {"USDT": 5}
    assert state_of(order) is OrderState.PARTIALLY_FILLED
    assert order.races == {Race.DUPLICATE_FILL: 1}


def test_duplicate_fill_is_ignored_even_in_a_terminal_state():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", QTY))
    assert not order.apply(fill("T1", QTY))  # would be an over-fill if counted twice
    assert order.filled_qty == QTY
    assert order.races == {Race.DUPLICATE_FILL: 1}


def test_cancel_ack_for_an_already_filled_order_is_ignored():
    order = new_order()
    order.apply(ack())
    order.request_cancel(5_000)
    order.apply(fill("T1", QTY))
    assert state_of(order) is OrderState.FILLED
    assert not order.apply(canceled("REQUESTED"))
    assert state_of(order) is OrderState.FILLED
    assert order.cancel_reason == ""
    assert order.races == {Race.CANCEL_AFTER_FILL: 1}


def test_repeated_answers_to_a_resent_order_are_ignored():
    order = new_order()
    assert order.apply(ack())
    assert not order.apply(ack())
    order2 = new_order()
    assert order2.apply(rejected())
    assert not order2.apply(rejected())
    order3 = new_order()
    order3.apply(canceled())
    assert not order3.apply(canceled())
    assert order.races == {Race.DUPLICATE_ACK: 1}
    assert order2.races == {Race.DUPLICATE_REJECT: 1}
    assert order3.races == {Race.CANCELED_BEFORE_ACK: 1, Race.DUPLICATE_CANCEL: 1}


def test_duplicate_ack_after_fills_is_not_a_late_ack():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", 4))
    assert not order.apply(ack())
    assert order.races == {Race.DUPLICATE_ACK: 1}


def test_ack_with_another_venue_order_id_raises():
    order = new_order()
    order.apply(ack("V1"))
    with pytest.raises(InvariantViolation, match="acked as V1, then as V2"):
        order.apply(ack("V2"))


def test_ack_after_reject_raises():
    order = new_order()
    order.apply(rejected())
    with pytest.raises(InvariantViolation):
        order.apply(ack())


# -- impossible fills ------------------------------------------------------------------------


def test_over_fill_beyond_qty_raises_and_changes_nothing():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", 8))
    with pytest.raises(InvariantViolation, match="over-fill"):
        order.apply(fill("T2", 3))
    assert order.filled_qty == 8
    assert order.trade_ids == {"T1"}
    assert state_of(order) is OrderState.PARTIALLY_FILLED


def test_over_fill_by_a_late_fill_raises():
    order = new_order()
    order.apply(fill("T1", 8))
    order.apply(canceled())
    with pytest.raises(InvariantViolation, match="over-fill"):
        order.apply(fill("T2", 3))


def test_fill_of_the_other_side_raises():
    order = new_order(Side.BUY)
    with pytest.raises(InvariantViolation, match="SELL fill"):
        order.apply(fill("T1", 1, side=Side.SELL))


@pytest.mark.parametrize("qty", [0, -1])
def test_non_positive_fill_raises(qty):
    with pytest.raises(InvariantViolation, match="fill of qty"):
        new_order().apply(fill("T1", qty))


def test_event_of_another_order_raises():
    order = new_order()
    other = OrderAccepted(
        venue="A", client_order_id="o1L1A0", venue_order_id="V", ts_event=1, ts_recv=1
    )
    with pytest.raises(InvariantViolation, match="received an event for o1L1A0"):
        order.apply(other)


def test_from_place_checks_instrument_and_qty():
    cmd = PlaceOrder(
        venue="B",
        symbol="BTC-USDT",
        client_order_id=CID,
        side=Side.BUY,
        order_type=OrderType.IOC,
        px=1,
        qty=1,
        ts=0,
    )
    with pytest.raises(InvariantViolation, match="sent with instrument"):
        Order.from_place(cmd, INST)
    with pytest.raises(InvariantViolation, match="not positive"):
        Order.from_place(msgspec.structs.replace(cmd, venue="A", qty=0), INST)


def test_order_round_trips_through_json_for_the_journal():
    order = new_order()
    order.apply(ack())
    order.apply(fill("T1", 4))
    decoded = msgspec.json.decode(msgspec.json.encode(order), type=Order)
    assert decoded == order
