"""OKX error answers: class, retry action and arb reject code of every documented code."""

from __future__ import annotations

import pytest

from arb.core.errors import ArbError
from arb.core.errors import VenueError
from arb.core.unwind import PERMANENT_REJECTS
from venues.okx.errors import OkxAccountRestricted
from venues.okx.errors import OkxAuthError
from venues.okx.errors import OkxError
from venues.okx.errors import OkxOrderRejected
from venues.okx.errors import OkxOutcomeUnknown
from venues.okx.errors import OkxRateLimited
from venues.okx.errors import OkxServerBusy
from venues.okx.errors import OkxTimestampError
from venues.okx.errors import RetryAction
from venues.okx.errors import classify
from venues.okx.errors import reject_code
from venues.okx.errors import should_retry

A = RetryAction

# (code, HTTP status as OKX documents it, class, action): reference §4.8, §1.4, issue 4.
DOCUMENTED = [
    # rate limits: back off with jitter
    ("50011", 200, OkxRateLimited, A.BACKOFF),
    ("50011", 429, OkxRateLimited, A.BACKOFF),
    ("50061", 200, OkxRateLimited, A.BACKOFF),
    # OKX unavailable or busy: back off
    ("50001", 503, OkxServerBusy, A.BACKOFF),
    ("50005", 200, OkxServerBusy, A.BACKOFF),
    ("50013", 429, OkxServerBusy, A.BACKOFF),
    ("50026", 500, OkxServerBusy, A.BACKOFF),
    # outcome unknown: query the order by clOrdId first
    ("50004", 200, OkxOutcomeUnknown, A.QUERY_ORDER),
    ("51149", 500, OkxOutcomeUnknown, A.QUERY_ORDER),
    ("51054", 500, OkxOutcomeUnknown, A.QUERY_ORDER),
    ("51412", 200, OkxOutcomeUnknown, A.QUERY_ORDER),
    # clock: resync and retry once
    ("50102", 401, OkxTimestampError, A.RESYNC_CLOCK_ONCE),
    ("50112", 401, OkxTimestampError, A.RESYNC_CLOCK_ONCE),
    # auth: stop, never retry
    ("50100", 401, OkxAuthError, A.STOP),
    ("50101", 401, OkxAuthError, A.STOP),
    ("50103", 401, OkxAuthError, A.STOP),
    ("50104", 401, OkxAuthError, A.STOP),
    ("50105", 401, OkxAuthError, A.STOP),
    ("50106", 401, OkxAuthError, A.STOP),
    ("50107", 401, OkxAuthError, A.STOP),
    ("50110", 401, OkxAuthError, A.STOP),
    ("50111", 401, OkxAuthError, A.STOP),
    ("50113", 401, OkxAuthError, A.STOP),
    ("50114", 401, OkxAuthError, A.STOP),
    ("50119", 401, OkxAuthError, A.STOP),
    ("50120", 401, OkxAuthError, A.STOP),
    # account blocked or restricted: stop
    ("50007", 200, OkxAccountRestricted, A.STOP),
    ("50027", 200, OkxAccountRestricted, A.STOP),
    ("51009", 200, OkxAccountRestricted, A.STOP),
    # order rejects (sCode): final for that order
    ("51001", 200, OkxOrderRejected, A.NONE),
    ("51006", 200, OkxOrderRejected, A.NONE),
    ("51008", 200, OkxOrderRejected, A.NONE),
    ("51020", 200, OkxOrderRejected, A.NONE),
    ("51121", 200, OkxOrderRejected, A.NONE),
    ("51127", 200, OkxOrderRejected, A.NONE),
    ("51131", 200, OkxOrderRejected, A.NONE),
    ("51137", 200, OkxOrderRejected, A.NONE),
    ("51138", 200, OkxOrderRejected, A.NONE),
    ("51400", 200, OkxOrderRejected, A.NONE),
    ("51503", 200, OkxOrderRejected, A.NONE),
    ("51603", 200, OkxOrderRejected, A.NONE),
    ("51000", 200, OkxOrderRejected, A.NONE),
    ("51004", 200, OkxOrderRejected, A.NONE),
    ("51513", 200, OkxOrderRejected, A.NONE),
    # a duplicate clOrdId: that order was already placed; find it
    ("51016", 200, OkxOrderRejected, A.QUERY_ORDER),
    ("50071", 200, OkxOrderRejected, A.QUERY_ORDER),
    # other final errors
    ("50000", 400, OkxError, A.NONE),
    ("50002", 400, OkxError, A.NONE),
    ("50006", 400, OkxError, A.NONE),
    ("50014", 400, OkxError, A.NONE),
    ("50036", 200, OkxError, A.NONE),
    ("50037", 200, OkxError, A.NONE),
    ("50115", 405, OkxError, A.NONE),
    ("54004", 200, OkxError, A.NONE),
]


@pytest.mark.parametrize(("code", "http", "cls", "action"), DOCUMENTED)
def test_documented_code_lands_in_its_class_and_action(code, http, cls, action):
    e = classify(code, http, "the msg")
    assert type(e) is cls
    assert should_retry(e) is action
    assert e.retryable is (action in (A.BACKOFF, A.RESYNC_CLOCK_ONCE))


@pytest.mark.parametrize(("code", "http", "cls", "action"), DOCUMENTED)
def test_documented_code_class_does_not_depend_on_the_http_status(code, http, cls, action):
    for status in (None, 200, 401, 429, 500, 503):
        e = classify(code, status)
        assert type(e) is cls
        assert should_retry(e) is action


@pytest.mark.parametrize(
    ("code", "http", "cls", "action"),
    [
        ("59999", 200, OkxError, A.NONE),  # unknown: final
        ("59999", 400, OkxError, A.NONE),
        ("59999", None, OkxError, A.NONE),
        ("12345", 404, OkxError, A.NONE),
        ("59999", 500, OkxServerBusy, A.BACKOFF),  # except with HTTP 5xx
        ("59999", 502, OkxServerBusy, A.BACKOFF),
        ("", 503, OkxServerBusy, A.BACKOFF),  # no code at all (undecodable answer)
        ("", 599, OkxServerBusy, A.BACKOFF),
        ("", 200, OkxError, A.NONE),
        ("", 429, OkxRateLimited, A.BACKOFF),
        ("59999", 401, OkxAuthError, A.STOP),
        ("", 403, OkxAuthError, A.STOP),
        ("51999", 200, OkxOrderRejected, A.NONE),  # unknown trade-family sCode
        ("1", 200, OkxError, A.NONE),  # batch "all failed": the items carry the reasons
        ("2", 200, OkxError, A.NONE),
    ],
)
def test_unknown_code_is_final_except_by_http_status(code, http, cls, action):
    e = classify(code, http)
    assert type(e) is cls
    assert should_retry(e) is action
    assert e.retryable is (action is A.BACKOFF)


def test_unknown_codes_are_not_retryable_unless_5xx():
    for status in (None, 200, 400, 401, 403, 404):
        assert not classify("58888", status).retryable
    for status in (500, 501, 502, 503, 504):
        assert classify("58888", status).retryable


def test_int_code_is_the_string_code():
    e = classify(50011, 429, "Too Many Requests")
    assert type(e) is OkxRateLimited
    assert e.code == "50011"


def test_message_carries_code_http_status_and_msg():
    e = classify("51008", 200, "Order failed. Insufficient USDT balance in account.")
    assert str(e) == "okx 51008 (HTTP 200): Order failed. Insufficient USDT balance in account."
    assert e.msg == "Order failed. Insufficient USDT balance in account."
    assert e.http_status == 200
    assert "51008" in repr(e)


def test_message_without_msg_uses_the_documented_meaning():
    assert str(classify("50113")) == "okx 50113: invalid signature"
    assert str(classify("50102", 401)) == (
        "okx 50102 (HTTP 401): timestamp request expired (> 30 s from server time)"
    )
    assert str(classify("", 502)) == "okx ? (HTTP 502): error"


def test_errors_are_venue_errors_of_okx():
    e = classify("50011", 429)
    assert isinstance(e, OkxError)
    assert isinstance(e, VenueError)
    assert isinstance(e, ArbError)
    assert e.venue == "okx"
    with pytest.raises(OkxRateLimited):
        raise e


def test_every_class_maps_to_one_action():
    expected = {
        OkxRateLimited: A.BACKOFF,
        OkxServerBusy: A.BACKOFF,
        OkxOutcomeUnknown: A.QUERY_ORDER,
        OkxTimestampError: A.RESYNC_CLOCK_ONCE,
        OkxAuthError: A.STOP,
        OkxAccountRestricted: A.STOP,
        OkxOrderRejected: A.NONE,
        OkxError: A.NONE,
    }
    for cls, action in expected.items():
        assert should_retry(cls("58888")) is action


def test_a_subclass_inherits_its_parents_action():
    class OkxSpecialLimit(OkxRateLimited):
        pass

    assert should_retry(OkxSpecialLimit("58888")) is A.BACKOFF


def test_auth_family_covers_50100_to_50120_but_timestamps_and_method():
    for n in range(50100, 50121):
        e = classify(str(n))
        if n in (50102, 50112):
            assert type(e) is OkxTimestampError
        elif n == 50115:
            assert type(e) is OkxError
        else:
            assert type(e) is OkxAuthError, n
            assert should_retry(e) is A.STOP


# -- reject codes ----------------------------------------------------------------------------

PERMANENT = [
    ("51008", "INSUFFICIENT_BALANCE"),
    ("51119", "INSUFFICIENT_BALANCE"),
    ("51127", "INSUFFICIENT_BALANCE"),
    ("51131", "INSUFFICIENT_BALANCE"),
    ("51007", "BELOW_MIN_SIZE"),
    ("51020", "BELOW_MIN_SIZE"),
    ("51120", "BELOW_MIN_SIZE"),
    ("51121", "OFF_LOT"),
    ("51001", "UNKNOWN_SYMBOL"),
    ("51015", "UNKNOWN_SYMBOL"),
    ("51021", "UNSUPPORTED_INSTRUMENT"),
    ("51022", "UNSUPPORTED_INSTRUMENT"),
    ("51027", "UNSUPPORTED_INSTRUMENT"),
    ("51155", "UNSUPPORTED_INSTRUMENT"),
]
TRANSIENT = [
    ("50011", "RATE_LIMITED"),
    ("50061", "RATE_LIMITED"),
    ("50001", "VENUE_BUSY"),
    ("50013", "VENUE_BUSY"),
    ("50026", "VENUE_BUSY"),
    ("50004", "OUTCOME_UNKNOWN"),
    ("51149", "OUTCOME_UNKNOWN"),
    ("51016", "DUPLICATE_CLIENT_ORDER_ID"),
    ("50071", "DUPLICATE_CLIENT_ORDER_ID"),
    ("51006", "PRICE_LIMIT"),
    ("51137", "PRICE_LIMIT"),
    ("51138", "PRICE_LIMIT"),
    ("50102", "TIMESTAMP_REJECTED"),
    ("50113", "AUTH_REJECTED"),
    ("51009", "ACCOUNT_RESTRICTED"),
    ("51400", "OKX_51400"),
    ("51000", "OKX_51000"),
    ("59999", "OKX_59999"),
    ("", "OKX_"),
]


@pytest.mark.parametrize(("s_code", "reject"), PERMANENT)
def test_permanent_rejects_are_the_planners(s_code, reject):
    assert reject_code(s_code) == reject
    assert reject in PERMANENT_REJECTS
    e = classify(s_code, 200, "sMsg")
    assert type(e) is OkxOrderRejected
    assert e.reject == reject
    assert should_retry(e) is A.NONE
    assert not e.retryable


@pytest.mark.parametrize(("s_code", "reject"), TRANSIENT)
def test_transient_rejects_are_not_permanent(s_code, reject):
    assert reject_code(s_code) == reject
    assert reject not in PERMANENT_REJECTS


def test_reject_codes_used_by_the_planner_that_okx_cannot_produce():
    produced = {reject_code(c) for c, _ in PERMANENT}
    # INVALID_ORDER comes from venues whose errors only say "invalid order" (ccxt adapters)
    assert PERMANENT_REJECTS - produced == {"OFF_TICK", "BELOW_MIN_NOTIONAL", "INVALID_ORDER"}
