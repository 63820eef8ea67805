"""``arb verify``: replay only the books of a recording and report their integrity.

Every frame goes through the venue's production codec and every book through
``arb.core.sync.BookSync`` — the same code path as replay and live. A frame that cannot be
decoded is counted as an error and never stops the run; a book that fails a check is
counted, cleared and waits for its next snapshot (a resync), exactly as live would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from arb.core.errors import DataError
from arb.core.errors import VenueError
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.sync import BookStats
from arb.core.sync import BookSync
from arb.recording import Kind
from arb.recording import Recording
from venues.registry import VenueCodec
from venues.registry import build_codec

__all__ = ["BookReport", "VerifyReport", "verify_recording"]

MAX_ERROR_SAMPLES = 20
FAILING_KEYS = ("gaps", "checksum_failed", "crossed", "errors")


class BookReport(msgspec.Struct, kw_only=True):
    venue: str
    symbol: str
    channel: str
    synced_at_end: bool
    last_failure: str
    stats: BookStats


class VerifyReport(msgspec.Struct, kw_only=True):
    """Integrity counters of a whole recording; the JSON line ``arb verify`` prints."""

    frames: int = 0
    book_updates: int = 0
    books: int = 0
    snapshots: int = 0
    gaps: int = 0
    resyncs: int = 0
    checksum_ok: int = 0
    checksum_failed: int = 0
    checksum_absent: int = 0
    crossed: int = 0
    errors: int = 0
    deltas: int = 0
    stale: int = 0
    buffered: int = 0
    dropped: int = 0
    unsynced_books: int = 0
    quotes: int = 0
    trades: int = 0
    control_frames: int = 0
    unsupported_frames: int = 0
    """Wire frames of a venue arb has no codec for: not checked (reported, not failed)."""
    start_ns: int = 0
    end_ns: int = 0

    def failures(self, *, allow_gaps: bool = False) -> list[str]:
        """Names of the non-zero failing counters (``gaps`` ignored with ``allow_gaps``)."""
        keys = [k for k in FAILING_KEYS if not (allow_gaps and k == "gaps")]
        return [k for k in keys if getattr(self, k)]


class Verifier:
    """Feeds frames to codecs and books; holds the running counters."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.report = VerifyReport(
            start_ns=recording.manifest.start_ns, end_ns=recording.manifest.end_ns
        )
        self.books: dict[tuple[str, str, str], BookSync] = {}
        self.codecs: dict[str, VenueCodec] = {}
        self.error_samples: list[str] = []

    def _codec(self, venue: str) -> VenueCodec:
        codec = self.codecs.get(venue)
        if codec is None:
            codec = self.codecs[venue] = build_codec(venue, self.recording.manifest.instruments)
        return codec

    def _sync(self, venue: str, symbol: str, channel: str) -> BookSync:
        key = (venue, symbol, channel)
        sync = self.books.get(key)
        if sync is None:
            spec = self._codec(venue).book_spec(symbol, channel)
            sync = self.books[key] = spec.new_sync(venue, symbol)
        return sync

    def feed(self, venue: str, conn: str, kind: str, payload: bytes, ts_recv: int) -> None:
        rep = self.report
        rep.frames += 1
        if kind not in (Kind.RECV, Kind.REST, Kind.NORMALIZED):
            rep.control_frames += 1
            return
        codec = self._codec(venue)
        if kind != Kind.NORMALIZED and not codec.is_wire_venue():
            rep.unsupported_frames += 1
            return
        try:
            events = codec.decode(kind, conn, payload, ts_recv)
        except (DataError, VenueError) as e:  # a bad or error frame is counted, never fatal
            rep.errors += 1
            if len(self.error_samples) < MAX_ERROR_SAMPLES:
                self.error_samples.append(f"frame {rep.frames} ({venue} {conn}): {e}")
            return
        for ev in events:
            if isinstance(ev, BookDelta):
                self._sync(ev.venue, ev.symbol, ev.channel).on_delta(ev)
            elif isinstance(ev, BookSnapshot):
                self._sync(ev.venue, ev.symbol, ev.channel).on_snapshot(ev)
            elif isinstance(ev, Quote):
                rep.quotes += 1
            elif isinstance(ev, Trade):
                rep.trades += 1

    def finish(self) -> tuple[VerifyReport, list[BookReport]]:
        rep = self.report
        per_book: list[BookReport] = []
        for (venue, symbol, channel), sync in sorted(self.books.items()):
            st = sync.stats
            rep.snapshots += st.snapshots
            rep.deltas += st.deltas
            rep.book_updates += st.snapshots + st.deltas
            rep.gaps += st.gaps
            rep.resyncs += st.resyncs
            rep.checksum_ok += st.checksum_ok
            rep.checksum_failed += st.checksum_failed
            rep.checksum_absent += st.checksum_absent
            rep.crossed += st.crossed
            rep.stale += st.stale
            rep.buffered += st.buffered
            rep.dropped += st.dropped
            if not sync.valid:
                rep.unsynced_books += 1
            per_book.append(
                BookReport(
                    venue=venue,
                    symbol=symbol,
                    channel=channel,
                    synced_at_end=sync.valid,
                    last_failure=sync.last_failure,
                    stats=st,
                )
            )
        rep.books = len(self.books)
        return rep, per_book


def verify_recording(
    recording: Recording, progress: Callable[[int], None] | None = None
) -> tuple[VerifyReport, list[BookReport], list[str]]:
    """Replay the books of ``recording``. ``progress(n)`` is called with frames done so far.

    Returns the totals, one report per book, and samples of decode errors.
    Raises ``RecordingError`` when the recording itself is unreadable.
    """
    v = Verifier(recording)
    feed = v.feed
    n = 0
    for ts, venue, conn, kind, payload in recording.frames():
        feed(venue, conn, kind, payload, ts)
        n += 1
        if progress is not None and not n & 0xFFF:
            progress(n)
    if progress is not None:
        progress(n)
    report, books = v.finish()
    return report, books, v.error_samples


def describe(path: Path, report: VerifyReport, books: list[BookReport], errors: list[str]) -> str:
    """Human-readable table of the books (printed before the JSON line)."""
    lines = [f"{path}: {report.frames} frames, {report.books} books"]
    for b in books:
        s = b.stats
        state = "synced" if b.synced_at_end else "NOT SYNCED"
        lines.append(
            f"  {b.venue:<14} {b.symbol:<18} {b.channel:<15} {state:<10} "
            f"snap={s.snapshots} delta={s.deltas} gaps={s.gaps} resync={s.resyncs} "
            f"cksum ok/fail={s.checksum_ok}/{s.checksum_failed} crossed={s.crossed}"
            + (f"  last failure: {b.last_failure}" if b.last_failure else "")
        )
    if report.unsupported_frames:
        lines.append(
            f"  note: {report.unsupported_frames} frames of venues without a codec were not checked"
        )
    lines.extend(f"  error: {e}" for e in errors)
    return "\n".join(lines)
