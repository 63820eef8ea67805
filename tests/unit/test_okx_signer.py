"""OKX signing against the reference vectors (okx-v5.md §9.2, §9.3), and why tutorials fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from venues.okx.credentials import OkxCredentials
from venues.okx.signer import SignedRequest
from venues.okx.signer import build_request
from venues.okx.signer import rest_headers
from venues.okx.signer import rest_timestamp
from venues.okx.signer import sign
from venues.okx.signer import ws_login_args

# §9.1 inputs: the secret is the example SecretKey of the OKX docs.
API_KEY = "test-api-key-0001"
SECRET = "22582BD0CFF14C41EDBF1AB98506286D"  # noqa: S105 - public test vector
PASSPHRASE = "Test-Passphrase1"  # noqa: S105 - public test vector
TS = "2020-12-08T09:08:57.715Z"
NOW_NS = 1_607_418_537_715_000_000  # the ccxt nonce 1607418537715 ms of §9.1
CREDS = OkxCredentials(API_KEY, SECRET, PASSPHRASE)

ORDER_B15 = {
    "instId": "BTC-USDT",
    "tdMode": "cash",
    "clOrdId": "b15",
    "side": "buy",
    "ordType": "limit",
    "px": "2.15",
    "sz": "2",
}
R3_BODY = (
    '{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy","ordType":"limit",'
    '"px":"2.15","sz":"2"}'
)
R4_BODY = "[" + R3_BODY + "," + R3_BODY.replace('"b15"', '"b16"') + "]"
R5_BODY = '{"instId":"BTC-USDT","ordId":"590908157585625111"}'
R6_BODY = (
    '{"instId": "BTC-USDT", "tdMode": "cash", "clOrdId": "b15", "side": "buy", '
    '"ordType": "limit", "px": "2.15", "sz": "2"}'
)

# §9.2, verbatim: (id, method, requestPath, body, OK-ACCESS-SIGN)
REST_VECTORS = [
    (
        "R1",
        "GET",
        "/api/v5/account/balance?ccy=BTC",
        "",
        "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=",
    ),
    (
        "R2",
        "GET",
        "/api/v5/trade/orders-pending?instType=SPOT&instId=BTC-USDT",
        "",
        "n4z8EhdoLivikUgHwYai810p6XKcX0yDa43sSkA4FOM=",
    ),
    (
        "R3",
        "POST",
        "/api/v5/trade/order",
        R3_BODY,
        "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ=",
    ),
    (
        "R4",
        "POST",
        "/api/v5/trade/batch-orders",
        R4_BODY,
        "xLEQP3FnbR1jVHAMcG3nVZGeYZLK2TDU6rjb8ioi4I8=",
    ),
    (
        "R5",
        "POST",
        "/api/v5/trade/cancel-order",
        R5_BODY,
        "1R7BQKEU+7vVcdmv8WO+OaWB0Ms755E8lVWUD1sbqh8=",
    ),
    (
        "R6",
        "POST",
        "/api/v5/trade/order",
        R6_BODY,
        "bFEUGiGkCl0dGsPiDFbsfLwA93/UrLulontlA+Lb71o=",
    ),
    (
        "R7",
        "GET",
        "/api/v5/account/balance?ccy=BTC,ETH",
        "",
        "oah2EOT2Fnz1bjkgiAnuKl+zFQzDG3/nqPUqyYzArrE=",
    ),
    (
        "R8",
        "GET",
        "/api/v5/account/balance?ccy=BTC%2CETH",
        "",
        "X/i/q53ENYaVFJP/x3gMqfyuIw8hS3HPa3eFxfQQFaY=",
    ),
]
VECTOR = {v[0]: v for v in REST_VECTORS}
WS_TS = "1538054050"
WS_SIGN = "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
WS_MESSAGE = (
    '{"op": "login", "args": [{"apiKey": "test-api-key-0001", "passphrase": "Test-Passphrase1", '
    '"timestamp": "1538054050", "sign": "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="}]}'
)


# -- sign(): every vector -------------------------------------------------------------------


@pytest.mark.parametrize(("vid", "method", "path", "body", "expected"), REST_VECTORS)
def test_sign_reproduces_rest_vector(vid, method, path, body, expected):
    assert sign(SECRET, TS, method, path, body) == expected


@pytest.mark.parametrize(("vid", "method", "path", "body", "expected"), REST_VECTORS)
def test_sign_upper_cases_the_method(vid, method, path, body, expected):
    assert sign(SECRET, TS, method.lower(), path, body) == expected


def test_sign_is_base64_of_the_raw_hmac_digest_not_hex():
    # The Q&A page of §1.2 claims hex upper-case output: that is a different string.
    prehash = f"{TS}GET/api/v5/account/balance?ccy=BTC".encode()
    digest = hmac.new(SECRET.encode(), prehash, hashlib.sha256).digest()
    sig = sign(SECRET, TS, "GET", "/api/v5/account/balance?ccy=BTC")
    assert sig == VECTOR["R1"][4]
    assert len(sig) == 44
    assert sig.endswith("=")
    assert base64.b64decode(sig) == digest
    assert sig != digest.hex().upper()


def test_prehash_is_plain_concatenation_of_the_documented_parts():
    # §9.2: prehash of R1 is "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    prehash = b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    expected = base64.b64encode(hmac.new(SECRET.encode(), prehash, hashlib.sha256).digest())
    assert sign(SECRET, TS, "GET", "/api/v5/account/balance?ccy=BTC") == expected.decode()


def test_whitespace_and_percent_encoding_change_the_signature():
    # Same order, other bytes (R3 vs R6), same query, other encoding (R7 vs R8): the signature
    # covers the bytes sent, so a client must sign exactly what it transmits.
    assert VECTOR["R3"][4] != VECTOR["R6"][4]
    assert VECTOR["R7"][4] != VECTOR["R8"][4]
    assert json.loads(R3_BODY) == json.loads(R6_BODY)


# -- the tutorial mistakes -----------------------------------------------------------------


def test_unix_seconds_rest_timestamp_gives_another_signature():
    # The tutorial signs Unix seconds ("1607418537") where OKX takes the ISO 8601 string of the
    # OK-ACCESS-TIMESTAMP header: the prehash differs, so does the signature; and OKX refuses
    # such a header anyway (50112 invalid / 50102 expired), §1.2 and §1.4.
    _, method, path, body, expected = VECTOR["R1"]
    unix_s = str(NOW_NS // 1_000_000_000)
    unix_ms = str(NOW_NS // 1_000_000)
    assert sign(SECRET, unix_s, method, path, body) != expected
    assert sign(SECRET, unix_ms, method, path, body) != expected
    assert sign(SECRET, rest_timestamp(NOW_NS), method, path, body) == expected


def test_sorted_query_parameters_give_another_signature():
    # The request line carries instType=SPOT&instId=BTC-USDT (the caller's order); a client
    # that signs a sorted copy signs bytes OKX never receives.
    _, method, path, body, expected = VECTOR["R2"]
    base, query = path.split("?")
    sorted_query = "&".join(sorted(query.split("&")))
    assert sorted_query != query
    assert sign(SECRET, TS, method, f"{base}?{sorted_query}", body) != expected
    req = build_request(
        CREDS,
        "GET",
        base,
        {"instType": "SPOT", "instId": "BTC-USDT"},
        None,
        NOW_NS,
        demo=False,
    )
    assert req.request_path == path  # sent in the caller's order, not sorted
    assert req.headers["OK-ACCESS-SIGN"] == expected


def test_sorted_body_keys_give_another_signature():
    _, method, path, _, expected = VECTOR["R3"]
    sorted_body = json.dumps(ORDER_B15, sort_keys=True, separators=(",", ":"))
    assert sorted_body != R3_BODY
    assert sign(SECRET, TS, method, path, sorted_body) != expected


# -- build_request: vectors end to end -------------------------------------------------------


@pytest.mark.parametrize(
    ("vid", "method", "path", "params", "body_obj"),
    [
        ("R1", "GET", "/api/v5/account/balance", {"ccy": "BTC"}, None),
        (
            "R2",
            "GET",
            "/api/v5/trade/orders-pending",
            {"instType": "SPOT", "instId": "BTC-USDT"},
            None,
        ),
        ("R3", "POST", "/api/v5/trade/order", None, ORDER_B15),
        (
            "R4",
            "POST",
            "/api/v5/trade/batch-orders",
            None,
            [ORDER_B15, {**ORDER_B15, "clOrdId": "b16"}],
        ),
        (
            "R5",
            "POST",
            "/api/v5/trade/cancel-order",
            None,
            {"instId": "BTC-USDT", "ordId": "590908157585625111"},
        ),
        ("R8", "GET", "/api/v5/account/balance", {"ccy": "BTC,ETH"}, None),
    ],
)
def test_build_request_reproduces_vector(vid, method, path, params, body_obj):
    _, _, v_path, v_body, expected = VECTOR[vid]
    req = build_request(CREDS, method, path, params, body_obj, NOW_NS, demo=False)
    assert req.method == method
    assert req.request_path == v_path
    assert req.body == v_body.encode()
    assert req.headers["OK-ACCESS-SIGN"] == expected
    assert req.headers["OK-ACCESS-TIMESTAMP"] == TS


def test_build_request_headers_for_r3_are_the_reference_headers():
    req = build_request(CREDS, "POST", "/api/v5/trade/order", None, ORDER_B15, NOW_NS, demo=False)
    assert req.headers == {
        "OK-ACCESS-KEY": "test-api-key-0001",
        "OK-ACCESS-SIGN": "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ=",
        "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z",
        "OK-ACCESS-PASSPHRASE": "Test-Passphrase1",
        "Content-Type": "application/json",
    }


def test_demo_adds_simulated_trading_header_and_keeps_the_signature():
    live = build_request(CREDS, "POST", "/api/v5/trade/order", None, ORDER_B15, NOW_NS, demo=False)
    demo = build_request(CREDS, "POST", "/api/v5/trade/order", None, ORDER_B15, NOW_NS, demo=True)
    assert "x-simulated-trading" not in live.headers
    assert demo.headers["x-simulated-trading"] == "1"
    assert demo.headers["OK-ACCESS-SIGN"] == live.headers["OK-ACCESS-SIGN"]


def test_rest_headers_match_build_request():
    req = build_request(CREDS, "POST", "/api/v5/trade/order", None, ORDER_B15, NOW_NS, demo=True)
    headers = rest_headers(CREDS, TS, "post", "/api/v5/trade/order", R3_BODY, demo=True)
    assert headers == req.headers


# -- body bytes: serialized once, signed == sent --------------------------------------------


def test_body_bytes_signed_are_the_bytes_sent():
    order = {**ORDER_B15, "tag": "arb\u00e9\u4e2d", "clOrdId": "arb7leg0"}  # non-ASCII too
    req = build_request(CREDS, "POST", "/api/v5/trade/order", None, order, NOW_NS, demo=False)
    assert isinstance(req.body, bytes)
    assert req.body == orjson.dumps(order)  # compact, insertion order, UTF-8
    assert orjson.loads(req.body) == order
    # OKX verifies over the received bytes: recompute from exactly what goes on the wire.
    on_the_wire = req.body.decode("utf-8")
    assert on_the_wire.encode("utf-8") == req.body
    assert req.headers["OK-ACCESS-SIGN"] == sign(
        SECRET, req.headers["OK-ACCESS-TIMESTAMP"], "POST", req.request_path, on_the_wire
    )
    # Re-serializing the same dict the python-okx way (json.dumps default spacing) would be
    # other bytes, hence another signature.
    assert json.dumps(order).encode() != req.body


def test_body_key_order_is_the_callers():
    a = build_request(CREDS, "POST", "/api/v5/trade/order", None, ORDER_B15, NOW_NS, demo=False)
    reordered = dict(reversed(list(ORDER_B15.items())))
    b = build_request(CREDS, "POST", "/api/v5/trade/order", None, reordered, NOW_NS, demo=False)
    assert orjson.loads(a.body) == orjson.loads(b.body)
    assert a.body != b.body
    assert a.headers["OK-ACCESS-SIGN"] != b.headers["OK-ACCESS-SIGN"]


def test_get_has_no_body_and_refuses_one():
    req = build_request(CREDS, "get", "/api/v5/account/balance", None, None, NOW_NS, demo=False)
    assert req.method == "GET"
    assert req.body == b""
    assert req.request_path == "/api/v5/account/balance"
    with pytest.raises(ValueError, match="takes no body"):
        build_request(
            CREDS, "GET", "/api/v5/account/balance", None, {"ccy": "BTC"}, NOW_NS, demo=False
        )


def test_query_in_path_and_params_together_is_refused():
    with pytest.raises(ValueError, match="already has a query string"):
        build_request(
            CREDS,
            "GET",
            "/api/v5/account/balance?ccy=BTC",
            {"ccy": "ETH"},
            None,
            NOW_NS,
            demo=False,
        )


def test_a_query_already_in_the_path_is_signed_as_given():
    _, _, path, _, expected = VECTOR["R7"]  # python-okx style, unencoded comma
    req = build_request(CREDS, "GET", path, None, None, NOW_NS, demo=False)
    assert req.request_path == path
    assert req.headers["OK-ACCESS-SIGN"] == expected


def test_query_values_are_percent_encoded_once():
    req = build_request(
        CREDS, "GET", "/api/v5/x", {"a": "b c/d", "n": 5, "e": "x%y"}, None, NOW_NS, demo=False
    )
    assert req.request_path == "/api/v5/x?a=b%20c%2Fd&n=5&e=x%25y"


def test_signed_request_repr_hides_the_passphrase():
    req = build_request(CREDS, "POST", "/api/v5/trade/order", None, ORDER_B15, NOW_NS, demo=False)
    assert isinstance(req, SignedRequest)
    for text in (repr(req), str(req), f"{req}"):
        assert PASSPHRASE not in text
        assert SECRET not in text
        assert "/api/v5/trade/order" in text
    assert req.headers["OK-ACCESS-PASSPHRASE"] == PASSPHRASE  # still sent


# -- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now_ns", "expected"),
    [
        (NOW_NS, "2020-12-08T09:08:57.715Z"),
        (1_607_418_537_715_999_999, "2020-12-08T09:08:57.715Z"),  # truncated, never rounded
        (1_607_418_537_005_000_000, "2020-12-08T09:08:57.005Z"),  # ms zero-padded
        (1_607_418_537_050_000_000, "2020-12-08T09:08:57.050Z"),
        (1_607_418_537_000_000_000, "2020-12-08T09:08:57.000Z"),  # .000 is kept
        (1_607_418_537_999_999_999, "2020-12-08T09:08:57.999Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (1_609_459_199_999_000_000, "2020-12-31T23:59:59.999Z"),  # year rollover next ms
        (1_609_459_200_000_000_000, "2021-01-01T00:00:00.000Z"),
        (1_709_164_800_000_000_000, "2024-02-29T00:00:00.000Z"),  # leap day
        (1_538_054_050_000_000_000, "2018-09-27T13:14:10.000Z"),  # the WS vector's second
    ],
)
def test_rest_timestamp_format(now_ns, expected):
    assert rest_timestamp(now_ns) == expected


@given(st.integers(min_value=0, max_value=4_102_444_800_000_000_000))  # up to 2100
def test_rest_timestamp_agrees_with_datetime(now_ns):
    seconds, rest_ns = divmod(now_ns, 1_000_000_000)
    dt = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest_ns // 1000)
    expected = dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert rest_timestamp(now_ns) == expected


@pytest.fixture
def far_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: any local-time leak shows
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_rest_timestamp_is_utc_whatever_the_local_timezone(far_timezone):
    assert rest_timestamp(NOW_NS + 3_600_000_000_000) == "2020-12-08T10:08:57.715Z"


def test_rest_timestamp_refuses_negative_time():
    with pytest.raises(ValueError, match="received -1"):
        rest_timestamp(-1)


# -- WebSocket login -------------------------------------------------------------------------


def test_ws_login_vector():
    args = ws_login_args(API_KEY, PASSPHRASE, SECRET, int(WS_TS))
    assert args == {
        "apiKey": API_KEY,
        "passphrase": PASSPHRASE,
        "timestamp": WS_TS,
        "sign": WS_SIGN,
    }
    assert json.dumps({"op": "login", "args": [args]}) == WS_MESSAGE


def test_ws_login_prehash_is_seconds_get_users_self_verify():
    assert sign(SECRET, WS_TS, "GET", "/users/self/verify") == WS_SIGN
    # An ISO timestamp (the REST form) is wrong for the login op.
    iso = rest_timestamp(int(WS_TS) * 1_000_000_000)
    assert ws_login_args(API_KEY, PASSPHRASE, SECRET, int(WS_TS))["sign"] != sign(
        SECRET, iso, "GET", "/users/self/verify"
    )
