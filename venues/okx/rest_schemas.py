"""OKX v5 REST response Structs (field names verbatim from the v5 docs), for the native client.

Every answer is the envelope ``{"code":"0","msg":"","data":[...]}`` (``OkxEnvelope[T]``);
numbers are strings, converted to exact integers at the adapter edge, never to floats. Only
the fields arb reads are declared ("view" Structs); msgspec skips the rest.
"""

from __future__ import annotations

from typing import Generic
from typing import TypeVar

import msgspec

__all__ = [
    "OkxAccountConfigMsg",
    "OkxBalanceDetailMsg",
    "OkxBalanceMsg",
    "OkxBillMsg",
    "OkxEnvelope",
    "OkxFeeGroupMsg",
    "OkxFillMsg",
    "OkxFundingRateMsg",
    "OkxMarkPriceMsg",
    "OkxOrderAckMsg",
    "OkxOrderMsg",
    "OkxTickerMsg",
    "OkxTimeMsg",
    "OkxTradeFeeMsg",
]

T = TypeVar("T")


class OkxEnvelope(msgspec.Struct, Generic[T], gc=False):
    """``{"code":"0","msg":"","data":[...]}``; ``code`` ``"1"``/``"2"``: all / some items failed
    (each item's ``sCode``/``sMsg`` says which)."""

    code: str
    msg: str = ""
    data: list[T] = []


class OkxTimeMsg(msgspec.Struct, gc=False):
    ts: str
    """Server time, Unix ms."""


class OkxOrderAckMsg(msgspec.Struct, gc=False):
    """One item of place / cancel / amend answers: ``sCode`` ``"0"`` = accepted (not filled)."""

    sCode: str
    ordId: str = ""
    clOrdId: str = ""
    sMsg: str = ""
    ts: str = ""
    subCode: str = ""


class OkxOrderMsg(msgspec.Struct, gc=False):
    """An order (GET trade/order, orders-pending, and the private ``orders`` channel)."""

    instId: str
    ordId: str
    state: str
    """``live``, ``partially_filled``, ``filled``, ``canceled``, ``mmp_canceled``."""
    side: str
    ordType: str
    sz: str
    instType: str = ""
    clOrdId: str = ""
    px: str = ""
    accFillSz: str = "0"
    avgPx: str = ""
    fillPx: str = ""
    fillSz: str = ""
    tradeId: str = ""
    fillFee: str = ""
    fillFeeCcy: str = ""
    fillTime: str = ""
    execType: str = ""
    fee: str = ""
    feeCcy: str = ""
    cTime: str = ""
    uTime: str = ""
    code: str = ""
    msg: str = ""


class OkxFillMsg(msgspec.Struct, gc=False):
    """One fill of GET trade/fills or trade/fills-history. ``fee`` negative = charged."""

    instId: str
    tradeId: str
    ordId: str
    fillPx: str
    fillSz: str
    side: str
    instType: str = ""
    clOrdId: str = ""
    billId: str = ""
    execType: str = ""
    fee: str = ""
    feeCcy: str = ""
    ts: str = ""


class OkxBalanceDetailMsg(msgspec.Struct, gc=False):
    ccy: str
    eq: str = ""
    cashBal: str = ""
    availBal: str = ""
    frozenBal: str = ""


class OkxBalanceMsg(msgspec.Struct, gc=False):
    totalEq: str = ""
    uTime: str = ""
    details: list[OkxBalanceDetailMsg] = []


class OkxBillMsg(msgspec.Struct, gc=False):
    """One row of GET account/bills (fund flow): ``balChg`` signed change, ``bal`` after it."""

    billId: str
    ccy: str
    balChg: str
    bal: str = ""
    type: str = ""
    subType: str = ""
    instId: str = ""
    ordId: str = ""
    fee: str = ""
    ts: str = ""


class OkxTickerMsg(msgspec.Struct, gc=False):
    instId: str
    last: str = ""
    bidPx: str = ""
    bidSz: str = ""
    askPx: str = ""
    askSz: str = ""
    ts: str = ""


class OkxFeeGroupMsg(msgspec.Struct, gc=False):
    taker: str
    maker: str
    groupId: str = ""


class OkxTradeFeeMsg(msgspec.Struct, gc=False):
    """GET account/trade-fee. Sign convention: positive = rebate, negative = commission."""

    level: str = ""
    instType: str = ""
    taker: str = ""
    maker: str = ""
    feeGroup: list[OkxFeeGroupMsg] = []
    ts: str = ""


class OkxFundingRateMsg(msgspec.Struct, gc=False):
    """GET public/funding-rate. Positive ``fundingRate``: longs pay shorts."""

    instId: str
    fundingRate: str
    fundingTime: str = ""
    nextFundingTime: str = ""
    ts: str = ""


class OkxMarkPriceMsg(msgspec.Struct, gc=False):
    instId: str
    markPx: str
    instType: str = ""
    ts: str = ""


class OkxAccountConfigMsg(msgspec.Struct, gc=False):
    """GET account/config: ``perm`` (``read_only,trade[,withdraw]``) and ``ip`` gate the key."""

    uid: str = ""
    mainUid: str = ""
    acctLv: str = ""
    posMode: str = ""
    level: str = ""
    label: str = ""
    ip: str = ""
    perm: str = ""
