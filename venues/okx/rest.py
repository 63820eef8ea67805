"""Native OKX v5 REST client: one aiohttp session, signed requests, typed answers, retries.

Every request goes through ``OkxRateLimiter`` first (the client waits instead of being told
50011), is signed over the exact bytes it sends (``venues.okx.signer``), and its answer is
decoded with a msgspec decoder built once per answer type. Errors become the typed tree of
``venues.okx.errors`` and are acted on by its retry table:

- rate limited (50011, 50061, HTTP 429), busy (50001, 50013): back off with jitter and retry;
- outcome unknown (50004, 51149, ...) on a place: query the order by ``clOrdId`` before
  anything else (a retry of the same ``clOrdId`` is never doubled: 51016);
- timestamp expired or invalid (50102, 50112): resync the clock offset with
  ``public/time`` and retry once;
- authentication (50100-50120): stop, never retry.

Time comes from the injected clock (plus the measured server offset), sleeping from the
injected ``sleep``: tests drive both. Credentials are never logged or put in an exception.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TypeVar
from urllib.parse import quote
from urllib.parse import urlencode

import aiohttp
import msgspec
from yarl import URL

from venues.okx.credentials import OkxCredentials
from venues.okx.errors import OkxError
from venues.okx.errors import OkxOutcomeUnknown
from venues.okx.errors import RetryAction
from venues.okx.errors import classify
from venues.okx.errors import should_retry
from venues.okx.ratelimit import OkxRateLimiter
from venues.okx.rest_schemas import OkxAccountConfigMsg
from venues.okx.rest_schemas import OkxBalanceMsg
from venues.okx.rest_schemas import OkxBillMsg
from venues.okx.rest_schemas import OkxEnvelope
from venues.okx.rest_schemas import OkxFillMsg
from venues.okx.rest_schemas import OkxFundingRateMsg
from venues.okx.rest_schemas import OkxMarkPriceMsg
from venues.okx.rest_schemas import OkxOrderAckMsg
from venues.okx.rest_schemas import OkxOrderMsg
from venues.okx.rest_schemas import OkxTickerMsg
from venues.okx.rest_schemas import OkxTimeMsg
from venues.okx.rest_schemas import OkxTradeFeeMsg
from venues.okx.schemas import OkxBookRestDataMsg
from venues.okx.schemas import OkxInstrumentMsg
from venues.okx.signer import build_request

__all__ = ["DEFAULT_BASE_URL", "OkxRestClient"]

DEFAULT_BASE_URL = "https://www.okx.com"
MAX_BATCH = 20
CANDLE_BARS = frozenset(
    {"1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "1W", "1M"}
)
T = TypeVar("T")
Candle = list[str]


class OkxRestClient:
    """Async OKX v5 REST client. Use as ``async with OkxRestClient(...) as c:``.

    ``credentials`` may be ``None`` for public endpoints only. ``session`` may be injected
    (tests, shared connection pools); otherwise one is created and closed with the client.
    """

    def __init__(
        self,
        credentials: OkxCredentials | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        max_retries: int = 4,
        backoff_s: float = 0.2,
        timeout_s: float = 10.0,
    ) -> None:
        self._creds = credentials
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None
        self._clock = clock_ns
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter, not cryptography
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.offset_ns = 0
        """Server time minus local time, measured by ``sync_clock``."""
        self.limiter = OkxRateLimiter(self._now, sleep)
        self.retries = 0
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}

    async def __aenter__(self) -> OkxRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:
        return f"OkxRestClient(base_url={self.base_url!r}, credentials={self._creds!r})"

    def _now(self) -> int:
        return self._clock() + self.offset_ns

    def _session_(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _decoder(self, item: type[T]) -> msgspec.json.Decoder[OkxEnvelope[T]]:
        dec = self._decoders.get(item)
        if dec is None:
            dec = self._decoders[item] = msgspec.json.Decoder(OkxEnvelope[item])  # type: ignore[valid-type]
        return dec

    # -- the request path ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        item: type[T],
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        private: bool = True,
        inst_id: str = "",
        n: int = 1,
        items_ok: bool = False,
    ) -> list[T]:
        """One API call with rate limiting, signing, decoding and the retry table.

        ``items_ok``: a top-level code 1/2 with per-item ``sCode`` is returned (batches).
        """
        resynced = False
        attempt = 0
        while True:
            await self.limiter.acquire(method, path, inst_id, n)
            status, raw = await self._send(method, path, params, body, private)
            try:
                env = self._decoder(item).decode(raw)
            except msgspec.DecodeError as e:
                why = f"undecodable answer (HTTP {status}): {e}"
                # a POST may have done its work before the answer broke: its outcome is unknown
                err: OkxError = (
                    OkxOutcomeUnknown("", why) if method == "POST" else OkxError("", why)
                )
            else:
                if env.code == "0" or (items_ok and env.code in ("1", "2")):
                    return env.data
                err = classify(env.code, status, env.msg)
            action = should_retry(err)
            if action is RetryAction.BACKOFF and attempt < self.max_retries:
                attempt += 1
                self.retries += 1
                await self._sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + self._rng.random()))
                continue
            if action is RetryAction.RESYNC_CLOCK_ONCE and not resynced and path != _TIME:
                resynced = True
                self.retries += 1
                await self.sync_clock()
                continue
            raise err

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        private: bool,
    ) -> tuple[int, bytes]:
        if private:
            if self._creds is None:
                raise classify("50103", None, f"{path} needs credentials; none were given")
            req = build_request(
                self._creds, method, path, params, body, self._now(), demo=self._creds.demo
            )
            url, data, headers = req.request_path, req.body, dict(req.headers)
        else:
            query = urlencode(params, quote_via=quote) if params else ""
            url, data, headers = path + ("?" + query if query else ""), b"", {}
        session = self._session_()
        async with session.request(
            method, URL(self.base_url + url, encoded=True), data=data or None, headers=headers
        ) as resp:
            return resp.status, await resp.read()

    # -- public -------------------------------------------------------------------------------

    async def raw_get(
        self, path: str, params: Mapping[str, str] | None = None, *, private: bool = False
    ) -> bytes:
        """The raw body of a GET, byte for byte (for codecs that parse REST answers themselves
        and for recordings). Rate-limited like any call; raises the typed error of a non-zero
        ``code``."""
        await self.limiter.acquire("GET", path)
        status, raw = await self._send("GET", path, params, None, private)
        try:
            env = self._decoder(msgspec.Raw).decode(raw)
        except msgspec.DecodeError as e:
            raise OkxError("", f"undecodable answer (HTTP {status}): {e}") from e
        if env.code != "0":
            raise classify(env.code, status, env.msg)
        return raw

    async def server_time(self) -> int:
        """Server time in Unix ms."""
        (t,) = await self._call("GET", _TIME, OkxTimeMsg, private=False)
        return int(t.ts)

    async def sync_clock(self) -> int:
        """Measure server minus local time (ns, round-trip midpoint) and use it from now on."""
        before = self._clock()
        server_ms = await self.server_time()
        after = self._clock()
        self.offset_ns = server_ms * 1_000_000 - (before + after) // 2
        return self.offset_ns

    async def instruments(self, inst_type: str, inst_id: str = "") -> list[OkxInstrumentMsg]:
        params = {"instType": inst_type} | ({"instId": inst_id} if inst_id else {})
        return await self._call(
            "GET", "/api/v5/public/instruments", OkxInstrumentMsg, params=params, private=False
        )

    async def books(self, inst_id: str, depth: int = 400) -> OkxBookRestDataMsg:
        (book,) = await self._call(
            "GET",
            "/api/v5/market/books",
            OkxBookRestDataMsg,
            params={"instId": inst_id, "sz": str(depth)},
            private=False,
        )
        return book

    async def tickers(self, inst_type: str = "SPOT") -> list[OkxTickerMsg]:
        return await self._call(
            "GET", "/api/v5/market/tickers", OkxTickerMsg, params={"instType": inst_type},
            private=False,
        )  # fmt: skip

    async def candles(self, inst_id: str, bar: str = "1m", limit: int = 100) -> list[Candle]:
        """Rows ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``, newest first."""
        if bar not in CANDLE_BARS:
            raise ValueError(f"bar {bar!r} is not one of {sorted(CANDLE_BARS)}")
        params = {"instId": inst_id, "bar": bar, "limit": str(limit)}
        return await self._call(
            "GET", "/api/v5/market/candles", Candle, params=params, private=False
        )

    async def funding_rate(self, inst_id: str) -> OkxFundingRateMsg:
        (fr,) = await self._call(
            "GET", "/api/v5/public/funding-rate", OkxFundingRateMsg,
            params={"instId": inst_id}, private=False, inst_id=inst_id,
        )  # fmt: skip
        return fr

    async def mark_price(self, inst_type: str, inst_id: str = "") -> list[OkxMarkPriceMsg]:
        params = {"instType": inst_type} | ({"instId": inst_id} if inst_id else {})
        return await self._call(
            "GET", "/api/v5/public/mark-price", OkxMarkPriceMsg, params=params,
            private=False, inst_id=inst_id,
        )  # fmt: skip

    # -- account ------------------------------------------------------------------------------

    async def balance(self, ccys: Sequence[str] = ()) -> OkxBalanceMsg:
        params = {"ccy": ",".join(ccys)} if ccys else None
        data = await self._call("GET", "/api/v5/account/balance", OkxBalanceMsg, params=params)
        return data[0] if data else OkxBalanceMsg()

    async def account_config(self) -> OkxAccountConfigMsg:
        (cfg,) = await self._call("GET", "/api/v5/account/config", OkxAccountConfigMsg)
        return cfg

    async def trade_fee(self, inst_type: str, inst_id: str = "") -> OkxTradeFeeMsg:
        params = {"instType": inst_type} | ({"instId": inst_id} if inst_id else {})
        (fee,) = await self._call("GET", "/api/v5/account/trade-fee", OkxTradeFeeMsg, params=params)
        return fee

    async def bills(self, **params: str) -> list[OkxBillMsg]:
        return await self._call("GET", "/api/v5/account/bills", OkxBillMsg, params=params)

    # -- trading ------------------------------------------------------------------------------

    async def place_order(self, order: Mapping[str, str]) -> OkxOrderAckMsg:
        """Place one order (``instId``, ``tdMode``, ``side``, ``ordType``, ``sz``, ``px``,
        ``clOrdId``...). A rejected order raises its typed error (``sCode``). When the outcome
        is unknown, the order is looked up by ``clOrdId`` before anything else."""
        inst_id = order["instId"]
        try:
            (ack,) = await self._call(
                "POST", "/api/v5/trade/order", OkxOrderAckMsg, body=dict(order),
                inst_id=inst_id, items_ok=True,
            )  # fmt: skip
        except OkxError as e:
            return await self._recover(e, inst_id, order.get("clOrdId", ""))
        if ack.sCode != "0":
            return await self._recover(classify(ack.sCode, None, ack.sMsg), inst_id, ack.clOrdId)
        return ack

    async def _recover(self, e: OkxError, inst_id: str, cl_ord_id: str) -> OkxOrderAckMsg:
        # Outcome unknown, or the clOrdId already exists (an earlier send of this very order
        # arrived): ask for the order by its clOrdId before anything else.
        if should_retry(e) is not RetryAction.QUERY_ORDER or not cl_ord_id:
            raise e
        found = await self.get_order(inst_id, cl_ord_id=cl_ord_id)
        return OkxOrderAckMsg(sCode="0", ordId=found.ordId, clOrdId=cl_ord_id)

    async def place_orders(self, orders: Sequence[Mapping[str, str]]) -> list[OkxOrderAckMsg]:
        """Batch place (<= 20). Returns every item's ack; check ``sCode`` per item."""
        if not 1 <= len(orders) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1..{MAX_BATCH} orders, received {len(orders)}")
        return await self._call(
            "POST", "/api/v5/trade/batch-orders", OkxOrderAckMsg,
            body=[dict(o) for o in orders], inst_id=orders[0]["instId"], n=len(orders),
            items_ok=True,
        )  # fmt: skip

    async def cancel_order(
        self, inst_id: str, *, ord_id: str = "", cl_ord_id: str = ""
    ) -> OkxOrderAckMsg:
        body = {"instId": inst_id} | _order_ref(ord_id, cl_ord_id)
        (ack,) = await self._call(
            "POST", "/api/v5/trade/cancel-order", OkxOrderAckMsg, body=body, inst_id=inst_id,
            items_ok=True,
        )  # fmt: skip
        if ack.sCode != "0":
            raise classify(ack.sCode, None, ack.sMsg)
        return ack

    async def cancel_orders(self, refs: Sequence[Mapping[str, str]]) -> list[OkxOrderAckMsg]:
        """Batch cancel (<= 20): each ref has ``instId`` and ``ordId`` or ``clOrdId``."""
        if not 1 <= len(refs) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1..{MAX_BATCH} cancels, received {len(refs)}")
        return await self._call(
            "POST", "/api/v5/trade/cancel-batch-orders", OkxOrderAckMsg,
            body=[dict(r) for r in refs], inst_id=refs[0]["instId"], n=len(refs), items_ok=True,
        )  # fmt: skip

    async def amend_order(
        self,
        inst_id: str,
        *,
        ord_id: str = "",
        cl_ord_id: str = "",
        new_sz: str = "",
        new_px: str = "",
    ) -> OkxOrderAckMsg:
        if not (new_sz or new_px):
            raise ValueError("amend needs new_sz or new_px")
        body = {"instId": inst_id} | _order_ref(ord_id, cl_ord_id)
        body |= ({"newSz": new_sz} if new_sz else {}) | ({"newPx": new_px} if new_px else {})
        (ack,) = await self._call(
            "POST", "/api/v5/trade/amend-order", OkxOrderAckMsg, body=body, inst_id=inst_id,
            items_ok=True,
        )  # fmt: skip
        if ack.sCode != "0":
            raise classify(ack.sCode, None, ack.sMsg)
        return ack

    async def get_order(
        self, inst_id: str, *, ord_id: str = "", cl_ord_id: str = ""
    ) -> OkxOrderMsg:
        params = {"instId": inst_id} | _order_ref(ord_id, cl_ord_id)
        (order,) = await self._call(
            "GET", "/api/v5/trade/order", OkxOrderMsg, params=params, inst_id=inst_id
        )
        return order

    async def pending_orders(self, inst_type: str = "SPOT") -> list[OkxOrderMsg]:
        return await self._call(
            "GET", "/api/v5/trade/orders-pending", OkxOrderMsg, params={"instType": inst_type}
        )

    async def fills(self, inst_type: str = "SPOT", **params: str) -> list[OkxFillMsg]:
        """Recent fills (3 days: ``trade/fills``)."""
        return await self._call(
            "GET", "/api/v5/trade/fills", OkxFillMsg, params={"instType": inst_type} | params
        )

    async def fills_history(self, inst_type: str = "SPOT", **params: str) -> list[OkxFillMsg]:
        """Fills of the last 3 months (``trade/fills-history``)."""
        return await self._call(
            "GET", "/api/v5/trade/fills-history", OkxFillMsg,
            params={"instType": inst_type} | params,
        )  # fmt: skip


_TIME = "/api/v5/public/time"


def _order_ref(ord_id: str, cl_ord_id: str) -> dict[str, str]:
    if ord_id:
        return {"ordId": ord_id}
    if cl_ord_id:
        return {"clOrdId": cl_ord_id}
    raise ValueError("give ord_id or cl_ord_id")
