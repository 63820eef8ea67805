"""OKX v5 request signing: REST headers, the WebSocket login, and one signed request.

The signature (reference §1.1, v5 docs "REST Authentication")::

    OK-ACCESS-SIGN = Base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))

- ``timestamp``: REST uses ISO 8601 UTC with exactly three fractional digits and ``Z``
  (``2020-12-08T09:08:57.715Z``), the same string as the ``OK-ACCESS-TIMESTAMP`` header. The
  WebSocket ``login`` op alone uses Unix *seconds* (reference §2.3).
- ``requestPath`` includes the query string exactly as it is sent (``?ccy=BTC``); GET has no body.
- ``body`` is the exact JSON text sent. Nothing is sorted: the signature covers bytes, so the
  query is encoded once, in the caller's order, and the body is serialized once; those same
  bytes are signed and sent (``build_request``). Letting the HTTP library re-encode either
  (``json=``, URL normalisation) breaks the signature (50113).

A widely copied tutorial signs Unix seconds and alphabetically sorted parameters: both give a
different signature from the one OKX computes (``tests/unit/test_okx_signer.py`` shows it).

Everything here is pure: time comes in as an argument (``now_ns``, ``unix_seconds``).
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import msgspec
import orjson

if TYPE_CHECKING:
    from venues.okx.credentials import OkxCredentials

__all__ = [
    "WS_LOGIN_PATH",
    "SignedRequest",
    "build_request",
    "rest_headers",
    "rest_timestamp",
    "sign",
    "ws_login_args",
]

WS_LOGIN_PATH = "/users/self/verify"
"""The fixed request path of the WebSocket login prehash (method always ``GET``, no body)."""

_NS_PER_MS = 1_000_000


def sign(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """Return the Base64 HMAC-SHA256 of ``timestamp + METHOD + request_path + body``.

    ``method`` is upper-cased; ``request_path`` includes the query string as sent; ``body`` is
    the exact JSON text sent ("" for GET). The result is 44 characters ending in ``=``.
    """
    prehash = f"{timestamp}{method.upper()}{request_path}{body}".encode()
    return _b64_hmac(secret, prehash)


def _b64_hmac(secret: str, prehash: bytes) -> str:
    # One-shot OpenSSL HMAC: no HMAC object is built per call.
    return base64.b64encode(hmac.digest(secret.encode(), prehash, "sha256")).decode("ascii")


@lru_cache(maxsize=8)
def _second_prefix(unix_seconds: int) -> str:
    # "YYYY-MM-DDTHH:MM:SS" of one UTC second; requests of one second share it.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(unix_seconds))


def rest_timestamp(now_ns: int) -> str:
    """Return the REST ``OK-ACCESS-TIMESTAMP`` for ``now_ns`` (Unix ns, UTC).

    ISO 8601 UTC, milliseconds truncated and zero-padded to three digits, suffix ``Z``:
    ``rest_timestamp(1607418537715000000) == "2020-12-08T09:08:57.715Z"``. Pure: it reads no
    clock. Raises ``ValueError`` for a time before 1970.
    """
    if now_ns < 0:
        raise ValueError(f"now_ns must be >= 0 (Unix time in ns); received {now_ns}")
    seconds, ms = divmod(now_ns // _NS_PER_MS, 1000)
    return f"{_second_prefix(seconds)}.{ms:03d}Z"


def ws_login_args(api_key: str, passphrase: str, secret: str, unix_seconds: int) -> dict[str, str]:
    """Return the ``args[0]`` of the WebSocket ``login`` op.

    Send as ``{"op": "login", "args": [ws_login_args(...)]}`` on ``/ws/v5/private``. The
    timestamp is Unix **seconds** as a string; the prehash is
    ``timestamp + "GET" + "/users/self/verify"``. OKX refuses it 30 s after ``unix_seconds``.
    """
    timestamp = str(unix_seconds)
    return {
        "apiKey": api_key,
        "passphrase": passphrase,
        "timestamp": timestamp,
        "sign": sign(secret, timestamp, "GET", WS_LOGIN_PATH),
    }


def rest_headers(
    creds: OkxCredentials,
    timestamp: str,
    method: str,
    request_path: str,
    body: str,
    *,
    demo: bool,
) -> dict[str, str]:
    """Return the authenticated REST headers for one request.

    ``OK-ACCESS-KEY``, ``-SIGN``, ``-TIMESTAMP``, ``-PASSPHRASE``, ``Content-Type:
    application/json`` (always: a body with another type is answered 50006), and
    ``x-simulated-trading: 1`` when ``demo`` (Demo Trading is chosen by this header alone).
    """
    return _headers(
        creds, timestamp, sign(creds.secret, timestamp, method, request_path, body), demo
    )


def _headers(creds: OkxCredentials, timestamp: str, signature: str, demo: bool) -> dict[str, str]:
    headers = {
        "OK-ACCESS-KEY": creds.api_key,
        "OK-ACCESS-SIGN": signature,
        "OK-ACCESS-TIMESTAMP": timestamp,
        "OK-ACCESS-PASSPHRASE": creds.passphrase,
        "Content-Type": "application/json",
    }
    if demo:
        headers["x-simulated-trading"] = "1"
    return headers


class SignedRequest(msgspec.Struct, frozen=True, gc=False):
    """One request ready to send: send ``body`` and ``request_path`` as they are, byte for byte.

    ``request_path`` is the path with its query string (append it to the base URL without
    re-encoding, e.g. ``yarl.URL(base + request_path, encoded=True)``); ``body`` the JSON bytes
    that were signed (``b""`` for GET). The ``repr`` hides the passphrase header.
    """

    method: str
    request_path: str
    body: bytes
    headers: dict[str, str]

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "OK-ACCESS-PASSPHRASE" else v) for k, v in self.headers.items()}
        return (
            f"SignedRequest(method={self.method!r}, request_path={self.request_path!r}, "
            f"body={self.body!r}, headers={shown!r})"
        )

    __str__ = __repr__


def build_request(
    creds: OkxCredentials,
    method: str,
    path: str,
    params: Mapping[str, str | int] | None,
    body_obj: Any | None,
    now_ns: int,
    *,
    demo: bool,
) -> SignedRequest:
    """Encode, serialize and sign one REST request.

    - ``params`` become the query string, percent-encoded once (``ccy=BTC%2CETH``), in the
      caller's order (never sorted), and are part of the signed ``request_path``;
    - ``body_obj`` (POST) is serialized once with orjson (compact, insertion order) and those
      bytes are both signed and returned to be sent; ``None`` gives an empty body;
    - GET takes no body: a ``body_obj`` with GET raises ``ValueError``, as does a ``path``
      that already carries a query string when ``params`` are given.

    The timestamp is ``rest_timestamp(now_ns)``.
    """
    method = method.upper()
    request_path = path
    if params:
        if "?" in path:
            raise ValueError(f"{path!r} already has a query string; pass params or the query")
        request_path = f"{path}?{urlencode(params, quote_via=quote)}"
    if body_obj is None:
        body = b""
    elif method == "GET":
        raise ValueError(f"GET {path} takes no body; pass the parameters as params")
    else:
        body = orjson.dumps(body_obj)
    timestamp = rest_timestamp(now_ns)
    # The prehash ends with the body bytes themselves: the signed bytes are the sent bytes.
    signature = _b64_hmac(creds.secret, f"{timestamp}{method}{request_path}".encode() + body)
    return SignedRequest(method, request_path, body, _headers(creds, timestamp, signature, demo))
