"""ccxt exceptions -> arb's venue error tree, what to do about each, and arb's reject codes.

::

    arb.core.errors.VenueError   (venue, code, retryable)
      + CcxtError                any ccxt exception (.code = ccxt class name)    NONE
        - CcxtRateLimited        RateLimitExceeded, DDoSProtection               BACKOFF
        - CcxtUnavailable        ExchangeNotAvailable (OnMaintenance),
                                 BadResponse (NullResponse)                      BACKOFF
        - CcxtTransportError     NetworkError, RequestTimeout (not placing)      BACKOFF
        - CcxtOutcomeUnknown     NetworkError, RequestTimeout (placing)          QUERY_ORDER
        - CcxtNonceError         InvalidNonce                                    RESYNC_CLOCK_ONCE
        - CcxtAuthError          AuthenticationError, PermissionDenied,
                                 AccountSuspended, AccountNotEnabled             STOP
        - CcxtOrderRejected      InsufficientFunds, InvalidOrder (and subclasses),
                                 BadSymbol, BadRequest, OperationRejected        NONE
                                 (.reject: arb's code); a duplicate client id    QUERY_ORDER

``classify(exc, placing=...)`` builds the error of a ccxt exception (the nearest ccxt class in
its MRO decides; ``placing`` says whether it answered an order placement, where a network
failure leaves the order's existence unknown), ``should_retry(e)`` reads the action from one
table, like ``venues.okx.errors``. The tables are keyed by ccxt class *names*, so this module
is pure and tested without a network.

Reject codes (``arb.core.unwind.PERMANENT_REJECTS`` are those the same order would get
again): ``InsufficientFunds`` -> ``INSUFFICIENT_BALANCE``; ``BadSymbol`` -> ``UNKNOWN_SYMBOL``;
``ContractUnavailable`` / ``MarketClosed`` / ``RestrictedLocation`` ->
``UNSUPPORTED_INSTRUMENT``; ``InvalidOrder`` / ``BadRequest`` read the venue's message
(``reject_from_message``): ``BELOW_MIN_NOTIONAL``, ``OFF_LOT``, ``OFF_TICK``, ``BELOW_MIN_SIZE``
or ``DUPLICATE_CLIENT_ORDER_ID`` when it tells, else ``INVALID_ORDER``. ccxt maps OKX's 51016
"Duplicated clOrdId" to plain ``InvalidOrder``, hence the message rule for duplicates.
"""

from __future__ import annotations

import re

from arb.core.errors import RETRYABLE
from arb.core.errors import RetryAction
from arb.core.errors import VenueError

__all__ = [
    "CcxtAuthError",
    "CcxtError",
    "CcxtNonceError",
    "CcxtOrderRejected",
    "CcxtOutcomeUnknown",
    "CcxtRateLimited",
    "CcxtTransportError",
    "CcxtUnavailable",
    "RetryAction",
    "classify",
    "reject_from_message",
    "should_retry",
]


class CcxtError(VenueError):
    """A ccxt exception: ``code`` is its ccxt class name, ``reject`` arb's reject code."""

    default_reject = "VENUE_ERROR"

    def __init__(self, venue: str, ccxt_class: str, msg: str = "", reject: str = "") -> None:
        self.msg = msg
        self.reject = reject or self.default_reject
        super().__init__(f"{venue} {ccxt_class}: {msg or 'error'}", venue=venue, code=ccxt_class)
        self.retryable = should_retry(self) in RETRYABLE


class CcxtRateLimited(CcxtError):
    """The venue (or ccxt's own throttle) refused the request for its rate."""

    default_reject = "RATE_LIMITED"


class CcxtUnavailable(CcxtError):
    """The venue is down, in maintenance, busy, or answered garbage."""

    default_reject = "VENUE_BUSY"


class CcxtTransportError(CcxtError):
    """A request other than an order placement failed on the network or timed out."""

    default_reject = "VENUE_BUSY"


class CcxtOutcomeUnknown(CcxtError):
    """An order placement failed on the network or timed out: the order may exist."""

    default_reject = "OUTCOME_UNKNOWN"


class CcxtNonceError(CcxtError):
    """The request's nonce or timestamp was refused (clock skew)."""

    default_reject = "TIMESTAMP_REJECTED"


class CcxtAuthError(CcxtError):
    """Credentials, permissions or the account were refused: stop trading on this venue."""

    default_reject = "AUTH_REJECTED"


class CcxtOrderRejected(CcxtError):
    """The order itself was refused; ``reject`` is arb's venue-neutral code."""

    default_reject = "INVALID_ORDER"


# ccxt class name -> (our class, reject code or "" (read the message / the class default)).
_BY_CCXT: dict[str, tuple[type[CcxtError], str]] = {
    "RateLimitExceeded": (CcxtRateLimited, ""),
    "DDoSProtection": (CcxtRateLimited, ""),
    "OnMaintenance": (CcxtUnavailable, ""),
    "ExchangeNotAvailable": (CcxtUnavailable, ""),
    "BadResponse": (CcxtUnavailable, ""),
    "InvalidNonce": (CcxtNonceError, ""),
    "AuthenticationError": (CcxtAuthError, ""),
    "PermissionDenied": (CcxtAuthError, ""),
    "AccountSuspended": (CcxtAuthError, ""),
    "AccountNotEnabled": (CcxtAuthError, ""),
    "InsufficientFunds": (CcxtOrderRejected, "INSUFFICIENT_BALANCE"),
    "BadSymbol": (CcxtOrderRejected, "UNKNOWN_SYMBOL"),
    "ContractUnavailable": (CcxtOrderRejected, "UNSUPPORTED_INSTRUMENT"),
    "MarketClosed": (CcxtOrderRejected, "UNSUPPORTED_INSTRUMENT"),
    "RestrictedLocation": (CcxtOrderRejected, "UNSUPPORTED_INSTRUMENT"),
    "DuplicateOrderId": (CcxtOrderRejected, "DUPLICATE_CLIENT_ORDER_ID"),
    "OrderNotFound": (CcxtOrderRejected, "ORDER_NOT_FOUND"),
    "OrderImmediatelyFillable": (CcxtOrderRejected, "POST_ONLY_WOULD_TAKE"),
    "OrderNotFillable": (CcxtOrderRejected, "FOK_NOT_FILLABLE"),
    "InvalidOrder": (CcxtOrderRejected, ""),
    "BadRequest": (CcxtOrderRejected, ""),
    "OperationRejected": (CcxtOrderRejected, ""),
    "NotSupported": (CcxtError, "NOT_SUPPORTED"),
    "ExchangeError": (CcxtError, ""),
}
_NETWORK = frozenset({"NetworkError", "RequestTimeout"})

# The venue's own words, first match wins (notional before size: "minimum notional").
_MESSAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), code)
    for p, code in (
        (r"duplicat\w*\s+(client|clordid|clientorderid|order\s*id)", "DUPLICATE_CLIENT_ORDER_ID"),
        (r"notional|min(imum)?[ _]?cost|min_notional", "BELOW_MIN_NOTIONAL"),
        (r"lot[ _]?size|step[ _]?size|multiple of|amount precision", "OFF_LOT"),
        (r"tick[ _]?size|price[ _]?filter|price precision", "OFF_TICK"),
        (
            r"minimum|at least|too small|below the min|min(imum)? (order )?(amount|size|qty)",
            "BELOW_MIN_SIZE",
        ),
    )
)

_ACTION_BY_REJECT: dict[str, RetryAction] = {
    "DUPLICATE_CLIENT_ORDER_ID": RetryAction.QUERY_ORDER,
}
_ACTION_BY_CLASS: dict[type[CcxtError], RetryAction] = {
    CcxtRateLimited: RetryAction.BACKOFF,
    CcxtUnavailable: RetryAction.BACKOFF,
    CcxtTransportError: RetryAction.BACKOFF,
    CcxtOutcomeUnknown: RetryAction.QUERY_ORDER,
    CcxtNonceError: RetryAction.RESYNC_CLOCK_ONCE,
    CcxtAuthError: RetryAction.STOP,
    CcxtOrderRejected: RetryAction.NONE,
    CcxtError: RetryAction.NONE,
}


def reject_from_message(msg: str) -> str:
    """Return arb's reject code that the venue's message names, ``""`` when it names none.

    ccxt's own pre-flight check ("amount of BTC/USDT must be greater than minimum amount
    precision") names the lot; OKX's 51121 "multiple of the lot size", 51020 "minimum order
    amount"; Binance's "Filter failure: LOT_SIZE" / "PRICE_FILTER" / "NOTIONAL".
    """
    for pattern, code in _MESSAGE_RULES:
        if pattern.search(msg):
            return code
    return ""


def classify(exc: BaseException, venue: str, *, placing: bool = False) -> CcxtError:
    """Return the error for a ccxt exception ``exc`` raised by a request to ``venue``.

    The nearest ccxt class in ``type(exc).__mro__`` that the table knows decides. A network
    failure (``NetworkError``, ``RequestTimeout``) is ``CcxtOutcomeUnknown`` when ``placing``
    an order, else ``CcxtTransportError``. An exception that is not ccxt's is a plain
    ``CcxtError`` (final).
    """
    msg = str(exc)
    for cls in type(exc).__mro__:
        name = cls.__name__
        if name in _NETWORK:
            ours: type[CcxtError] = CcxtOutcomeUnknown if placing else CcxtTransportError
            return ours(venue, type(exc).__name__, msg)
        row = _BY_CCXT.get(name)
        if row is not None:
            ours, reject = row
            if not reject and ours is CcxtOrderRejected:
                reject = reject_from_message(msg)
            return ours(venue, type(exc).__name__, msg, reject)
    return CcxtError(venue, type(exc).__name__, msg)


def should_retry(e: CcxtError) -> RetryAction:
    """Return what to do after ``e``: a per-reject override, else by class (nearest first)."""
    action = _ACTION_BY_REJECT.get(e.reject)
    if action is not None:
        return action
    for cls in type(e).__mro__:
        action = _ACTION_BY_CLASS.get(cls)
        if action is not None:
            return action
    return RetryAction.NONE  # pragma: no cover - CcxtError is always in the MRO
