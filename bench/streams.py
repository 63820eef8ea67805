"""Deterministic OKX v5 ``books`` stream shared by every benchmark.

One instrument (``BTC-USDT`` spot, tick ``0.1``, lot ``0.00000001``): a 400-level snapshot per
side, then ``n_updates`` incremental updates of 6 to 14 rows each (about 10), mostly near the top
of the book: size changes, inserts (some inside the spread) and deletes (size ``"0"``). The
book never crosses and keeps about 400 levels per side.

Each message is given in four forms, so that decoding and applying can be timed apart:

- ``frames`` / ``frames_checksummed``: raw JSON bytes exactly as OKX sends them (compact JSON,
  4-string rows ``["px","sz","0","n"]``, ``seqId``/``prevSeqId``, ``checksum`` 0 as in
  production since June 2026, or the real signed CRC32 of the top 25 levels);
- ``deltas``: ``(bids, asks)`` as ``(px_raw, qty_raw)`` int tuples (what arb's codec produces);
- ``deltas_float``: ``(bids, asks)`` as ``(price, size)`` floats (what ccxt stores);
- ``delta_rows``: ``(bids, asks)`` as the original 4-string rows.

Row mix and size repetition follow the recorded OKX BTC-USDT ``books`` stream
(``../shared/data/okx-20220513``: 35% inserts, 35% deletes, 10% deletes of levels not in the
book, 20% size changes; 61% of non-zero size strings seen before). Generated with the default
seed: 31% inserts, 31% deletes, 5.5% deletes of absent levels, 33% size changes; 55% of
non-zero sizes seen before. The recorded updates had ~37 rows (100 ms of BTC-USDT) and touched
deeper levels; here they have ~10 rows, mostly near the top, as in the DESIGN §6 targets.

The generator keeps its own naive model of the book (a dict per side), which is the expected
final state every benchmark checks against. Nothing here is timed.
"""

from __future__ import annotations

import functools
import random
import zlib
from dataclasses import dataclass
from dataclasses import field

import orjson

__all__ = [
    "INST_ID",
    "LOT_SIZE",
    "PX_PREC",
    "QTY_PREC",
    "TICK_SIZE",
    "BookStream",
    "FLevel",
    "Level",
    "Rows",
    "naive_walk",
    "px_str",
    "qty_str",
    "stream",
]

INST_ID = "BTC-USDT"
TICK_SIZE = "0.1"
LOT_SIZE = "0.00000001"
PX_PREC = 1
QTY_PREC = 8
SNAPSHOT_DEPTH = 400
TS0_MS = 1_782_000_000_000  # 2026-06-21, after OKX fixed the checksum to 0
SEQ0 = 7_000_000_000

Level = tuple[int, int]
FLevel = tuple[float, float]
Rows = list[list[str]]


def _fmt(raw: int, prec: int) -> str:
    # OKX prints decimals without trailing zeros: "30261", "30243.5", "0.06523858".
    q, r = divmod(raw, 10**prec)
    if not r:
        return str(q)
    return f"{q}.{r:0{prec}d}".rstrip("0")


def px_str(px_raw: int) -> str:
    return _fmt(px_raw, PX_PREC)


def qty_str(qty_raw: int) -> str:
    return _fmt(qty_raw, QTY_PREC)


@dataclass(frozen=True, slots=True)
class BookStream:
    """One snapshot and ``len(deltas)`` updates, in every form the benchmarks need."""

    seed: int
    snapshot_frame: bytes
    snapshot_frame_checksummed: bytes
    frames: list[bytes]
    frames_checksummed: list[bytes]
    snap_bids: list[Level]  # best first
    snap_asks: list[Level]
    snap_bids_float: list[FLevel]
    snap_asks_float: list[FLevel]
    snap_rows: tuple[Rows, Rows]
    deltas: list[tuple[list[Level], list[Level]]]
    deltas_float: list[tuple[list[FLevel], list[FLevel]]]
    delta_rows: list[tuple[Rows, Rows]]
    final_bids: dict[int, int] = field(repr=False)
    final_asks: dict[int, int] = field(repr=False)

    @property
    def n_levels(self) -> int:
        """Rows in all updates (inserts + changes + deletes): the unit of levels/s."""
        return sum(len(b) + len(a) for b, a in self.deltas)

    def final_best_bid(self) -> Level:
        px = max(self.final_bids)
        return px, self.final_bids[px]

    def final_best_ask(self) -> Level:
        px = min(self.final_asks)
        return px, self.final_asks[px]

    def final_top(self, bids: bool, n: int) -> list[Level]:
        side = self.final_bids if bids else self.final_asks
        return [(px, side[px]) for px in sorted(side, reverse=bids)[:n]]

    def typical_frame(self, rows: int = 10) -> int:
        """Index of the first update with exactly ``rows`` rows (for single-message benches)."""
        for i, (b, a) in enumerate(self.deltas):
            if len(b) + len(a) == rows:
                return i
        raise ValueError(f"no update with {rows} rows")


def naive_walk(side: dict[int, int], bids: bool, qty: int) -> tuple[int, int, int, int]:
    """Taker walk on a dict side: (filled qty, notional, worst px, levels) — the reference."""
    left, notional, worst, levels = qty, 0, 0, 0
    for px in sorted(side, reverse=bids):
        if left <= 0:
            break
        take = min(side[px], left)
        notional += px * take
        left -= take
        worst = px
        levels += 1
    return qty - left, notional, worst, levels


class _Model:
    """The naive book the generator edits: sorted price lists plus size and string maps."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.qty: tuple[dict[int, int], dict[int, int]] = ({}, {})  # bids, asks
        self.sz_s: tuple[dict[int, str], dict[int, str]] = ({}, {})
        self.px_s: tuple[dict[int, str], dict[int, str]] = ({}, {})
        self.keys: tuple[list[int], list[int]] = ([], [])  # best first on both sides
        self.pool = [rng.randint(1, 3_000) * 100_000 for _ in range(250)]
        self.pool += [int(rng.expovariate(1 / 40_000_000)) + 1 for _ in range(250)]

    def size(self) -> int:
        # Calibrated on the recorded OKX BTC-USDT books (okx-20220513): about 60% of the
        # non-zero size strings of an update were seen before (round lots, resting orders).
        if self.rng.random() < 0.55:
            return self.rng.choice(self.pool)
        return int(self.rng.expovariate(1 / 40_000_000)) + 1  # full 8 decimals, fresh

    def put(self, s: int, px: int, qty: int) -> list[str]:
        keys, q, sz, pxs = self.keys[s], self.qty[s], self.sz_s[s], self.px_s[s]
        if qty == 0:
            if px not in q:  # a level the venue deletes beyond our depth
                return [px_str(px), "0", "0", "0"]
            del q[px], sz[px]
            keys.remove(px)
            return [pxs.pop(px), "0", "0", "0"]
        if px not in q:
            # bids descending, asks ascending: insert by linear scan from the top (near top).
            i = 0
            if s == 0:
                while i < len(keys) and keys[i] > px:
                    i += 1
            else:
                while i < len(keys) and keys[i] < px:
                    i += 1
            keys.insert(i, px)
            pxs[px] = px_str(px)
        q[px] = qty
        sz[px] = qty_str(qty)
        return [pxs[px], sz[px], "0", str(self.rng.randint(1, 20))]

    def checksum(self) -> int:
        parts: list[str] = []
        kb, ka = self.keys[0][:25], self.keys[1][:25]
        (pb, pa), (sb, sa) = self.px_s, self.sz_s
        for i in range(max(len(kb), len(ka))):
            if i < len(kb):
                parts += (pb[kb[i]], sb[kb[i]])
            if i < len(ka):
                parts += (pa[ka[i]], sa[ka[i]])
        c = zlib.crc32(":".join(parts).encode())
        return c - 0x1_0000_0000 if c >= 0x8000_0000 else c

    def pick_op(self, s: int, touched: set[int]) -> tuple[int, int] | None:
        """One (px, new qty) for side ``s``, or None when the draw collides this message.

        Drawn weights: 35% inserts, 5% deletes of levels beyond the book, ~35% deletes (more
        when the side is deeper than 400), the rest size changes; collisions are redrawn. The
        depth stays near 400 and the spread near a few ticks.
        """
        rng, keys = self.rng, self.keys[s]
        n = len(keys)
        idx = min(n - 1, int(rng.expovariate(1 / 12)))
        p_insert = 0.35
        p_delete = min(0.6, max(0.05, 0.35 + (n - SNAPSHOT_DEPTH) * 0.01))
        r = rng.random()
        sign = -1 if s == 0 else 1  # direction away from the spread
        spread = self.keys[1][0] - self.keys[0][0]
        if spread > 6 and rng.random() < 0.3:
            idx, r = 0, 0.0  # the market closes a wide spread quickly
        if r < p_insert:
            if idx == 0 and spread > 1 and rng.random() < 0.8:
                px = keys[0] - sign * rng.randint(1, min(4, spread - 1))  # improve the top
            else:
                base = keys[idx]
                for off in rng.sample((1, 2, 3, 4), 4):
                    px = base + sign * off
                    if px not in self.qty[s]:
                        break
            if px in self.qty[s] or px in touched or px <= 0:
                return None
            return px, self.size()
        if r < p_insert + 0.05:
            px = keys[-1] + sign * rng.randint(1, 50)
            if px in self.qty[s] or px in touched or px <= 0:
                return None
            return px, 0
        px = keys[idx]
        if px in touched:
            return None
        if r < p_insert + 0.05 + p_delete:
            return px, 0
        return px, self.size()


def _frame(
    action: str, bids: Rows, asks: Rows, ts: int, checksum: int, prev: int, seq: int
) -> bytes:
    return orjson.dumps(
        {
            "arg": {"channel": "books", "instId": INST_ID},
            "action": action,
            "data": [
                {
                    "asks": asks,
                    "bids": bids,
                    "ts": str(ts),
                    "checksum": checksum,
                    "prevSeqId": prev,
                    "seqId": seq,
                }
            ],
        }
    )


def _floats(rows: Rows) -> list[FLevel]:
    return [(float(r[0]), float(r[1])) for r in rows]


def _ints(rows: Rows) -> list[Level]:
    return [(_parse(r[0], PX_PREC), _parse(r[1], QTY_PREC)) for r in rows]


def _parse(s: str, prec: int) -> int:
    # Exact for the generator's own strings (never more decimals than ``prec``).
    head, _, frac = s.partition(".")
    return int(head + frac.ljust(prec, "0"))


@functools.lru_cache(maxsize=4)
def stream(n_updates: int = 20_000, seed: int = 20260621) -> BookStream:
    """Generate (once per process and arguments) the stream. Deterministic in ``seed``."""
    rng = random.Random(seed)
    m = _Model(rng)
    best_bid, best_ask = 299_995, 300_005  # 29999.5 / 30000.5
    snap: tuple[Rows, Rows] = ([], [])
    for s, start in ((0, best_bid), (1, best_ask)):
        px = start
        for _ in range(SNAPSHOT_DEPTH):
            snap[s].append(m.put(s, px, m.size()))
            px += (-1 if s == 0 else 1) * rng.choice((1, 1, 2, 2, 3, 4, 6))
    seq = SEQ0
    ts = TS0_MS
    snapshot_frame = _frame("snapshot", snap[0], snap[1], ts, 0, -1, seq)
    snapshot_frame_ck = _frame("snapshot", snap[0], snap[1], ts, m.checksum(), -1, seq)

    frames: list[bytes] = []
    frames_ck: list[bytes] = []
    delta_rows: list[tuple[Rows, Rows]] = []
    for _ in range(n_updates):
        rows: tuple[Rows, Rows] = ([], [])
        touched: tuple[set[int], set[int]] = (set(), set())
        k = rng.randint(6, 14)
        while len(rows[0]) + len(rows[1]) < k:
            s = 0 if rng.random() < 0.5 else 1
            op = m.pick_op(s, touched[s])
            if op is None:
                continue
            touched[s].add(op[0])
            rows[s].append(m.put(s, *op))
        # OKX lists bids descending and asks ascending within a message.
        rows[0].sort(key=lambda r: -float(r[0]))
        rows[1].sort(key=lambda r: float(r[0]))
        prev, seq = seq, seq + rng.randint(1, 4)
        ts += rng.randint(90, 110)
        frames.append(_frame("update", rows[0], rows[1], ts, 0, prev, seq))
        frames_ck.append(_frame("update", rows[0], rows[1], ts, m.checksum(), prev, seq))
        delta_rows.append(rows)

    return BookStream(
        seed=seed,
        snapshot_frame=snapshot_frame,
        snapshot_frame_checksummed=snapshot_frame_ck,
        frames=frames,
        frames_checksummed=frames_ck,
        snap_bids=_ints(snap[0]),
        snap_asks=_ints(snap[1]),
        snap_bids_float=_floats(snap[0]),
        snap_asks_float=_floats(snap[1]),
        snap_rows=snap,
        deltas=[(_ints(b), _ints(a)) for b, a in delta_rows],
        deltas_float=[(_floats(b), _floats(a)) for b, a in delta_rows],
        delta_rows=delta_rows,
        final_bids=dict(m.qty[0]),
        final_asks=dict(m.qty[1]),
    )
