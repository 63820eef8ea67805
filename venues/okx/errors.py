"""OKX v5 error answers: a typed tree, what to do about each, and arb's reject codes.

::

    arb.core.errors.VenueError   (venue, code, retryable)
      + OkxError                 any OKX error answer (.code, .msg, .http_status)  NONE
        - OkxRateLimited         50011, 50061, HTTP 429                            BACKOFF
        - OkxServerBusy          50001, 50005, 50013, 50026, unknown + HTTP 5xx    BACKOFF
        - OkxOutcomeUnknown      50004, 51054, 51149, 51412                        QUERY_ORDER
        - OkxTimestampError      50102 expired (> 30 s skew), 50112 invalid        RESYNC_CLOCK_ONCE
        - OkxAuthError           50100-50120 but 50102, 50112, 50115;
                                 unknown + HTTP 401/403                            STOP
        - OkxAccountRestricted   50007, 50009, 50027, 50030, 51009, 51024          STOP
        - OkxOrderRejected       51xxx sCodes, 50071 (.reject: arb's reject code)  NONE
                                 but 51016 / 50071 duplicate clOrdId               QUERY_ORDER

``classify(code, http_status, msg)`` builds the error of an answer (a known code decides; an
unknown one falls back on the HTTP status; an unknown code with HTTP 2xx/4xx is final),
``should_retry(e)`` reads the action from one table, and ``reject_code(sCode)`` names the
order reject the way the simulated venue and the rollback planner do
(``arb.core.unwind.PERMANENT_REJECTS``).

Actions (``RetryAction``):

- ``NONE``: final for this request; do not resend it unchanged (order rejects, bad parameters).
- ``BACKOFF``: resend after an exponential backoff with jitter.
- ``QUERY_ORDER``: the order may exist: query it by ``clOrdId`` before anything else (never
  resend a new order, never count the leg as rejected). A place whose answer was an HTTP 5xx is
  also of unknown outcome: it is resent with the *same* ``clOrdId`` after the backoff, and a
  ``51016`` "clOrdId already exists" then means the first one arrived, hence ``QUERY_ORDER``.
- ``RESYNC_CLOCK_ONCE``: resync the clock offset (``GET /api/v5/public/time``), resend once.
- ``STOP``: credentials, key permissions or the account are wrong: stop trading on OKX, alert,
  never retry.

Codes: reference §4.8 (OKX's v5 "Error Code" table, REST), unless a comment cites another
source. Batch answers carry ``code`` 1 (all failed) or 2 (partial) with per-item ``sCode``:
classify the items, not the ``1``/``2``.
"""

from __future__ import annotations

from arb.core.errors import RETRYABLE
from arb.core.errors import RetryAction
from arb.core.errors import VenueError

__all__ = [
    "VENUE",
    "OkxAccountRestricted",
    "OkxAuthError",
    "OkxError",
    "OkxOrderRejected",
    "OkxOutcomeUnknown",
    "OkxRateLimited",
    "OkxServerBusy",
    "OkxTimestampError",
    "RetryAction",
    "classify",
    "reject_code",
    "should_retry",
]

VENUE = "okx"


class OkxError(VenueError):
    """An OKX error answer: ``code`` (str, as OKX sends it), ``msg``, ``http_status``.

    ``retryable`` is True when the request may be resent as is (``BACKOFF``,
    ``RESYNC_CLOCK_ONCE``); ``QUERY_ORDER`` is not: the order's state is asked first.
    """

    def __init__(self, code: str, msg: str = "", *, http_status: int | None = None) -> None:
        self.msg = msg
        self.http_status = http_status
        status = f" (HTTP {http_status})" if http_status is not None else ""
        text = msg or _MEANING.get(code, "error")
        super().__init__(f"okx {code or '?'}{status}: {text}", venue=VENUE, code=code)
        self.retryable = should_retry(self) in RETRYABLE


class OkxRateLimited(OkxError):
    """A rate limit was hit (50011 per endpoint, 50061 per sub-account, HTTP 429)."""


class OkxServerBusy(OkxError):
    """OKX is unavailable, busy or failed internally (50001, 50013, 50026, HTTP 5xx)."""


class OkxOutcomeUnknown(OkxError):
    """The request timed out inside OKX: the order may or may not exist (50004, 51149)."""


class OkxTimestampError(OkxError):
    """``OK-ACCESS-TIMESTAMP`` expired (50102: > 30 s from server time) or invalid (50112)."""


class OkxAuthError(OkxError):
    """The key, passphrase, signature, IP or environment was refused (50100-50120)."""


class OkxAccountRestricted(OkxError):
    """The account or its trading is blocked by OKX (50007, 50027, 51009, ...)."""


class OkxOrderRejected(OkxError):
    """A placed (or cancelled, amended) order was refused: its ``sCode``.

    ``reject`` is arb's venue-neutral code for it (``reject_code``).
    """

    def __init__(self, code: str, msg: str = "", *, http_status: int | None = None) -> None:
        super().__init__(code, msg, http_status=http_status)
        self.reject = reject_code(code)


# -- the tables ---------------------------------------------------------------------------
# code -> (class, arb reject code or "" (derived from the class), meaning)
_Row = tuple[type[OkxError], str, str]

_R = "RATE_LIMITED"
_B = "VENUE_BUSY"
_U = "OUTCOME_UNKNOWN"
_DUP = "DUPLICATE_CLIENT_ORDER_ID"

_CODES: dict[str, _Row] = {
    # general
    "50000": (OkxError, "", "POST body empty"),
    "50001": (OkxServerBusy, _B, "service temporarily unavailable"),
    "50002": (OkxError, "", "JSON syntax error"),
    "50006": (OkxError, "", "invalid Content-Type (use application/json)"),
    "50014": (OkxError, "", "required parameter empty"),
    "50036": (OkxError, "", "expTime earlier than server time"),
    "50037": (OkxError, "", "order expired (expTime passed): not placed"),
    "54004": (OkxError, "", "batch failed because one of its orders failed"),
    "50004": (OkxOutcomeUnknown, _U, "endpoint request timeout: outcome unknown"),
    # 50005 "API is offline or unavailable": OKX v5 error table (pages corpus:
    # cloudquant.github.io/bt_api_py/exchanges/okx/status_announcement_error); ccxt 4.5.90
    # okx.py maps it to ExchangeNotAvailable.
    "50005": (OkxServerBusy, _B, "API is offline or unavailable"),
    "50011": (OkxRateLimited, _R, "rate limit reached"),
    "50013": (OkxServerBusy, _B, "system is busy"),
    "50026": (OkxServerBusy, _B, "system error"),
    "50061": (OkxRateLimited, _R, "sub-account order rate limit reached"),
    "50071": (OkxOrderRejected, _DUP, "parameter value already exists (clOrdId)"),
    # 50007 account blocked, 50009 suspended by liquidation, 50027 restricted from trading,
    # 50030 no permission for this API: OKX v5 error table (same pages source as 50005);
    # ccxt 4.5.90 okx.py (AccountSuspended / PermissionDenied).
    "50007": (OkxAccountRestricted, "", "account blocked"),
    "50009": (OkxAccountRestricted, "", "account suspended due to ongoing liquidation"),
    "50027": (OkxAccountRestricted, "", "account restricted from trading"),
    "50030": (OkxAccountRestricted, "", "no permission to use this API"),
    # timestamps
    "50102": (OkxTimestampError, "", "timestamp request expired (> 30 s from server time)"),
    "50112": (OkxTimestampError, "", "invalid OK-ACCESS-TIMESTAMP"),
    # 50115 "Invalid request method": our request is malformed; final, but the key is fine
    # (ccxt 4.5.90 okx.py: BadRequest).
    "50115": (OkxError, "", "invalid request method"),
    # orders (sCode)
    "51000": (OkxOrderRejected, "", "parameter error"),
    "51001": (OkxOrderRejected, "UNKNOWN_SYMBOL", "instrument ID does not exist"),
    "51004": (OkxOrderRejected, "", "position limit exceeded"),
    # 51015 "Instrument ID does not match instrument type": ccxt 4.5.90 okx.py (BadSymbol).
    "51015": (OkxOrderRejected, "UNKNOWN_SYMBOL", "instrument ID does not match type"),
    "51006": (OkxOrderRejected, "PRICE_LIMIT", "order price not within the price limit"),
    # 51007 "Order amount should be at least 1 contract": ccxt 4.5.90 okx.py comment.
    "51007": (OkxOrderRejected, "BELOW_MIN_SIZE", "order amount below 1 contract"),
    "51008": (OkxOrderRejected, "INSUFFICIENT_BALANCE", "insufficient balance"),
    # 51009 order placement blocked by the platform, 51024 account blocked: ccxt 4.5.90
    # okx.py (AccountSuspended).
    "51009": (OkxAccountRestricted, "", "order placement blocked by the platform"),
    "51024": (OkxAccountRestricted, "", "trading account blocked"),
    "51016": (OkxOrderRejected, _DUP, "clOrdId already exists"),
    "51020": (OkxOrderRejected, "BELOW_MIN_SIZE", "order below the minimum order amount"),
    # 51021 pair/contract not yet listed, 51022 suspended, 51027 expired, 51155 not tradable
    # under local compliance rules: ccxt 4.5.90 okx.py (ContractUnavailable /
    # RestrictedLocation, the latter with a recorded sMsg).
    "51021": (OkxOrderRejected, "UNSUPPORTED_INSTRUMENT", "instrument not yet listed"),
    "51022": (OkxOrderRejected, "UNSUPPORTED_INSTRUMENT", "instrument suspended"),
    "51027": (OkxOrderRejected, "UNSUPPORTED_INSTRUMENT", "contract expired"),
    "51155": (OkxOrderRejected, "UNSUPPORTED_INSTRUMENT", "restricted by local compliance"),
    "51054": (OkxOutcomeUnknown, _U, "request timed out"),
    # 51119 "insufficient balance": older table (ccxt 4.5.90 okx.py); gone from the 2026 one.
    "51119": (OkxOrderRejected, "INSUFFICIENT_BALANCE", "insufficient balance"),
    # 51120 "Order quantity is less than {0}": ccxt 4.5.90 okx.py comment.
    "51120": (OkxOrderRejected, "BELOW_MIN_SIZE", "order quantity below the minimum"),
    "51121": (OkxOrderRejected, "OFF_LOT", "order size not a multiple of the lot size"),
    "51127": (OkxOrderRejected, "INSUFFICIENT_BALANCE", "available balance is 0"),
    "51131": (OkxOrderRejected, "INSUFFICIENT_BALANCE", "insufficient balance"),
    "51137": (OkxOrderRejected, "PRICE_LIMIT", "buy price above the price limit"),
    "51138": (OkxOrderRejected, "PRICE_LIMIT", "sell price below the price limit"),
    "51149": (OkxOutcomeUnknown, _U, "order timed out: outcome unknown"),
    "51400": (OkxOrderRejected, "", "cancel failed: order filled, canceled or not found"),
    "51412": (OkxOutcomeUnknown, _U, "cancel timed out"),
    "51503": (OkxOrderRejected, "", "amend failed: order filled or canceled"),
    "51513": (OkxOrderRejected, "", "more than 3 amends in progress"),
    "51603": (OkxOrderRejected, "", "order does not exist"),
}
_AUTH_MEANING = {
    "50100": "API frozen",
    "50101": "API key does not match the environment (live vs demo)",
    "50103": "OK-ACCESS-KEY header empty",
    "50104": "OK-ACCESS-PASSPHRASE header empty",
    "50105": "OK-ACCESS-PASSPHRASE incorrect",
    "50106": "OK-ACCESS-SIGN header empty",
    "50107": "OK-ACCESS-TIMESTAMP header empty",
    "50110": "IP not in the API key's whitelist",
    "50111": "invalid OK-ACCESS-KEY",
    "50113": "invalid signature",
    "50114": "invalid authorization",
    "50119": "API key does not exist",
    "50120": "API key lacks the permission",
}
for _code in map(str, range(50100, 50121)):  # the API-key family; 50102/50112/50115 above
    _CODES.setdefault(_code, (OkxAuthError, "", _AUTH_MEANING.get(_code, "API key refused")))
_MEANING = {code: row[2] for code, row in _CODES.items()}

# Per-code overrides first: a duplicate clOrdId means an earlier send of this very order
# arrived, so the order is looked up, not treated as rejected.
_ACTION_BY_CODE: dict[str, RetryAction] = {
    "51016": RetryAction.QUERY_ORDER,
    "50071": RetryAction.QUERY_ORDER,
}
_ACTION_BY_CLASS: dict[type[OkxError], RetryAction] = {
    OkxRateLimited: RetryAction.BACKOFF,
    OkxServerBusy: RetryAction.BACKOFF,
    OkxOutcomeUnknown: RetryAction.QUERY_ORDER,
    OkxTimestampError: RetryAction.RESYNC_CLOCK_ONCE,
    OkxAuthError: RetryAction.STOP,
    OkxAccountRestricted: RetryAction.STOP,
    OkxOrderRejected: RetryAction.NONE,
    OkxError: RetryAction.NONE,
}
# arb reject code of a code the table leaves "" (or does not know), by class.
_REJECT_BY_CLASS: dict[type[OkxError], str] = {
    OkxRateLimited: _R,
    OkxServerBusy: _B,
    OkxOutcomeUnknown: _U,
    OkxTimestampError: "TIMESTAMP_REJECTED",
    OkxAuthError: "AUTH_REJECTED",
    OkxAccountRestricted: "ACCOUNT_RESTRICTED",
}


def classify(code: str | int, http_status: int | None = None, msg: str = "") -> OkxError:
    """Return the error for an OKX answer's ``code`` (or an order's ``sCode``).

    A known code decides the class. An unknown one (or ``""``, e.g. an undecodable answer)
    falls back on ``http_status``: 429 rate limited, 5xx server busy (retryable), 401/403
    auth (stop); any other unknown 50xxx/5xxxx code is a plain ``OkxError`` (final), an
    unknown 51xxx an ``OkxOrderRejected``. ``msg`` is OKX's ``msg``/``sMsg``.
    """
    code = str(code)
    row = _CODES.get(code)
    if row is not None:
        cls = row[0]
    elif http_status == 429:
        cls = OkxRateLimited
    elif http_status is not None and 500 <= http_status <= 599:
        cls = OkxServerBusy
    elif http_status in (401, 403):
        cls = OkxAuthError
    elif len(code) == 5 and code.startswith("51"):  # the trade family: per-order sCodes
        cls = OkxOrderRejected
    else:
        cls = OkxError
    return cls(code, msg, http_status=http_status)


def should_retry(e: OkxError) -> RetryAction:
    """Return what to do after ``e``: a per-code override, else by class (nearest first)."""
    action = _ACTION_BY_CODE.get(e.code)
    if action is not None:
        return action
    for cls in type(e).__mro__:
        action = _ACTION_BY_CLASS.get(cls)
        if action is not None:
            return action
    return RetryAction.NONE  # pragma: no cover - OkxError is always in the MRO


def reject_code(s_code: str) -> str:
    """Return arb's venue-neutral reject code for an order's ``sCode``.

    Permanent ones are those of ``arb.core.unwind.PERMANENT_REJECTS``: ``INSUFFICIENT_BALANCE``
    (51008, 51119, 51127, 51131), ``BELOW_MIN_SIZE`` (51007, 51020, 51120), ``OFF_LOT``
    (51121), ``UNKNOWN_SYMBOL`` (51001, 51015), ``UNSUPPORTED_INSTRUMENT`` (51021, 51022,
    51027, 51155). Everything else is transient for the planner: ``RATE_LIMITED``,
    ``VENUE_BUSY``, ``PRICE_LIMIT`` (51006, 51137, 51138: a re-priced order may pass),
    ``OUTCOME_UNKNOWN`` and ``DUPLICATE_CLIENT_ORDER_ID`` (both: query the order first; never
    report them as the leg's reject), ``TIMESTAMP_REJECTED``, ``AUTH_REJECTED``,
    ``ACCOUNT_RESTRICTED``, and ``OKX_<sCode>`` for any other code.

    No OKX code maps to ``OFF_TICK`` or ``BELOW_MIN_NOTIONAL``: the reference lists no
    dedicated tick-size code, and OKX spot has a minimum size (``minSz``, 51020) but no
    minimum notional.
    """
    row = _CODES.get(s_code)
    if row is not None and row[1]:
        return row[1]
    cls = row[0] if row is not None else OkxError
    return _REJECT_BY_CLASS.get(cls, f"OKX_{s_code}")
