"""ccxt values -> exact decimal strings and typed views, at the adapter edge.

ccxt parses the venues' decimal strings into floats. A float that came from a decimal string
of up to 15 significant digits is printed back to that very string by ``repr`` (shortest
round-trip), so ``exact`` recovers the venue's number without rounding; anything that is not a
finite number (``None``, ``bool``, ``nan``, ``inf``, a non-numeric string) is refused with a
``DecodeError`` naming the field. The views (``CcxtOrderView``, ``CcxtTradeView``) are built
from ccxt's order and trade dicts in one call each; nothing downstream reads a ccxt dict.

Sample (ccxt ``okx`` order, trimmed)::

    {"id": "600000000007000001", "clientOrderId": "T1A0", "symbol": "BTC/USDT",
     "status": "closed", "amount": 0.001, "filled": 0.001, "timestamp": 1795476242007,
     "trades": [], "fee": {"cost": 0.0600004, "currency": "USDT"}, "info": {...}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

import msgspec

from arb.core.errors import DecodeError

__all__ = [
    "CcxtOrderView",
    "CcxtTradeView",
    "exact",
    "order_view",
    "trade_view",
]


def exact(value: object, what: str) -> str:
    """Return the plain decimal string of a ccxt number (``1e-08`` -> ``"0.00000001"``).

    Raises ``DecodeError`` naming ``what`` for ``None``, a bool, a non-finite float or a
    string that is not a decimal number.
    """
    if isinstance(value, bool) or value is None:
        raise DecodeError(f"ccxt {what}: received {value!r}, not a number")
    try:
        if isinstance(value, int):
            d = Decimal(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise DecodeError(f"ccxt {what}: received {value!r}, not a finite number")
            d = Decimal(repr(value))
        elif isinstance(value, str):
            d = Decimal(value.strip())
        else:
            raise DecodeError(f"ccxt {what}: received {type(value).__name__} {value!r}")
    except InvalidOperation as e:
        raise DecodeError(f"ccxt {what}: received {value!r}, not a decimal number") from e
    if not d.is_finite():
        raise DecodeError(f"ccxt {what}: received {value!r}, not a finite number")
    s = format(d.normalize(), "f")
    return "0" if s in ("-0", "0") else s


def _opt(value: object, what: str) -> str:
    return "" if value is None else exact(value, what)


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _ms(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class CcxtTradeView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One own trade (a fill) of a ccxt trade dict. Numbers are exact decimal strings;
    ``fee_cost`` keeps ccxt's sign (positive = charged), ``"0"`` when ccxt gives none."""

    id: str
    order_id: str
    symbol: str
    side: str
    price: str
    amount: str
    fee_cost: str
    fee_ccy: str
    taker_or_maker: str
    timestamp_ms: int


class CcxtOrderView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The fields arb reads of a ccxt order dict; ``""`` where ccxt gave ``None``."""

    id: str
    client_order_id: str
    symbol: str
    status: str
    """ccxt's unified status: ``open``, ``closed``, ``canceled``, ``expired``, ``rejected``."""
    amount: str
    filled: str
    timestamp_ms: int
    trades: tuple[CcxtTradeView, ...] = ()


def trade_view(d: Mapping[str, Any]) -> CcxtTradeView:
    """Convert one ccxt trade dict (``fetch_my_trades``, an order's ``trades``)."""
    tid = _str(d.get("id"))
    if not tid:
        raise DecodeError(f"ccxt trade without id: order {d.get('order')!r}")
    fee = d.get("fee") or {}
    cost = fee.get("cost") if isinstance(fee, Mapping) else None
    return CcxtTradeView(
        id=tid,
        order_id=_str(d.get("order")),
        symbol=_str(d.get("symbol")),
        side=_str(d.get("side")),
        price=exact(d.get("price"), f"trade {tid} price"),
        amount=exact(d.get("amount"), f"trade {tid} amount"),
        fee_cost="0" if cost is None else exact(cost, f"trade {tid} fee"),
        fee_ccy=_str(fee.get("currency")) if isinstance(fee, Mapping) else "",
        taker_or_maker=_str(d.get("takerOrMaker")),
        timestamp_ms=_ms(d.get("timestamp")),
    )


def order_view(d: Mapping[str, Any]) -> CcxtOrderView:
    """Convert one ccxt order dict (``create_order``, ``fetch_order``, ``watch_orders``)."""
    oid = _str(d.get("id"))
    trades = d.get("trades") or []
    return CcxtOrderView(
        id=oid,
        client_order_id=_str(d.get("clientOrderId")),
        symbol=_str(d.get("symbol")),
        status=_str(d.get("status")),
        amount=_opt(d.get("amount"), f"order {oid} amount"),
        filled=_opt(d.get("filled"), f"order {oid} filled"),
        timestamp_ms=_ms(d.get("lastUpdateTimestamp")) or _ms(d.get("timestamp")),
        trades=tuple(trade_view(t) for t in trades if isinstance(t, Mapping) and t.get("id")),
    )
