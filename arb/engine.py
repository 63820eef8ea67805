"""Engine: frames in, books, detector, executor; one path for replay and live.

``Engine.on_frame`` takes one raw frame (as recorded or as received) through the venue's codec
into the books (``BookSync``: sequence, checksum and crossed checks), hands the venue's own
market data to its execution venue (the simulated venue matches against it), and evaluates the
spatial detector for the books the frame updated, on that update (not on a timer). An
opportunity goes to the executor at once. ``advance_to`` runs the venues and the executor's
timers up to a time, in time order; the replay loop calls it before each frame, the live loop
on its own schedule.

A frame that cannot be decoded is counted (and sampled), never fatal; a book that fails a
check is cleared by its ``BookSync`` and is not traded on until its next snapshot.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from time import perf_counter_ns
from typing import Protocol
from typing import cast

import msgspec

from arb.basis_desk import BasisDesk
from arb.config import Config
from arb.core.detector import DetectorConfig
from arb.core.detector import SpatialDetector
from arb.core.detector import VenueParams
from arb.core.errors import DataError
from arb.core.errors import VenueError
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Delta
from arb.core.events import FundingRate
from arb.core.events import MarkPrice
from arb.core.events import TextBookDelta
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.ledger import Ledger
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import bps_to_ppm
from arb.core.opportunity import Opportunity
from arb.core.risk import RiskGate
from arb.core.sync import BookSync
from arb.core.sync import Outcome
from arb.core.triangular import TriangularDetector
from arb.core.volatility import Volatilities
from arb.executor import Executor
from arb.journal import Journal
from arb.ports import ExecutionVenue
from arb.recording import Kind
from venues.registry import VenueCodec
from venues.registry import build_codec
from venues.sim.config import ConstantLatency
from venues.sim.config import LatencySpec
from venues.sim.config import LognormalLatency
from venues.sim.config import UniformLatency

__all__ = [
    "Engine",
    "EngineStats",
    "detector_config",
    "expected_latency_ms",
    "next_due",
    "step",
]

Key = tuple[str, str]
MAX_ERROR_SAMPLES = 20
SPREAD_SAMPLE_NS = 1_000_000_000
DEFAULT_ORDER_LATENCY_MS = 50.0
_UNIT = float(10**AMOUNT_PRECISION)
# The per-frame path reads these as module constants: an Enum member read off its class, or a
# ``A | B`` union built for ``isinstance``, costs ~100-250 ns in CPython 3.11.
_BOOK_EVENTS = (TextBookDelta, BookDelta, BookSnapshot)
_MARKET_EVENTS = (Trade, FundingRate, MarkPrice)
_FEEDS = frozenset((Kind.RECV, Kind.REST, Kind.NORMALIZED))
_APPLIED = Outcome.APPLIED
_MALFORMED = Outcome.MALFORMED
_FAILED = frozenset((Outcome.GAP, Outcome.BAD_CHECKSUM, Outcome.CROSSED, Outcome.MALFORMED))


def expected_latency_ms(spec: LatencySpec | None) -> float:
    """The typical (median) value of a latency law, in ms."""
    if spec is None:
        return DEFAULT_ORDER_LATENCY_MS
    if isinstance(spec, ConstantLatency):
        return spec.ms
    if isinstance(spec, UniformLatency):
        return (spec.min_ms + spec.max_ms) / 2
    if isinstance(spec, LognormalLatency):
        return spec.median_ms
    return float(spec)


def detector_config(cfg: Config) -> DetectorConfig:
    """The detector's config: ``[detector]`` plus the values owned elsewhere (fees and
    latencies from ``[[venues]]``, the quote age from ``[risk]``)."""
    venues = {}
    for v in cfg.venues:
        latency = v.order_latency_ms
        if latency is None:
            latency = expected_latency_ms(v.sim.order_latency if v.sim is not None else None)
        venues[v.id] = VenueParams(
            taker_fee_ppm=bps_to_ppm(v.taker_fee_bps), order_latency_ms=latency
        )
    return msgspec.structs.replace(
        cfg.detector, venues=venues, max_quote_age_ms=cfg.risk.max_quote_age_ms
    )


def next_due(venues: Mapping[str, ExecutionVenue], executor: Executor) -> int | None:
    """Earliest time a venue (arrival or delivery) or the executor (a timer) has work."""
    due = executor.next_timer()
    for venue in venues.values():  # the earliest: venue order does not matter here
        t = venue.due()
        if t is not None and (due is None or t < due):
            due = t
    return due


def step(venues: Mapping[str, ExecutionVenue], executor: Executor, t: int) -> None:
    """Run everything due at ``t``: venue events (venues in id order), then due timers."""
    for v in sorted(venues):
        for ev in venues[v].advance(t):
            executor.on_event(ev)
    timer = executor.next_timer()
    if timer is not None and timer <= t:
        executor.on_timer(t)


class Detector(Protocol):
    """A strategy's detector: asked after each update of a book it watches."""

    last_refusal: str

    def on_book_update(
        self,
        venue: str,
        symbol: str,
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Mapping[str, Mapping[str, int]] | None = None,
    ) -> Opportunity | None: ...


class EngineStats(msgspec.Struct, kw_only=True):
    frames: int = 0
    control_frames: int = 0
    foreign_frames: int = 0
    """Frames of venues that are not in the config (not traded)."""
    book_updates: int = 0
    decode_errors: int = 0
    book_failures: int = 0
    """Gaps, bad checksums and crossed books: each cleared its book until a new snapshot."""
    decisions: int = 0
    gated: int = 0
    """Opportunities found while trading was off (warm-up, recovery, shutdown): not traded,
    not journaled."""
    first_ts: int = 0
    """The first time the engine was advanced to: the first frame's receive time (ns)."""
    detector_refusals: dict[str, int] = msgspec.field(default_factory=dict)


class Engine:
    """Wires codecs, books, detector, executor and execution venues for ``instruments``.

    ``balances`` are the venues' starting balances (AMOUNT_PRECISION) for the ledger.
    """

    def __init__(
        self,
        cfg: Config,
        instruments: Iterable[Instrument],
        venues: Mapping[str, ExecutionVenue],
        journal: Journal,
        balances: Mapping[str, Mapping[str, int]],
    ) -> None:
        self.cfg = cfg
        venue_ids = [v.id for v in cfg.venues]
        wanted = {(v, p.symbol) for p in cfg.pairs for v in p.venues}
        insts = list(instruments)
        self.instruments: dict[Key, Instrument] = {i.key: i for i in insts if i.key in wanted}
        self.codecs: dict[str, VenueCodec] = {
            v: build_codec(v, insts, text_deltas=True) for v in venue_ids
        }
        self.venues = venues
        self.books: dict[Key, BookSync] = {}
        """The book each (venue, symbol) trades on: its first book channel."""
        self.journal = journal
        self._syncs: dict[tuple[str, str, str], BookSync] = {}
        self._channel: dict[Key, str] = {}
        self._on_funding: list[Callable[[FundingRate], None]] = []
        """Detectors that price funding (basis) get every funding-rate event."""
        dcfg = detector_config(cfg)
        self.vols = Volatilities()
        """One mid-volatility estimator per book (and settings), shared by the strategies."""
        self.detector = SpatialDetector(dcfg, self.instruments, vols=self.vols)
        self._spatial = self.detector if self.detector.pairs else None
        """Asked about every book update when the config has spatial pairs at all."""
        self.risk = RiskGate(cfg.risk)
        leverage = {v.id: v.sim.leverage for v in cfg.venues if v.sim is not None}
        self.ledger = Ledger(balances, leverage=leverage)
        self.executor = Executor(
            venues=venues,
            instruments=self.instruments,
            books=self.books,
            risk=self.risk,
            ledger=self.ledger,
            journal=journal,
            rollback=cfg.rollback,
            taker_fee_ppm={v: p.taker_fee_ppm for v, p in dcfg.venues.items()},
        )
        self._fees = {v: p.taker_fee_ppm for v, p in dcfg.venues.items()}
        self._others_of: dict[Key, list[tuple[str, Detector]]] = {}
        """The other strategies' detectors, by name, for each book they watch (each is asked
        only about its own books)."""
        if cfg.triangular is not None:
            tcfg = msgspec.structs.replace(
                cfg.triangular, max_quote_age_ms=cfg.risk.max_quote_age_ms
            )
            tri = TriangularDetector(tcfg, self.instruments, dcfg.venues, vols=self.vols)
            self._watch("triangular", tri, tri.watched())
        self.basis: BasisDesk | None = None
        if cfg.basis is not None:
            desk = BasisDesk(
                cfg,
                cfg.basis,
                self.instruments,
                dcfg.venues,
                self.ledger,
                journal,
                self._mid,
                vols=self.vols,
            )
            self.basis = desk
            self._watch("basis", desk.detector, desk.watched())
            self._on_funding.append(desk.on_funding)
            self.executor.on_trade_done = desk.on_trade_done
        self.stats = EngineStats()
        self.error_samples: list[str] = []
        self.latency_ns = array("q")
        """Frame-in to detector decision, per evaluated book update (ns, in process; the
        simulated venue's book upkeep excluded)."""
        self.spreads: dict[str, list[tuple[int, float]]] = {}
        self.unhedged_series: list[tuple[int, float]] = []
        self._last_spread: dict[str, int] = {}
        self._last_unhedged = 0
        self._sim_ns = 0
        self.now = 0
        self.trading = True
        """Off: opportunities are counted (``stats.gated``) and not traded; open trades and
        rollbacks go on. The live runner keeps it off until recovery and warm-up are done."""
        self.on_book_failure: Callable[[str, str, str], None] | None = None
        """Called with (venue, symbol, channel) when a book fails a check (gap, checksum,
        crossed): the live runner asks the venue for a fresh snapshot."""

    # -- frames ------------------------------------------------------------------------------

    def on_frame(self, ts: int, venue: str, conn: str, kind: str, payload: bytes) -> None:
        """One frame received at ``ts`` (ns). Call ``advance_to(ts)`` first."""
        t0 = perf_counter_ns()
        self._sim_ns = 0
        st = self.stats
        st.frames += 1
        if kind not in _FEEDS:
            st.control_frames += 1
            return
        codec = self.codecs.get(venue)
        if codec is None:
            st.foreign_frames += 1
            return
        try:
            events = codec.decode(kind, conn, payload, ts)
        except (DataError, VenueError) as e:  # counted, never fatal; the book resyncs
            self._bad_frame(venue, conn, str(e))
            return
        changed: list[Key] = []
        for ev in events:
            cls = ev.__class__
            if cls in _BOOK_EVENTS:
                book_ev = cast(Delta | BookSnapshot, ev)
                key = (book_ev.venue, book_ev.symbol)
                if key not in self.instruments:
                    continue
                if self._book_event(key, book_ev) and key not in changed:
                    changed.append(key)
            elif cls in _MARKET_EVENTS:
                self._market_event(cast(Trade | FundingRate | MarkPrice, ev))
        for key in changed:
            self._decide(key, ts, t0)

    def _market_event(self, ev: Trade | FundingRate | MarkPrice) -> None:
        # The simulated venue matches against trades and settles funding at the mark; the
        # detectors that price funding see every rate.
        sim = self.venues.get(ev.venue)
        if sim is not None:
            sim.on_market(ev)
        if isinstance(ev, FundingRate):
            for on_funding in self._on_funding:
                on_funding(ev)

    def _watch(self, name: str, det: Detector, keys: Iterable[Key]) -> None:
        for key in keys:
            self._others_of.setdefault(key, []).append((name, det))

    def _book_event(self, key: Key, ev: Delta | BookSnapshot) -> bool:
        # Apply to the book of its channel; True when the trading book changed and is valid.
        channel = self._channel.setdefault(key, ev.channel)
        sk = (key[0], key[1], ev.channel)
        sync = self._syncs.get(sk)
        if sync is None:
            spec = self.codecs[key[0]].book_spec(key[1], ev.channel)
            sync = self._syncs[sk] = spec.new_sync(key[0], key[1])
            if channel == ev.channel:
                self.books[key] = sync
        outcome = sync.on_snapshot(ev) if isinstance(ev, BookSnapshot) else sync.on_delta(ev)
        if outcome is _APPLIED:
            if channel != ev.channel:
                return False
            self._mirror(key[0], ev)
            self.stats.book_updates += 1
            return sync.valid
        return self._book_not_applied(key, ev, sync, outcome, channel)

    def _book_not_applied(
        self, key: Key, ev: Delta | BookSnapshot, sync: BookSync, outcome: Outcome, channel: str
    ) -> bool:
        if outcome is _MALFORMED:
            # A row that does not convert (text updates are converted as applied): counted
            # like any undecodable frame; the book was dropped and resyncs.
            self._bad_frame(key[0], ev.channel, sync.last_failure)
        if outcome in _FAILED:
            self.stats.book_failures += 1
            if self.on_book_failure is not None:
                self.on_book_failure(key[0], key[1], ev.channel)
        if channel != ev.channel or outcome is _MALFORMED:
            return False
        self._mirror(key[0], ev)  # buffered or stale: the venue's own book still sees it
        self.stats.book_updates += 1
        return False

    def _mirror(self, venue_id: str, ev: Delta | BookSnapshot) -> None:
        venue = self.venues.get(venue_id)
        if venue is not None:
            # The simulated venue's own matching book is not part of deciding: keep its time out
            # of the decision latency (live venues have no such book).
            t = perf_counter_ns()
            try:
                venue.on_market(ev)
            except DataError as e:
                # An update our book did not apply (buffered, past a gap) converts only here:
                # a row that does not fit is counted, never fatal.
                self._bad_frame(venue_id, ev.channel, str(e))
            self._sim_ns += perf_counter_ns() - t

    def _bad_frame(self, venue: str, where: str, why: str) -> None:
        st = self.stats
        st.decode_errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(f"frame {st.frames} ({venue} {where}): {why}")

    def _decide(self, key: Key, ts: int, t0: int) -> None:
        available = self.ledger.available
        found: list[tuple[str, Opportunity | None, str]] = []
        det = self._spatial
        if det is not None:
            opp = det.on_book_update(key[0], key[1], self.books, ts, available)
            found.append(("", opp, det.last_refusal))
        others = self._others_of.get(key)
        if others is not None:
            for name, other in others:
                o = other.on_book_update(key[0], key[1], self.books, ts, available)
                found.append((name, o, other.last_refusal))
        self.latency_ns.append(perf_counter_ns() - t0 - self._sim_ns)
        st = self.stats
        st.decisions += 1
        ex = self.executor
        for name, o, refusal in found:
            if o is None:
                code = f"{name}:{refusal}" if name else refusal
                st.detector_refusals[code] = st.detector_refusals.get(code, 0) + 1
            elif self.trading:
                ex.on_opportunity(o, ts)
            else:
                st.gated += 1
        if ex.active:
            ex.on_book(key[0], key[1], ts)
        self._track_unhedged(ts)
        if ts - self._last_spread.get(key[1], -SPREAD_SAMPLE_NS) >= SPREAD_SAMPLE_NS:
            self._last_spread[key[1]] = ts
            self._sample_spreads(key[1], ts)

    # -- time --------------------------------------------------------------------------------

    def next_due(self) -> int | None:
        """Earliest time a venue or the executor has something to do."""
        return next_due(self.venues, self.executor)

    def advance_to(self, t: int) -> None:
        """Deliver venue events and fire executor timers due up to ``t``, in time order."""
        if not self.stats.first_ts:
            self.stats.first_ts = t
            if self.basis is not None:
                self.basis.seed_funding(t)
        while True:
            nxt = self.next_due()
            if nxt is None or nxt > t:
                break
            self._step(max(nxt, self.now))
        self.now = max(self.now, t)

    def _step(self, t: int) -> None:
        self.now = t
        step(self.venues, self.executor, t)
        self._funding_payments()
        self._track_unhedged(t)

    def _funding_payments(self) -> None:
        # Funding a simulated venue settled: the ledger and the journal (through the basis
        # desk when there is one, which also books it on the strategy's positions).
        for v in sorted(self.venues):
            take = getattr(self.venues[v], "take_funding_payments", None)
            payments = take() if take is not None else []
            if not payments:
                continue
            if self.basis is not None:
                self.basis.on_venue_funding(payments)
                continue
            for pay in payments:
                self.ledger.on_funding(pay.venue, pay.symbol, pay.amount, pay.ccy)
                self.journal.record_funding(
                    ts=pay.ts_event, venue=pay.venue, symbol=pay.symbol, amount=pay.amount,
                    ccy=pay.ccy, rate_ppb=pay.rate_ppb, position=pay.position, value=pay.value,
                    source=pay.source,
                )  # fmt: skip

    def _mid(self, key: Key) -> int | None:
        """The mid of a valid book (raw, rounded down), or ``None``."""
        sync = self.books.get(key)
        if sync is None or not sync.valid:
            return None
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        if bid is None or ask is None:
            return None
        return (bid[0] + ask[0]) // 2

    def idle(self) -> bool:
        """No trade open and no venue with a command or event in flight (a simulated venue's
        next funding time does not count: an open perpetual always has one)."""
        if self.executor.active:
            return False
        for v in self.venues.values():
            pending = getattr(v, "pending", None)
            busy = pending() if pending is not None else v.due() is not None
            if busy:
                return False
        return True

    def drain(self, deadline: int) -> bool:
        """Run the venues and timers (no new frames) until no trade is open and no venue has
        anything pending, or until ``deadline``. Return True when everything finished."""
        while True:
            if self.idle():
                return True
            nxt = self.next_due()
            if nxt is None:
                return self.executor.active == 0
            if nxt > deadline:
                return False
            self._step(max(nxt, self.now))

    # -- report series -----------------------------------------------------------------------

    def _track_unhedged(self, ts: int) -> None:
        u = self.executor.unhedged_notional
        if u != self._last_unhedged:
            self._last_unhedged = u
            self.unhedged_series.append((ts, u / _UNIT))

    def _sample_spreads(self, symbol: str, ts: int) -> None:
        # Best cross spread after both taker fees, in bps of the mid, per ordered venue pair.
        tops: list[tuple[str, float, float]] = []
        for (venue, sym), sync in self.books.items():
            if sym != symbol or not sync.valid:
                continue
            bid, ask = sync.book.best_bid(), sync.book.best_ask()
            if bid is None or ask is None:
                continue
            scale = 10.0 ** self.instruments[(venue, sym)].price_precision
            tops.append((venue, bid[0] / scale, ask[0] / scale))
        for a, _, ask_a in tops:
            for b, bid_b, _ in tops:
                if a == b:
                    continue
                fa, fb = self._fees.get(a, 0) / 1e6, self._fees.get(b, 0) / 1e6
                mid = (ask_a + bid_b) / 2
                bps = (bid_b * (1 - fb) - ask_a * (1 + fa)) / mid * 1e4
                self.spreads.setdefault(f"{symbol} {a}->{b}", []).append((ts, bps))
