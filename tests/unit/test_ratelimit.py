"""Token buckets: exact integer refill on ns time, no drift, never more than the rate allows."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.ratelimit import NS_PER_S
from arb.core.ratelimit import TokenBucket

pytestmark = pytest.mark.unit

T0 = 1_760_000_000 * NS_PER_S


def okx_bucket(now_ns: int = T0) -> TokenBucket:
    # OKX place order: 60 requests per 2 s per instrument.
    return TokenBucket(60, 60, 2 * NS_PER_S, now_ns=now_ns)


def test_new_bucket_is_full_and_empties_after_capacity_takes():
    b = okx_bucket()
    assert b.available(T0) == 60
    assert all(b.try_take(T0) for _ in range(60))
    assert not b.try_take(T0)
    assert b.available(T0) == 0


def test_try_take_takes_all_or_nothing():
    b = TokenBucket(5, 1, NS_PER_S, now_ns=T0)
    assert b.try_take(T0, 3)
    assert not b.try_take(T0, 3)
    assert b.available(T0) == 2
    assert b.try_take(T0, 2)


def test_refill_is_exact_to_the_nanosecond():
    b = okx_bucket()
    assert b.try_take(T0, 60)
    # 30 tokens/s: one token every 33_333_333.33 ns, so it is whole at 33_333_334 ns.
    assert b.wait_ns(T0) == 33_333_334
    assert not b.try_take(T0 + 33_333_333)
    assert b.try_take(T0 + 33_333_334)
    # Three tokens take exactly 100 ms.
    assert b.wait_ns(T0 + 33_333_334, 2) == 100_000_000 - 33_333_334
    assert b.try_take(T0 + 100_000_000, 2)
    assert not b.try_take(T0 + 100_000_000)


def test_refill_stops_at_capacity():
    b = TokenBucket(3, 1, NS_PER_S, now_ns=T0)
    assert b.try_take(T0, 3)
    assert b.available(T0 + 3600 * NS_PER_S) == 3
    assert b.try_take(T0 + 3600 * NS_PER_S, 3)
    assert not b.try_take(T0 + 3600 * NS_PER_S)


def test_clock_stepping_back_mints_no_tokens():
    b = TokenBucket(2, 1, NS_PER_S, now_ns=T0)
    assert b.try_take(T0 + NS_PER_S, 2)
    assert not b.try_take(T0)
    assert b.wait_ns(T0) == 2 * NS_PER_S  # ready at T0 + 2 s, measured from the earlier time
    assert b.try_take(T0 + 2 * NS_PER_S)


def test_per_second_accepts_decimal_rates_exactly():
    b = TokenBucket.per_second(1, "0.5", now_ns=T0)
    assert b.try_take(T0)
    assert b.wait_ns(T0) == 2 * NS_PER_S
    fast = TokenBucket.per_second(10, "30", now_ns=T0)
    assert fast.try_take(T0, 10)
    assert fast.wait_ns(T0) == 33_333_334


def test_take_goes_into_debt_and_delays_later_takes():
    b = TokenBucket(2, 1, NS_PER_S, now_ns=T0)
    b.take(T0, 3)
    assert b.available(T0) == -1
    assert b.wait_ns(T0) == 2 * NS_PER_S
    assert not b.try_take(T0 + 2 * NS_PER_S - 1)
    assert b.try_take(T0 + 2 * NS_PER_S)


def test_wait_ns_is_zero_when_available_and_refuses_more_than_capacity():
    b = TokenBucket(2, 1, NS_PER_S, now_ns=T0)
    assert b.wait_ns(T0, 2) == 0
    with pytest.raises(ValueError, match="never be available"):
        b.wait_ns(T0, 3)


@pytest.mark.parametrize(
    ("capacity", "tokens", "period"), [(0, 1, 1), (1, 0, 1), (1, 1, 0), (1, -1, 1)]
)
def test_bucket_refuses_non_positive_parameters(capacity, tokens, period):
    with pytest.raises(ValueError, match=">= 1"):
        TokenBucket(capacity, tokens, period)


@pytest.mark.parametrize("rate", ["abc", "", "0", "-1", "1e3"])
def test_per_second_refuses_bad_rates(rate):
    with pytest.raises(ValueError, match=r"decimal number|>= 1"):
        TokenBucket.per_second(1, rate)


def test_repr_shows_level_and_rate():
    assert "rate=30/s" in repr(okx_bucket())


def test_greedy_taker_over_a_long_run_gets_exactly_capacity_plus_rate_times_time():
    # 3 tokens every 7 ns does not divide evenly: any float or rounding drift would show.
    cap, tokens, period = 4, 3, 7
    b = TokenBucket(cap, tokens, period, now_ns=T0)
    assert b.try_take(T0, cap)
    t = T0
    for k in range(1, 200_001):
        t += b.wait_ns(t)
        # The k-th token after the burst is whole at T0 + ceil(k * period / tokens).
        assert t == T0 + -(-k * period // tokens)
        assert b.try_take(t)


steps = st.lists(
    st.tuples(st.integers(0, 5 * NS_PER_S), st.integers(1, 8), st.booleans()),
    max_size=200,
)


@given(
    capacity=st.integers(1, 8),
    tokens=st.integers(1, 1_000),
    period=st.integers(1, 3 * NS_PER_S),
    ops=steps,
)
def test_never_more_than_capacity_plus_rate_times_elapsed(capacity, tokens, period, ops):
    b = TokenBucket(capacity, tokens, period, now_ns=T0)
    t, taken = T0, 0
    for dt, n, use_wait in ops:
        t += dt
        if use_wait and n <= capacity:
            t += b.wait_ns(t, n)
        if b.try_take(t, n):
            taken += n
        # taken <= capacity + tokens/period * elapsed, in integers.
        assert taken * period <= capacity * period + (t - T0) * tokens


@given(
    capacity=st.integers(1, 8),
    tokens=st.integers(1, 1_000),
    period=st.integers(1, 3 * NS_PER_S),
    first=st.integers(1, 8),
    dt=st.integers(0, 3 * NS_PER_S),
    n=st.integers(1, 8),
)
def test_wait_ns_is_the_exact_first_moment(capacity, tokens, period, first, dt, n):
    b = TokenBucket(capacity, tokens, period, now_ns=T0)
    b.take(T0, first)
    n = min(n, capacity)
    t = T0 + dt
    w = b.wait_ns(t, n)
    if w > 0:
        assert b.available(t + w - 1) < n
    assert b.try_take(t + w, n)
