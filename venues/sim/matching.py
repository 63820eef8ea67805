"""The simulated venue's view of one book: the recorded book minus the liquidity we took.

The recorded book says what the venue held; it does not know about our simulated orders. So
that two orders in a row cannot both take the same liquidity, every taker fill adds what it
took to an overlay ``consumed[(book_side, px)]``, and the walk sees ``book - consumed`` at
each level. The venue's own update for a level (a ``BookDelta`` row, or any ``BookSnapshot``)
says what is there *now* and clears the overlay for that level (for the whole book on a
snapshot).

Book sides are named as in ``arb.core.types.Side``: ``BUY`` is the bids, ``SELL`` the asks.
A taker buyer walks the asks upwards, a taker seller the bids downwards.
"""

from __future__ import annotations

from collections.abc import Iterator

from arb.core.book import LocalBook
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.types import Side

__all__ = ["Level", "SimBook", "cap_to_fraction"]

Level = tuple[int, int]


class SimBook:
    """One symbol's book on the simulated venue, with the liquidity-consumption overlay.

    Updates are applied as they come (the engine's own ``BookSync`` checks the recording);
    the only sequence rule kept here drops a delta the book already contains (``last_seq``
    at or below the last applied id, e.g. Binance diffs older than the REST snapshot), unless
    the delta names the last applied id as its predecessor (``prev_seq``): that is the
    venue's own continuity, as in an OKX sequence reset (``seqId`` < ``prevSeqId``).
    """

    __slots__ = ("book", "consumed", "seq")

    def __init__(self, venue: str, symbol: str) -> None:
        self.book = LocalBook(venue, symbol)
        self.consumed: dict[tuple[Side, int], int] = {}
        self.seq = NO_SEQ

    def apply_snapshot(self, s: BookSnapshot) -> None:
        """Replace the book; everything we took is forgotten. Runtime complexity: O(n log n)."""
        self.book.apply_snapshot(s.bids, s.asks)
        self.book.ts_event = s.ts_event
        self.book.ts_recv = s.ts_recv
        self.consumed.clear()
        self.seq = s.seq

    def apply_delta(self, d: BookDelta) -> bool:
        """Apply ``d`` and clear the overlay of each level it names; False if it was stale.

        Runtime complexity: O(k log n) for k levels.
        """
        seq = self.seq
        if (
            d.last_seq != NO_SEQ
            and seq != NO_SEQ
            and d.last_seq <= seq
            and (d.prev_seq == NO_SEQ or d.prev_seq != seq)
        ):
            return False
        self.book.apply_deltas(d.bids, d.asks)
        self.book.ts_event = d.ts_event
        self.book.ts_recv = d.ts_recv
        consumed = self.consumed
        if consumed:
            pop = consumed.pop
            for px, _ in d.bids:
                pop((Side.BUY, px), None)
            for px, _ in d.asks:
                pop((Side.SELL, px), None)
        if d.last_seq != NO_SEQ:
            self.seq = d.last_seq
        return True

    def available(self, book_side: Side, px: int) -> int:
        """What is left at one level: the recorded size minus what our fills took."""
        levels = self.book.bids if book_side is Side.BUY else self.book.asks
        qty: int = levels.get(px, 0)
        return max(0, qty - self.consumed.get((book_side, px), 0))

    def plan(self, taker_side: Side, qty: int, limit_px: int | None) -> list[Level]:
        """Levels a taker of ``qty`` would take, best first, not past ``limit_px`` (None: any).

        Nothing is consumed (see ``consume``). Runtime complexity: O(levels walked).
        """
        book_side = taker_side.opposite
        consumed = self.consumed
        fills: list[Level] = []
        left = qty
        for px, size in self._walk(taker_side):
            if left <= 0 or (limit_px is not None and _beyond(taker_side, px, limit_px)):
                break
            avail = size - consumed.get((book_side, px), 0)
            if avail <= 0:
                continue
            take = avail if avail < left else left
            fills.append((px, take))
            left -= take
        return fills

    def consume(self, taker_side: Side, fills: list[Level]) -> None:
        """Record that ``fills`` (from ``plan``) were taken from the opposite side."""
        book_side = taker_side.opposite
        consumed = self.consumed
        for px, q in fills:
            key = (book_side, px)
            consumed[key] = consumed.get(key, 0) + q

    def _walk(self, taker_side: Side) -> Iterator[Level]:
        return self.book.iter_asks() if taker_side is Side.BUY else self.book.iter_bids()


def _beyond(taker_side: Side, px: int, limit_px: int) -> bool:
    return px > limit_px if taker_side is Side.BUY else px < limit_px


def cap_to_fraction(qty: int, fraction_ppm: int, lot: int) -> int:
    """``qty * fraction`` rounded down to the lot (the partial-fill fault knob)."""
    if fraction_ppm >= 1_000_000:
        return qty
    cap = qty * fraction_ppm // 1_000_000
    return cap - cap % lot if lot > 0 else cap
