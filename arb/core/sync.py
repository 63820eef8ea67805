"""Integrity state machine around one ``LocalBook``: snapshots, deltas, sequence, checksum.

States::

    AWAITING_SNAPSHOT --snapshot--> SYNCED --gap | bad checksum | crossed--> AWAITING_SNAPSHOT
           ^   | deltas are buffered (bounded)                                 (book cleared,
           |   v                                                               resync requested)

A book that fails a check is cleared and asks for a resync (``resync_requested``); it is
never patched. Deltas received while awaiting a snapshot are buffered and replayed against
the snapshot with the venue's bracketing rule (Binance's documented procedure, OKX's REST
bootstrap). Nothing here does I/O or reads a clock: the caller fetches the new snapshot.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable

import msgspec

from arb.core.book import LocalBook
from arb.core.errors import DataError
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Delta
from arb.core.events import TextBookDelta
from arb.core.sequencing import SequenceRule
from arb.core.sequencing import Verdict

__all__ = ["BookSpec", "BookStats", "BookSync", "Outcome", "SyncState"]

ChecksumFn = Callable[[LocalBook], int]


class SyncState(enum.IntEnum):
    AWAITING_SNAPSHOT = 0
    SYNCED = 1


class Outcome(enum.IntEnum):
    APPLIED = 0
    BUFFERED = 1
    STALE = 2
    GAP = 3
    BAD_CHECKSUM = 4
    CROSSED = 5
    MALFORMED = 6
    """A text row did not convert (``TextBookDelta``): the book is cleared, resync requested."""


class BookStats(msgspec.Struct):
    """Counters of one book's integrity, added up by ``arb verify``."""

    snapshots: int = 0
    deltas: int = 0
    applied: int = 0
    buffered: int = 0
    stale: int = 0
    dropped: int = 0
    gaps: int = 0
    resyncs: int = 0
    checksum_ok: int = 0
    checksum_failed: int = 0
    checksum_absent: int = 0
    checksum_unverified: int = 0
    crossed: int = 0
    malformed: int = 0


# Module constants: reading an Enum member off its class costs ~100 ns in CPython 3.11.
_AWAITING = SyncState.AWAITING_SNAPSHOT
_SYNCED = SyncState.SYNCED
_APPLIED = Outcome.APPLIED
_BUFFERED = Outcome.BUFFERED
_O_STALE = Outcome.STALE
_O_GAP = Outcome.GAP
_BAD_CHECKSUM = Outcome.BAD_CHECKSUM
_CROSSED = Outcome.CROSSED
_MALFORMED = Outcome.MALFORMED
_TEXT = TextBookDelta
_APPLY = Verdict.APPLY
_STALE = Verdict.STALE
_GAP = Verdict.GAP


class BookSync:
    """Drive one book through snapshots and deltas, checking every venue rule."""

    __slots__ = (
        "_buffer",
        "_checksums_seen",
        "_fast",
        "_fast_applied",
        "_fresh",
        "_links_prev",
        "_state",
        "_stats",
        "book",
        "checksum",
        "last_failure",
        "max_buffer",
        "resync_requested",
        "rule",
        "seq",
        "valid",
    )

    def __init__(
        self,
        book: LocalBook,
        rule: SequenceRule,
        checksum: ChecksumFn | None = None,
        *,
        max_buffer: int = 10_000,
    ) -> None:
        self.book = book
        self.rule = rule
        self.checksum = checksum
        self.max_buffer = max_buffer
        self._state = _AWAITING
        self.valid = False
        """True when the book may be read: synced (an attribute, read on every decision)."""
        self.seq = NO_SEQ
        self._stats = BookStats()
        self._fast_applied = 0  # text deltas applied by the fast path, not yet in ``_stats``
        self._fast = False  # synced, past the first delta, and the rule links ``prev_seq``
        self.resync_requested = False
        self.last_failure = ""
        self._buffer: deque[Delta] = deque()
        self._fresh = False  # a snapshot was applied and no delta yet: use the bracketing rule
        # The rule applies every delta whose ``prev_seq`` is the last id: checked inline.
        self._links_prev: bool = getattr(rule, "links_prev", False)
        # A non-zero checksum was seen on this book: keep raw strings from the next snapshot on.
        self._checksums_seen = False

    @property
    def stats(self) -> BookStats:
        """The book's counters (the fast path's count folded in)."""
        n = self._fast_applied
        if n:
            self._fast_applied = 0
            st = self._stats
            st.deltas += n
            st.applied += n
            st.checksum_absent += n
        return self._stats

    @property
    def state(self) -> SyncState:
        return self._state

    @state.setter
    def state(self, state: SyncState) -> None:
        self._state = state
        self.valid = state is _SYNCED

    def on_snapshot(self, s: BookSnapshot) -> Outcome:
        """Replace the book with ``s``, then replay buffered deltas that follow it."""
        st = self._stats
        st.snapshots += 1
        book = self.book
        if s.checksum:
            self._checksums_seen = True
        # Raw strings cost ~30% of an apply: keep them only while the venue sends checksums
        # (OKX has sent 0 since June 2026).
        book.keep_raw = (
            self._checksums_seen
            and self.checksum is not None
            and s.raw_bids is not None
            and s.raw_asks is not None
        )
        book.apply_snapshot(s.bids, s.asks, s.raw_bids, s.raw_asks)
        self.book.ts_event = s.ts_event
        self.book.ts_recv = s.ts_recv
        self.seq = s.seq
        self._state = _SYNCED
        self.valid = True
        self.resync_requested = False
        self._fresh = True
        self._fast = False
        out = self._verify(s.checksum)
        if out is not _APPLIED:
            return out
        if self._buffer:
            return self._drain()
        return _APPLIED

    def on_delta(self, d: Delta) -> Outcome:
        """Apply ``d`` if it continues the sequence; otherwise invalidate and request a resync."""
        if d.__class__ is _TEXT and self._fast and d.prev_seq == self.seq:
            # The hot path: a text update that links to the last id, on a synced book.
            book = self.book
            try:
                if d.scaler is book.text_scaler and not book.keep_raw:
                    book.apply_text_bids(d.bids)
                    book.apply_text_asks(d.asks)
                else:
                    book.apply_text(d.bids, d.asks, d.scaler)
            except DataError as e:
                self._stats.deltas += 1
                return self._malformed(e)
            book.ts_event = d.ts_event
            book.ts_recv = d.ts_recv
            last = d.last_seq
            if last != NO_SEQ:
                self.seq = last
            self._fast_applied += 1
            maxes = book._bid_maxes  # book.is_crossed(), inlined
            lists = book._ask_lists
            if maxes and lists and maxes[-1] >= lists[0][0]:
                return self._crossed()
            return _APPLIED
        return self._on_delta(d)

    def _on_delta(self, d: Delta) -> Outcome:
        # Every other case: buffering, the first delta after a snapshot, sequence checks,
        # integer levels (with or without raw strings), checksums.
        st = self._stats
        st.deltas += 1
        checksum = d.checksum
        if checksum:
            self._checksums_seen = True
        if self._state is not _SYNCED:
            return self._buffer_delta(d)
        if self._links_prev and not self._fresh and d.prev_seq == self.seq:
            pass  # what ``rule.follows`` answers (``SequenceRule.links_prev``)
        elif (verdict := self._verdict(d)) is not _APPLY:
            if verdict is _STALE:
                st.stale += 1
                return _O_STALE
            return self._gap(d)
        # ``_apply`` + ``_verify`` inlined for the common case (no checksum to verify).
        book = self.book
        if isinstance(d, TextBookDelta):
            try:
                book.apply_text(d.bids, d.asks, d.scaler)
            except DataError as e:
                return self._malformed(e)
        elif book.keep_raw:
            book.apply_deltas(d.bids, d.asks, d.raw_bids, d.raw_asks)
        else:  # ``LocalBook.apply_deltas`` without raw strings, inlined
            book._apply_bids(d.bids)
            book._apply_asks(d.asks)
        book.ts_event = d.ts_event
        book.ts_recv = d.ts_recv
        last = d.last_seq
        if last != NO_SEQ:
            self.seq = last
        st.applied += 1
        if checksum and self.checksum is not None:
            return self._verify(checksum)
        st.checksum_absent += 1
        maxes = book._bid_maxes  # book.is_crossed(), inlined
        lists = book._ask_lists
        if maxes and lists and maxes[-1] >= lists[0][0]:
            return self._crossed()
        return _APPLIED

    def _verdict(self, d: Delta) -> Verdict:
        if self._fresh:
            verdict = self.rule.after_snapshot(self.seq, d)
            if verdict is _APPLY:
                self._fresh = False
                self._fast = self._links_prev and d.last_seq != NO_SEQ
            return verdict
        return self.rule.follows(self.seq, d)

    def invalidate(self, reason: str) -> None:
        """Drop the book and ask for a new snapshot (also used by callers on decode errors)."""
        self.book.clear()
        self._state = _AWAITING
        self.valid = False
        self._fast = False
        self.seq = NO_SEQ
        self._buffer.clear()
        self.resync_requested = True
        self.last_failure = reason
        self._stats.resyncs += 1

    # -- internals -----------------------------------------------------------------------

    def _buffer_delta(self, d: Delta) -> Outcome:
        st = self._stats
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            st.dropped += 1
        self._buffer.append(d)
        st.buffered += 1
        return _BUFFERED

    def _apply(self, d: Delta) -> Outcome:
        book = self.book
        if isinstance(d, BookDelta):
            book.apply_deltas(d.bids, d.asks, d.raw_bids, d.raw_asks)
        else:
            try:
                book.apply_text(d.bids, d.asks, d.scaler)
            except DataError as e:
                return self._malformed(e)
        book.ts_event = d.ts_event
        book.ts_recv = d.ts_recv
        if d.last_seq != NO_SEQ:
            self.seq = d.last_seq
        self._stats.applied += 1
        return self._verify(d.checksum)

    def _verify(self, checksum: int) -> Outcome:
        st = self._stats
        if checksum == 0 or self.checksum is None:
            st.checksum_absent += 1
        elif not self.book.keep_raw:
            # Checksums started after the snapshot: resync so the next snapshot keeps strings.
            st.checksum_unverified += 1
            self.invalidate(f"checksum {checksum} received but the book keeps no raw strings")
            return _BAD_CHECKSUM
        elif self.checksum(self.book) == checksum:
            st.checksum_ok += 1
        else:
            st.checksum_failed += 1
            self.invalidate(f"checksum mismatch: venue sent {checksum}")
            return _BAD_CHECKSUM
        if self.book.is_crossed():
            return self._crossed()
        return _APPLIED

    def _crossed(self) -> Outcome:
        self._stats.crossed += 1
        bid, ask = self.book.best_bid(), self.book.best_ask()
        self.invalidate(f"crossed: best bid {bid} >= best ask {ask}")
        return _CROSSED

    def _malformed(self, e: DataError) -> Outcome:
        # A text row that does not convert: the rows before it were applied; drop the book.
        self._stats.malformed += 1
        self.invalidate(f"malformed update: {e}")
        return _MALFORMED

    def _gap(self, d: Delta) -> Outcome:
        self._stats.gaps += 1
        self.invalidate(
            f"sequence gap: local {self.seq}, received first={d.first_seq} "
            f"last={d.last_seq} prev={d.prev_seq}"
        )
        return _O_GAP

    def _drain(self) -> Outcome:
        buffered = self._buffer
        self._buffer = deque()
        out = _APPLIED
        for d in buffered:
            if self._fresh:
                verdict = self.rule.after_snapshot(self.seq, d)
            else:
                verdict = self.rule.follows(self.seq, d)
            if verdict is _STALE:
                self._stats.stale += 1
                continue
            if verdict is _GAP:
                return self._gap(d)
            self._fresh = False
            self._fast = self._links_prev and d.last_seq != NO_SEQ
            out = self._apply(d)
            if out is not _APPLIED:
                return out
        return out


class BookSpec(msgspec.Struct, frozen=True):
    """How a venue's book for one channel is checked: its sequence rule and checksum."""

    rule: SequenceRule
    checksum: ChecksumFn | None = None

    def new_sync(self, venue: str, symbol: str) -> BookSync:
        return BookSync(LocalBook(venue, symbol), self.rule, self.checksum)
