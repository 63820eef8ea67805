"""``SequenceRule.links_prev``: the inline check in ``BookSync.on_delta`` agrees with the rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.sequencing import RULES
from arb.core.sequencing import Verdict
from arb.core.sync import BookSpec
from arb.core.sync import Outcome

seqs = st.integers(min_value=NO_SEQ, max_value=20)


def _delta(first, last, prev):
    return BookDelta(
        venue="v",
        symbol="S",
        channel="c",
        ts_event=1,
        ts_recv=2,
        first_seq=first,
        last_seq=last,
        prev_seq=prev,
        bids=[(100, 1)],
        asks=[(101, 1)],
    )


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if getattr(r, "links_prev", 0)))
@given(last=seqs, first=seqs, seq=seqs)
def test_links_prev_rule_applies_every_delta_whose_prev_is_the_last_id(name, last, first, seq):
    assert RULES[name].follows(last, _delta(first, seq, last)) is Verdict.APPLY


@pytest.mark.parametrize("name", sorted(RULES))
@given(snap_seq=seqs, deltas=st.lists(st.tuples(seqs, seqs, seqs), max_size=6))
def test_sync_outcomes_equal_the_rule_verdicts(name, snap_seq, deltas):
    rule = RULES[name]
    sync = BookSpec(rule).new_sync("v", "S")
    sync.on_snapshot(
        BookSnapshot(
            venue="v",
            symbol="S",
            channel="c",
            ts_event=1,
            ts_recv=2,
            seq=snap_seq,
            bids=[(100, 1)],
            asks=[(101, 1)],
        )
    )
    fresh = True
    last = snap_seq
    for first, seq, prev in deltas:
        d = _delta(first, seq, prev)
        verdict = rule.after_snapshot(last, d) if fresh else rule.follows(last, d)
        out = sync.on_delta(d)
        if verdict is Verdict.APPLY:
            assert out is Outcome.APPLIED
            fresh = False
            if seq != NO_SEQ:
                last = seq
        elif verdict is Verdict.STALE:
            assert out is Outcome.STALE
        else:
            assert out is Outcome.GAP
            return
        assert sync.seq == last
