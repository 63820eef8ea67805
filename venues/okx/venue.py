"""OKX as an ``arb.ports.ExecutionVenue``: arb's commands out over REST, OKX's answers back as
arb's order events (the same interface the simulated venue implements).

- ``submit(PlaceOrder)``: ``POST trade/order`` with ``clOrdId`` = arb's client order id and
  ``ordType`` from arb's order type (IOC -> ``ioc``, FOK -> ``fok``, LIMIT -> ``limit``,
  MARKET -> ``market`` with ``tgtCcy = base_ccy`` so that ``sz`` is always base quantity); the
  answer becomes ``OrderAccepted`` or ``OrderRejected`` (reason: the venue-neutral code of
  ``venues.okx.errors.reject_code``). A duplicate ``clOrdId`` or an unknown outcome is resolved
  by querying the order first (``OkxRestClient.place_order``), so a retry is never doubled.
- ``submit(CancelOrder)``: ``POST trade/cancel-order`` by ``clOrdId``; an order already
  finished (51400) sends nothing: its own terminal event says what happened.
- fills and cancels come from the private ``orders`` channel (``on_orders_push``): one
  ``OrderFilled`` per new ``tradeId`` (dedup per instrument, as the docs ask), ``OrderCanceled``
  for ``canceled`` / ``mmp_canceled`` (once per order). OKX's ``fillFee`` is negative when
  charged; arb's ``fee`` is positive when charged.
- ``lookup(PlaceOrder)`` (restart recovery, ``arb.recovery``): ``GET trade/order`` by
  ``clOrdId`` (51603: ``OrderRejected("NOT_PLACED")``), its fills from ``GET trade/fills``
  by ``ordId`` (``trade/fills-history`` when the last 3 days do not hold them all), as the
  push path converts them; ``OrderCanceled`` once every fill of a cancelled order is there.

The conversions (``order_body``, ``events_from_push``, ``fill_from_rest``,
``events_from_lookup``) are pure and tested on their own; the async part only moves them
between the REST client, the WebSocket and ``advance``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping

import msgspec

from arb.core.errors import DataError
from arb.core.instruments import Instrument
from arb.core.messages import CancelOrder
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw
from arb.core.types import Side
from venues.live import LiveVenue
from venues.okx.errors import OkxError
from venues.okx.errors import reject_code
from venues.okx.rest import OkxRestClient
from venues.okx.rest_schemas import OkxBalanceMsg
from venues.okx.rest_schemas import OkxFillMsg
from venues.okx.rest_schemas import OkxOrderMsg
from venues.okx.rest_schemas import OkxTradeFeeMsg

__all__ = [
    "NOT_FOUND_CODE",
    "ORD_TYPES",
    "OkxVenue",
    "PushDedup",
    "events_from_lookup",
    "events_from_push",
    "fee_ppm",
    "fill_from_rest",
    "order_body",
]

VENUE = "okx"
NS_PER_MS = 1_000_000
ORD_TYPES: dict[OrderType, str] = {
    OrderType.IOC: "ioc",
    OrderType.FOK: "fok",
    OrderType.LIMIT: "limit",
    OrderType.MARKET: "market",
}
_TERMINAL_PUSH = frozenset({"canceled", "mmp_canceled"})
ALREADY_DONE = "51400"  # cancel failed: the order is filled, canceled or unknown
NOT_FOUND_CODE = "51603"  # GET trade/order: order does not exist
FILLS_PAGE = 100  # the most trade/fills and trade/fills-history return per request


def order_body(cmd: PlaceOrder, inst: Instrument) -> dict[str, str]:
    """The ``POST trade/order`` body of ``cmd`` (spot, ``tdMode = cash``)."""
    body = {
        "instId": inst.venue_symbol,
        "tdMode": "cash",
        "clOrdId": cmd.client_order_id,
        "side": "buy" if cmd.side is Side.BUY else "sell",
        "ordType": ORD_TYPES[cmd.order_type],
        "sz": inst.qty_str(cmd.qty),
    }
    if cmd.order_type is OrderType.MARKET:
        body["tgtCcy"] = "base_ccy"  # sz in base for market buys too (OKX default: quote)
    else:
        body["px"] = inst.px_str(cmd.px)
    return body


def fee_ppm(fee: OkxTradeFeeMsg, group_id: str = "") -> tuple[int, int]:
    """(taker, maker) fee in ppm of notional, positive = charged, from ``account/trade-fee``,
    whose sign convention is the opposite (negative = commission, positive = rebate). The
    group of the instrument (``groupId``) is used when given; else the first group."""
    groups = [g for g in fee.feeGroup if not group_id or g.groupId == group_id]
    taker, maker = (groups[0].taker, groups[0].maker) if groups else (fee.taker, fee.maker)
    return -to_raw(taker or "0", 6), -to_raw(maker or "0", 6)


class PushDedup:
    """What was already turned into events: trade ids per instrument, terminal orders."""

    def __init__(self) -> None:
        self.trades: set[tuple[str, str]] = set()
        self.ended: set[str] = set()


def _filled(
    inst: Instrument,
    cid: str,
    *,
    trade_id: str,
    side: str,
    px: str,
    sz: str,
    okx_fee: str,
    fee_ccy: str,
    exec_type: str,
    ts_event: int,
    ts_recv: int,
) -> OrderFilled:
    # One OKX fill (push or REST) as arb's: OKX's fee is negative when charged, arb's positive.
    return OrderFilled(
        venue=VENUE,
        client_order_id=cid,
        trade_id=trade_id,
        side=Side.BUY if side == "buy" else Side.SELL,
        px=inst.px_to_raw(px),
        qty=inst.qty_to_raw(sz),
        fee=-to_raw(okx_fee or "0", AMOUNT_PRECISION),
        fee_ccy=fee_ccy or inst.quote,
        liquidity="maker" if exec_type == "M" else "taker",
        ts_event=ts_event,
        ts_recv=ts_recv,
    )


def _canceled(msg: OkxOrderMsg, ts_event: int, ts_recv: int) -> OrderCanceled:
    reason = "IOC_REMAINDER" if msg.ordType in ("ioc", "fok", "market") else "REQUESTED"
    return OrderCanceled(
        venue=VENUE, client_order_id=msg.clOrdId, reason=reason, ts_event=ts_event, ts_recv=ts_recv
    )


def events_from_push(
    msg: OkxOrderMsg, inst: Instrument, ts_recv: int, seen: PushDedup
) -> list[OrderEvent]:
    """arb's events for one ``orders`` channel update (empty for a repeat)."""
    out: list[OrderEvent] = []
    ts_event = int(msg.uTime or msg.cTime or 0) * NS_PER_MS or ts_recv
    if msg.tradeId and (msg.instId, msg.tradeId) not in seen.trades and msg.fillSz not in ("", "0"):
        seen.trades.add((msg.instId, msg.tradeId))
        out.append(
            _filled(
                inst,
                msg.clOrdId,
                trade_id=msg.tradeId,
                side=msg.side,
                px=msg.fillPx,
                sz=msg.fillSz,
                okx_fee=msg.fillFee,
                fee_ccy=msg.fillFeeCcy or msg.feeCcy,
                exec_type=msg.execType,
                ts_event=int(msg.fillTime or 0) * NS_PER_MS or ts_event,
                ts_recv=ts_recv,
            )
        )
    if msg.state in _TERMINAL_PUSH and msg.ordId not in seen.ended:
        seen.ended.add(msg.ordId)
        out.append(_canceled(msg, ts_event, ts_recv))
    return out


def fill_from_rest(f: OkxFillMsg, inst: Instrument, cid: str, ts_recv: int) -> OrderFilled:
    """arb's fill for one row of ``GET trade/fills`` / ``fills-history`` (``fee`` negative =
    charged there, as ``fillFee`` in the push), for the order of client id ``cid``."""
    return _filled(
        inst,
        cid,
        trade_id=f.tradeId,
        side=f.side,
        px=f.fillPx,
        sz=f.fillSz,
        okx_fee=f.fee,
        fee_ccy=f.feeCcy,
        exec_type=f.execType,
        ts_event=int(f.ts or 0) * NS_PER_MS or ts_recv,
        ts_recv=ts_recv,
    )


def events_from_lookup(
    msg: OkxOrderMsg, fills: Iterable[OkxFillMsg], inst: Instrument, ts_recv: int
) -> list[OrderEvent]:
    """arb's events for an order looked up over REST (``GET trade/order``) and its fills.

    ``OrderAccepted``, one ``OrderFilled`` per trade id of the order (in time order), then
    ``OrderCanceled`` if the order is ``canceled`` / ``mmp_canceled`` and the fills given add
    up to its ``accFillSz`` (with fills missing, the order is left open: ask again). A
    ``filled`` order ends with its last fill, as in arb's order state machine.
    """
    ts_acked = int(msg.cTime or 0) * NS_PER_MS or ts_recv
    out: list[OrderEvent] = [
        OrderAccepted(
            venue=VENUE,
            client_order_id=msg.clOrdId,
            venue_order_id=msg.ordId,
            ts_event=ts_acked,
            ts_recv=ts_recv,
        )
    ]
    mine = {f.tradeId: f for f in fills if f.ordId == msg.ordId and f.tradeId}
    got = 0
    for f in sorted(mine.values(), key=lambda f: (int(f.ts or 0), f.tradeId)):
        ev = fill_from_rest(f, inst, msg.clOrdId, ts_recv)
        got += ev.qty
        out.append(ev)
    if msg.state in _TERMINAL_PUSH and got >= inst.qty_to_raw(msg.accFillSz or "0"):
        ts_event = int(msg.uTime or msg.cTime or 0) * NS_PER_MS or ts_recv
        out.append(_canceled(msg, ts_event, ts_recv))
    return out


class _PrivateArg(msgspec.Struct, frozen=True, gc=False):
    channel: str = ""


class _OrdersPush(msgspec.Struct, gc=False):
    arg: _PrivateArg = _PrivateArg()
    data: list[OkxOrderMsg] = []


class _AccountPush(msgspec.Struct, gc=False):
    arg: _PrivateArg = _PrivateArg()
    data: list[OkxBalanceMsg] = []


class _Envelope(msgspec.Struct, gc=False):
    arg: _PrivateArg = _PrivateArg()
    event: str = ""


_envelope = msgspec.json.Decoder(_Envelope)
_orders = msgspec.json.Decoder(_OrdersPush)
_account = msgspec.json.Decoder(_AccountPush)


class OkxVenue(LiveVenue):
    """The live OKX execution venue. Events are queued as they arrive and handed out by
    ``advance`` (``due`` is ``None``: OKX, not a timer, decides when they come)."""

    venue = VENUE

    def __init__(
        self,
        rest: OkxRestClient,
        instruments: Iterable[Instrument],
        *,
        clock_ns: Callable[[], int],
    ) -> None:
        super().__init__()
        self.rest = rest
        self._clock = clock_ns
        self._by_symbol = {i.symbol: i for i in instruments if i.venue == VENUE}
        self._by_inst_id = {i.venue_symbol: i for i in self._by_symbol.values()}
        self._seen = PushDedup()

    # -- OKX -> events ------------------------------------------------------------------------

    def on_orders_push(self, msg: OkxOrderMsg) -> None:
        """One update of the private ``orders`` channel."""
        inst = self._by_inst_id.get(msg.instId)
        if inst is None:
            return
        self._events.extend(events_from_push(msg, inst, self._clock(), self._seen))

    def on_private_frame(self, ts_recv: int, payload: bytes) -> None:
        """A frame of the private WebSocket (``OkxWsClient(on_frame=...)``): ``orders`` pushes
        become events, ``account`` pushes update the balances; events, pongs and other
        channels are ignored. A frame that does not decode is counted, never raised."""
        if payload == b"pong":
            return
        try:
            channel = _envelope.decode(payload).arg.channel
            if channel == "orders":
                for msg in _orders.decode(payload).data:
                    self.on_orders_push(msg)
            elif channel == "account":
                for bal in _account.decode(payload).data:
                    for d in bal.details:
                        self._balances[d.ccy] = to_raw(d.availBal or "0", AMOUNT_PRECISION)
        except (msgspec.DecodeError, DataError, ValueError) as e:
            key = f"decode:{type(e).__name__}"
            self._count_error(key)

    async def refresh_balances(self) -> dict[str, int]:
        """Available balance per currency (REST ``account/balance``), at AMOUNT_PRECISION."""
        bal = await self.rest.balance()
        self._balances = {d.ccy: to_raw(d.availBal or "0", AMOUNT_PRECISION) for d in bal.details}
        return dict(self._balances)

    async def _place(self, cmd: PlaceOrder) -> None:
        inst = self._by_symbol.get(cmd.symbol)
        if inst is None:
            self._reject(cmd.client_order_id, "UNKNOWN_SYMBOL")
            return
        try:
            ack = await self.rest.place_order(order_body(cmd, inst))
        except OkxError as e:
            self._count_error(e.code)
            self._reject(cmd.client_order_id, reject_code(e.code))
            return
        now = self._clock()
        self._events.append(
            OrderAccepted(
                venue=VENUE,
                client_order_id=cmd.client_order_id,
                venue_order_id=ack.ordId,
                ts_event=int(ack.ts) * NS_PER_MS if ack.ts else now,
                ts_recv=now,
            )
        )

    async def _cancel(self, cmd: CancelOrder) -> None:
        inst = self._by_symbol.get(cmd.symbol)
        if inst is None:
            return
        try:
            await self.rest.cancel_order(inst.venue_symbol, cl_ord_id=cmd.client_order_id)
        except OkxError as e:
            if e.code != ALREADY_DONE:
                self._count_error(e.code)
            else:  # finished: make sure the engine was told how (a push may have been lost)
                await self.sweep_order(cmd.client_order_id)

    async def lookup(self, cmd: PlaceOrder) -> list[OrderEvent]:
        """What OKX knows of the order of ``cmd`` (sent by this or an earlier process), by its
        ``clOrdId``: see ``events_from_lookup``; ``[OrderRejected("NOT_PLACED")]`` when OKX
        has no such order (51603; OKX also forgets a cancelled order without fills after 2
        hours). Its fills and end are remembered, so the push does not repeat them. Raises
        ``OkxError`` (or a transport error) when OKX cannot answer now, ``KeyError`` for a
        symbol this venue does not trade."""
        inst = self._by_symbol[cmd.symbol]
        cid = cmd.client_order_id
        try:
            msg = await self.rest.get_order(inst.venue_symbol, cl_ord_id=cid)
        except OkxError as e:
            if e.code != NOT_FOUND_CODE:
                raise
            return [self._rejected(cid, "NOT_PLACED")]
        acc = inst.qty_to_raw(msg.accFillSz or "0")
        fills = await self._order_fills(inst, msg.ordId, acc) if acc else []
        msg = msgspec.structs.replace(msg, clOrdId=msg.clOrdId or cid)
        events = events_from_lookup(msg, fills, inst, self._clock())
        for ev in events:
            if isinstance(ev, OrderFilled):
                self._seen.trades.add((inst.venue_symbol, ev.trade_id))
            elif isinstance(ev, OrderCanceled):
                self._seen.ended.add(msg.ordId)
        return events

    async def _order_fills(self, inst: Instrument, ord_id: str, acc: int) -> list[OkxFillMsg]:
        # The order's fills: the last 3 days first, then the last 3 months if that is short of
        # accFillSz; each endpoint paged (``after`` = the oldest billId of the page) while a
        # full page brings new trades.
        found: dict[str, OkxFillMsg] = {}
        for endpoint in (self.rest.fills, self.rest.fills_history):
            after = ""
            while True:
                params = {"instId": inst.venue_symbol, "ordId": ord_id, "limit": str(FILLS_PAGE)}
                page = await endpoint("SPOT", **(params | ({"after": after} if after else {})))
                new = [f for f in page if f.tradeId not in found]
                found.update((f.tradeId, f) for f in new)
                if len(page) < FILLS_PAGE or not new or not page[-1].billId:
                    break
                after = page[-1].billId
            if sum(inst.qty_to_raw(f.fillSz) for f in found.values()) >= acc:
                break
        return list(found.values())

    def _reject(self, cid: str, reason: str) -> None:
        self._events.append(self._rejected(cid, reason))

    def _rejected(self, cid: str, reason: str) -> OrderRejected:
        now = self._clock()
        return OrderRejected(
            venue=VENUE, client_order_id=cid, reason=reason, ts_event=now, ts_recv=now
        )

    def instrument(self, symbol: str) -> Instrument:
        return self._by_symbol[symbol]

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return dict(self._by_symbol)
