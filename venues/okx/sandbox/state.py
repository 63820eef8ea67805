"""The sandbox's trading state: accounts, OKX order records, fills, over ``SimVenue`` matching.

Each account has its own ``SimVenue`` (its balances, reservations and matching, zero latency);
every venue sees the same market events. This module turns OKX requests into ``PlaceOrder`` /
``CancelOrder`` commands, checks first what OKX checks itself (clOrdId, sizes, tick, pending
duplicates), and turns the venue's events back into OKX order records, fills and ``orders``
channel pushes. Amounts are the venue's integers until they are formatted as OKX strings.

Rejections of the simulated venue map to OKX ``sCode``s (``SIM_CODES``). Gaps, stated: fees are
always charged in the quote currency (OKX charges a spot buy in the base currency); our resting
orders do not show in the public book; a market buy in ``quote_ccy`` is converted to a base
size at the book's prices when it arrives.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from collections.abc import Iterable
from decimal import ROUND_CEILING
from decimal import ROUND_DOWN
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from arb.core.events import MarketEvent
from arb.core.events import Trade
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
from arb.core.types import Side
from venues.okx.sandbox.accounts import Faults
from venues.okx.sandbox.accounts import SandboxAccount
from venues.okx.sandbox.market import VENUE
from venues.okx.sandbox.market import trim
from venues.sim.config import SimVenueConfig
from venues.sim.venue import SimVenue

__all__ = ["FEE_MAKER", "FEE_TAKER", "SIM_CODES", "Exchange", "Reject"]

FEE_TAKER = "-0.001"
FEE_MAKER = "-0.0008"
"""OKX Lv1 spot rates, with OKX's sign (negative = charged): 10 and 8 bps."""
ORD_TYPES = {
    "limit": OrderType.LIMIT,
    "ioc": OrderType.IOC,
    "fok": OrderType.FOK,
    "market": OrderType.MARKET,
    "post_only": OrderType.LIMIT,
}
SIM_CODES: dict[str, tuple[str, str]] = {
    "UNKNOWN_SYMBOL": ("51001", "Instrument ID does not exist."),
    "UNSUPPORTED_INSTRUMENT": ("51001", "Instrument ID does not exist."),
    "OFF_TICK": ("51000", "Parameter px error"),
    "OFF_LOT": ("51121", "Order quantity must be a multiple of the lot size."),
    "BELOW_MIN_SIZE": ("51020", "Your order should meet or exceed the minimum order amount."),
    "BELOW_MIN_NOTIONAL": ("51020", "Your order should meet or exceed the minimum order amount."),
    "INSUFFICIENT_BALANCE": ("51008", "Order failed. Insufficient balance."),
    "RANDOM_REJECT": ("50013", "Systems are busy. Please try again later."),
}
Listener = Callable[[str, list[dict[str, Any]]], None]
"""(channel, data) -> None: a private WebSocket connection's push callback."""


class Reject(Exception):
    """An order request refused with OKX ``sCode`` and ``sMsg``."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def amount_str(raw: int) -> str:
    """An amount at AMOUNT_PRECISION as an OKX decimal string."""
    d = Decimal(raw).scaleb(-AMOUNT_PRECISION)
    return "0" if not d else format(d.normalize(), "f")


class Order:
    """One OKX order as the sandbox records it."""

    def __init__(self, ord_id: str, key: str, inst: Instrument, req: dict[str, Any]) -> None:
        self.ord_id = ord_id
        self.key = key
        self.inst = inst
        self.cl_ord_id = str(req.get("clOrdId", ""))
        self.tag = str(req.get("tag", ""))
        self.side = str(req["side"])
        self.ord_type = str(req["ordType"])
        self.px = str(req.get("px", "")) if self.ord_type != "market" else ""
        self.sz = str(req["sz"])
        self.tgt_ccy = str(req.get("tgtCcy", ""))
        self.state = "live"
        self.acc_fill = 0
        self.notional = 0  # sum of px_raw * qty_raw
        self.fee = 0  # charged, AMOUNT_PRECISION
        self.last: dict[str, str] = {}
        self.c_time = self.u_time = 0
        self.sim_cid = ord_id
        self.sim_n = 0
        self.target = 0  # raw base size at which the order is filled
        self.cancel_source = ""

    @property
    def open(self) -> bool:
        return self.state in ("live", "partially_filled")

    def to_okx(self, fill: dict[str, str] | None = None) -> dict[str, Any]:
        inst = self.inst
        avg = ""
        if self.acc_fill:
            q = Decimal(self.notional).scaleb(-inst.price_precision) / self.acc_fill
            avg = trim(format(q.quantize(Decimal(1).scaleb(-inst.price_precision - 4)), "f"))
        f = fill if fill is not None else self.last
        return {
            "instType": "SPOT",
            "instId": inst.venue_symbol,
            "tgtCcy": self.tgt_ccy,
            "ccy": "",
            "ordId": self.ord_id,
            "clOrdId": self.cl_ord_id,
            "tag": self.tag,
            "px": self.px,
            "pxUsd": "",
            "pxVol": "",
            "pxType": "",
            "sz": self.sz,
            "pnl": "0",
            "ordType": self.ord_type,
            "side": self.side,
            "posSide": "net",
            "tdMode": "cash",
            "accFillSz": trim(inst.qty_str(self.acc_fill)),
            "fillPx": f.get("fillPx", ""),
            "tradeId": f.get("tradeId", ""),
            "fillSz": f.get("fillSz", "0"),
            "fillTime": f.get("fillTime", ""),
            "fillFee": f.get("fillFee", "0"),
            "fillFeeCcy": f.get("fillFeeCcy", ""),
            "execType": f.get("execType", ""),
            "avgPx": avg or "0",
            "state": self.state,
            "lever": "",
            "feeCcy": inst.quote,
            "fee": amount_str(-self.fee),
            "rebateCcy": inst.base,
            "rebate": "0",
            "source": "",
            "category": "normal",
            "reduceOnly": "false",
            "cancelSource": self.cancel_source,
            "cancelSourceReason": "",
            "stpMode": "",
            "stpId": "",
            "attachAlgoOrds": [],
            "algoClOrdId": "",
            "algoId": "",
            "uTime": str(self.u_time),
            "cTime": str(self.c_time),
            "tradeQuoteCcy": inst.quote,
        }


class _Account:
    def __init__(self, account: SandboxAccount, insts: list[Instrument], seed: int) -> None:
        self.account = account
        self.uid = str(400_000_000_000_000 + zlib.crc32(account.api_key.encode()))
        cfg = SimVenueConfig(
            taker_fee_ppm=1000, maker_fee_ppm=800, balances=account.balances, seed=seed
        )
        self.venue = SimVenue(VENUE, insts, cfg)
        self.orders: dict[str, Order] = {}
        self.listeners: list[Listener] = []


class Exchange:
    """Accounts, orders and fills of the sandbox; ``clock`` gives wall time in ns."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        accounts: Iterable[SandboxAccount],
        faults: Faults,
        *,
        seed: int,
        clock: Callable[[], int],
    ) -> None:
        insts = list(instruments)
        self.instruments = {i.venue_symbol: i for i in insts}
        self.accounts = {a.api_key: _Account(a, insts, seed) for a in accounts}
        self.faults = faults
        self.seed = seed
        self._clock = clock
        self._now = 0
        self._by_sim: dict[str, Order] = {}
        self.orders: dict[str, Order] = {}
        self.fills: list[dict[str, Any]] = []
        self.last_px: dict[str, int] = {}
        self._next_ord = 600_000_000_000_000_000 + seed * 1_000_000
        self._next_trade = 100_000_000 + seed * 1_000

    def now_ns(self) -> int:
        """Wall time, never earlier than the last time seen (the venues need monotonic time)."""
        self._now = max(self._now, self._clock())
        return self._now

    # -- market ---------------------------------------------------------------------------

    def on_market(self, events: list[MarketEvent]) -> None:
        """Feed market events to every account's venue and handle what they fill."""
        for ev in events:
            if isinstance(ev, Trade):
                self.last_px[ev.symbol] = ev.px
            for acc in self.accounts.values():
                acc.venue.on_market(ev)
        now = self.now_ns()
        for acc in self.accounts.values():
            self._handle(acc, acc.venue.advance(now))

    # -- orders ---------------------------------------------------------------------------

    def place(self, key: str, req: dict[str, Any]) -> Order:
        """Place one order (an OKX ``trade/order`` item). Raises ``Reject`` with the sCode."""
        acc = self.accounts[key]
        inst, side, otype, qty, px = self._validate(acc, req)
        if self.faults.reject_next > 0:
            self.faults.reject_next -= 1
            raise Reject(*SIM_CODES["RANDOM_REJECT"])
        self._next_ord += 1
        o = Order(str(self._next_ord), key, inst, req)
        now = self.now_ns()
        o.c_time = o.u_time = now // 1_000_000
        book = acc.venue.book(inst.symbol)
        takes = bool(book.plan(side, qty, None if otype is OrderType.MARKET else px))
        if req["ordType"] == "post_only" and takes:
            o.state, o.cancel_source = "canceled", "31"  # would have taken liquidity
            self._register(acc, o)
            self._push(acc, o)
            return o
        fraction = self.faults.partial_fill_fraction
        one_shot = takes and self.faults.partial_fill_next > 0
        if one_shot:
            self.faults.partial_fill_next -= 1
            fraction = fraction if fraction < 1 else 0.5
        self._submit(acc, o, side, otype, qty, px, now, fraction)
        if o.state == "rejected":
            self.faults.partial_fill_next += one_shot  # a refused order was not placed
            raise Reject(*self._reject_code(o))
        return o

    def _submit(
        self,
        acc: _Account,
        o: Order,
        side: Side,
        otype: OrderType,
        qty: int,
        px: int,
        now: int,
        fraction: float,
    ) -> None:
        # The venue reads its partial-fill cap per order; the fault knobs may change any time.
        acc.venue._partial_ppm = round(fraction * 1_000_000)
        self._by_sim[o.sim_cid] = o
        o.target = o.acc_fill + qty
        cmd = PlaceOrder(
            venue=VENUE,
            symbol=o.inst.symbol,
            client_order_id=o.sim_cid,
            side=side,
            order_type=otype,
            px=px,
            qty=qty,
            ts=now,
        )
        acc.venue.submit(cmd, now)
        self._handle(acc, acc.venue.advance(now), placing=o)

    def cancel(self, key: str, req: dict[str, Any]) -> Order:
        """Cancel one order (``trade/cancel-order`` item). Raises ``Reject``."""
        acc = self.accounts[key]
        o = self._find(acc, req, "51603", "Order does not exist")
        if not o.open:
            raise Reject(
                "51400",
                "Order cancellation failed as the order has been filled, "
                "canceled or does not exist.",
            )
        now = self.now_ns()
        acc.venue.submit(
            CancelOrder(venue=VENUE, symbol=o.inst.symbol, client_order_id=o.sim_cid, ts=now), now
        )
        self._handle(acc, acc.venue.advance(now))
        return o

    def amend(self, key: str, req: dict[str, Any]) -> Order:
        """Amend ``newSz``/``newPx`` of a resting order: cancel and re-place the rest on the venue
        under the same ``ordId`` (queue priority is lost, as on OKX for a price change)."""
        acc = self.accounts[key]
        o = self._find(acc, req, "51503", "Order modification failed as the order does not exist.")
        if not o.open:
            raise Reject(
                "51503",
                "Your amend request failed because the order has been filled, "
                "canceled or does not exist.",
            )
        new = {
            "ordType": o.ord_type,
            "side": o.side,
            "instId": o.inst.venue_symbol,
            "tdMode": "cash",
            "px": req.get("newPx") or o.px,
            "sz": req.get("newSz") or o.sz,
        }
        inst, side, otype, qty, px = self._validate(acc, new, check_cid=False)
        now = self.now_ns()
        acc.venue.submit(
            CancelOrder(venue=VENUE, symbol=inst.symbol, client_order_id=o.sim_cid, ts=now), now
        )
        o.cancel_source = "amend"  # the venue's cancel of the old part is not the order's end
        self._handle(acc, acc.venue.advance(now))
        o.cancel_source = ""
        if qty <= o.acc_fill:
            o.state = "filled"
            self._push(acc, o)
            return o
        o.px, o.sz = str(new["px"]), str(new["sz"])
        o.sim_n += 1
        o.sim_cid = f"{o.ord_id}A{o.sim_n}"
        fraction = self.faults.partial_fill_fraction
        self._submit(acc, o, side, otype, qty - o.acc_fill, px, now, fraction)
        if o.state == "rejected":
            o.state = "canceled"
            self._push(acc, o)
        return o

    def _find(self, acc: _Account, req: dict[str, Any], code: str, msg: str) -> Order:
        ord_id, cid = str(req.get("ordId", "")), str(req.get("clOrdId", ""))
        inst_id = str(req.get("instId", ""))
        if not ord_id and not cid:
            raise Reject("51000", "Parameter ordId or clOrdId error")
        o = acc.orders.get(ord_id) if ord_id else self.by_client_id(acc.account.api_key, cid)
        if o is None or o.inst.venue_symbol != inst_id:
            raise Reject(code, msg)
        return o

    def by_client_id(self, key: str, cid: str) -> Order | None:
        """The latest order of account ``key`` with client order id ``cid``."""
        found = [o for o in self.accounts[key].orders.values() if o.cl_ord_id == cid]
        return found[-1] if found else None

    def _validate(
        self, acc: _Account, req: dict[str, Any], *, check_cid: bool = True
    ) -> tuple[Instrument, Side, OrderType, int, int]:
        for name in ("instId", "tdMode", "side", "ordType", "sz"):
            if not req.get(name):
                raise Reject("50014", f"Parameter {name} can not be empty")
        inst = self.instruments.get(str(req["instId"]))
        if inst is None:
            raise Reject("51001", "Instrument ID does not exist.")
        if req["tdMode"] != "cash":
            raise Reject("51000", "Parameter tdMode error")
        if req["side"] not in ("buy", "sell"):
            raise Reject("51000", "Parameter side error")
        otype = ORD_TYPES.get(str(req["ordType"]))
        if otype is None:
            raise Reject("51000", "Parameter ordType error")
        tag = str(req.get("tag", ""))
        if tag and (len(tag) > 16 or not tag.isascii() or not tag.isalnum()):
            raise Reject("51000", "Parameter tag error")
        if check_cid:
            self._check_client_id(acc, str(req.get("clOrdId", "")))
        side = Side.BUY if req["side"] == "buy" else Side.SELL
        px = 0 if otype is OrderType.MARKET else _price(inst, req)
        qty = self._size(acc, inst, req, otype, side)
        if qty <= 0 or qty % inst.lot_raw:
            raise Reject(*SIM_CODES["OFF_LOT"])
        if qty < _ceil_raw(inst.min_size, inst.size_precision):
            raise Reject(*SIM_CODES["BELOW_MIN_SIZE"])
        return inst, side, otype, qty, px

    def _check_client_id(self, acc: _Account, cid: str) -> None:
        if not cid:
            return
        if len(cid) > 32 or not cid.isascii() or not cid.isalnum():
            raise Reject("51000", "Parameter clOrdId error")
        if any(o.cl_ord_id == cid and o.open for o in acc.orders.values()):
            raise Reject("51016", "Duplicated clOrdId")

    def _size(
        self, acc: _Account, inst: Instrument, req: dict[str, Any], otype: OrderType, side: Side
    ) -> int:
        sz = str(req["sz"])
        tgt = req.get("tgtCcy") or ("quote_ccy" if side is Side.BUY else "base_ccy")
        if otype is not OrderType.MARKET or tgt == "base_ccy":
            try:
                Decimal(sz)
            except InvalidOperation as e:
                raise Reject("51000", "Parameter sz error") from e
            return _raw(sz, inst.size_precision, *SIM_CODES["OFF_LOT"])
        # A quote amount: the base size its walk of the book buys (or sells) now.
        try:
            left = Decimal(sz)
        except InvalidOperation as e:
            raise Reject("51000", "Parameter sz error") from e
        book = acc.venue.book(inst.symbol)
        qty = 0
        for px_raw, q_raw in book.plan(side, 10**30, None):
            px = Decimal(px_raw).scaleb(-inst.price_precision)
            cost = px * Decimal(q_raw).scaleb(-inst.size_precision)
            if cost >= left:
                part = (left / px).scaleb(inst.size_precision).to_integral_value(ROUND_DOWN)
                qty += int(part) - int(part) % inst.lot_raw
                break
            qty, left = qty + q_raw, left - cost
        return qty

    def _reject_code(self, o: Order) -> tuple[str, str]:
        code, msg = SIM_CODES.get(o.cancel_source, ("51000", o.cancel_source))
        if code == "51008":
            ccy = o.inst.quote if o.side == "buy" else o.inst.base
            msg = f"Order failed. Insufficient {ccy} balance in account."
        return code, msg

    # -- venue events -> records ----------------------------------------------------------

    def _handle(
        self, acc: _Account, events: list[OrderEvent], placing: Order | None = None
    ) -> None:
        for ev in events:
            o = self._by_sim.get(ev.client_order_id)
            if o is None:
                continue
            if isinstance(ev, OrderRejected):
                o.state, o.cancel_source = "rejected", ev.reason
                continue
            if isinstance(ev, OrderAccepted):
                if o is placing and o.ord_id not in acc.orders:
                    self._register(acc, o)
                    self._push(acc, o)
                elif o is placing:
                    self._push(acc, o)  # an amended order, live again
            elif isinstance(ev, OrderFilled):
                self._fill(acc, o, ev)
            elif isinstance(ev, OrderCanceled) and o.open and o.cancel_source != "amend":
                o.state = "canceled"
                o.cancel_source = "0" if ev.reason == "REQUESTED" else "14"  # user / IOC-FOK
                o.u_time = ev.ts_event // 1_000_000
                self._push(acc, o)

    def _register(self, acc: _Account, o: Order) -> None:
        acc.orders[o.ord_id] = o
        self.orders[o.ord_id] = o

    def _fill(self, acc: _Account, o: Order, ev: OrderFilled) -> None:
        inst = o.inst
        o.acc_fill += ev.qty
        o.notional += ev.px * ev.qty
        o.fee += ev.fee
        o.state = "filled" if o.acc_fill >= o.target else "partially_filled"
        o.u_time = ev.ts_event // 1_000_000
        self._next_trade += 1
        fill = {
            "fillPx": trim(inst.px_str(ev.px)),
            "fillSz": trim(inst.qty_str(ev.qty)),
            "tradeId": str(self._next_trade),
            "fillTime": str(o.u_time),
            "fillFee": amount_str(-ev.fee),
            "fillFeeCcy": ev.fee_ccy,
            "execType": "T" if ev.liquidity == "taker" else "M",
        }
        o.last = fill
        self.fills.append(
            {
                "instType": "SPOT",
                "instId": inst.venue_symbol,
                "tradeId": fill["tradeId"],
                "ordId": o.ord_id,
                "clOrdId": o.cl_ord_id,
                "billId": fill["tradeId"],
                "subType": "1",
                "tag": o.tag,
                "fillPx": fill["fillPx"],
                "fillSz": fill["fillSz"],
                "fillIdxPx": "",
                "fillPnl": "0",
                "fillPxVol": "",
                "fillPxUsd": "",
                "fillMarkVol": "",
                "fillFwdPx": "",
                "fillMarkPx": "",
                "side": o.side,
                "posSide": "net",
                "execType": fill["execType"],
                "feeCcy": ev.fee_ccy,
                "fee": fill["fillFee"],
                "ts": fill["fillTime"],
                "fillTime": fill["fillTime"],
                "feeRate": FEE_TAKER if ev.liquidity == "taker" else FEE_MAKER,
                "tradeQuoteCcy": inst.quote,
                "_key": o.key,
            }
        )
        self._push(acc, o, fill)

    def _push(self, acc: _Account, o: Order, fill: dict[str, str] | None = None) -> None:
        if not acc.listeners:
            return
        data = [o.to_okx(fill if fill is not None else {})]
        for listener in list(acc.listeners):
            listener("orders", data)

    # -- balances -------------------------------------------------------------------------

    def balance_details(self, key: str) -> list[dict[str, str]]:
        """``account/balance`` ``details``: non-zero currencies of the account."""
        venue = self.accounts[key].venue
        avail = venue.balances()
        out: list[dict[str, str]] = []
        for ccy, total in sorted(venue.totals().items()):
            if not total:
                continue
            free = avail.get(ccy, total)
            out.append(
                {
                    "ccy": ccy,
                    "eq": amount_str(total),
                    "cashBal": amount_str(total),
                    "availBal": amount_str(free),
                    "frozenBal": amount_str(total - free),
                    "ordFrozen": amount_str(total - free),
                    "availEq": "",
                    "liab": "",
                    "upl": "",
                    "uTime": str(self.now_ns() // 1_000_000),
                    "disEq": "",
                    "isoEq": "",
                    "interest": "",
                    "maxLoan": "",
                    "eqUsd": "",
                    "spotBal": amount_str(total),
                }
            )
        return out


def _price(inst: Instrument, req: dict[str, Any]) -> int:
    if not req.get("px"):
        raise Reject("50014", "Parameter px can not be empty")
    px = _raw(str(req["px"]), inst.price_precision, "51000", "Parameter px error")
    if px <= 0 or px % inst.tick_raw:
        raise Reject("51000", "Parameter px error")
    return px


def _raw(s: str, precision: int, code: str, msg: str) -> int:
    try:
        d = Decimal(s).scaleb(precision)
    except InvalidOperation as e:
        raise Reject(code, msg) from e
    if not d.is_finite() or d != d.to_integral_value():
        raise Reject(code, msg)
    return int(d)


def _ceil_raw(s: str, precision: int) -> int:
    return int(Decimal(s).scaleb(precision).to_integral_value(rounding=ROUND_CEILING))
