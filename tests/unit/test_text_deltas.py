"""Book updates as text rows (``TextBookDelta``): converted as the book applies them.

The engine's OKX codec emits them for updates without a checksum; every result must be what
the integer path gives (``BookDelta`` from the plain codec), and a string that does not fit
must drop the book (counted, resync asked), never crash or leave a half-applied book trusted.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.book import LocalBook
from arb.core.errors import DecodeError
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import TextBookDelta
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.scaler import RawScaler
from arb.core.sequencing import OkxRule
from arb.core.sync import BookSync
from arb.core.sync import Outcome
from venues.okx.checksum import book_checksum
from venues.okx.codec import OkxCodec

pytestmark = pytest.mark.unit

CONN = "ws0"


class Row(msgspec.Struct, array_like=True):
    px: str
    sz: str


def inst(tick: str = "0.1", lot: str = "0.00000001") -> Instrument:
    return Instrument.create(
        venue="okx",
        symbol="BTC-USDT",
        venue_symbol="BTC-USDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=tick,
        lot_size=lot,
    )


def text(scaler: RawScaler, seq: int, bids=(), asks=()) -> TextBookDelta:
    return TextBookDelta(
        "okx",
        "BTC-USDT",
        "books",
        seq * 1_000_000,
        seq * 1_000_000 + 5,
        seq,
        seq,
        seq - 1,
        [Row(*r) for r in bids],
        [Row(*r) for r in asks],
        scaler,
    )


def synced(scaler: RawScaler, bids, asks, seq: int = 1) -> BookSync:
    sync = BookSync(LocalBook("okx", "BTC-USDT"), OkxRule(), book_checksum)
    snap = BookSnapshot(
        venue="okx",
        symbol="BTC-USDT",
        channel="books",
        ts_event=0,
        ts_recv=0,
        seq=seq,
        bids=scaler.levels(bids),
        asks=scaler.levels(asks),
    )
    assert sync.on_snapshot(snap) is Outcome.APPLIED
    return sync


BIDS = [["30000.1", "1.5"], ["29999.9", "0.25"], ["29990", "3"]]
ASKS = [["30000.2", "0.5"], ["30001", "2"], ["30010.5", "0.00000001"]]


def test_text_update_applies_like_the_integer_update_and_counts():
    sc = RawScaler(inst())
    sync = synced(sc, BIDS, ASKS)
    d = text(sc, 2, bids=[["30000.1", "0"], ["30000", "0.7"]], asks=[["30001", "1.25"]])
    assert sync.on_delta(d) is Outcome.APPLIED
    assert sync.book.best_bid() == (300000, 70_000_000)
    assert sync.book.asks[300010] == 125_000_000
    assert 300001 not in sync.book.bids
    sync.book.check()
    # the fast path (linked prev id, synced, past the first delta)
    assert sync.on_delta(text(sc, 3, asks=[["30000.2", "0"]])) is Outcome.APPLIED
    assert sync.book.best_ask() == (300010, 125_000_000)
    assert (sync.seq, sync.book.ts_event, sync.book.ts_recv) == (3, 3_000_000, 3_000_005)
    st_ = sync.stats
    assert (st_.deltas, st_.applied, st_.checksum_absent) == (2, 2, 3)  # + the snapshot
    # a gap still goes through the sequence rule
    assert sync.on_delta(text(sc, 9, bids=[["1", "1"]])) is Outcome.GAP
    assert sync.resync_requested
    assert not sync.valid
    assert sync.stats.gaps == 1
    assert sync.stats.deltas == 3


def test_to_delta_is_the_integer_update():
    sc = RawScaler(inst())
    d = text(sc, 7, bids=[["30000.1", "0"]], asks=[["30001", "1.25"], ["30002", "0.5"]])
    assert d.to_delta() == BookDelta(
        venue="okx",
        symbol="BTC-USDT",
        channel="books",
        ts_event=7_000_000,
        ts_recv=7_000_005,
        first_seq=7,
        last_seq=7,
        prev_seq=6,
        bids=[(300001, 0)],
        asks=[(300010, 125_000_000), (300020, 50_000_000)],
    )


@pytest.mark.parametrize(
    ("row", "where"),
    [
        (["30000.15", "1"], "'30000.15' has more than 1 decimals"),
        (["30000.1", "0.000000001"], "'0.000000001' has more than 8 decimals"),
        (["30000.1", "1e-3"], "'1e-3' is not a decimal number"),
        (["30000.1", "1.2.3"], "'1.2.3' is not a decimal number"),
        (["abc", "1"], "'abc' is not a decimal number"),
        (["30000.1", "1_000"], "'1_000' is not a decimal number"),
        (["30000.1", " 5"], "' 5' is not a decimal number"),
        (["30000.1", "\u0663"], "is not a decimal number"),
        (["30000.1", "-0.5"], "'-0.5' is negative"),
        (["30000.1", "1" * 5000], "is not a decimal number"),  # past int()'s digit limit
        (["1" * 5000, "1"], "is not a decimal number"),
        (["30000.1", "-0.50000000000"], "'-0.50000000000' is negative"),
    ],
)
def test_a_string_that_does_not_fit_drops_the_book_and_asks_a_resync(row, where):
    sc = RawScaler(inst())
    sync = synced(sc, BIDS, ASKS)
    assert sync.on_delta(text(sc, 2, bids=[["30000", "1"]])) is Outcome.APPLIED  # fast path on
    # the first row applies, the second does not convert: nothing of the book is trusted
    out = sync.on_delta(text(sc, 3, bids=[["29000", "1"], row]))
    assert out is Outcome.MALFORMED
    assert not sync.valid
    assert sync.resync_requested
    assert where in sync.last_failure
    assert len(sync.book) == 0
    sync.book.check()
    assert sync.stats.malformed == 1
    # never remembered: the same string fails again after the resync
    sync = synced(sc, BIDS, ASKS)
    assert sync.on_delta(text(sc, 2, bids=[row])) is Outcome.MALFORMED
    # a snapshot brings it back
    assert synced(sc, BIDS, ASKS).valid


def test_trailing_zeros_past_the_precision_are_accepted_as_elsewhere():
    sc = RawScaler(inst())
    sync = synced(sc, BIDS, ASKS)
    assert sync.on_delta(text(sc, 2, bids=[["30000.00", "0.500000000000"]])) is Outcome.APPLIED
    assert sync.book.bids[300000] == 50_000_000


def test_the_size_memo_is_bounded_and_conversions_after_a_clear_are_exact():
    sc = RawScaler(inst(), capacity=4)
    sync = synced(sc, BIDS, ASKS)
    sizes = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.1", "0.25"]
    for i, sz in enumerate(sizes):
        assert sync.on_delta(text(sc, 2 + i, bids=[["29000", sz]])) is Outcome.APPLIED
        assert sync.book.bids[290000] == round(float(sz) * 10**8)
        assert len(sc.qty_memo) <= 4 + 1  # cleared per update: at most its rows over


# -- the same result as the integer path, for any updates ------------------------------------

bid_px = st.integers(min_value=1, max_value=200).map(lambda p: f"{p / 10:g}")
ask_px = st.integers(min_value=201, max_value=400).map(lambda p: f"{p / 10:g}")
sizes = st.one_of(
    st.just("0"),
    st.integers(min_value=1, max_value=10**9).map(lambda q: f"{q / 10**8:.8f}".rstrip("0")),
    st.integers(min_value=1, max_value=30).map(str),
)
side_rows = (
    st.lists(st.tuples(bid_px, sizes), max_size=8),
    st.lists(st.tuples(ask_px, sizes), max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(
    updates=st.lists(st.tuples(*side_rows), min_size=1, max_size=12),
    load=st.sampled_from([None, 4]),
)
def test_text_updates_equal_integer_updates(updates, load):
    # A small size memo (cleared often), new and repeated strings, deletes of absent levels,
    # one sublist (the fast loop) or several (the general path): the same book every step.
    sc = RawScaler(inst(), capacity=8)
    plain = RawScaler(inst())
    a = synced(sc, [], [])
    b = synced(plain, [], [])
    if load is not None:
        for book in (a.book, b.book):
            book.bid_prices._reset(load)
            book.ask_prices._reset(load)
    for i, (bids, asks) in enumerate(updates):
        seq = 2 + i
        want = BookDelta(
            venue="okx",
            symbol="BTC-USDT",
            channel="books",
            ts_event=0,
            ts_recv=0,
            first_seq=seq,
            last_seq=seq,
            prev_seq=seq - 1,
            bids=plain.levels(bids),
            asks=plain.levels(asks),
        )
        assert a.on_delta(text(sc, seq, bids=bids, asks=asks)) is Outcome.APPLIED
        assert b.on_delta(want) is Outcome.APPLIED
        assert a.book.bids == b.book.bids
        assert a.book.asks == b.book.asks
        assert list(a.book.bid_prices) == list(b.book.bid_prices)
        assert list(a.book.ask_prices) == list(b.book.ask_prices)
        a.book.check()
    assert a.seq == b.seq != NO_SEQ
    assert a.stats.applied == b.stats.applied == len(updates)


# -- the codec -----------------------------------------------------------------------------


def frame(seq: int, checksum: int = 0, asks: str = '[["30001.5","0.5","0","1"]]') -> bytes:
    return (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
        + asks.encode()
        + b',"bids":[["30000.1","0","0","0"]],"ts":"1782000000123","checksum":'
        + str(checksum).encode()
        + b',"prevSeqId":'
        + str(seq - 1).encode()
        + b',"seqId":'
        + str(seq).encode()
        + b"}]}"
    )


def test_codec_emits_text_updates_only_when_asked_and_only_without_a_checksum():
    insts = [inst()]
    plain, fast = OkxCodec(insts), OkxCodec(insts, text_deltas=True)
    (d,) = plain.decode("<", CONN, frame(5), 99)
    (t,) = fast.decode("<", CONN, frame(5), 99)
    assert isinstance(d, BookDelta)
    assert isinstance(t, TextBookDelta)
    assert t.to_delta() == d
    assert d.ts_event == 1_782_000_000_123_000_000
    assert d.ts_recv == 99
    # once a message of the instrument carries a checksum, its updates keep raw rows
    (c,) = fast.decode("<", CONN, frame(6, checksum=123), 99)
    assert isinstance(c, BookDelta)
    assert c.raw_asks == [["30001.5", "0.5", "0", "1"]]
    (after,) = fast.decode("<", CONN, frame(7), 99)
    assert isinstance(after, BookDelta)
    assert after.raw_bids is not None


@pytest.mark.parametrize("text_deltas", [False, True])
def test_codec_refuses_a_timestamp_that_is_not_digits_naming_conn_channel_and_field(text_deltas):
    codec = OkxCodec([inst()], text_deltas=text_deltas)
    bad = frame(5).replace(b'"ts":"1782000000123"', b'"ts":"soon"')
    with pytest.raises(DecodeError, match=r"ws0 channel 'books'.*\$\.data\[0\]\.ts"):
        codec.decode("<", CONN, bad, 1)
