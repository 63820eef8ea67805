"""A synthetic one-venue triangle (OKX BTC-USDT, ETH-BTC, ETH-USDT) with planted mispricings.

``write_triangular_market`` writes an arb recording of OKX ``books`` + ``trades`` (seqId,
prevSeqId, CRC32 checksums, keep-alives and sequence resets, as ``arb synth`` writes them) for
the three pairs of one triangle. BTC-USDT and ETH-USDT follow the latent market; ETH-BTC
follows it too, except during **dislocation episodes**: its price drifts away from
``ETH-USDT / BTC-USDT`` by ``DISLOCATION_BPS`` (a random size and sign), ramps in and out over
``RAMP_MS`` and holds for a few seconds, more than the three OKX taker fees (3 x 10 bps) plus
the spreads, so that a triangular detector finds cycles that pay. Deterministic: the same
arguments give byte-identical files.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from pathlib import Path

import msgspec

from arb.recording import RecordingWriter
from arb.synth import specs
from arb.synth.model import LatentMarket
from arb.synth.okx import okx_frames
from arb.synth.specs import VenueSpec
from arb.synth.wire import Delivered
from arb.synth.writer import DEFAULT_START_NS

__all__ = [
    "DISLOCATION_BPS",
    "EPISODE_RATE",
    "SYMBOLS",
    "DislocatedMarket",
    "Episode",
    "TriangularSynthReport",
    "write_triangular_market",
]

SYMBOLS = ("BTC-USDT", "ETH-BTC", "ETH-USDT")
VENUE = "okx"
FEE_BPS = 10.0  # OKX spot taker, each leg
EPISODE_RATE = 1.0 / 25.0  # dislocations per second
DISLOCATION_BPS = (45.0, 90.0)  # size of a dislocation, uniform
HOLD_S = (2.0, 6.0)  # how long it holds, uniform
RAMP_MS = 300.0  # ramp in and out (linear)
GENERATOR = "arb.synth.triangular 1"
_S = 1_000_000_000
_MS = 1_000_000


class Episode(msgspec.Struct, frozen=True, kw_only=True):
    """One dislocation of ETH-BTC: ``bps`` (signed: > 0, ETH-BTC dearer than the cross rate)
    from ``start_ns`` (ramp start) to ``end_ns`` (ramp end)."""

    start_ns: int
    end_ns: int
    bps: float


def episodes(seed: int, start_ns: int, end_ns: int) -> list[Episode]:
    """The dislocation episodes of a market, from their own seeded stream, not overlapping."""
    rng = random.Random(f"{seed}/triangular/episodes")
    ramp = int(RAMP_MS * _MS)
    out: list[Episode] = []
    t = start_ns + int(5 * _S)  # books are synced first
    while True:
        t += int(rng.expovariate(EPISODE_RATE) * _S)
        hold = int(rng.uniform(*HOLD_S) * _S)
        end = t + 2 * ramp + hold
        if end >= end_ns:
            return out
        bps = rng.uniform(*DISLOCATION_BPS) * (1.0 if rng.random() < 0.5 else -1.0)
        out.append(Episode(start_ns=t, end_ns=end, bps=bps))
        t = end


class DislocatedMarket(LatentMarket):
    """A view of a ``LatentMarket`` in which ``asset`` is moved by the episodes' offsets.

    Given to the quoter of one pair only (``ETH-BTC`` with ``asset="ETH"``), it dislocates that
    pair from the cross rate of the other two, which keep following the undisturbed market.
    """

    def __init__(self, inner: LatentMarket, asset: str, eps: list[Episode]) -> None:
        # Share the inner market's paths and arrivals (read-only); no new draws.
        self.__dict__.update(inner.__dict__)
        self._inner = inner
        self._asset = asset
        self._eps = eps
        self._starts = [e.start_ns for e in eps]

    def offset(self, t_ns: int) -> float:
        """Log-price offset at ``t_ns`` (0 outside every episode)."""
        i = bisect_right(self._starts, t_ns) - 1
        if i < 0:
            return 0.0
        e = self._eps[i]
        if t_ns >= e.end_ns:
            return 0.0
        ramp = RAMP_MS * _MS
        w = min(1.0, (t_ns - e.start_ns) / ramp, (e.end_ns - t_ns) / ramp)
        return w * e.bps * 1e-4

    def log_price(self, asset: str, venue: VenueSpec, t_ns: int) -> float:
        x = self._inner.log_price(asset, venue, t_ns)
        return x + self.offset(t_ns) if asset == self._asset else x


class TriangularSynthReport(msgspec.Struct, frozen=True, kw_only=True):
    """What ``write_triangular_market`` wrote, and how often the triangle paid.

    ``seconds_above_fees``: time (receive order) during which one direction's top-of-book
    cycle rate exceeded the three taker fees of ``fee_bps``; ``openings_above_fees``: how
    often that began; ``max_edge_bps``: the best cycle rate seen, in bps over 1, before fees.
    """

    out: str
    seed: int
    seconds: float
    venue: str
    symbols: list[str]
    frames: int
    book_frames: int
    trades: int
    episodes: list[Episode]
    seconds_above_fees: float
    openings_above_fees: int
    max_edge_bps: float
    fee_bps: float = FEE_BPS


def write_triangular_market(
    out: Path,
    *,
    seconds: float,
    seed: int,
    start_ns: int = DEFAULT_START_NS,
) -> TriangularSynthReport:
    """Write the OKX triangle BTC-USDT, ETH-BTC, ETH-USDT with ETH-BTC dislocations to ``out``.

    Parameters
    ----------
    out
        A new (or empty) recording directory.
    seconds
        Length of the market, at least 1.
    seed
        Seed of every random draw; the same arguments give byte-identical files.
    start_ns
        Local time of the first frame (ns); default 2024-08-08 00:00 UTC.

    Raises
    ------
    ValueError
        ``seconds < 1``.
    RecordingError
        ``out`` already holds a recording.
    """
    if not seconds >= 1.0:
        raise ValueError(f"synth: seconds must be at least 1, was {seconds!r}")
    end_ns = start_ns + int(seconds * _S)
    vspec = specs.VENUES[VENUE]
    insts = [specs.instrument_spec(VENUE, s) for s in SYMBOLS]
    market = LatentMarket([vspec], seed=seed, start_ns=start_ns, end_ns=end_ns)
    eps = episodes(seed, start_ns, end_ns)
    dislocated = DislocatedMarket(market, "ETH", eps)
    frames = okx_frames(
        market,
        vspec,
        insts,
        seed=seed,
        start_ns=start_ns,
        end_ns=end_ns,
        markets={"ETH-BTC": dislocated},
    )
    frames.sort(key=lambda f: (f.ts_recv, f.order))
    with RecordingWriter(out, source="synth") as w:
        for inst in insts:
            w.add_instrument(specs.make_instrument(inst))
        w.notes.update(
            {
                "generator": GENERATOR,
                "seed": str(seed),
                "seconds": repr(float(seconds)),
                "venues": VENUE,
                "symbols": ",".join(SYMBOLS),
                "start_ns": str(start_ns),
                "dislocations": (
                    f"ETH-BTC, rate {EPISODE_RATE}/s, {DISLOCATION_BPS[0]}-{DISLOCATION_BPS[1]} "
                    f"bps, hold {HOLD_S[0]}-{HOLD_S[1]} s, ramp {RAMP_MS} ms"
                ),
                "episodes": str(len(eps)),
            }
        )
        for f in frames:
            w.write(f.ts_recv, f.venue, f.conn, f.kind, f.payload)
    return _report(out, seed, seconds, frames, eps)


def _report(
    out: Path, seed: int, seconds: float, frames: list[Delivered], eps: list[Episode]
) -> TriangularSynthReport:
    tops: dict[str, tuple[float, float]] = {}
    limit = math.log1p(-FEE_BPS * 1e-4) * 3  # log of (1 - fee)^3
    above_since: int | None = None
    above_ns = openings = 0
    best = -math.inf
    books = trades = 0
    for f in frames:
        if f.trade:
            trades += 1
        if f.top is None:
            continue
        books += 1
        tops[f.top.symbol] = (f.top.bid, f.top.ask)
        if len(tops) < 3 or any(b <= 0 or a <= 0 for b, a in tops.values()):
            continue
        (b1, a1), (b2, a2), (b3, a3) = (tops[s] for s in SYMBOLS)
        # forward: USDT -> BTC -> ETH -> USDT; reverse: USDT -> ETH -> BTC -> USDT
        edge = max(math.log(b3 / (a1 * a2)), math.log(b2 * b1 / a3))
        best = max(best, edge)
        if edge + limit > 0:
            if above_since is None:
                above_since = f.ts_recv
                openings += 1
        elif above_since is not None:
            above_ns += f.ts_recv - above_since
            above_since = None
    if above_since is not None and frames:
        above_ns += frames[-1].ts_recv - above_since
    return TriangularSynthReport(
        out=str(out),
        seed=seed,
        seconds=float(seconds),
        venue=VENUE,
        symbols=list(SYMBOLS),
        frames=len(frames),
        book_frames=books,
        trades=trades,
        episodes=eps,
        seconds_above_fees=above_ns / _S,
        openings_above_fees=openings,
        max_edge_bps=math.expm1(best) * 1e4 if best > -math.inf else 0.0,
    )
