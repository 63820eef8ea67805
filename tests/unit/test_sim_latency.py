"""Latency models: deterministic for a seed, with the configured shape."""

import random

from venues.sim import LognormalLatency
from venues.sim import UniformLatency
from venues.sim import build_latency
from venues.sim.latency import ms_to_ns
from venues.sim.latency import stream


def draws(spec, seed, n=2000):
    model = build_latency(spec, stream(seed, "order-latency"))
    return [model.sample() for _ in range(n)]


def quantile(xs, q):
    s = sorted(xs)
    return s[int(q * (len(s) - 1))]


def test_lognormal_is_deterministic_for_a_seed():
    spec = LognormalLatency(median_ms=20, p99_ms=80)
    assert draws(spec, 7) == draws(spec, 7)
    assert draws(spec, 7) != draws(spec, 8)


def test_streams_do_not_depend_on_the_process_hash_seed():
    # String seeds go through SHA-512, not hash(): fixed values, whatever PYTHONHASHSEED is.
    assert stream(7, "x").random() == random.Random("7/x").random()
    assert stream(7, "x").random() != stream(7, "y").random()


def test_lognormal_has_the_configured_median_and_p99():
    xs = draws(LognormalLatency(median_ms=20, p99_ms=80), seed=1, n=40_000)
    assert abs(quantile(xs, 0.5) - ms_to_ns(20)) < ms_to_ns(1)
    assert abs(quantile(xs, 0.99) - ms_to_ns(80)) < ms_to_ns(6)
    assert all(isinstance(x, int) and x > 0 for x in xs)


def test_lognormal_with_p99_equal_to_median_is_constant():
    assert set(draws(LognormalLatency(median_ms=5, p99_ms=5), seed=3, n=50)) == {ms_to_ns(5)}


def test_uniform_stays_within_bounds_and_constant_is_constant():
    xs = draws(UniformLatency(min_ms=1, max_ms=3), seed=2)
    assert min(xs) >= ms_to_ns(1)
    assert max(xs) <= ms_to_ns(3)
    assert len(set(xs)) > 100
    assert set(draws(2.5, seed=2, n=10)) == {2_500_000}
