"""A synthetic L2 book that follows a quoted touch and reports its net changes.

Each side keeps its levels in a list of keys sorted best first (bids are keyed by ``-tick``,
asks by ``tick``, so "better" is "smaller" on both sides) and a dict ``key -> (lots, orders)``.
Every 100 ms ``step`` moves the touch to the quoter's target, fills the gap a move opens with
new levels, churns a few levels (mostly near the top), and keeps 60 to 180 levels per side.
Public trades eat the touch in between. ``flush`` returns what changed since the last flush,
net, as a venue's incremental channel would send it.

Gaps between levels widen with depth; level sizes are lognormal and grow with depth; about
half of them are "round" sizes (two or three significant digits), the rest use the full lot.
"""

from __future__ import annotations

import math
import random
from bisect import insort
from collections.abc import Iterable

from arb.synth.specs import InstrumentSpec

__all__ = ["Level", "SynthBook", "apply_levels"]

Level = tuple[int, int, int]  # (tick, lots, orders); lots == 0 deletes

MIN_LEVELS = 60
MAX_LEVELS = 180
INIT_LEVELS = 120
CHURN = 5.0  # mean level changes per side per step
CHURN_DEPTH = 8.0  # mean depth index of a churned level


class _Side:
    __slots__ = ("keys", "orig", "sign", "vals")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # tick = sign * key: -1 for bids, +1 for asks
        self.keys: list[int] = []
        self.vals: dict[int, tuple[int, int]] = {}
        self.orig: dict[int, tuple[int, int] | None] = {}

    def set(self, key: int, val: tuple[int, int]) -> None:
        vals = self.vals
        if key not in self.orig:
            self.orig[key] = vals.get(key)
        if key not in vals:
            insort(self.keys, key)
        vals[key] = val

    def delete_at(self, i: int) -> None:
        key = self.keys.pop(i)
        if key not in self.orig:
            self.orig[key] = self.vals[key]
        del self.vals[key]

    def flush(self) -> list[Level]:
        vals, sign = self.vals, self.sign
        out: list[Level] = []
        for key in sorted(self.orig):
            new = vals.get(key)
            if new != self.orig[key]:
                out.append((sign * key, *new) if new is not None else (sign * key, 0, 0))
        self.orig.clear()
        return out

    def published(self) -> list[Level]:
        """Levels as of the last flush, best first."""
        orig, vals, sign = self.orig, self.vals, self.sign
        keys = set(vals) | {k for k, v in orig.items() if v is not None}
        out: list[Level] = []
        for key in sorted(keys):
            val = orig[key] if key in orig else vals[key]
            if val is not None:
                out.append((sign * key, *val))
        return out


class SynthBook:
    """One venue's book of one instrument, in integer ticks and lots."""

    def __init__(self, inst: InstrumentSpec, price: float, rng: random.Random) -> None:
        self.rng = rng
        tick = float(inst.tick_size)
        lot = float(inst.lot_size)
        self.gap0 = max(0.5, inst.level_gap_bps * 1e-4 * price / tick)
        self.top_lots = inst.top_size_usd / price / lot
        self.min_lots = max(1, round(float(inst.min_size) / lot))
        self.trade_lots = self.top_lots * 0.08
        self.bids = _Side(-1)
        self.asks = _Side(1)

    # -- random draws ----------------------------------------------------------------------

    def _gap(self, depth: int) -> int:
        return max(1, round(self.rng.expovariate(1.0 / (self.gap0 * (1.0 + depth / 15.0)))))

    def _size(self, depth: int) -> tuple[int, int]:
        rng = self.rng
        median = self.top_lots * (1.0 + depth / 10.0)
        lots = max(self.min_lots, int(median * math.exp(rng.gauss(0.0, 1.0))))
        r = rng.random()
        if r < 0.55:  # a round size: 2 or 3 significant digits
            m = 10 ** max(0, len(str(lots)) - (2 if r < 0.3 else 3))
            lots = max(self.min_lots, round(lots / m) * m)
        orders = 1 + min(40, int(rng.expovariate(1.0) * (1.0 + lots / self.top_lots)))
        return lots, orders

    def _poisson(self, mean: float) -> int:
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    # -- book moves ------------------------------------------------------------------------

    def step(self, bid: int, ask: int) -> None:
        """Move the touch to ``(bid, ask)`` ticks (``bid < ask``) and churn both sides."""
        self._side_step(self.bids, -bid)
        self._side_step(self.asks, ask)

    def _side_step(self, side: _Side, target: int) -> None:
        keys = side.keys
        while keys and keys[0] < target:  # better than the new touch: cancelled or taken
            side.delete_at(0)
        if not keys or keys[0] != target:
            side.set(target, self._size(0))
        if len(keys) > 1:  # a move opened a gap below the touch: new orders fill it
            nxt, pos, depth = keys[1], target, 1
            while True:
                pos += self._gap(depth)
                if pos >= nxt:
                    break
                side.set(pos, self._size(depth))
                depth += 1
        rng = self.rng
        for _ in range(self._poisson(CHURN)):
            i = min(len(keys) - 1, int(rng.expovariate(1.0 / CHURN_DEPTH)))
            r = rng.random()
            if r < 0.6 or i == 0:
                side.set(keys[i], self._size(i))
            elif r < 0.8:
                side.delete_at(i)
            elif i + 1 < len(keys) and keys[i + 1] - keys[i] > 1:
                side.set(rng.randrange(keys[i] + 1, keys[i + 1]), self._size(i))
        while len(keys) > MAX_LEVELS:
            side.delete_at(len(keys) - 1)
        while len(keys) < MIN_LEVELS:
            side.set(keys[-1] + self._gap(len(keys)), self._size(len(keys)))

    def init(self, bid: int, ask: int) -> None:
        """Build both sides around the touch ``(bid, ask)``; nothing is pending afterwards."""
        for side, key in ((self.bids, -bid), (self.asks, ask)):
            for depth in range(INIT_LEVELS):
                side.set(key, self._size(depth))
                key += self._gap(depth + 1)
            side.orig.clear()

    def trade(self, buy: bool) -> tuple[int, int] | None:
        """A taker trade against the touch: ``(tick, lots)``, or None if the side is empty."""
        side = self.asks if buy else self.bids
        if not side.keys:
            return None
        key = side.keys[0]
        avail, orders = side.vals[key]
        want = max(self.min_lots, int(self.trade_lots * math.exp(self.rng.gauss(0.0, 1.2))))
        if want >= avail:
            side.delete_at(0)
            return side.sign * key, avail
        side.set(key, (avail - want, orders))
        return side.sign * key, want

    # -- reads -----------------------------------------------------------------------------

    def flush(self) -> tuple[list[Level], list[Level]]:
        """Net changes since the last flush, best first: ``(bids, asks)``."""
        return self.bids.flush(), self.asks.flush()

    def touch(self) -> tuple[int, int]:
        """Current best bid and best ask ticks (0 for an empty side)."""
        b, a = self.bids.keys, self.asks.keys
        return (-b[0] if b else 0), (a[0] if a else 0)

    def published_touch(self) -> tuple[int, int]:
        """Best bid and best ask ticks as of the last flush."""
        bids, asks = self.published()
        return (bids[0][0] if bids else 0), (asks[0][0] if asks else 0)

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Best ``n`` levels per side as ``(tick, lots)``, best first."""
        return _top(self.bids, n), _top(self.asks, n)

    def published(self) -> tuple[list[Level], list[Level]]:
        """The whole book as of the last flush, best first: what a subscriber holds."""
        return self.bids.published(), self.asks.published()


def _top(side: _Side, n: int) -> list[tuple[int, int]]:
    vals, sign = side.vals, side.sign
    return [(sign * k, vals[k][0]) for k in side.keys[:n]]


def apply_levels(book: dict[int, tuple[int, int]], levels: Iterable[Level]) -> None:
    """Apply changes to a ``tick -> (lots, orders)`` dict (lots 0 deletes)."""
    for tick, lots, orders in levels:
        if lots:
            book[tick] = (lots, orders)
        else:
            book.pop(tick, None)
