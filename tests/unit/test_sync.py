"""Sequence rules per venue and the BookSync state machine (gap -> invalid -> resync)."""

import pytest

from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.sequencing import BinanceFuturesRule
from arb.core.sequencing import BinanceSpotRule
from arb.core.sequencing import ContiguousRule
from arb.core.sequencing import NoSequenceRule
from arb.core.sequencing import OkxRule
from arb.core.sequencing import Verdict
from arb.core.sync import BookSpec
from arb.core.sync import Outcome
from arb.core.sync import SyncState
from venues.okx.checksum import book_checksum
from venues.okx.checksum import checksum_of


def snap(seq, bids=((100, 1),), asks=((101, 1),), checksum=0, raw=None):
    return BookSnapshot(
        venue="v",
        symbol="X",
        channel="books",
        ts_event=1,
        ts_recv=2,
        seq=seq,
        bids=list(bids),
        asks=list(asks),
        checksum=checksum,
        raw_bids=raw[0] if raw else None,
        raw_asks=raw[1] if raw else None,
    )


def delta(first, last, prev=NO_SEQ, bids=(), asks=(), checksum=0, raw=None, ts=3):
    return BookDelta(
        venue="v",
        symbol="X",
        channel="books",
        ts_event=ts,
        ts_recv=ts,
        first_seq=first,
        last_seq=last,
        prev_seq=prev,
        bids=list(bids),
        asks=list(asks),
        checksum=checksum,
        raw_bids=raw[0] if raw else None,
        raw_asks=raw[1] if raw else None,
    )


def okx(prev, seq, **kw):
    return delta(seq, seq, prev, **kw)


# -- OKX (reference §9.5) --------------------------------------------------------------


def test_okx_doc_sequence_with_keepalive_and_reset_is_accepted():
    sync = BookSpec(OkxRule()).new_sync("okx", "X")
    assert sync.on_snapshot(snap(10)) is Outcome.APPLIED
    outs = [sync.on_delta(d) for d in (okx(10, 15), okx(15, 15), okx(15, 3), okx(3, 5))]
    assert outs == [Outcome.APPLIED] * 4
    assert sync.seq == 5
    assert sync.stats.gaps == 0


def test_okx_break_in_chain_invalidates_and_requests_resync():
    sync = BookSpec(OkxRule()).new_sync("okx", "X")
    sync.on_snapshot(snap(10))
    sync.on_delta(okx(10, 15))
    assert sync.on_delta(okx(16, 20)) is Outcome.GAP
    assert sync.state is SyncState.AWAITING_SNAPSHOT
    assert sync.resync_requested
    assert sync.book.is_empty()
    assert (sync.stats.gaps, sync.stats.resyncs) == (1, 1)
    assert "local 15" in sync.last_failure


def test_okx_rest_snapshot_bootstrap_drops_old_and_bridges():
    # §3.6: buffer updates, snapshot seqId=12 arrives, drop seqId <= 12, first kept has
    # prevSeqId <= 12 < seqId.
    sync = BookSpec(OkxRule()).new_sync("okx", "X")
    for d in (okx(5, 8), okx(8, 12), okx(12, 14, bids=[(99, 7)]), okx(14, 20)):
        assert sync.on_delta(d) is Outcome.BUFFERED
    assert sync.on_snapshot(snap(12)) is Outcome.APPLIED
    assert sync.seq == 20
    assert sync.book.bids[99] == 7
    assert sync.stats.stale == 2


def test_okx_rule_without_seq_ids_applies():
    assert OkxRule().follows(NO_SEQ, okx(NO_SEQ, NO_SEQ)) is Verdict.APPLY
    assert OkxRule().after_snapshot(NO_SEQ, okx(NO_SEQ, NO_SEQ)) is Verdict.APPLY


def test_okx_checksum_verified_when_non_zero_and_mismatch_resyncs():
    rb, ra = [["3366.1", "7"], ["3366", "6"]], [["3366.8", "9"], ["3368", "8"]]
    sync = BookSpec(OkxRule(), book_checksum).new_sync("okx", "X")
    s = snap(1, [(33661, 7), (33660, 6)], [(33668, 9), (33680, 8)], -1881014294, (rb, ra))
    assert sync.on_snapshot(s) is Outcome.APPLIED
    assert sync.stats.checksum_ok == 1
    # apply a change; the venue's checksum is computed on the new book
    new_ra = [["3366.8", "0"]]
    good = checksum_of([("3366.1", "7"), ("3366", "6")], [("3368", "8")])
    d = okx(1, 2, asks=[(33668, 0)], checksum=good, raw=([], new_ra))
    assert sync.on_delta(d) is Outcome.APPLIED
    d = okx(2, 3, bids=[(33661, 5)], checksum=good, raw=([["3366.1", "5"]], []))
    assert sync.on_delta(d) is Outcome.BAD_CHECKSUM
    assert sync.stats.checksum_failed == 1
    assert sync.resync_requested


def test_zero_checksum_counts_as_absent():
    sync = BookSpec(OkxRule(), book_checksum).new_sync("okx", "X")
    sync.on_snapshot(snap(1, raw=([["1", "1"]], [["2", "1"]])))
    assert (sync.stats.checksum_absent, sync.stats.checksum_ok) == (1, 0)


# -- Binance -----------------------------------------------------------------------------


def test_binance_spot_documented_bracketing_then_contiguous():
    sync = BookSpec(BinanceSpotRule()).new_sync("binance", "X")
    for d in (delta(90, 95), delta(96, 99), delta(100, 104), delta(105, 110)):
        sync.on_delta(d)
    assert sync.on_snapshot(snap(101)) is Outcome.APPLIED  # 100 <= 102 <= 104 bridges
    assert sync.seq == 110
    assert sync.stats.stale == 2
    assert sync.on_delta(delta(111, 115)) is Outcome.APPLIED
    assert sync.on_delta(delta(117, 118)) is Outcome.GAP


def test_binance_spot_first_live_event_after_snapshot_must_bracket():
    sync = BookSpec(BinanceSpotRule()).new_sync("binance", "X")
    sync.on_snapshot(snap(100))
    assert sync.on_delta(delta(95, 100)) is Outcome.STALE
    assert sync.on_delta(delta(98, 103)) is Outcome.APPLIED
    assert sync.seq == 103


def test_binance_spot_snapshot_then_event_past_it_is_gap():
    sync = BookSpec(BinanceSpotRule()).new_sync("binance", "X")
    sync.on_snapshot(snap(100))
    assert sync.on_delta(delta(105, 110)) is Outcome.GAP


def test_binance_spot_old_event_ignored_overlap_applied():
    r = BinanceSpotRule()
    assert r.follows(100, delta(101, 105)) is Verdict.APPLY
    assert r.follows(100, delta(90, 100)) is Verdict.STALE
    assert r.follows(100, delta(95, 105)) is Verdict.APPLY
    assert r.follows(100, delta(102, 105)) is Verdict.GAP


def test_binance_futures_pu_chain():
    sync = BookSpec(BinanceFuturesRule()).new_sync("binance-usdm", "X")
    for d in (delta(80, 90, 79), delta(91, 99, 90), delta(100, 120, 99)):
        sync.on_delta(d)
    sync.on_snapshot(snap(99))  # drop u < 99; first has U <= 99 <= u
    assert sync.seq == 120
    assert sync.stats.stale == 1
    assert sync.on_delta(delta(121, 130, 120)) is Outcome.APPLIED
    assert sync.on_delta(delta(140, 150, 135)) is Outcome.GAP


def test_resync_after_gap_recovers_on_next_snapshot():
    sync = BookSpec(BinanceFuturesRule()).new_sync("binance-usdm", "X")
    sync.on_snapshot(snap(10))
    sync.on_delta(delta(11, 12, 10))
    sync.on_delta(delta(20, 21, 15))
    assert not sync.valid
    assert sync.on_delta(delta(22, 23, 21)) is Outcome.BUFFERED
    assert sync.on_snapshot(snap(22)) is Outcome.APPLIED
    assert sync.valid
    assert sync.seq == 23
    assert not sync.resync_requested


def test_crossed_update_invalidates_book():
    sync = BookSpec(NoSequenceRule()).new_sync("v", "X")
    sync.on_snapshot(snap(NO_SEQ))
    assert sync.on_delta(delta(NO_SEQ, NO_SEQ, bids=[(102, 1)])) is Outcome.CROSSED
    assert sync.stats.crossed == 1
    assert not sync.valid


def test_buffer_is_bounded_and_counts_drops():
    spec = BookSpec(ContiguousRule())
    sync = spec.new_sync("v", "X")
    sync.max_buffer = 3
    for i in range(1, 6):
        sync.on_delta(delta(i, i))
    assert sync.stats.dropped == 2
    sync.on_snapshot(snap(2))
    assert sync.seq == 5


@pytest.mark.parametrize(
    ("last", "first", "verdict"),
    [(5, 6, Verdict.APPLY), (5, 5, Verdict.STALE), (5, 8, Verdict.GAP)],
)
def test_contiguous_rule(last, first, verdict):
    assert ContiguousRule().follows(last, delta(first, first)) is verdict


def test_book_keeps_venue_and_receive_time_of_last_update():
    sync = BookSpec(NoSequenceRule()).new_sync("v", "X")
    sync.on_snapshot(snap(NO_SEQ))
    sync.on_delta(delta(NO_SEQ, NO_SEQ, bids=[(99, 1)], ts=77))
    assert (sync.book.ts_event, sync.book.ts_recv) == (77, 77)


def test_book_keeps_raw_strings_only_while_checksums_are_sent():
    raw = ([["1", "1"]], [["2", "1"]])
    spec = BookSpec(OkxRule(), book_checksum)
    zero = spec.new_sync("okx", "X")
    zero.on_snapshot(snap(1, raw=raw))
    assert not zero.book.keep_raw  # OKX sends checksum 0 since June 2026: nothing to verify
    live = spec.new_sync("okx", "X")
    live.on_snapshot(snap(1, checksum=checksum_of([("1", "1")], [("2", "1")]), raw=raw))
    assert live.book.keep_raw
    assert live.stats.checksum_ok == 1
