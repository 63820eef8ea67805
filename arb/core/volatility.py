"""Recent volatility of one book's mid price, for the detector's latency haircut.

``Volatility`` estimates the variance rate ``v`` (per second) of the log mid price with an
exponentially weighted, **time-weighted** estimator, so that irregular update intervals need no
resampling::

    v(t) = N(t) / D(t)
    N(t) = sum_i  w_i(t) * r_i**2                  r_i = ln(mid_i / mid_{i-1})
    D(t) = integral of w(t - s) ds over the time observed = tau * (1 - exp(-(t - t_0) / tau))
    w_i(t) = exp(-(t - t_i) / tau)                 tau = halflife / ln 2

``N`` is the exponentially weighted realized quadratic variation and ``D`` the exponentially
weighted time it was observed over, so ``v`` is a variance per unit time whatever the spacing of
the updates. Because ``D`` does not depend on when updates arrive, an update whose mid did not
change (``r = 0``) changes nothing: a caller may skip it, and the estimate is the same. Between
updates the estimate decays with time (quiet markets lower it), which ``variance_per_s(now_ns)``
accounts for.

With a prior ``sigma0``, the estimator starts as if it had observed ``sigma0**2`` per second
forever (``N = sigma0**2 * tau``, ``D = tau`` from then on), and the prior fades with the half-life.
Without one, the estimate is data-only: noisy (and deliberately cautious) in the first seconds.

The latest return counts in full while the time it spans is weighted by less than one, so with
regular intervals ``dt`` the estimate is high by about ``dt / (2 tau)`` (0.06% for 100 ms at a
60 s half-life): cautious, and negligible at book-update intervals.

``Volatilities`` hands out one estimator per (book, half-life, prior): the strategies that watch
the same book with the same settings share it, so a book update feeds it once (the next
strategy sees the mid unchanged and skips) and every strategy prices with the same sigma.

Floats are fine here: this is an estimate for a haircut, never money. Pure: time comes in as
arguments. Runtime complexity: O(1) per update and per query.
"""

from __future__ import annotations

import math
from math import exp as _exp
from math import log as _log

__all__ = ["NS_PER_S", "Volatilities", "Volatility"]

NS_PER_S = 1_000_000_000
_LN2 = math.log(2.0)


class Volatility:
    """Time-weighted EWMA of squared log-returns of a mid price, per unit time.

    Parameters
    ----------
    halflife_ns
        Half-life of the weights, in ns (> 0).
    prior_sigma_per_sqrt_s
        Volatility assumed before data arrives, per sqrt(second) of log price; 0 for none.
    """

    __slots__ = ("_first_ts", "_inv_tau_ns", "_num", "_prior_var", "_tau_s", "last_mid", "last_ts")

    def __init__(self, halflife_ns: int, prior_sigma_per_sqrt_s: float = 0.0) -> None:
        if halflife_ns <= 0:
            raise ValueError(f"halflife_ns: must be > 0, was {halflife_ns}")
        if not prior_sigma_per_sqrt_s >= 0.0:  # also refuses NaN
            raise ValueError(f"prior_sigma_per_sqrt_s: must be >= 0, was {prior_sigma_per_sqrt_s}")
        tau_ns = halflife_ns / _LN2
        self._inv_tau_ns = 1.0 / tau_ns
        self._tau_s = tau_ns / NS_PER_S
        self._prior_var = prior_sigma_per_sqrt_s * prior_sigma_per_sqrt_s
        self._num = 0.0  # N as of ``last_ts``
        self._first_ts = 0
        self.last_ts = 0
        """Time of the last update (ns); 0 before the first."""
        self.last_mid: int | float = 0
        """Last mid fed in (any fixed scale: only ratios matter); 0 before the first update."""

    def update(self, ts_ns: int, mid: float) -> None:
        """Feed the mid price observed at ``ts_ns``. A time earlier than the last counts as it.

        ``mid`` may be at any fixed scale (``best_bid + best_ask`` in raw units is fine) and
        must be > 0. Runtime complexity: O(1).
        """
        last = self.last_mid
        if last and mid > 0:
            dt = ts_ns - self.last_ts
            num = self._num
            if dt > 0:
                num *= _exp(-dt * self._inv_tau_ns)
                self.last_ts = ts_ns
            if mid != last:
                r = _log(mid / last)
                num += r * r
                self.last_mid = mid
            self._num = num
            return
        if mid <= 0:
            raise ValueError(f"mid: must be > 0, was {mid}")
        self._first_ts = self.last_ts = ts_ns
        self.last_mid = mid
        self._num = self._prior_var * self._tau_s

    def variance_per_s(self, now_ns: int | None = None) -> float:
        """Variance rate of the log mid per second, as of ``now_ns`` (default: last update)."""
        if not self.last_mid:
            return self._prior_var
        now = self.last_ts if now_ns is None or now_ns < self.last_ts else now_ns
        num = self._num
        if now > self.last_ts:
            num *= math.exp(-(now - self.last_ts) * self._inv_tau_ns)
        if self._prior_var:
            return num / self._tau_s
        den = self._tau_s * -math.expm1(-(now - self._first_ts) * self._inv_tau_ns)
        if den <= 0.0:
            return 0.0  # a single instant observed: no time to measure a rate over
        return num / den

    def sigma_per_sqrt_s(self, now_ns: int | None = None) -> float:
        """Volatility of the log mid per sqrt(second), as of ``now_ns`` (default: last update)."""
        return math.sqrt(self.variance_per_s(now_ns))

    def __repr__(self) -> str:
        return f"Volatility(sigma={self.sigma_per_sqrt_s():.3g}/sqrt(s), last_ts={self.last_ts})"


class Volatilities:
    """Estimators by book, shared by whoever asks with the same settings."""

    __slots__ = ("_vols",)

    def __init__(self) -> None:
        self._vols: dict[tuple[tuple[str, str], int, float], Volatility] = {}

    def of(
        self, key: tuple[str, str], halflife_ns: int, prior_sigma_per_sqrt_s: float
    ) -> Volatility:
        """The estimator of book ``key`` (``(venue, symbol)``) with these settings."""
        k = (key, halflife_ns, prior_sigma_per_sqrt_s)
        vol = self._vols.get(k)
        if vol is None:
            vol = self._vols[k] = Volatility(halflife_ns, prior_sigma_per_sqrt_s)
        return vol
