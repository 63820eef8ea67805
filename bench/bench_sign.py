"""OKX order signing benchmarks: order leg build + sign + serialize (DESIGN §6: <= 10 us).

``sign: order`` group, one BTC-USDT spot IOC order per call:

- ``test_leg_from_place_order``: the whole leg: arb's ``PlaceOrder`` (raw ints) to the OKX
  ``POST /api/v5/trade/order`` dict (``instId``, ``tdMode`` cash, ``clOrdId``, ``side``,
  ``ordType`` ioc, ``px`` and ``sz`` strings from the instrument's precisions), then
  ``build_request``: timestamp, orjson body, HMAC-SHA256 + Base64, headers;
- ``test_build_request_from_dict``: ``build_request`` alone, from the ready dict;
- the parts, for where the time goes: ``rest_timestamp``, ``orjson.dumps`` of the order,
  ``sign`` of the R3-sized prehash.

Each benchmark checks its result (the signature recomputed from the bytes to send, the body
decoded back), so it cannot measure nothing. ``extra_info["ns_per_call"]`` is the median.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.types import Side
from venues.okx.credentials import OkxCredentials
from venues.okx.signer import SignedRequest
from venues.okx.signer import build_request
from venues.okx.signer import rest_timestamp
from venues.okx.signer import sign

pytestmark = pytest.mark.bench

PATH = "/api/v5/trade/order"
NOW_NS = 1_763_938_800_123_456_789  # 2025-11-23T23:00:00.123Z
CREDS = OkxCredentials(
    "test-api-key-0001", "22582BD0CFF14C41EDBF1AB98506286D", "Test-Passphrase1", demo=True
)
INST = Instrument.create(
    venue="okx",
    symbol="BTC-USDT",
    venue_symbol="BTC-USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="0.00000001",
    min_size="0.00001",
)
CMD = PlaceOrder(
    venue="okx",
    symbol="BTC-USDT",
    client_order_id="arb1763938800o42l0a0",
    side=Side.BUY,
    order_type=OrderType.IOC,
    px=INST.px_to_raw("86412.3"),
    qty=INST.qty_to_raw("0.01234567"),
    ts=NOW_NS,
)
ORDER = {
    "instId": "BTC-USDT",
    "tdMode": "cash",
    "clOrdId": "arb1763938800o42l0a0",
    "side": "buy",
    "ordType": "ioc",
    "px": "86412.3",
    "sz": "0.01234567",
}
_SIDE = {Side.BUY: "buy", Side.SELL: "sell"}


def leg(cmd: PlaceOrder, inst: Instrument, now_ns: int) -> SignedRequest:
    """PlaceOrder -> signed OKX place-order request (what the gateway does per leg)."""
    order = {
        "instId": inst.venue_symbol,
        "tdMode": "cash",
        "clOrdId": cmd.client_order_id,
        "side": _SIDE[cmd.side],
        "ordType": cmd.order_type.value,
        "px": inst.px_str(cmd.px),
        "sz": inst.qty_str(cmd.qty),
    }
    return build_request(CREDS, "POST", PATH, None, order, now_ns, demo=CREDS.demo)


def _ns(benchmark: Any) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # --benchmark-disable: nothing was timed
        benchmark.extra_info["ns_per_call"] = round(stats.stats.median * 1e9)


def _timed(benchmark: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    out = benchmark.pedantic(
        fn, args=args, kwargs=kwargs, rounds=200, iterations=1_000, warmup_rounds=2
    )
    _ns(benchmark)
    return out


def check_signed(req: SignedRequest) -> None:
    assert req.method == "POST"
    assert req.request_path == PATH
    assert orjson.loads(req.body) == ORDER
    h = req.headers
    assert h["OK-ACCESS-TIMESTAMP"] == "2025-11-23T23:00:00.123Z"
    assert h["OK-ACCESS-SIGN"] == sign(
        CREDS.secret, h["OK-ACCESS-TIMESTAMP"], "POST", PATH, req.body.decode()
    )
    assert h["OK-ACCESS-KEY"] == CREDS.api_key
    assert h["OK-ACCESS-PASSPHRASE"] == CREDS.passphrase
    assert h["Content-Type"] == "application/json"
    assert h["x-simulated-trading"] == "1"


def test_leg_from_place_order(benchmark: Any) -> None:
    benchmark.group = "sign: order"
    check_signed(_timed(benchmark, leg, CMD, INST, NOW_NS))


def test_build_request_from_dict(benchmark: Any) -> None:
    benchmark.group = "sign: order"
    req = _timed(benchmark, build_request, CREDS, "POST", PATH, None, ORDER, NOW_NS, demo=True)
    check_signed(req)


def test_part_rest_timestamp(benchmark: Any) -> None:
    benchmark.group = "sign: parts"
    assert _timed(benchmark, rest_timestamp, NOW_NS) == "2025-11-23T23:00:00.123Z"


def test_part_orjson_body(benchmark: Any) -> None:
    benchmark.group = "sign: parts"
    assert orjson.loads(_timed(benchmark, orjson.dumps, ORDER)) == ORDER


def test_part_hmac_base64(benchmark: Any) -> None:
    benchmark.group = "sign: parts"
    body = orjson.dumps(ORDER).decode()
    ts = "2025-11-23T23:00:00.123Z"
    sig = _timed(benchmark, sign, CREDS.secret, ts, "POST", PATH, body)
    assert (
        sig
        == build_request(CREDS, "POST", PATH, None, ORDER, NOW_NS, demo=True).headers[
            "OK-ACCESS-SIGN"
        ]
    )
