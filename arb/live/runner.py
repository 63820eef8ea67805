"""``arb run``: the live (or paper) engine, headless, on uvloop.

The same ``Engine`` as replay (codecs, books, detector, executor, risk, journal); only the clock
(the wall clock) and the transports differ. The order of a run:

1. **Read back** the journal (``<state_dir>/journal.sqlite``): the trades a previous run left
   open (``arb.recovery.load_open_trades``).
2. **Open the venues** (``arb.live.links``): instruments from each venue, balances, the key
   check (OKX refuses a key that can withdraw), then market data flowing into the engine.
   Trading is off (``Engine.trading``).
3. **Warm up**: every book of every pair valid (or ``recovery_timeout_s``), then ``warmup_s``.
4. **Settle** (live mode): the open trades are rebuilt in the executor, the venues are asked for
   their orders by client order id and their fills, and the rollback planner finishes them
   (hedges or unwinds still owed). Trades still open after ``recovery_timeout_s``: an alert,
   no trading, exit status 3.
5. **Trade** (the start-up heap frozen out of the garbage collector's reach first: ``gc.freeze``)
   until SIGTERM / SIGINT, ``--duration`` or a fatal error. SIGUSR1 or the kill-switch
   file trip the kill switch (no new trades; rollbacks go on).
6. **Shut down**: trading off, open trades finish or roll back (``shutdown_timeout_s``, the
   feeds still running so rollbacks are priced on live books), orders still open are
   cancelled, balances and PnL journaled, the journal flushed and closed. Exit status 0, or 4
   when a trade was still open at the end (alerted).

Everything the process does is logged as JSON lines on stderr; ``/metrics`` (Prometheus) and
``/healthz`` are served on ``[live.metrics]``; alerts go to ``[live.alerts]``. The last line
on stdout is one JSON object (``RunSummary``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import msgspec

from arb.config import Config
from arb.core.errors import ArbError
from arb.core.errors import VenueError
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import bps_to_ppm
from arb.engine import Engine
from arb.journal import Journal
from arb.journal import open_journal
from arb.killswitch import KillSwitch
from arb.live.links import CcxtLink
from arb.live.links import OkxLink
from arb.live.links import build_links
from arb.live.metrics import snapshot
from arb.ops.alerts import Alerter
from arb.ops.alerts import Watchdog
from arb.ops.logs import register_secret
from arb.ops.logs import setup_json_logging
from arb.ops.metrics import MetricsServer
from arb.recording import RecordingWriter
from arb.recovery import OpenTrade
from arb.recovery import load_open_trades
from arb.recovery import settle
from venues.live import LiveVenue

__all__ = [
    "EXIT_OPEN_AT_END",
    "EXIT_RECOVERY",
    "EXIT_VENUE",
    "LiveRunner",
    "RunSummary",
    "run_cli",
]

log = logging.getLogger("arb.live")

NS = 1_000_000_000
_UNIT = float(10**AMOUNT_PRECISION)
EXIT_RECOVERY = 3
"""A previous run's trades could not be settled: nothing was traded."""
EXIT_OPEN_AT_END = 4
"""A trade was still open (or exposure unhedged) when the process stopped."""
EXIT_VENUE = 5
"""A venue's feed failed for good (e.g. its login was refused): stopped."""
WATCH_S = 0.25
PUMP_MAX_S = 0.05
BALANCE_REFRESH_S = 30.0
CANCEL_WAIT_S = 3.0
SWEEP_EVERY_S = 1.0
SWEEP_AFTER_S = 2.0


class RunSummary(msgspec.Struct, kw_only=True):
    mode: str
    exit_code: int
    stopped_by: str
    seconds: float
    frames: int
    book_updates: int
    decode_errors: int
    book_failures: int
    opportunities: int
    gated: int
    trades: int
    legs_sent: int
    rollbacks: int
    rollback_orders: int
    restored_trades: int
    realized_pnl: float
    unhedged_at_end: float
    open_trades_at_end: int
    journal: str
    metrics_port: int
    recording: str = ""


class LiveRunner:
    """One ``arb run``; see the module docstring. ``run()`` returns the exit status."""

    def __init__(
        self,
        cfg: Config,
        config_path: str | os.PathLike[str],
        *,
        duration_s: float | None = None,
        paper: bool = False,
        clock_ns: Callable[[], int] = time.time_ns,
        env: Mapping[str, str] = os.environ,
        handle_signals: bool = True,
    ) -> None:
        self.cfg = cfg
        self.where = str(config_path)
        self.config_path = Path(config_path)
        self.duration_s = duration_s
        self.paper = paper or cfg.live.mode == "paper"
        self.mode = "paper" if self.paper else "live"
        self.clock = clock_ns
        self.env = env
        self.handle_signals = handle_signals
        self.kill = KillSwitch(cfg.risk.kill_switch_file)
        state = Path(cfg.live.state_dir)
        self.journal_path = state / ("journal-paper.sqlite" if self.paper else "journal.sqlite")
        self.engine: Engine | None = None
        self.links: list[OkxLink | CcxtLink] = []
        self.alerter = Alerter(cfg.live.alerts, engine=cfg.engine.name)
        self.watchdog = Watchdog(cfg.live.alerts, self.alerter)
        self.metrics: MetricsServer | None = None
        self.writer: RecordingWriter | None = None
        self.stopped_by = ""
        self.exit_code = 0
        self.restored = 0
        self.started_ns = 0
        self._stop = asyncio.Event()
        self._feeds_stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    # -- frames and time -----------------------------------------------------------------------

    def _on_frame(self, ts: int, venue: str, conn: str, kind: str, payload: bytes) -> None:
        if self.writer is not None:
            self.writer.write(ts, venue, conn, kind, payload)
        engine = self.engine
        if engine is None:
            return
        try:
            engine.advance_to(ts)
            engine.on_frame(ts, venue, conn, kind, payload)
        except Exception as e:  # a bug must not lose the feed: stop trading, say so, go on
            self._on_bug(e, f"frame of {venue} {conn}")

    def _record(self, ts: int, venue: str, conn: str, kind: str, payload: bytes) -> None:
        if self.writer is not None:
            self.writer.write(ts, venue, conn, kind, payload)

    def _advance(self) -> None:
        engine = self.engine
        if engine is None:
            return
        try:
            engine.advance_to(self.clock())
        except Exception as e:
            self._on_bug(e, "venue events and timers")

    def _on_bug(self, e: BaseException, where: str) -> None:
        log.exception("internal error in %s: trading stopped", where)
        if self.engine is not None:
            self.engine.trading = False
            self.engine.risk.trip_kill_switch(f"internal error: {type(e).__name__}")
        self.alerter.alert("error", where, f"{type(e).__name__}: {e}; trading stopped")

    def _resync(self, venue: str, symbol: str, channel: str) -> None:
        for link in self.links:
            if link.venue_id == venue:
                link.resync(symbol, channel)

    async def _pump(self) -> None:
        # Venue events (woken by the adapters) and timers (simulated venues, the executor).
        while True:
            engine = self.engine
            timeout = PUMP_MAX_S
            if engine is not None:
                nxt = engine.next_due()
                if nxt is not None:
                    timeout = min(timeout, max(0.0, (nxt - self.clock()) / NS))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            self._advance()

    async def _watch(self) -> None:
        # Kill switch file, alerts, stop requests, balances for the metrics.
        last_balances = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                if time.monotonic() - last_balances > BALANCE_REFRESH_S:
                    last_balances = time.monotonic()
                    await self._refresh_balances()
                self._watch_once()
            except Exception as e:  # the watchdog must outlive its own bugs
                self._on_bug(e, "watchdog")

    async def _refresh_balances(self) -> None:
        for link in self.links:
            refresh = getattr(link.execution, "refresh_balances", None)
            if refresh is not None:
                try:
                    await refresh()
                except Exception as e:  # a venue not answering now: next time
                    log.warning("%s: balances not refreshed: %r", link.venue_id, e)

    def _watch_once(self) -> None:
        engine = self.engine
        assert engine is not None  # noqa: S101 - started after the engine
        self.kill.poll(engine.risk)
        st = engine.risk.state
        self.watchdog.check(
            self.clock(),
            kill_reason=st.kill_switch_reason,
            halted_venues=list(st.disabled_venues),
            unhedged=engine.executor.unhedged_notional / _UNIT,
            open_trades=engine.executor.active,
            feed_last_ns={
                link.venue_id: link.last_frame_ns or self.started_ns for link in self.links
            },
        )
        if self.kill.stop_reason:
            self._request_stop(self.kill.stop_reason)

    async def _sweep(self) -> None:
        # Orders of the native OKX venue open for more than SWEEP_AFTER_S are asked for by
        # REST (pushes lost while the private WebSocket was down); ccxt venues poll on their
        # own (``CcxtVenue``).
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            for link in self.links:
                if isinstance(link, OkxLink) and isinstance(link.execution, LiveVenue):
                    try:
                        await link.execution.sweep(self.clock() - int(SWEEP_AFTER_S * NS))
                    except Exception as e:
                        self._on_bug(e, f"sweep of {link.venue_id}")

    def _request_stop(self, reason: str) -> None:
        if not self.stopped_by:
            self.stopped_by = reason
            log.info("stop requested: %s", reason)
        self._stop.set()

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.started_ns = self.clock()
        installed: list[signal.Signals] = []
        if self.handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._on_signal, sig)
                    installed.append(sig)
        try:
            return await self._run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        self.kill._on_signal(sig, None)
        if self.engine is not None:
            self.kill.poll(self.engine.risk)
        if sig != signal.SIGUSR1:
            self._request_stop(f"signal {signal.Signals(sig).name}")

    async def _run(self) -> int:
        cfg = self.cfg
        state = Path(cfg.live.state_dir)
        state.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
        open_trades = self._read_back()
        self.links = build_links(
            cfg, self.where, paper=self.paper, clock_ns=self.clock, on_frame=self._on_frame,
            record=self._record, env=self.env,
        )  # fmt: skip
        for link in self.links:
            for secret in _secrets(link):
                register_secret(secret)
        journal: Journal | None = None
        try:
            for link in self.links:
                await self._open(link)
            if cfg.live.record:  # once every venue is open: a failed start leaves no recording
                rec_dir = state / "recordings" / f"{self.mode}-{self.started_ns}"
                self.writer = RecordingWriter(
                    rec_dir, source=f"arb run ({self.mode})", rotate_s=3600.0, checkpoint=True
                )
                for link in self.links:
                    for inst in link.instruments:
                        self.writer.add_instrument(inst)
            journal = self._open_journal()
            engine = self._build_engine(journal)
            await self._start_services()
            await self._warm_up()
            if open_trades and not self._stop.is_set():
                await self._settle(open_trades)
            if not self._stop.is_set() and self.exit_code == 0:
                _freeze_heap()
                engine.trading = True
                log.info("trading", extra={"mode": self.mode})
                await self._until_stopped()
        except ArbError:
            self.stopped_by = self.stopped_by or "error"
            raise
        finally:
            await self._shutdown(journal)
        return self.exit_code

    async def _open(self, link: OkxLink | CcxtLink) -> None:
        # A venue that cannot be reached or answers nonsense at start stops arb with its name
        # and the cause (not a traceback).
        try:
            await link.open()
        except ArbError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError, ccxt.BaseError) as e:
            raise VenueError(
                f"{self.where}: venue {link.venue_id}: cannot start: {type(e).__name__}: {e}",
                venue=link.venue_id,
                retryable=True,
            ) from e

    def _read_back(self) -> list[OpenTrade]:
        if self.paper or not self.journal_path.exists():
            return []
        with open_journal(self.journal_path) as reader:
            trades = load_open_trades(reader)
        if trades:
            log.warning(
                "journal: %d trade(s) of a previous run are open; settling them before trading",
                len(trades),
            )
        return trades

    def _open_journal(self) -> Journal:
        journal = Journal(self.journal_path, commit_every=1)
        journal.begin_run(
            config_digest=hashlib.sha256(self.config_path.read_bytes()).hexdigest(),
            recording=self.mode,
            run_id=f"{self.mode}-{self.started_ns}",
        )
        return journal

    def _venue_fees(self) -> Config:
        # Fees the venues say this account pays outrank the config's (one owner: the venue
        # when it can tell). Logged when they differ.
        venues = []
        for v in self.cfg.venues:
            link = next(lk for lk in self.links if lk.venue_id == v.id)
            fees = link.venue_fees_ppm
            if (
                fees is not None
                and (bps_to_ppm(v.taker_fee_bps), bps_to_ppm(v.maker_fee_bps)) != fees
            ):
                log.info(
                    "%s: fees from the venue: taker %.2f bps, maker %.2f bps (config %.2f / %.2f)",
                    v.id, fees[0] / 100, fees[1] / 100, v.taker_fee_bps, v.maker_fee_bps,
                )  # fmt: skip
                v = msgspec.structs.replace(
                    v, taker_fee_bps=fees[0] / 100, maker_fee_bps=fees[1] / 100
                )
            venues.append(v)
        return msgspec.structs.replace(self.cfg, venues=venues)

    def _build_engine(self, journal: Journal) -> Engine:
        insts = [i for link in self.links for i in link.instruments]
        venues = {link.venue_id: link.execution for link in self.links if link.execution}
        balances = {v: ex.balances() for v, ex in venues.items()}
        engine = Engine(self._venue_fees(), insts, venues, journal, balances)
        engine.trading = False
        engine.on_book_failure = self._resync
        self.engine = engine
        now = self.clock()
        for inst in sorted(engine.instruments.values(), key=lambda i: i.key):
            journal.record_instrument(inst)
        for v in sorted(balances):
            journal.record_balances(ts=now, venue=v, balances=balances[v])
        for ex in venues.values():
            if isinstance(ex, LiveVenue):
                ex.wake = self._wake.set
        return engine

    async def _start_services(self) -> None:
        m = self.cfg.live.metrics
        if m.enabled:
            self.metrics = MetricsServer(lambda: snapshot(self), host=m.host, port=m.port)
            await self.metrics.start()
            log.info("metrics on http://%s:%d/metrics", m.host, self.metrics.port)
        loop = asyncio.get_running_loop()
        for link in self.links:
            self._tasks.append(loop.create_task(self._guard(link.run(self._feeds_stop), link)))
        self._tasks.append(loop.create_task(self._pump()))
        self._tasks.append(loop.create_task(self._watch()))
        self._tasks.append(loop.create_task(self._sweep()))
        if self.duration_s is not None:
            loop.call_later(self.duration_s, self._request_stop, "duration")

    async def _guard(self, coro: Any, link: OkxLink | CcxtLink) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("venue %s: feed ended", link.venue_id)
            self.alerter.alert("stale_feed", link.venue_id, f"feed ended: {e!r}")
            self.exit_code = self.exit_code or EXIT_VENUE
            self._request_stop(f"venue {link.venue_id} feed failed")

    async def _warm_up(self) -> None:
        engine = self.engine
        assert engine is not None  # noqa: S101
        wanted = set(engine.instruments)
        deadline = time.monotonic() + self.cfg.live.recovery_timeout_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            if all(k in engine.books and engine.books[k].valid for k in wanted):
                break
            await asyncio.sleep(0.05)
        else:
            if not self._stop.is_set():
                bad = sorted(
                    k for k in wanted if k not in engine.books or not engine.books[k].valid
                )
                log.warning("warm-up: books not valid yet: %s", bad)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.cfg.live.warmup_s)

    async def _settle(self, trades: list[OpenTrade]) -> None:
        engine = self.engine
        assert engine is not None  # noqa: S101
        now = self.clock()
        for t in trades:
            engine.executor.restore(t, now)
        self.restored = len(trades)
        lookups = {
            link.venue_id: link.execution
            for link in self.links
            if link.execution is not None and hasattr(link.execution, "lookup")
        }
        report = await settle(
            engine.executor,
            lookups,  # type: ignore[arg-type]
            trades,
            now_ns=self.clock,
            timeout_s=self.cfg.live.recovery_timeout_s,
        )
        log.info("recovery: %s", msgspec.json.encode(report).decode())
        if engine.executor.active:
            self.exit_code = EXIT_RECOVERY
            msg = f"{engine.executor.active} trade(s) of a previous run could not be settled"
            self.alerter.alert("recovery", "journal", msg + "; not trading")
            self._request_stop("recovery failed")
        else:
            self.alerter.alert(
                "recovery", "journal", f"settled {len(trades)} trade(s) of a previous run",
                resolved=True,
            )  # fmt: skip

    async def _until_stopped(self) -> None:
        await self._stop.wait()

    async def _shutdown(self, journal: Journal | None) -> None:
        engine = self.engine
        if engine is not None:
            engine.trading = False
            deadline = time.monotonic() + self.cfg.live.shutdown_timeout_s
            while engine.executor.active and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)  # the pump and the feeds finish the trades meanwhile
            await self._cancel_open(engine)
            if engine.executor.active or engine.executor.unhedged_notional:
                self.exit_code = self.exit_code or EXIT_OPEN_AT_END
                self.alerter.alert(
                    "shutdown", self.cfg.engine.name,
                    f"{engine.executor.active} trade(s) open, unhedged "
                    f"{engine.executor.unhedged_notional / _UNIT:.2f} at shutdown",
                )  # fmt: skip
        self._feeds_stop.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for link in self.links:
            with contextlib.suppress(Exception):
                await link.close()
        if engine is not None and journal is not None:
            self._advance()
            now = self.clock()
            for v in sorted(engine.ledger.totals):
                journal.record_balances(ts=now, venue=v, balances=engine.ledger.totals[v])
            journal.record_pnl(
                ts=now,
                realized=engine.executor.realized_pnl,
                fees=sum(engine.ledger.fees.values()),
                unhedged_notional=engine.executor.unhedged_notional,
            )
        if journal is not None:
            journal.flush()
            journal.close()
        if self.writer is not None:
            self.writer.close()
        if self.metrics is not None:
            await self.metrics.close()
        await self.alerter.aclose()
        self.stopped_by = self.stopped_by or "end"

    async def _cancel_open(self, engine: Engine) -> None:
        n = engine.executor.cancel_open(self.clock())
        if not n:
            return
        log.warning("shutdown: cancelling %d open order(s)", n)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            if not any(not o.is_terminal for o in engine.executor.all_orders()):
                break
            await asyncio.sleep(0.02)
        for link in self.links:
            if isinstance(link.execution, LiveVenue):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(link.execution.wait_idle(), CANCEL_WAIT_S)
        self._advance()

    def summary(self) -> RunSummary:
        e = self.engine
        ex = e.executor if e is not None else None
        st = e.stats if e is not None else None
        xs = ex.stats if ex is not None else None
        return RunSummary(
            mode=self.mode,
            exit_code=self.exit_code,
            stopped_by=self.stopped_by,
            seconds=round((self.clock() - self.started_ns) / NS, 3),
            frames=st.frames if st else 0,
            book_updates=st.book_updates if st else 0,
            decode_errors=st.decode_errors if st else 0,
            book_failures=st.book_failures if st else 0,
            opportunities=xs.opportunities if xs else 0,
            gated=st.gated if st else 0,
            trades=xs.trades if xs else 0,
            legs_sent=xs.legs_sent if xs else 0,
            rollbacks=xs.rollbacks if xs else 0,
            rollback_orders=xs.rollback_orders if xs else 0,
            restored_trades=self.restored,
            realized_pnl=(ex.realized_pnl / _UNIT) if ex else 0.0,
            unhedged_at_end=(ex.unhedged_notional / _UNIT) if ex else 0.0,
            open_trades_at_end=ex.active if ex else 0,
            journal=str(self.journal_path),
            metrics_port=self.metrics.port if self.metrics is not None else 0,
            recording=str(self.writer.dir) if self.writer is not None else "",
        )


def _secrets(link: OkxLink | CcxtLink) -> list[str]:
    if isinstance(link, OkxLink):
        c = link.creds
        return [c.secret, c.passphrase] if c is not None else []
    ex = link.exchange
    return [s for s in (getattr(ex, "secret", ""), getattr(ex, "password", "")) if s]


def run_cli(
    cfg: Config,
    config_path: str | os.PathLike[str],
    *,
    duration_s: float | None = None,
    paper: bool = False,
) -> int:
    """``arb run``: JSON logs, uvloop, the runner; the summary as the last stdout line."""
    setup_json_logging(cfg.live.log_level)
    runner = LiveRunner(cfg, config_path, duration_s=duration_s, paper=paper)
    try:
        import uvloop

        code = uvloop.run(runner.run())
    except ImportError:  # uvloop is a dependency on Linux/macOS; plain asyncio elsewhere
        code = asyncio.run(runner.run())
    print(msgspec.json.encode(runner.summary()).decode(), flush=True)
    sys.stdout.flush()
    return code


def _freeze_heap() -> None:
    """Collect once, then move every object alive (instruments, markets, configs, modules, the
    books' long-lived structures) out of the collector's reach (``gc.freeze``): the collections
    that happen while trading then traverse only what was made since, not the whole start-up
    heap (a ccxt exchange's market tables grow with the venue's instrument list), so a full
    collection does not stall a frame for the time it takes to walk all of it."""
    t0 = time.perf_counter()
    gc.collect()
    pause_ms = (time.perf_counter() - t0) * 1_000
    gc.freeze()
    log.info(
        "gc: start-up heap frozen",
        extra={"frozen_objects": gc.get_freeze_count(), "full_collection_ms": round(pause_ms, 2)},
    )
