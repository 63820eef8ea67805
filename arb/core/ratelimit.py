"""Token buckets for venue order-rate limits, in exact integer arithmetic on ns time.

A bucket holds at most ``capacity`` tokens and refills at ``refill_tokens`` per
``refill_period_ns`` (OKX's documented place-order limit, 60 orders per 2 s per instrument, is
``capacity=60, refill_tokens=60, refill_period_ns=2_000_000_000``). The level is kept in units
of ``1 / refill_period_ns`` token, so that every nanosecond adds exactly ``refill_tokens``
units: no float, no rounding, no drift however long it runs. Whatever the calls, the tokens
taken by ``try_take`` over ``[t0, t]`` never exceed ``capacity + rate * (t - t0)``.

Time is an argument. A time earlier than the last one seen refills nothing (a clock that steps
back never mints tokens).
"""

from __future__ import annotations

from math import gcd

from arb.core.errors import PrecisionError
from arb.core.numbers import POW10
from arb.core.numbers import decimals_of
from arb.core.numbers import to_raw

__all__ = ["NS_PER_S", "TokenBucket"]

NS_PER_S = 1_000_000_000


class TokenBucket:
    """A token bucket, full when created at ``now_ns``.

    Parameters
    ----------
    capacity
        Burst size: the most tokens the bucket holds (>= 1).
    refill_tokens, refill_period_ns
        Refill rate as an exact fraction: ``refill_tokens`` every ``refill_period_ns`` (both >= 1).
    now_ns
        Creation time; the bucket starts full.
    """

    __slots__ = ("_cap_units", "_last_ns", "_level", "_period", "_refill", "capacity")

    def __init__(
        self, capacity: int, refill_tokens: int, refill_period_ns: int, *, now_ns: int = 0
    ) -> None:
        if capacity < 1 or refill_tokens < 1 or refill_period_ns < 1:
            raise ValueError(
                "token bucket needs capacity, refill_tokens and refill_period_ns >= 1, "
                f"received {capacity}, {refill_tokens}, {refill_period_ns}"
            )
        g = gcd(refill_tokens, refill_period_ns)
        self.capacity = capacity
        self._refill = refill_tokens // g  # units added per ns
        self._period = refill_period_ns // g  # units per token
        self._cap_units = capacity * self._period
        self._level = self._cap_units
        self._last_ns = now_ns

    @classmethod
    def per_second(cls, capacity: int, rate_per_s: str, *, now_ns: int = 0) -> TokenBucket:
        """Build a bucket refilling ``rate_per_s`` tokens a second, a decimal string (``"0.5"``).

        Raises ``ValueError`` for a malformed or non-positive rate.
        """
        try:
            dec = decimals_of(rate_per_s)
            tokens = to_raw(rate_per_s, dec)
        except PrecisionError as e:
            raise ValueError(f"rate {rate_per_s!r} is not a decimal number") from e
        return cls(capacity, tokens, NS_PER_S * POW10[dec], now_ns=now_ns)

    def _refill_to(self, now_ns: int) -> None:
        if now_ns > self._last_ns:
            level = self._level + (now_ns - self._last_ns) * self._refill
            self._level = level if level < self._cap_units else self._cap_units
            self._last_ns = now_ns

    def available(self, now_ns: int) -> int:
        """Whole tokens available at ``now_ns`` (negative while in debt after ``take``)."""
        self._refill_to(now_ns)
        return self._level // self._period

    def try_take(self, now_ns: int, n: int = 1) -> bool:
        """Take ``n`` tokens if they are all there; otherwise take none and return False."""
        self._refill_to(now_ns)
        cost = n * self._period
        if self._level >= cost:
            self._level -= cost
            return True
        return False

    def take(self, now_ns: int, n: int = 1) -> None:
        """Take ``n`` tokens unconditionally, going into debt if they are not there.

        For orders that must go out anyway (a rollback): the debt delays later ``try_take``.
        """
        self._refill_to(now_ns)
        self._level -= n * self._period

    def wait_ns(self, now_ns: int, n: int = 1) -> int:
        """Nanoseconds from ``now_ns`` until ``n`` tokens are available (0 if they are now).

        Exact: ``try_take(now_ns + wait_ns(now_ns, n), n)`` succeeds, one ns earlier it fails
        (absent other takes). Raises ``ValueError`` if ``n`` exceeds the capacity (never).
        """
        if n > self.capacity:
            raise ValueError(f"{n} tokens can never be available in a bucket of {self.capacity}")
        self._refill_to(now_ns)
        deficit = n * self._period - self._level
        if deficit <= 0:
            return 0
        ready_ns = self._last_ns + -(-deficit // self._refill)
        return max(ready_ns - now_ns, 0)

    def __repr__(self) -> str:
        return (
            f"TokenBucket(capacity={self.capacity}, level={self._level / self._period:.3f}, "
            f"rate={self._refill * NS_PER_S / self._period:g}/s, last_ns={self._last_ns})"
        )
