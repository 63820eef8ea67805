"""arb against a ccxt-based book, in one process and one run: ``python -m bench.compare_ccxt``.

Every case consumes the same deterministic OKX ``books`` stream (``bench.streams``: a
400-level snapshot, then 20,000 updates of ~10 rows) one message at a time, each message timed
with ``time.perf_counter_ns`` (the clock's own cost is measured and subtracted). Cases run
interleaved, ``--reps`` times each, on fresh state built outside the timing.

Groups:

- ``apply``: apply one pre-decoded update to the book (no JSON): arb ``LocalBook`` with raw
  ints (and with the raw strings kept, as the OKX book spec does), ccxt's pure-Python
  ``OrderBook`` with floats, and a bare ``dict`` per side (the floor, it keeps no order);
- ``pipeline``: raw bytes -> decoded -> book updated. arb: ``OkxCodec.decode`` +
  ``BookSync.on_delta`` (checksum 0 as OKX sends since June 2026, and with every message's
  CRC32 verified). ccxt baseline: ``json.loads`` (and ``orjson.loads``, which ccxt.pro uses when
  it is installed) + ``float()`` on every price and size + ``OrderBookSide.store`` + the
  ``prevSeqId`` check and timestamp, i.e. the work of ccxt.pro okx ``handle_order_book_message``
  without its helper calls. ``ccxt.pro okx`` runs ccxt's own ``handle_message`` offline (as
  shipped: dispatch, ``safe_*`` helpers, ISO-8601 datetime per message);
- ``decode``: bytes -> Python objects only.

The final book of every case is checked against the generator's naive model (every level,
hence the same best bid/ask and level count in arb and ccxt), so that no case measures nothing.
Speed is reported as ratios within this run; absolute numbers depend on the machine and load.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import platform
import re
import socket
import statistics
import sys
import time
from array import array
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import msgspec
import orjson
from ccxt.async_support.base.ws.order_book import OrderBook

from arb.core.book import LocalBook
from arb.core.events import BookDelta
from arb.core.events import TextBookDelta
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.sync import Outcome
from bench.streams import INST_ID
from bench.streams import LOT_SIZE
from bench.streams import PX_PREC
from bench.streams import QTY_PREC
from bench.streams import TICK_SIZE
from bench.streams import BookStream
from bench.streams import Level
from bench.streams import stream
from venues.okx.codec import OkxCodec
from venues.okx.schemas import ws_decoder

__all__ = [
    "CONN",
    "TS_RECV",
    "Case",
    "arb_pipeline",
    "ccxt_pipeline",
    "main",
    "model_levels",
    "okx_instrument",
]

RESULTS = Path(__file__).resolve().parent / "results"
SYMBOL = "BTC-USDT"
CCXT_SYMBOL = "BTC/USDT"
CONN = "okx-public-1"
TS_RECV = 1_782_000_000_000_000_000
CHUNK = 500  # messages per turn when cases take turns

Step = Callable[[Any], object]
Book = tuple[list[Level], list[Level]]  # every level, best first: (bids, asks)
Setup = Callable[[], tuple[Step, Callable[[], object]]]


def okx_instrument() -> Instrument:
    return Instrument.create(
        venue="okx",
        symbol=SYMBOL,
        venue_symbol=INST_ID,
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=TICK_SIZE,
        lot_size=LOT_SIZE,
    )


# -- book states, for the checks -------------------------------------------------------------


def arb_levels(book: LocalBook) -> Book:
    return list(book.iter_bids()), list(book.iter_asks())


def ccxt_levels(ob: Any) -> Book:
    def conv(side: list[list[float]]) -> list[Level]:
        return [(round(px * 10**PX_PREC), round(sz * 10**QTY_PREC)) for px, sz in side]

    return conv(ob["bids"]), conv(ob["asks"])


def model_levels(s: BookStream) -> Book:
    return s.final_top(True, len(s.final_bids)), s.final_top(False, len(s.final_asks))


# -- apply only ------------------------------------------------------------------------------


def arb_apply(s: BookStream, *, keep_raw: bool) -> tuple[Step, Callable[[], Book]]:
    book = LocalBook("okx", SYMBOL, keep_raw=keep_raw)
    if keep_raw:
        book.apply_snapshot(s.snap_bids, s.snap_asks, *s.snap_rows)
        apply_raw = book.apply_deltas

        def step_raw(d: tuple[list[Level], list[Level], Any, Any]) -> None:
            apply_raw(d[0], d[1], d[2], d[3])

        return step_raw, lambda: arb_levels(book)
    book.apply_snapshot(s.snap_bids, s.snap_asks)
    apply = book.apply_deltas

    def step(d: tuple[list[Level], list[Level]]) -> None:
        apply(d[0], d[1])

    return step, lambda: arb_levels(book)


def ccxt_apply(s: BookStream) -> tuple[Step, Callable[[], Book]]:
    ob = OrderBook({}, 400)
    bids_store = ob["bids"].store
    asks_store = ob["asks"].store
    for px, sz in s.snap_asks_float:
        asks_store(px, sz)
    for px, sz in s.snap_bids_float:
        bids_store(px, sz)

    def step(d: tuple[list[tuple[float, float]], list[tuple[float, float]]]) -> None:
        for px, sz in d[1]:
            asks_store(px, sz)
        for px, sz in d[0]:
            bids_store(px, sz)

    return step, lambda: ccxt_levels(ob)


def dict_apply(s: BookStream) -> tuple[Step, Callable[[], Book]]:
    bids, asks = dict(s.snap_bids), dict(s.snap_asks)
    bids_pop, asks_pop = bids.pop, asks.pop

    def step(d: tuple[list[Level], list[Level]]) -> None:
        for px, qty in d[0]:
            if qty:
                bids[px] = qty
            else:
                bids_pop(px, None)
        for px, qty in d[1]:
            if qty:
                asks[px] = qty
            else:
                asks_pop(px, None)

    def final() -> Book:
        return (
            sorted(bids.items(), reverse=True),
            sorted(asks.items()),
        )

    return step, final


# -- pipeline: bytes -> book -----------------------------------------------------------------


def arb_pipeline(s: BookStream, *, checksummed: bool) -> tuple[Step, Callable[[], Book]]:
    """``OkxCodec.decode`` + ``BookSync.on_delta``, as the engine wires them (text rows
    converted as applied when the frames have no checksum, integer levels and raw strings
    when they do)."""
    codec = OkxCodec([okx_instrument()], text_deltas=True)
    sync = codec.book_spec(SYMBOL, "books").new_sync("okx", SYMBOL)
    snapshot = s.snapshot_frame_checksummed if checksummed else s.snapshot_frame
    (snap,) = codec.decode("<", CONN, snapshot, TS_RECV)
    assert sync.on_snapshot(snap) is Outcome.APPLIED  # type: ignore[arg-type]
    decode = codec.decode
    on_delta = sync.on_delta

    def step(frame: bytes) -> None:
        for ev in decode("<", CONN, frame, TS_RECV):
            if ev.__class__ is TextBookDelta or ev.__class__ is BookDelta:
                on_delta(ev)

    def final() -> Book:
        st = sync.stats
        assert sync.valid
        assert st.applied == st.deltas == len(s.frames)
        assert st.gaps == st.checksum_failed == st.crossed == 0
        assert st.checksum_ok == ((len(s.frames) + 1) if checksummed else 0)
        return arb_levels(sync.book)

    return step, final


def ccxt_apply_frame(books: dict[str, Any], loads: Callable[[bytes], Any], frame: bytes) -> Any:
    """One OKX ``books`` frame the way ccxt.pro's okx handler applies it; returns the book.

    Parse; read ``arg``/``action``; per ``data`` entry, ``float()`` both strings of every row and
    ``store`` them (asks, then bids); check ``prevSeqId`` against the nonce; keep ``seqId`` and
    the timestamp. Shared by every ccxt baseline so they all do the same work.
    """
    msg = loads(frame)
    inst_id = msg["arg"]["instId"]
    if msg["action"] == "snapshot":
        books[inst_id] = OrderBook({}, 400)
    ob = books[inst_id]
    asks_store = ob["asks"].store
    bids_store = ob["bids"].store
    for d in msg["data"]:
        for row in d["asks"]:
            asks_store(float(row[0]), float(row[1]))
        for row in d["bids"]:
            bids_store(float(row[0]), float(row[1]))
        prev = d["prevSeqId"]
        if prev != -1 and ob["nonce"] != prev:
            raise AssertionError(f"nonce {ob['nonce']} != prevSeqId {prev}")
        ob["nonce"] = d["seqId"]
        ob["timestamp"] = int(d["ts"])
    return ob


def ccxt_pipeline(s: BookStream, loads: Callable[[bytes], Any]) -> tuple[Step, Callable[[], Book]]:
    """The work of ccxt.pro okx ``handle_order_book_message``, without its helper calls.

    Per message: parse; read ``arg``/``action``; per ``data`` entry, ``float()`` both strings of
    every row and ``store`` them (asks, then bids); check ``prevSeqId`` against the nonce; keep
    ``seqId`` and the timestamp. Not included: handler dispatch, the ``safe_*`` wrappers and the
    ISO-8601 datetime string ccxt builds per message (see the ``ccxt.pro okx`` case for those).
    """
    books: dict[str, Any] = {}

    def step(frame: bytes) -> None:
        ccxt_apply_frame(books, loads, frame)

    step(s.snapshot_frame)
    return step, lambda: ccxt_levels(books[INST_ID])


class CcxtPro:
    """ccxt.pro's okx exchange, fed offline: markets set by hand, no connection made."""

    def __init__(self) -> None:
        import ccxt.pro  # heavy: only for this case

        self.ex = ccxt.pro.okx()
        spot = {
            "instType": "SPOT",
            "instId": INST_ID,
            "baseCcy": "BTC",
            "quoteCcy": "USDT",
            "tickSz": TICK_SIZE,
            "lotSz": LOT_SIZE,
            "minSz": "0.00001",
            "state": "live",
        }
        self.ex.set_markets(self.ex.parse_markets([spot]))
        self.client = self.ex.client(self.ex.urls["api"]["ws"])

    def setup(self, s: BookStream) -> tuple[Step, Callable[[], Book]]:
        ex, client = self.ex, self.client
        handle = ex.handle_message
        loads = orjson.loads  # ccxt's ws client parses with orjson when it is installed
        client.subscriptions[f"books:{CCXT_SYMBOL}"] = True
        handle(client, loads(s.snapshot_frame))

        def step(frame: bytes) -> None:
            handle(client, loads(frame))

        def final() -> Book:
            ob = ex.orderbooks[CCXT_SYMBOL]
            assert ob["nonce"] == orjson.loads(s.frames[-1])["data"][0]["seqId"]
            return ccxt_levels(ob)

        return step, final

    async def close(self) -> None:
        await self.ex.close()


# -- decode only -----------------------------------------------------------------------------


def decode_case(s: BookStream, name: str) -> tuple[Step, Callable[[], object]]:
    last: list[Any] = [None]
    expected_bids, expected_rows = s.deltas[-1][0], s.delta_rows[-1][0]
    if name == "arb":
        codec = OkxCodec([okx_instrument()])
        decode = codec.decode

        def step_arb(frame: bytes) -> None:
            last[0] = decode("<", CONN, frame, TS_RECV)

        def check_arb() -> object:
            (d,) = last[0]
            assert d.bids == expected_bids
            return None

        return step_arb, check_arb
    fn: Callable[[bytes], Any]
    if name == "msgspec-typed":
        fn = ws_decoder().decode

        # The schema keeps each row's price and size (``OkxRowMsg``), not all four strings.
        expected_rows = [row[:2] for row in expected_rows]

        def rows_of(m: Any) -> Any:
            return [[r.px, r.sz] for r in m.data[0].bids]

    else:
        parsers: dict[str, Callable[[bytes], Any]] = {
            "msgspec-any": msgspec.json.Decoder().decode,
            "orjson": orjson.loads,
            "json": json.loads,
        }
        fn = parsers[name]

        def rows_of(m: Any) -> Any:
            return m["data"][0]["bids"]

    def step(frame: bytes) -> None:
        last[0] = fn(frame)

    def check() -> object:
        assert rows_of(last[0]) == expected_rows
        return None

    return step, check


# -- measurement -----------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    group: str
    items: Sequence[Any]
    setup: Setup
    samples: list[array[int]] = field(default_factory=list)
    final: Callable[[], object] | None = None


@dataclass(frozen=True)
class Summary:
    median_us: float  # median over reps of the per-message median
    mean_us: float  # median over reps of the per-message mean
    p99_us: float
    levels_per_s: float  # mean rows per message / median time per message


def clock_overhead_ns(n: int = 200_000) -> float:
    clock = time.perf_counter_ns
    d = array("q", bytes(8 * n))
    for i in range(n):
        t0 = clock()
        d[i] = clock() - t0
    return statistics.median(d)


def time_each(step: Step, items: Sequence[Any], out: array[int], start: int) -> None:
    clock = time.perf_counter_ns
    i = start
    for x in items:
        t0 = clock()
        step(x)
        out[i] = clock() - t0
        i += 1


def summarize(samples: list[array[int]], overhead: float, levels: int) -> Summary:
    medians, means, p99s, rates = [], [], [], []
    for a in samples:
        n = len(a)
        srt = sorted(a)
        total = sum(a) - overhead * n
        medians.append((statistics.median(srt) - overhead) / 1e3)
        means.append(total / n / 1e3)
        p99s.append((srt[int(n * 0.99)] - overhead) / 1e3)
        rates.append(levels / n / (medians[-1] / 1e6))
    return Summary(
        statistics.median(medians),
        statistics.median(means),
        statistics.median(p99s),
        statistics.median(rates),
    )


def run(cases: list[Case], reps: int, chunk: int = CHUNK) -> None:
    """Time every case ``reps`` times, interleaved by chunks of ``chunk`` messages.

    All cases hold their own state side by side and take turns every ``chunk`` messages, so
    that a burst of load from other processes falls on every case alike.
    """
    for _ in range(reps):
        steps = []
        for case in cases:
            step, final = case.setup()
            case.final = final
            case.samples.append(array("q", bytes(8 * len(case.items))))
            steps.append(step)
        gc.collect()
        n = max(len(c.items) for c in cases)
        for lo in range(0, n, chunk):
            for case, step in zip(cases, steps, strict=True):
                time_each(step, case.items[lo : lo + chunk], case.samples[-1], lo)


# -- report ----------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = "unknown"
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if m:
            cpu = m.group(1).strip()
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    pkgs = ", ".join(f"{p} {version(p)}" for p in ("msgspec", "sortedcontainers", "orjson", "ccxt"))
    return [
        f"platform : {platform.platform()}",
        f"cpu      : {cpu}; {os.cpu_count()} logical cores, {usable} usable",
        f"python   : {sys.version.split()[0]} ({platform.python_implementation()})",
        f"packages : {pkgs}",
        f"load avg : {load} (1/5/15 min, at start)",
    ]


def table(cases: list[Case], sums: dict[str, Summary], baseline: dict[str, str]) -> list[str]:
    head = (
        f"{'group':9} {'case':40} {'median':>8} {'mean':>8} {'p99':>8} {'Mlevels/s':>9}"
        f" {'x base':>7}"
    )
    lines = [head, f"{'':9} {'':40} {'us/msg':>8} {'us/msg':>8} {'us/msg':>8}", "-" * len(head)]
    group = ""
    for c in cases:
        if c.group != group and group:
            lines.append("")
        group = c.group
        sm = sums[c.name]
        base = sums[baseline[c.group]]
        ratio = base.median_us / sm.median_us
        lines.append(
            f"{c.group:9} {c.name:40} {sm.median_us:8.2f} {sm.mean_us:8.2f} {sm.p99_us:8.2f}"
            f" {sm.levels_per_s / 1e6:9.2f} {ratio:7.2f}"
        )
    return lines


def ratio_lines(sums: dict[str, Summary]) -> list[str]:
    def r(fast: str, slow: str) -> str:
        a, b = sums[fast], sums[slow]
        return (
            f"{b.median_us / a.median_us:5.2f}x by median, "
            f"{b.mean_us / a.mean_us:5.2f}x by mean  ({fast} vs {slow})"
        )

    pipe = sums[ARB_PIPE]
    speedup = sums[CCXT_PIPE_JSON].median_us / pipe.median_us
    return [
        "apply-only : " + r(ARB_APPLY, CCXT_APPLY),
        "             " + r(ARB_APPLY_RAW, CCXT_APPLY),
        "             " + r(DICT_APPLY, ARB_APPLY),
        "pipeline   : " + r(ARB_PIPE, CCXT_PIPE_JSON),
        "             " + r(ARB_PIPE, CCXT_PIPE_ORJSON),
        "             " + r(ARB_PIPE_CK, CCXT_PIPE_JSON),
        "             " + r(ARB_PIPE, CCXT_PRO),
        "",
        "DESIGN §6 targets (informative, never asserted; the detector is not in this pipeline):",
        f"  median <= 8 us per 10-level update : {pipe.median_us:.2f} us "
        f"({'met' if pipe.median_us <= 8 else 'NOT met'})",
        f"  >= 1.5x the ccxt-based pipeline    : {speedup:.2f}x "
        f"({'met' if speedup >= 1.5 else 'NOT met'})",
    ]


ARB_APPLY = "arb LocalBook.apply_deltas (ints)"
ARB_APPLY_RAW = "arb LocalBook.apply_deltas (keep_raw)"
CCXT_APPLY = "ccxt OrderBook store (floats)"
DICT_APPLY = "dict store (floor, unordered)"
ARB_PIPE = "arb OkxCodec+BookSync (checksum 0)"
ARB_PIPE_CK = "arb OkxCodec+BookSync (CRC32 verified)"
CCXT_PIPE_JSON = "ccxt baseline: json+float+store"
CCXT_PIPE_ORJSON = "ccxt baseline: orjson+float+store"
CCXT_PRO = "ccxt.pro okx handle_message (orjson)"


def build_cases(s: BookStream, pro: CcxtPro) -> list[Case]:
    raw_items = [(b, a, rb, ra) for (b, a), (rb, ra) in zip(s.deltas, s.delta_rows, strict=True)]
    cases = [
        Case(DICT_APPLY, "apply", s.deltas, lambda: dict_apply(s)),
        Case(ARB_APPLY, "apply", s.deltas, lambda: arb_apply(s, keep_raw=False)),
        Case(ARB_APPLY_RAW, "apply", raw_items, lambda: arb_apply(s, keep_raw=True)),
        Case(CCXT_APPLY, "apply", s.deltas_float, lambda: ccxt_apply(s)),
        Case(ARB_PIPE, "pipeline", s.frames, lambda: arb_pipeline(s, checksummed=False)),
        Case(
            ARB_PIPE_CK,
            "pipeline",
            s.frames_checksummed,
            lambda: arb_pipeline(s, checksummed=True),
        ),
        Case(CCXT_PIPE_JSON, "pipeline", s.frames, lambda: ccxt_pipeline(s, json.loads)),
        Case(CCXT_PIPE_ORJSON, "pipeline", s.frames, lambda: ccxt_pipeline(s, orjson.loads)),
        Case(CCXT_PRO, "pipeline", s.frames, lambda: pro.setup(s)),
    ]
    for name in ("arb", "msgspec-typed", "msgspec-any", "orjson", "json"):
        label = {
            "arb": "arb OkxCodec.decode (-> BookDelta)",
            "msgspec-typed": "msgspec Decoder(OkxWsMsg) (typed, px+sz strings)",
            "msgspec-any": "msgspec Decoder() (untyped)",
            "orjson": "orjson.loads",
            "json": "json.loads",
        }[name]
        cases.append(Case(label, "decode", s.frames, functools.partial(decode_case, s, name)))
    return cases


def check_books(cases: list[Case], s: BookStream) -> None:
    want = model_levels(s)
    for c in cases:
        assert c.final is not None
        got = c.final()
        if c.group != "decode":
            assert got == want, f"{c.name}: final book differs from the model"


async def _main(args: argparse.Namespace) -> int:
    t_start = time.perf_counter()
    s = stream(args.updates, args.seed)
    t_gen = time.perf_counter() - t_start
    # The harness's own heap (the stream: millions of objects) is not the engine's: keep the
    # collector from walking it in every case alike.
    gc.collect()
    gc.freeze()
    pro = CcxtPro()
    try:
        cases = build_cases(s, pro)
        header = machine()
        overhead = clock_overhead_ns()
        run(cases, args.reps)
        check_books(cases, s)
    finally:
        await pro.close()
    sums = {c.name: summarize(c.samples, overhead, s.n_levels) for c in cases}
    baseline = {"apply": CCXT_APPLY, "pipeline": CCXT_PIPE_JSON, "decode": "json.loads"}
    bb, ba = s.final_best_bid(), s.final_best_ask()
    out = [
        f"arb vs ccxt - OKX books, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        *header,
        f"stream   : seed {s.seed}; 400+400-level snapshot, {len(s.frames)} updates, "
        f"{s.n_levels} rows ({s.n_levels / len(s.frames):.1f}/update); "
        f"{args.reps} reps per case, cases interleaved every {CHUNK} messages",
        f"timing   : perf_counter_ns around each message, clock cost {overhead:.0f} ns "
        "subtracted; GC on (stream frozen)",
        f"check    : every final book equals the model: best bid {bb}, best ask {ba}, "
        f"{len(s.final_bids)} bids, {len(s.final_asks)} asks (raw ints)",
        "",
        *table(cases, sums, baseline),
        "",
        f"median/mean/p99: per message, over {len(s.frames)} messages, median over reps. "
        "Mlevels/s: mean rows",
        "per message / median time. x base = baseline median / case median (apply: ccxt",
        "OrderBook store; pipeline: ccxt baseline json+float+store; decode: json.loads);",
        "higher is faster. On a loaded machine trust the medians; means and p99 carry the",
        "preemptions.",
        "",
        "RATIOS (same run; speed of the first over the second, > 1 means the first is faster):",
        *ratio_lines(sums),
        "",
        f"run time : {time.perf_counter() - t_start:.1f} s (stream generation {t_gen:.1f} s)",
    ]
    text = "\n".join(out) + "\n"
    publish(text, "" if args.no_write else f"{args.name}")
    return 0


def publish(text: str, name: str) -> None:
    """Print a run's text and, unless ``name`` is empty, append it to today's
    ``bench/results/<date>-<name>.txt`` (a day's runs follow each other)."""
    print(text, end="")
    if not name:
        return
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-{name}.txt"
    with path.open("a") as f:
        f.write(text + "\n")
    print(f"appended to {path}")


def default_name() -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "", socket.gethostname())
    return name or "machine"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.compare_ccxt", description=__doc__.split("\n")[0]
    )
    p.add_argument("--updates", type=int, default=20_000, help="updates in the stream")
    p.add_argument("--reps", type=int, default=5, help="repetitions per case")
    p.add_argument("--seed", type=int, default=20260621)
    p.add_argument("--name", default=default_name(), help="result file suffix (hostname)")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
