"""One live link per configured venue: its instruments, its market data, its order transport.

A link turns a ``[[venues]]`` entry into what the engine needs, whatever the venue is:

- ``instruments``: from the venue itself at start (OKX ``public/instruments``, ccxt
  ``load_markets``), for the config's pairs on that venue only;
- market data: raw frames handed to ``on_frame(ts, venue, conn, kind, payload)``, exactly the
  frames a recording holds, so that the engine runs the same codec path live and in replay.
  Native OKX: the public WebSocket's frames (``books`` and ``trades``), kind ``<``. ccxt: each
  checked ``watch_order_book`` (or polled) book, written as one normalized ``snap`` frame
  (kind ``n``, ``venues.normalized.encode.snapshot_frame``) with its own contiguous sequence;
- ``execution``: the order transport. Live: ``OkxVenue`` (REST orders + private WebSocket
  ``orders``/``account``) or ``CcxtVenue``; paper: a ``SimVenue`` matching against the same live
  books (``[venues.sim]`` latencies and balances);
- ``resync(symbol, channel)``: a book failed a check: ask the venue for a fresh snapshot (OKX:
  resubscribe the channel, OKX answers with a snapshot; ccxt: every frame is a snapshot).

Credentials come from the environment only (``VenueConfig.env_prefix``) and are needed in live
mode only; paper mode reads public data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import Protocol

import aiohttp
import msgspec

from arb.config import Config
from arb.config import VenueConfig
from arb.core.errors import ConfigError
from arb.core.instruments import Instrument
from arb.core.money import bps_to_ppm
from arb.ports import ExecutionVenue
from arb.record import DEFAULT_WS_PUBLIC_URL
from arb.record import okx_instruments
from arb.recording import Kind
from venues.ccxt.books import POLL_CHANNEL
from venues.ccxt.books import WATCH_CHANNEL
from venues.ccxt.books import CcxtBookFeed
from venues.ccxt.factory import load_ccxt_credentials
from venues.ccxt.factory import make_exchange
from venues.ccxt.instruments import instruments_from_markets
from venues.ccxt.venue import CCXT_ERROR
from venues.ccxt.venue import CcxtVenue
from venues.ccxt.venue import FeeRates
from venues.live import LiveVenue
from venues.normalized.encode import snapshot_frame
from venues.okx.credentials import OkxCredentials
from venues.okx.credentials import load_credentials
from venues.okx.errors import OkxError
from venues.okx.keys import judge
from venues.okx.rest import DEFAULT_BASE_URL
from venues.okx.rest import OkxRestClient
from venues.okx.signer import ws_login_args
from venues.okx.symbols import to_venue_symbol
from venues.okx.venue import VENUE as OKX_VENUE
from venues.okx.venue import OkxVenue
from venues.okx.venue import fee_ppm
from venues.okx.ws import OkxWsClient
from venues.sim.config import SimVenueConfig
from venues.sim.venue import SimVenue

__all__ = ["CcxtLink", "FrameSink", "Link", "OkxLink", "build_links", "symbols_of"]

log = logging.getLogger("arb.live")

FrameSink = Callable[[int, str, str, str, bytes], None]
"""``(ts_recv ns, venue, conn, kind, payload)``: one frame for the engine (and the recorder)."""
RecordSink = Callable[[int, str, str, str, bytes], None]

OKX_CHANNELS = ("books", "trades")


class Link(Protocol):
    venue_id: str
    instruments: list[Instrument]
    execution: ExecutionVenue | None
    last_frame_ns: int
    messages: int
    venue_fees_ppm: tuple[int, int] | None

    async def open(self) -> None: ...
    async def run(self, stop: asyncio.Event) -> None: ...
    def resync(self, symbol: str, channel: str) -> None: ...
    async def close(self) -> None: ...
    def rate_limit_waits(self) -> int: ...


def symbols_of(cfg: Config, venue_id: str) -> list[str]:
    """The config's pair symbols traded on ``venue_id``, in config order."""
    return list(dict.fromkeys(p.symbol for p in cfg.pairs if venue_id in p.venues))


def _sim_venue(v: VenueConfig, insts: list[Instrument], where: str) -> SimVenue:
    sim = v.sim if v.sim is not None else SimVenueConfig()
    if not sim.balances:
        raise ConfigError(f"{where}: [venues.sim] balances: paper mode needs starting balances")
    sim = msgspec.structs.replace(
        sim, taker_fee_ppm=bps_to_ppm(v.taker_fee_bps), maker_fee_ppm=bps_to_ppm(v.maker_fee_bps)
    )
    return SimVenue(v.id, insts, sim)


class _Counted:
    """Frame counting and the feed clock shared by the links."""

    def __init__(self, v: VenueConfig, on_frame: FrameSink) -> None:
        self.venue_id = v.id
        self.cfg = v
        self._sink = on_frame
        self.last_frame_ns = 0
        self.messages = 0
        self.venue_fees_ppm: tuple[int, int] | None = None
        """(taker, maker) ppm the venue says this account pays (live mode), when it can tell:
        the highest over the traded symbols. ``None``: the config's fees stand."""

    def _frame(self, ts: int, conn: str, kind: str, payload: bytes) -> None:
        self.last_frame_ns = ts
        self.messages += 1
        self._sink(ts, self.venue_id, conn, kind, payload)


class OkxLink(_Counted):
    """Native OKX: REST instruments and orders, public WebSocket books and trades, private
    WebSocket orders and account (live mode). The venue id must be ``okx``."""

    def __init__(
        self,
        v: VenueConfig,
        symbols: list[str],
        *,
        paper: bool,
        clock_ns: Callable[[], int],
        on_frame: FrameSink,
        record: RecordSink | None,
        env: Mapping[str, str],
        where: str,
    ) -> None:
        super().__init__(v, on_frame)
        if v.id != OKX_VENUE:
            raise ConfigError(
                f'{where}: venues: a kind = "okx" venue must have id = "okx" (a second OKX '
                'account goes through kind = "ccxt", exchange = "okx")'
            )
        for s in symbols:
            try:
                to_venue_symbol(s)
            except ValueError as e:
                raise ConfigError(f"{where}: pairs: {v.id}: {e}") from e
        self.symbols = symbols
        self.paper = paper
        self.where = where
        self._clock = clock_ns
        self._record = record
        self.creds: OkxCredentials | None = None
        if not paper:
            self.creds = load_credentials(env, prefix=v.env_prefix)
        self.rest = OkxRestClient(
            self.creds, base_url=v.rest_url or DEFAULT_BASE_URL, clock_ns=clock_ns
        )
        self.instruments: list[Instrument] = []
        self.execution: ExecutionVenue | None = None
        self.public: OkxWsClient | None = None
        self.private: OkxWsClient | None = None

    @property
    def ws_url(self) -> str:
        return self.cfg.ws_url or DEFAULT_WS_PUBLIC_URL

    def _recorder(self, ts: int, conn: str, kind: str, payload: bytes) -> None:
        if self._record is not None:
            self._record(ts, self.venue_id, conn, kind, payload)

    async def open(self) -> None:
        """Clock offset, key check (live), instruments, balances; nothing is traded yet."""
        await self.rest.sync_clock()
        if self.creds is not None:
            verdict = judge(await self.rest.account_config())
            for w in verdict.warnings:
                log.warning("okx key: %s", w, extra={"venue": self.venue_id})
            if not verdict.ok:
                raise ConfigError(
                    f"{self.where}: venue okx: key refused: {'; '.join(verdict.problems)}"
                )
        found = await okx_instruments(self.rest, self.symbols, self._recorder, self._clock)
        missing = [s for s in self.symbols if s not in found]
        if missing:
            raise ConfigError(f"{self.where}: venue okx does not list {', '.join(missing)}")
        self.instruments = [found[s] for s in self.symbols]
        if self.paper:
            self.execution = _sim_venue(self.cfg, self.instruments, self.where)
        else:
            venue = OkxVenue(self.rest, self.instruments, clock_ns=self._clock)
            await venue.refresh_balances()
            self.execution = venue
            try:
                self.venue_fees_ppm = fee_ppm(await self.rest.trade_fee("SPOT"))
            except (OkxError, aiohttp.ClientError, TimeoutError) as e:
                log.warning("okx: trade fee not available (%r): config fees stand", e)

    async def run(self, stop: asyncio.Event) -> None:
        self.public = OkxWsClient(
            self.ws_url,
            clock_ns=self._clock,
            on_frame=lambda ts, payload: self._frame(ts, "/ws/v5/public", Kind.RECV, payload),
        )
        await self.public.subscribe(
            [
                {"channel": c, "instId": i.venue_symbol}
                for i in self.instruments
                for c in OKX_CHANNELS
            ]
        )
        runs = [self.public.run(stop)]
        if isinstance(self.execution, OkxVenue) and self.creds is not None:
            creds = self.creds
            self.private = OkxWsClient(
                self.ws_url.replace("/public", "/private"),
                clock_ns=self._clock,
                on_frame=self.execution.on_private_frame,
                login=lambda: ws_login_args(
                    creds.api_key, creds.passphrase, creds.secret, self._clock() // 10**9
                ),
            )
            await self.private.subscribe(
                [{"channel": "orders", "instType": "SPOT"}, {"channel": "account"}]
            )
            runs.append(self.private.run(stop))
        await asyncio.gather(*runs)

    def resync(self, symbol: str, channel: str) -> None:
        if self.public is None:
            return
        inst_id = next((i.venue_symbol for i in self.instruments if i.symbol == symbol), "")
        if not inst_id:
            return
        log.warning("book %s %s failed a check: resubscribing", self.venue_id, symbol)
        task = asyncio.get_running_loop().create_task(
            self.public.resubscribe([{"channel": channel, "instId": inst_id}])
        )
        _keep(task)

    def rate_limit_waits(self) -> int:
        return int(getattr(self.rest.limiter, "waits", 0))

    async def close(self) -> None:
        if isinstance(self.execution, LiveVenue):
            await self.execution.wait_idle()
        await self.rest.close()


class CcxtLink(_Counted):
    """Any ccxt exchange: ``load_markets`` instruments, ``watch_order_book`` (or polled)
    books as normalized frames, ``CcxtVenue`` orders (live mode)."""

    def __init__(
        self,
        v: VenueConfig,
        symbols: list[str],
        *,
        paper: bool,
        clock_ns: Callable[[], int],
        on_frame: FrameSink,
        env: Mapping[str, str],
        where: str,
    ) -> None:
        super().__init__(v, on_frame)
        self.symbols = symbols
        self.paper = paper
        self.where = where
        self._clock = clock_ns
        creds = {} if paper else load_ccxt_credentials(v.env_prefix, env)
        if not paper and not creds:
            raise ConfigError(
                f"{where}: venue {v.id}: no credentials in the environment "
                f"({v.env_prefix}API_KEY / {v.env_prefix}SECRET_KEY); paper mode needs none"
            )
        self.exchange: Any = make_exchange(v, credentials=creds)
        self.instruments: list[Instrument] = []
        self.execution: ExecutionVenue | None = None
        self.feed: CcxtBookFeed | None = None
        poll = (v.poll_interval_ms or 1000) / 1000
        self.poll_interval_s = poll

    async def open(self) -> None:
        markets = await self.exchange.load_markets()
        insts = instruments_from_markets(self.venue_id, markets, self.exchange.precisionMode)
        by_symbol = {i.symbol: i for i in insts}
        missing = [s for s in self.symbols if s not in by_symbol]
        if missing:
            raise ConfigError(
                f"{self.where}: venue {self.venue_id} ({self.cfg.exchange}) does not list "
                f"{', '.join(missing)}"
            )
        self.instruments = [by_symbol[s] for s in self.symbols]
        self.feed = CcxtBookFeed(
            self.exchange,
            self.instruments,
            clock_ns=self._clock,
            depth=self.cfg.book_depth,
            poll_interval_s=self.poll_interval_s,
        )
        if self.paper:
            self.execution = _sim_venue(self.cfg, self.instruments, self.where)
            return
        fees = FeeRates(bps_to_ppm(self.cfg.taker_fee_bps), bps_to_ppm(self.cfg.maker_fee_bps))
        venue = CcxtVenue(
            self.exchange,
            self.venue_id,
            self.instruments,
            clock_ns=self._clock,
            fees=fees,
            poll_interval_s=self.poll_interval_s,
        )
        await venue.refresh_balances()
        try:
            rates = [r for r in (await venue.refresh_fees()).values() if r.source == "venue"]
        except CCXT_ERROR as e:
            log.warning("%s: trading fees not available (%r): config fees stand", self.venue_id, e)
            rates = []
        if rates:
            self.venue_fees_ppm = (max(r.taker_ppm for r in rates), max(r.maker_ppm for r in rates))
        await venue.start()
        self.execution = venue

    async def _books(self, inst: Instrument, stop: asyncio.Event) -> None:
        assert self.feed is not None  # noqa: S101 - set by open()
        conn = WATCH_CHANNEL if self.feed.watching else POLL_CHANNEL
        seq = 0
        async for snap in self.feed.books(inst.symbol):
            if stop.is_set():
                return
            seq += 1
            self._frame(snap.ts_recv, conn, Kind.NORMALIZED, snapshot_frame(snap, inst, seq))

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.ensure_future(self._books(i, stop)) for i in self.instruments]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    def resync(self, symbol: str, channel: str) -> None:
        """Every ccxt frame is a whole (checked) book: the next one replaces the failed one."""

    def rate_limit_waits(self) -> int:
        return 0

    async def close(self) -> None:
        if isinstance(self.execution, CcxtVenue):
            await self.execution.close()
        with contextlib.suppress(Exception):
            await self.exchange.close()


_TASKS: set[asyncio.Task[Any]] = set()


def _keep(task: asyncio.Task[Any]) -> None:
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


def build_links(
    cfg: Config,
    where: str,
    *,
    paper: bool,
    clock_ns: Callable[[], int],
    on_frame: FrameSink,
    record: RecordSink | None = None,
    env: Mapping[str, str] = os.environ,
) -> list[OkxLink | CcxtLink]:
    """One link per ``[[venues]]`` entry. Raises ``ConfigError`` naming the venue for a kind
    that cannot run live (``sim`` has no market data: use paper mode with a real feed)."""
    if cfg.basis is not None:
        raise ConfigError(
            f"{where}: basis: basis trading runs in replay only for now (the live venues' "
            "funding and contract positions are not read back yet); remove [basis] for arb run"
        )
    links: list[OkxLink | CcxtLink] = []
    for i, v in enumerate(cfg.venues):
        symbols = symbols_of(cfg, v.id)
        at = f"{where}: venues[{i}]"
        if v.kind == "okx":
            links.append(
                OkxLink(
                    v, symbols, paper=paper, clock_ns=clock_ns, on_frame=on_frame,
                    record=record, env=env, where=where,
                )
            )  # fmt: skip
        elif v.kind == "ccxt":
            links.append(
                CcxtLink(
                    v, symbols, paper=paper, clock_ns=clock_ns, on_frame=on_frame, env=env,
                    where=where,
                )
            )  # fmt: skip
        else:
            raise ConfigError(
                f'{at}.kind: "{v.kind}" venues replay recordings only; arb run takes kind = '
                '"okx" (native) or kind = "ccxt" (exchange = "<ccxt id>")'
            )
    return links
