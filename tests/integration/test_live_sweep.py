"""Lost pushes: an OKX order whose fills and end never came over the private WebSocket (it was
down) is settled by the venue's sweep, which asks OKX by client order id; what the engine was
already told is not told twice, and an order that ended leaves the sweep's list."""

from __future__ import annotations

import time

import pytest

from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderFilled
from arb.core.messages import OrderType
from arb.core.orders import Order
from arb.core.orders import OrderState
from tests.integration._okx_helpers import run
from tests.integration.test_recovery_venues import CREDS
from tests.integration.test_recovery_venues import _cmd
from tests.integration.test_recovery_venues import _okx_inst
from venues.okx.rest import OkxRestClient
from venues.okx.sandbox import start_sandbox
from venues.okx.venue import OkxVenue

pytestmark = pytest.mark.integration


def test_sweep_settles_orders_whose_pushes_were_lost_and_tells_nothing_twice():
    async def go() -> None:
        sb = await start_sandbox()
        try:
            async with OkxRestClient(CREDS, base_url=sb.base_url) as rest:
                inst = await _okx_inst(rest)
                venue = OkxVenue(rest, [inst], clock_ns=time.time_ns)  # no private WebSocket
                ask = inst.px_to_raw((await rest.books("BTC-USDT", 5)).asks[0][0])
                qty = inst.qty_to_raw("0.002")
                sb.faults.partial_fill_fraction = 0.5
                cmd = _cmd("okx", inst, "sweep1", OrderType.IOC, ask + 50 * inst.tick_raw, qty)
                t0 = time.time_ns()
                venue.submit(cmd, t0)
                await venue.wait_idle()
                told = venue.advance(time.time_ns())
                assert [type(e) for e in told] == [OrderAccepted]  # the REST answer only
                assert venue.unsettled(time.time_ns()) == [cmd]
                assert await venue.sweep(t0 - 1) == 0  # sent after the cut-off: not asked
                assert await venue.sweep(time.time_ns()) == 1
                more = venue.advance(time.time_ns())
                assert not any(isinstance(e, OrderAccepted) for e in more)  # not told twice
                fills = [e for e in more if isinstance(e, OrderFilled)]
                (record,) = [o for o in sb.orders() if o["clOrdId"] == "sweep1"]
                assert sum(f.qty for f in fills) == inst.qty_to_raw(record["accFillSz"]) > 0
                assert isinstance(more[-1], OrderCanceled)
                order = Order.from_place(cmd, inst)
                for e in [*told, *more]:
                    order.apply(e)
                assert order.state is OrderState.CANCELED
                assert order.races == {}
                assert venue.unsettled(time.time_ns()) == []  # ended: off the list
                assert await venue.sweep(time.time_ns()) == 0
                assert venue.swept == 1
        finally:
            await sb.close()

    run(go())
