"""``arb synth``: deterministic, wire-exact, and internally consistent synthetic markets.

The books are rebuilt here from the frames with plain dicts of the strings as sent, so that
every check (checksums, sequences, crossing, cross-venue spreads) is independent of the
generator's own state.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arb.recording import Frame
from arb.recording import open_recording
from arb.synth import SynthReport
from arb.synth import generate
from venues.okx.checksum import checksum_of

SECONDS = 40.0


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthReport, list[Frame]]:
    out = tmp_path_factory.mktemp("synth") / "rec"
    report = generate(out, seconds=SECONDS, seed=7)
    return report, list(open_recording(out).frames())


@pytest.fixture(scope="module")
def usdm(tmp_path_factory: pytest.TempPathFactory) -> list[Frame]:
    out = tmp_path_factory.mktemp("synth") / "usdm"
    generate(out, seconds=10, seed=3, venues=("binance-usdm",), symbols=("BTC-USDT",))
    return list(open_recording(out).frames())


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


Msg = dict[str, Any]
Side = dict[float, float]


def _okx_books(frames: list[Frame]) -> Iterator[tuple[Frame, Msg]]:
    for f in frames:
        if f.venue == "okx" and f.kind == "<" and b'"channel":"books"' in f.payload[:40]:
            yield f, json.loads(f.payload)


def _px_key(row: list[str]) -> float:
    return float(row[0])


# -- determinism and order ----------------------------------------------------------------


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    a = generate(tmp_path / "a", seconds=10, seed=11)
    b = generate(tmp_path / "b", seconds=10, seed=11)
    generate(tmp_path / "c", seconds=10, seed=12)
    fa, fb, fc = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert fa == fb
    assert a.frames == b.frames
    assert a.open_seconds == b.open_seconds
    assert fa["frames-000000.arb.gz"] != fc["frames-000000.arb.gz"]


def test_frames_are_in_receive_order_and_start_with_the_connections(market):
    _, frames = market
    ts = [f.ts_recv for f in frames]
    assert ts == sorted(ts)
    first: dict[str, Frame] = {}
    for f in frames:
        first.setdefault(f.venue, f)
    assert first["okx"].kind == "+"
    assert first["okx"].payload.startswith(b"wss://ws.okx.com")
    assert first["binance"].kind == "+"
    assert b"btcusdt@depth@100ms" in first["binance"].payload


def test_report_counts_frames_per_venue(market):
    report, frames = market
    assert report.frames == len(frames)
    for venue, n in report.frames_by_venue.items():
        assert n == sum(1 for f in frames if f.venue == venue)
    # Books every 100 ms per symbol on both venues, and some trades.
    for venue in ("okx", "binance"):
        assert report.book_frames_by_venue[venue] >= 2 * 9 * SECONDS
        assert report.trades_by_venue[venue] > SECONDS


def test_manifest_lists_every_instrument_with_metadata(tmp_path):
    generate(tmp_path / "r", seconds=2, seed=1, venues=("okx", "binance", "binance-usdm"))
    rec = open_recording(tmp_path / "r")
    keys = {(i.venue, i.symbol): i for i in rec.manifest.instruments}
    assert set(keys) == {
        ("okx", "BTC-USDT"),
        ("okx", "ETH-USDT"),
        ("binance", "BTC-USDT"),
        ("binance", "ETH-USDT"),
        ("binance-usdm", "BTC-USDT-PERP"),
        ("binance-usdm", "ETH-USDT-PERP"),
    }
    okx = keys[("okx", "BTC-USDT")]
    assert (okx.tick_size, okx.lot_size, okx.min_size, okx.source) == (
        "0.1",
        "0.00000001",
        "0.00001",
        "synth",
    )
    assert keys[("binance", "BTC-USDT")].tick_size == "0.01"
    assert rec.manifest.notes["seed"] == "1"
    assert rec.manifest.source == "synth"


@pytest.mark.parametrize(
    ("venues", "symbols", "match"),
    [
        (("okx", "kraken"), ("BTC-USDT",), "unknown venue 'kraken'"),
        (("okx",), ("DOGE-USDT",), "unknown symbol 'DOGE-USDT'"),
        (("binance-usdm",), ("ETH-BTC",), "does not list 'ETH-BTC'"),
        (("okx", "okx"), ("BTC-USDT",), "listed twice"),
    ],
)
def test_unknown_venue_or_symbol_raises_value_error(tmp_path, venues, symbols, match):
    with pytest.raises(ValueError, match=match):
        generate(tmp_path / "r", seconds=5, seed=1, venues=venues, symbols=symbols)


# -- OKX ------------------------------------------------------------------------------------


def test_okx_subscribes_then_receives_acks_and_snapshots(market):
    _, frames = market
    okx = [f for f in frames if f.venue == "okx"]
    assert [f.kind for f in okx[:2]] == ["+", ">"]
    sub = json.loads(okx[1].payload)
    assert sub["op"] == "subscribe"
    assert {"channel": "books", "instId": "BTC-USDT"} in sub["args"]
    acks = [json.loads(f.payload) for f in okx[2 : 2 + len(sub["args"])]]
    assert [a["arg"] for a in acks] == sub["args"]
    assert all(a["event"] == "subscribe" for a in acks)


def test_okx_checksums_are_nonzero_and_match_the_rebuilt_book(market):
    _, frames = market
    books: dict[str, tuple[dict[str, list[str]], dict[str, list[str]]]] = {}
    checked = 0
    for _, msg in _okx_books(frames):
        inst = msg["arg"]["instId"]
        data = msg["data"][0]
        if msg["action"] == "snapshot":
            books[inst] = ({}, {})
        bids, asks = books[inst]
        for side, rows in ((bids, data["bids"]), (asks, data["asks"])):
            for row in rows:
                assert len(row) == 4
                assert row[2] == "0"
                if row[1] == "0":
                    del side[row[0]]
                else:
                    side[row[0]] = row
        top_b = sorted(bids.values(), key=_px_key, reverse=True)[:25]
        top_a = sorted(asks.values(), key=_px_key)[:25]
        assert data["checksum"] != 0
        assert checksum_of(top_b, top_a) == data["checksum"]
        assert float(top_b[0][0]) < float(top_a[0][0])
        assert 50 <= len(bids) <= 200
        assert 50 <= len(asks) <= 200
        checked += 1
    assert checked >= 2 * 9 * SECONDS


def test_okx_seq_chain_holds_with_a_keepalive_and_a_reset(market):
    _, frames = market
    last: dict[str, int] = {}
    keepalives = resets = 0
    for _, msg in _okx_books(frames):
        inst, d = msg["arg"]["instId"], msg["data"][0]
        if msg["action"] == "snapshot":
            assert d["prevSeqId"] == -1
            assert d["seqId"] >= 0
        else:
            assert d["prevSeqId"] == last[inst]
            if d["seqId"] == d["prevSeqId"]:
                assert d["asks"] == []
                assert d["bids"] == []
                keepalives += 1
            elif d["seqId"] < d["prevSeqId"]:
                resets += 1
            else:
                assert d["asks"] or d["bids"]
        last[inst] = d["seqId"]
    assert keepalives >= 2  # at least one per instrument in a 40 s run
    assert resets >= 2


def test_okx_numbers_use_minimal_decimals(market):
    _, frames = market
    for _, msg in _okx_books(frames[:200]):
        for row in msg["data"][0]["asks"] + msg["data"][0]["bids"]:
            for s in row[:2]:
                assert not s.endswith(".")
                assert "." not in s or not s.endswith("0")


# -- Binance --------------------------------------------------------------------------------


def _binance_events(frames: list[Frame], venue: str) -> Iterator[tuple[str, str, Msg]]:
    for f in frames:
        if f.venue != venue:
            continue
        if f.kind == "r":
            yield "snapshot", f.conn.split("symbol=")[1].split("&")[0], json.loads(f.payload)
        elif f.kind == "<" and b"@depth" in f.payload[:40]:
            d = json.loads(f.payload)["data"]
            yield "diff", d["s"], d


def test_binance_spot_diffs_continue_the_rest_snapshot(market):
    _, frames = market
    buffered: dict[str, list[Msg]] = {}
    last: dict[str, int] = {}
    dropped = 0
    for what, sym, msg in _binance_events(frames, "binance"):
        if what == "snapshot":
            assert msg["bids"]
            assert msg["asks"]
            assert msg["bids"][0][0].endswith("000000")  # 8 decimals, as Binance spot prints
            L = msg["lastUpdateId"]
            kept = [d for d in buffered.pop(sym) if d["u"] > L]
            dropped += 1 if kept else 0
            assert kept, "the snapshot must arrive while diffs are buffered"
            assert kept[0]["U"] <= L + 1 <= kept[0]["u"]
            last[sym] = kept[-1]["u"]
            for prev, d in itertools.pairwise(kept):
                assert d["U"] == prev["u"] + 1
        elif sym in last:
            assert msg["U"] == last[sym] + 1
            assert msg["u"] >= msg["U"] + len(msg["b"]) + len(msg["a"]) - 1
            last[sym] = msg["u"]
        else:
            buffered.setdefault(sym, []).append(msg)
    assert set(last) == {"BTCUSDT", "ETHUSDT"}


def test_binance_spot_buffers_diffs_older_than_the_snapshot(market):
    _, frames = market
    for sym in ("BTCUSDT", "ETHUSDT"):
        before: list[Msg] = []
        for what, s, msg in _binance_events(frames, "binance"):
            if s != sym:
                continue
            if what == "snapshot":
                assert any(d["u"] <= msg["lastUpdateId"] for d in before)
                break
            before.append(msg)


def test_binance_usdm_pu_chain_and_snapshot_bracket(usdm):
    last = None
    buffered: list[Msg] = []
    for what, _, msg in _binance_events(usdm, "binance-usdm"):
        if what == "snapshot":
            L = msg["lastUpdateId"]
            assert len(msg["bids"][0][0].split(".")[1]) == 2  # "61800.20": price precision
            kept = [d for d in buffered if d["u"] >= L]
            assert kept[0]["U"] <= L <= kept[0]["u"]
            last = kept[-1]["u"]
        elif last is None:
            buffered.append(msg)
        else:
            assert msg["pu"] == last
            assert msg["U"] > msg["pu"]
            prices = [float(p) for p, _ in msg["b"]]
            assert prices == sorted(prices)  # futures send bids in ascending order too
            last = msg["u"]
    assert last is not None


# -- books and cross-venue spreads -----------------------------------------------------------


_NAMES = {"BTCUSDT": "BTC-USDT", "ETHUSDT": "ETH-USDT"}


def _apply(book: tuple[Side, Side], bids: list[list[str]], asks: list[list[str]]) -> None:
    for side, rows in zip(book, (bids, asks), strict=True):
        for row in rows:
            if float(row[1]) == 0:
                side.pop(float(row[0]), None)
            else:
                side[float(row[0])] = float(row[1])


class _Books:
    """Books of every venue rebuilt from frames, Binance with its snapshot procedure."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, str], tuple[Side, Side]] = {}
        self.buffered: dict[tuple[str, str], list[Msg]] = {}

    def feed(self, f: Frame) -> tuple[str, str] | None:
        """Apply one frame; return the (venue, symbol) of the book it updated, if any."""
        if f.venue == "okx":
            if f.kind != "<" or b'"channel":"books"' not in f.payload[:40]:
                return None
            msg = json.loads(f.payload)
            key = ("okx", msg["arg"]["instId"])
            if msg["action"] == "snapshot":
                self.books[key] = ({}, {})
            _apply(self.books[key], msg["data"][0]["bids"], msg["data"][0]["asks"])
            return key
        if f.kind == "r":
            msg = json.loads(f.payload)
            key = (f.venue, _NAMES[f.conn.split("symbol=")[1].split("&")[0]])
            self.books[key] = ({}, {})
            _apply(self.books[key], msg["bids"], msg["asks"])
            for d in self.buffered.pop(key):
                if d["u"] > msg["lastUpdateId"]:
                    _apply(self.books[key], d["b"], d["a"])
            return key
        if f.kind == "<" and b"@depth" in f.payload[:40]:
            d = json.loads(f.payload)["data"]
            key = (f.venue, _NAMES[d["s"]])
            if key not in self.books:
                self.buffered.setdefault(key, []).append(d)
                return None
            _apply(self.books[key], d["b"], d["a"])
            return key
        return None


def _tops(frames: list[Frame]) -> Iterator[tuple[str, str, float, float]]:
    """Yield (venue, symbol, best_bid, best_ask) after every book frame, rebuilt."""
    books = _Books()
    for f in frames:
        key = books.feed(f)
        if key is not None:
            bids, asks = books.books[key]
            yield key[0], key[1], max(bids), min(asks)


def test_books_are_never_crossed_on_any_venue(market):
    _, frames = market
    n = 0
    for _, _, bid, ask in _tops(frames):
        assert bid < ask
        n += 1
    assert n > 4 * 9 * SECONDS


def test_cross_venue_spreads_open_and_close(market):
    report, frames = market
    last: dict[str, dict[str, tuple[float, float]]] = {}
    moments = openings = closings = 0
    was_open: dict[str, bool] = {}
    for venue, sym, bid, ask in _tops(frames):
        tops = last.setdefault(sym, {})
        tops[venue] = (bid, ask)
        if len(tops) < 2:
            continue
        (b1, a1), (b2, a2) = tops["okx"], tops["binance"]
        is_open = b1 > a2 or b2 > a1
        moments += is_open
        if is_open and not was_open.get(sym):
            openings += 1
        if was_open.get(sym) and not is_open:
            closings += 1
        was_open[sym] = is_open
    assert openings >= 10
    assert closings >= openings - 2
    # Open now and then, not most of the time.
    assert 0.005 < report.open_fraction < 0.15
    assert moments < 0.2 * report.book_frames_by_venue["okx"] * 2
    assert report.openings >= 10
    assert report.max_spread_bps > 0


def test_production_verifier_accepts_the_recording(tmp_path):
    pytest.importorskip("venues.registry")
    from arb.verify import verify_recording

    generate(tmp_path / "r", seconds=35, seed=5, venues=("okx", "binance", "binance-usdm"))
    report, books, errors = verify_recording(open_recording(tmp_path / "r"))
    assert errors == []
    assert report.failures() == []
    assert report.checksum_ok > 0
    assert report.unsynced_books == 0
    assert all(b.synced_at_end for b in books)
