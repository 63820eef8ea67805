"""Volatility: a time-weighted EWMA of squared log-returns per unit time, O(1) per update."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.volatility import NS_PER_S
from arb.core.volatility import Volatility

pytestmark = pytest.mark.unit

T0 = 1_700_000_000 * NS_PER_S
HALFLIFE = 60 * NS_PER_S


def feed(vol: Volatility, steps: list[tuple[int, float]], t: int = T0, mid: float = 1e6) -> int:
    """Apply (dt_ns, log-return) steps from ``t``; return the time of the last one."""
    vol.update(t, mid)
    for dt, r in steps:
        t += dt
        mid *= math.exp(r)
        vol.update(t, mid)
    return t


def test_regular_returns_give_their_rate():
    # +-1e-4 every 100 ms: a variance rate of 1e-8 / 0.1 s = 1e-7 per second.
    vol = Volatility(HALFLIFE)
    feed(vol, [(100_000_000, 1e-4 * (-1) ** k) for k in range(20 * 600)])  # 20 minutes
    # The estimate is biased up by dt / (2 tau) = 0.1 s / 173 s: well under 0.1%.
    assert vol.variance_per_s() == pytest.approx(1e-7, rel=1e-3)
    assert vol.sigma_per_sqrt_s() == pytest.approx(math.sqrt(1e-7), rel=1e-3)


def test_irregular_intervals_are_weighted_by_time():
    # The same rate (1e-7/s) with intervals of 10 ms and 2 s alternating: r^2 = rate * dt.
    rate = 1e-7
    steps = []
    for k in range(3_000):
        dt = 10_000_000 if k % 2 else 2 * NS_PER_S
        steps.append((dt, math.sqrt(rate * dt / NS_PER_S) * (-1) ** (k // 2)))
    vol = Volatility(HALFLIFE)
    feed(vol, steps)
    # The 2 s returns bias by 2 / (2 * 86.6): about 1%.
    assert vol.variance_per_s() == pytest.approx(rate, rel=2e-2)


def test_unchanged_mids_can_be_skipped():
    every = Volatility(HALFLIFE)
    changes = Volatility(HALFLIFE)
    t, mid = T0, 1000.0
    every.update(t, mid)
    changes.update(t, mid)
    for k in range(500):
        t += 7_000_000 + (k % 13) * 1_000_000
        if k % 3 == 0:
            mid *= 1.0001 if k % 2 else 0.9999
            changes.update(t, mid)
        every.update(t, mid)  # also fed the updates that changed nothing
    assert every.variance_per_s(t) == pytest.approx(changes.variance_per_s(t), rel=1e-12)


def test_the_estimate_decays_while_the_market_is_quiet():
    vol = Volatility(HALFLIFE, prior_sigma_per_sqrt_s=1e-4)
    t = feed(vol, [(NS_PER_S, 1e-3)])
    v0 = vol.variance_per_s(t)
    # With a prior the time weight is constant: one half-life later, exactly half.
    assert vol.variance_per_s(t + HALFLIFE) == pytest.approx(v0 / 2, rel=1e-12)
    assert vol.variance_per_s(t - NS_PER_S) == v0  # times before the last update count as it
    assert vol.variance_per_s() == v0


def test_prior_holds_at_first_and_fades_into_the_data():
    vol = Volatility(HALFLIFE, prior_sigma_per_sqrt_s=1e-3)
    assert vol.sigma_per_sqrt_s() == pytest.approx(1e-3)  # before any data
    vol.update(T0, 100.0)
    assert vol.sigma_per_sqrt_s(T0) == pytest.approx(1e-3, rel=1e-12)
    # 30 minutes of returns at 1e-5/sqrt(s): 30 half-lives, the prior weighs 1e-9 of it.
    t = feed(vol, [(NS_PER_S, 1e-5 * (-1) ** k) for k in range(1_800)], t=T0 + 1, mid=100.0)
    assert vol.sigma_per_sqrt_s(t) == pytest.approx(1e-5, rel=1e-2)


def test_without_a_prior_the_first_instant_has_no_rate():
    vol = Volatility(HALFLIFE)
    assert vol.variance_per_s() == 0.0
    vol.update(T0, 100.0)
    vol.update(T0, 101.0)  # a return, but no time has passed
    assert vol.variance_per_s(T0) == 0.0
    # One ms later the return is measured over 1 ms: cautious (large) at first.
    assert vol.sigma_per_sqrt_s(T0 + 1_000_000) == pytest.approx(
        math.log(101 / 100) / math.sqrt(1e-3), rel=1e-4
    )


def test_time_going_backwards_adds_no_time():
    vol = Volatility(HALFLIFE)
    vol.update(T0, 100.0)
    vol.update(T0 + NS_PER_S, 101.0)
    before = vol.variance_per_s()
    vol.update(T0 + NS_PER_S // 2, 101.0)  # late, unchanged: nothing happens
    assert vol.variance_per_s() == before
    assert vol.last_ts == T0 + NS_PER_S


@given(
    st.lists(
        st.tuples(st.integers(0, 10 * NS_PER_S), st.floats(-0.01, 0.01)), min_size=1, max_size=50
    ),
    st.sampled_from([1, 7, 10**8]),
)
def test_scale_of_the_mid_does_not_matter(steps, scale):
    a, b = Volatility(HALFLIFE), Volatility(HALFLIFE)
    feed(a, steps, mid=1.0)
    t = feed(b, steps, mid=float(scale))
    assert a.variance_per_s(t) == pytest.approx(b.variance_per_s(t), rel=1e-6, abs=1e-18)
    assert a.variance_per_s(t) >= 0.0


def test_integer_mids_as_the_detector_feeds_them():
    vol = Volatility(HALFLIFE)
    vol.update(T0, 599990 + 600010)  # raw best bid + best ask
    vol.update(T0 + NS_PER_S, 600000 + 600020)
    assert vol.last_mid == 1200020
    assert vol.variance_per_s() > 0.0
    assert "Volatility(sigma=" in repr(vol)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"halflife_ns": 0}, "halflife_ns"),
        ({"halflife_ns": 1, "prior_sigma_per_sqrt_s": -1.0}, "prior_sigma"),
        ({"halflife_ns": 1, "prior_sigma_per_sqrt_s": math.nan}, "prior_sigma"),
    ],
)
def test_bad_parameters(kw, message):
    with pytest.raises(ValueError, match=message):
        Volatility(**kw)


def test_mid_must_be_positive():
    with pytest.raises(ValueError, match="mid"):
        Volatility(HALFLIFE).update(T0, 0)
