"""Rollback planner on a spot leg + an inverse (COIN-M) perp leg broken by a partial fill.

The basis trade: buy 0.5 BTC spot on ``binance`` at 60000.00 USDT, sell 300 ``BTC-USD-PERP``
contracts (100 USD each) on ``binance-coinm`` at 60000.0: 300 * 100 / 60000 = 0.5 BTC short, so
the legs are equal in base exposure. Home is USDT; the perp's USD is taken at par (``par``).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from arb.core.instruments import Instrument
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderFilled
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.opportunity import Leg
from arb.core.orders import Order
from arb.core.types import Side
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import Decision
from arb.core.unwind import LegFills
from arb.core.unwind import UnwindConfig
from arb.core.unwind import plan
from arb.core.unwind import residual_exposure
from arb.core.unwind import top_of_book_pricer
from arb.core.unwind import unit_value
from tests.unit.markets import BINANCE_SPOT as SPOT
from tests.unit.markets import COINM
from tests.unit.markets import UNIT
from tests.unit.markets import amt
from tests.unit.markets import okx_swap

pytestmark = pytest.mark.unit

OPP = "B1"
MS = 1_000_000
START = 1_000 * MS
CFG = UnwindConfig(max_hedge_slippage_bps=10, max_unwind_slippage_bps=20)


OKX_SWAP = okx_swap(settle="", contract_value_ccy="")
SPOT_QTY = 50_000  # 0.5 BTC at lot 1e-5
PERP_QTY = 300  # contracts
LEG_SPOT = Leg(
    venue="binance",
    symbol="BTC-USDT",
    side=Side.BUY,
    px=6_000_000,  # 60000.00
    qty=SPOT_QTY,
    expected_notional=amt("30000"),
    fee=0,
)
LEG_PERP = Leg(
    venue="binance-coinm",
    symbol="BTC-USD-PERP",
    side=Side.SELL,
    px=600_000,  # 60000.0
    qty=PERP_QTY,
    expected_notional=amt("30000"),
    fee=0,
)
MARKS = {"BTC": unit_value(SPOT, 6_000_000)}  # 60000 USDT per BTC
PAR = ("USD",)
# Tops: spot 59990.00 / 60010.00, perp 59995.0 / 60005.0.
PRICER = top_of_book_pricer(
    {
        ("binance", "BTC-USDT"): (5_999_000, 6_001_000),
        ("binance-coinm", "BTC-USD-PERP"): (599_950, 600_050),
    }
)
_trade = 0


def filled(cmd: PlaceOrder, inst: Instrument, qty: int, px: int) -> Order:
    """The order of ``cmd``, acked, filled ``qty`` at ``px``, the rest cancelled (IOC)."""
    global _trade
    o = Order.from_place(cmd, inst)
    cid, v = cmd.client_order_id, cmd.venue
    o.apply(OrderAccepted(venue=v, client_order_id=cid, venue_order_id="V", ts_event=1, ts_recv=1))
    if qty:
        _trade += 1
        o.apply(
            OrderFilled(
                venue=v,
                client_order_id=cid,
                trade_id=f"T{_trade}",
                side=cmd.side,
                px=px,
                qty=qty,
                fee=0,
                fee_ccy=inst.quote,
                liquidity="taker",
                ts_event=2,
                ts_recv=2,
            )
        )
    if qty < cmd.qty:
        o.apply(OrderCanceled(venue=v, client_order_id=cid, reason="IOC", ts_event=3, ts_recv=3))
    return o


def leg_fills(leg: Leg, inst: Instrument, no: int, qty: int) -> LegFills:
    cmd = PlaceOrder(
        venue=leg.venue,
        symbol=leg.symbol,
        client_order_id=client_order_id(OPP, no, 0),
        side=leg.side,
        order_type=OrderType.IOC,
        px=leg.px,
        qty=leg.qty,
        ts=START,
        opportunity_id=OPP,
    )
    return LegFills(leg=leg, inst=inst, orders=(filled(cmd, inst, qty, leg.px),))


def legs(spot_qty: int, perp_qty: int) -> list[LegFills]:
    return [
        leg_fills(LEG_SPOT, SPOT, 0, spot_qty),
        leg_fills(LEG_PERP, COINM, 1, perp_qty),
    ]


def run(ls, pricer=PRICER, par=PAR):
    return plan(
        OPP, "USDT", ls, pricer, MARKS, CFG, now_ns=START + 100 * MS, start_ns=START, par=par
    )


# -- residual -------------------------------------------------------------------------------


def test_a_complete_spot_inverse_basis_trade_is_flat():
    # Spot: +0.5 BTC, -30000 USDT; perp: -300*100/60000 = -0.5 BTC, +30000 USD (at par).
    assert residual_exposure(legs(SPOT_QTY, PERP_QTY), MARKS, "USDT", par=PAR) == {"BTC": 0}
    p = run(legs(SPOT_QTY, PERP_QTY))
    assert (p.decision, p.reason) == (Decision.DONE, DONE_BALANCED)


def test_residual_of_a_partial_perp_fill_counts_the_inverse_base():
    # Perp filled 120 of 300: short 120*100/60000 = 0.2 BTC, so 0.5 - 0.2 = 0.3 BTC long,
    # worth 0.3 * 60000 = 18000 USDT. Without par the perp's 12000 USD is listed too.
    ls = legs(SPOT_QTY, 120)
    assert residual_exposure(ls, MARKS, "USDT", par=PAR) == {"BTC": amt("18000")}
    assert residual_exposure(ls, {**MARKS, "USD": UNIT}, "USDT") == {
        "BTC": amt("18000"),
        "USD": amt("12000"),
    }


def test_partial_perp_fill_hedges_the_missing_contracts():
    # Hedge: sell 180 more contracts at 59995.0: gives up 180*100/59995 = 0.300025002083... BTC
    #   (worth 18001.500125010417... USDT at the mark), receives 18000 USD:
    #   value 18000 - 18000*60000/59995 = -1.500125010417534... USDT.
    # Unwind: sell 0.3 BTC spot at 59990.00: 17997 - 18000 = -3 USDT. The hedge is cheaper and
    # within 10 bps of the leg's 60000.0 (bound 59940.0).
    p = run(legs(SPOT_QTY, 120))
    assert p.decision is Decision.HEDGE
    assert p.deltas == (0, 180)
    assert p.unwind_value == -amt("3")
    exact = Fraction(18_000) - Fraction(18_000 * 60_000, 59_995)
    assert p.hedge_value is not None
    assert abs(Fraction(p.hedge_value, UNIT) - exact) < Fraction(1, 10**12)
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty, cmd.px) == ("binance-coinm", Side.SELL, 180, 599_400)
    # Once it fills at 59995.0 the legs are balanced; the base left over is
    # 0.3 - 0.300025002083... = -0.000025002083... BTC = -1.500125... USDT (away from zero),
    # 2.5002 spot lots: flattened by buying the nearest, 3 lots (0.00003 BTC), on the spot leg's
    # instrument, at the ask 60010.00 moved 20 bps (60130.02), as flatten leg 2n + 0 = 4.
    ls = legs(SPOT_QTY, 120)
    ls[1] = LegFills(
        leg=LEG_PERP, inst=COINM, orders=ls[1].orders, rollbacks=(filled(cmd, COINM, 180, 599_950),)
    )
    after = run(ls)
    assert after.residual == {"BTC": -amt("1.50012501041754")}
    assert (after.decision, after.reason, after.direction) == (
        Decision.UNWIND,
        "UNWIND: flatten",
        "flatten",
    )
    assert after.deltas == (3, 0)
    (flat,) = after.commands
    assert isinstance(flat, PlaceOrder)
    assert (flat.venue, flat.symbol, flat.side, flat.qty, flat.px) == (
        "binance",
        "BTC-USDT",
        Side.BUY,
        3,
        6_013_002,
    )
    assert flat.client_order_id == client_order_id(OPP, 4, 0)
    # Filled at 60010.00: +0.0000049979... BTC left, below half a lot: done.
    ls[0] = LegFills(
        leg=LEG_SPOT, inst=SPOT, orders=ls[0].orders, rollbacks=(filled(flat, SPOT, 3, 6_001_000),)
    )
    done = run(ls)
    assert (done.decision, done.reason) == (Decision.DONE, DONE_BALANCED)
    assert 0 < done.residual["BTC"] < amt("0.3")


def test_partial_perp_fill_unwinds_spot_when_the_hedge_is_beyond_slippage():
    # Perp bid 59900.0 is below the hedge bound 59940.0: sell the 0.3 BTC excess spot instead,
    # at the spot bid 59990.00 moved 20 bps: 59990 * 0.998 = 59870.02.
    pricer = top_of_book_pricer(
        {
            ("binance", "BTC-USDT"): (5_999_000, 6_001_000),
            ("binance-coinm", "BTC-USD-PERP"): (599_000, 600_050),
        }
    )
    p = run(legs(SPOT_QTY, 120), pricer)
    assert p.decision is Decision.UNWIND
    assert p.reason == "UNWIND: hedge_beyond_slippage"
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    assert (cmd.venue, cmd.side, cmd.qty, cmd.px) == ("binance", Side.SELL, 30_000, 5_987_002)


def test_partial_spot_fill_buys_back_the_excess_contracts_when_cheaper():
    # Spot filled 0.2 BTC; the perp is short 0.5 BTC: 0.3 BTC short.
    # Hedge: buy 0.3 BTC spot at 60010.00: 18000 - 18003 = -3 USDT.
    # Unwind: buy back 180 contracts at 60005.0: receives 18000/60005 BTC
    #   (= 17998.500124989584... USDT at the mark) for 18000 USD: -1.499875010415798... USDT.
    p = run(legs(20_000, PERP_QTY))
    assert p.decision is Decision.UNWIND
    assert p.reason == "UNWIND: cheaper"
    assert p.deltas == (0, -180)
    assert p.hedge_value == -amt("3")
    exact = Fraction(18_000 * 60_000, 60_005) - 18_000
    assert p.unwind_value is not None
    assert abs(Fraction(p.unwind_value, UNIT) - exact) < Fraction(1, 10**12)
    (cmd,) = p.commands
    assert isinstance(cmd, PlaceOrder)
    # Limit: 60005.0 moved 20 bps up: 60005 * 1.002 = 60125.01 -> 60125.0 on the 0.1 tick.
    assert (cmd.venue, cmd.side, cmd.qty, cmd.px) == ("binance-coinm", Side.BUY, 180, 601_250)
    assert residual_exposure(legs(20_000, PERP_QTY), MARKS, "USDT", par=PAR) == {
        "BTC": -amt("18000")
    }


def test_unit_value_is_the_price_whatever_the_contract_value():
    # One BTC at 60000.0 is 60000 USDT, though one OKX contract is 0.01 BTC.
    assert unit_value(OKX_SWAP, 600_000) == amt("60000")
    assert unit_value(COINM, 600_000) == amt("60000")
