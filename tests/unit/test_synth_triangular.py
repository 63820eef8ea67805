"""The synthetic OKX triangle: deterministic, verifies clean, and its dislocations open
triangular cycles that pay more than three taker fees."""

from __future__ import annotations

import pytest

from arb.core.detector import VenueParams
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.sync import BookSync
from arb.core.triangular import TriangularConfig
from arb.core.triangular import TriangularDetector
from arb.recording import Kind
from arb.recording import open_recording
from arb.synth.triangular import SYMBOLS
from arb.synth.triangular import write_triangular_market
from arb.verify import verify_recording
from venues.registry import build_codec

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    out = tmp_path_factory.mktemp("tri") / "rec"
    return out, write_triangular_market(out, seconds=90, seed=7)


def test_the_triangle_is_written_for_okx_with_its_three_pairs(market):
    out, report = market
    assert report.venue == "okx"
    assert report.symbols == list(SYMBOLS)
    rec = open_recording(out)
    insts = {(i.venue, i.symbol) for i in rec.manifest.instruments}
    assert insts == {("okx", s) for s in SYMBOLS}
    assert report.book_frames > 2_000  # 3 books x 10 updates/s x 90 s, minus unchanged ones


def test_the_recording_verifies_clean(market):
    out, _ = market
    report, books, errors = verify_recording(open_recording(out))
    assert errors == []
    assert report.failures() == []
    assert report.checksum_ok > 0
    assert report.books == 3
    assert report.unsynced_books == 0
    assert all(b.synced_at_end for b in books)


def test_dislocations_open_cycles_that_pay_more_than_three_fees(market):
    _, report = market
    assert report.episodes
    assert all(45 <= abs(e.bps) <= 90 for e in report.episodes)
    assert report.openings_above_fees >= 1
    assert report.seconds_above_fees > 1.0
    assert report.max_edge_bps > 3 * report.fee_bps


def test_the_same_seed_gives_the_same_bytes(tmp_path):
    a = write_triangular_market(tmp_path / "a", seconds=5, seed=3)
    b = write_triangular_market(tmp_path / "b", seconds=5, seed=3)
    assert a.frames == b.frames
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    write_triangular_market(tmp_path / "c", seconds=5, seed=4)
    frames = next(n for n in files if n.startswith("frames-"))
    assert (tmp_path / "c" / frames).read_bytes() != (tmp_path / "a" / frames).read_bytes()


def test_the_triangular_detector_finds_cycles_during_the_dislocations(market):
    out, report = market
    rec = open_recording(out)
    insts = {i.key: i for i in rec.instruments()}
    codec = build_codec("okx", rec.manifest.instruments)
    det = TriangularDetector(
        TriangularConfig(venues=["okx"], quote="USDT", min_profit_quote="0.10"),
        insts,
        {"okx": VenueParams(taker_fee_ppm=1_000, order_latency_ms=12.0)},
    )
    books: dict[tuple[str, str], BookSync] = {}
    found: list[int] = []
    for f in rec.frames():
        if f.kind != Kind.RECV:
            continue
        for ev in codec.decode(f.kind, f.conn, f.payload, f.ts_recv):
            if not isinstance(ev, BookDelta | BookSnapshot):
                continue
            key = (ev.venue, ev.symbol)
            sync = books.get(key)
            if sync is None:
                sync = books[key] = codec.book_spec(ev.symbol, ev.channel).new_sync(*key)
            if isinstance(ev, BookSnapshot):
                sync.on_snapshot(ev)
            else:
                sync.on_delta(ev)
            opp = det.on_book_update(ev.venue, ev.symbol, books, f.ts_recv)
            if opp is not None:
                found.append(f.ts_recv)
    assert found
    # nearly all inside a dislocation episode (plus the books' lag behind it); a jump that
    # reaches the pairs at different times may open a short one of its own
    lag = 2_000_000_000
    inside = [t for t in found if any(e.start_ns <= t <= e.end_ns + lag for e in report.episodes)]
    assert len(inside) >= 0.9 * len(found)
    # and every episode opened at least one
    assert all(any(e.start_ns <= t <= e.end_ns + lag for t in found) for e in report.episodes)
