"""``venues.normalized.encode``: checked snapshots and trades -> normalized frames that
``NormalizedCodec`` decodes back to the same levels, through the same book checks as replay."""

from __future__ import annotations

import msgspec
import pytest

from arb.core.events import NO_SEQ
from arb.core.events import BookSnapshot
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.sync import Outcome
from arb.core.types import Side
from arb.recording import Kind
from venues.normalized.codec import NormalizedCodec
from venues.normalized.encode import decimal_str
from venues.normalized.encode import snapshot_frame
from venues.normalized.encode import trade_frame
from venues.normalized.schemas import NormalizedSnapMsg

pytestmark = pytest.mark.unit

VENUE = "okx-ccxt"
INST = Instrument.create(
    venue=VENUE,
    symbol="BTC-USDT",
    venue_symbol="BTC/USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="0.00000001",
)
PERP = Instrument.create(
    venue=VENUE,
    symbol="BTC-USDT-PERP",
    venue_symbol="BTC/USDT:USDT",
    kind=InstrumentKind.PERP,
    base="BTC",
    quote="USDT",
    tick_size="0.5",
    lot_size="1",
)


def snap(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    *,
    ts: int = 1_795_476_241_508_000_000,
    inst: Instrument = INST,
    **kw: object,
) -> BookSnapshot:
    return BookSnapshot(
        venue=VENUE,
        symbol=inst.symbol,
        channel="ccxt.watch_order_book",
        ts_event=ts,
        ts_recv=ts + 2_000_000,
        seq=123456,  # ccxt's nonce: not written, the frame's seq is the caller's
        bids=bids,
        asks=asks,
        partial=True,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def codec() -> NormalizedCodec:
    return NormalizedCodec(VENUE, [INST, PERP])


def decode_one(codec: NormalizedCodec, payload: bytes, ts_recv: int = 7) -> BookSnapshot:
    (ev,) = codec.decode(Kind.NORMALIZED, "ccxt.watch_order_book", payload, ts_recv)
    assert isinstance(ev, BookSnapshot)
    return ev


@pytest.mark.parametrize(
    ("raw", "precision", "text"),
    [(6000020, 1, "600002"), (6000025, 1, "600002.5"), (95459986, 8, "0.95459986"),
     (120000000, 8, "1.2"), (1, 8, "0.00000001"), (0, 8, "0"), (42, 0, "42"), (-150, 2, "-1.5")],
)  # fmt: skip
def test_decimal_str_is_the_shortest_exact_string(raw, precision, text):
    assert decimal_str(raw, precision) == text


def test_snapshot_frame_is_one_full_partial_snap_of_the_venue_symbol():
    payload = snapshot_frame(snap([(600002, 95459986)], [(600004, 120000000)]), INST, 3)
    assert b"\n" not in payload
    assert msgspec.json.decode(payload) == {
        "t": "snap",
        "s": "BTC/USDT",
        "seq": 3,
        "te": 1_795_476_241_508_000_000,
        "b": [["60000.2", "0.95459986"]],
        "a": [["60000.4", "1.2"]],
        "partial": True,
    }


def test_snapshot_frame_decodes_back_to_the_same_levels(codec):
    bids = [(600002, 95459986), (600001, 1), (599990, 250000000000)]
    asks = [(600004, 120000000), (600010, 3), (601000, 100000000)]
    s = snap(bids, asks)
    got = decode_one(codec, snapshot_frame(s, INST, 1), ts_recv=s.ts_recv)
    assert (got.bids, got.asks) == (bids, asks)
    assert (got.venue, got.symbol, got.channel) == (VENUE, "BTC-USDT", NormalizedCodec.CHANNEL)
    assert (got.ts_event, got.ts_recv, got.seq, got.partial) == (s.ts_event, s.ts_recv, 1, True)


def test_snapshot_frame_of_a_contract_and_of_an_empty_side(codec):
    s = snap([(120001, 5), (120000, 12)], [], inst=PERP)
    got = decode_one(codec, snapshot_frame(s, PERP, 9))
    assert got.symbol == "BTC-USDT-PERP"
    assert (got.bids, got.asks) == ([(120001, 5), (120000, 12)], [])


def test_snapshot_frame_writes_the_snapshot_own_strings_when_it_has_them(codec):
    s = snap(
        [(600002, 95459986)],
        [(600004, 120000000)],
        raw_bids=[["60000.20", "0.95459986", "0", "3"]],
        raw_asks=[["60000.4", "1.20000000", "0", "1"]],
    )
    payload = snapshot_frame(s, INST, 1)
    msg = msgspec.json.decode(payload, type=NormalizedSnapMsg)
    assert (msg.b, msg.a) == ([("60000.20", "0.95459986")], [("60000.4", "1.20000000")])
    got = decode_one(codec, payload)
    assert (got.bids, got.asks) == (s.bids, s.asks)


def test_sequence_of_snapshots_syncs_the_book_with_no_gap(codec):
    sync = codec.book_spec("BTC-USDT", NormalizedCodec.CHANNEL).new_sync(VENUE, "BTC-USDT")
    books = [
        ([(600002, 10), (600001, 20)], [(600004, 30), (600005, 40)]),
        ([(600003, 11)], [(600004, 31), (600006, 41)]),
        ([(600000, 12), (599999, 13)], [(600001, 32)]),
        ([(600001, 14)], [(600002, 33)]),
    ]
    for seq, (bids, asks) in enumerate(books, start=1):
        ev = decode_one(codec, snapshot_frame(snap(bids, asks, ts=seq * 1000), INST, seq))
        assert sync.on_snapshot(ev) is Outcome.APPLIED
        assert sync.valid
        assert sync.seq == seq
        # Top-N replaces the whole book: nothing of the previous snapshot is left over.
        assert sync.book.top(Side.BUY, 10) == bids
        assert sync.book.top(Side.SELL, 10) == asks
    st = sync.stats
    assert (st.snapshots, st.gaps, st.resyncs, st.crossed) == (4, 0, 0, 0)


def test_skipped_seq_shows_as_a_hole_but_the_next_snapshot_still_replaces_the_book(codec):
    # A lost snapshot frame is visible in the frames' seq (4 after 2). BookSync checks the
    # sequence of deltas only: a top-N snapshot replaces the whole book, so it is applied and
    # the book is exact; no gap is counted for snapshots.
    sync = codec.book_spec("BTC-USDT", NormalizedCodec.CHANNEL).new_sync(VENUE, "BTC-USDT")
    seqs = []
    for seq in (1, 2, 4):
        ev = decode_one(codec, snapshot_frame(snap([(600000 + seq, 1)], [(600010, 1)]), INST, seq))
        seqs.append(ev.seq)
        sync.on_snapshot(ev)
    assert seqs == [1, 2, 4]
    assert sync.valid
    assert sync.book.best_bid() == (600004, 1)
    assert sync.stats.gaps == 0


def test_trade_frame_decodes_back_to_the_trade(codec):
    t = Trade(
        venue=VENUE,
        symbol="BTC-USDT",
        ts_event=1_795_476_241_601_000_000,
        ts_recv=1_795_476_241_603_000_000,
        trade_id="242720720",
        px=600004,
        qty=1000000,
        side="buy",
    )
    payload = trade_frame(t, INST)
    assert msgspec.json.decode(payload)["px"] == "60000.4"
    (got,) = codec.decode(Kind.NORMALIZED, "ccxt.watch_trades", payload, t.ts_recv)
    assert got == t
    odd = msgspec.structs.replace(t, side="")
    (got,) = codec.decode(Kind.NORMALIZED, "ccxt.watch_trades", trade_frame(odd, INST), 0)
    assert isinstance(got, Trade)
    assert got.side == "unknown"


def test_snapshot_frame_ignores_the_venue_nonce(codec):
    s = snap([(600002, 1)], [(600004, 1)])
    assert s.seq != NO_SEQ
    assert decode_one(codec, snapshot_frame(s, INST, 5)).seq == 5
