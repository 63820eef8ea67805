"""Funding of perpetual swaps on the simulated venue: when, at which rate, and how much.

When. Each perpetual has funding times, from one of two sources:

- ``recorded``: the recording's ``FundingRate`` events (OKX ``funding-rate``, ccxt
  ``watch_funding_rate``). The latest event received says the rate and the time it settles at
  (``funding_time_ns``); after that settlement the next one is ``next_funding_time_ns`` at the
  same rate, until an event says otherwise. An event that names a later funding time while an
  earlier one is still pending on the simulated clock (a recorder whose clock runs behind the
  venue's) settles the pending one at once, at its own rate: the venue has paid it.
- ``config``: for a perpetual the recording has given no rate for (yet), the venue's
  ``FundingSpec`` (``first_ns + k * interval``, one rate); no funding when it is not set.

Funding at time ``T`` is settled on the positions held just before ``T``: orders arriving and
market data received at ``T`` come after it. A position opened at ``T`` pays from the next time.

How much. At a funding time an open position of ``n`` contracts is worth ``V`` (its value at
the mark price, in the settle currency: ``n * cv * mark`` linear, ``n * cv / mark`` inverse;
see ``venues.sim.positions``) and is credited ``-sign(n) * V * rate`` (positive rate: longs
pay, shorts receive), computed exactly and rounded down (against the account) to
``AMOUNT_PRECISION``. The mark is the last ``MarkPrice`` of the instrument, else the mid of the
simulated venue's book (an exact half tick when the spread is odd), else its one side, else the
position's own entry value.

Each settlement is a ``FundingPayment``, kept by the venue (``SimVenue.funding_payments``).
"""

from __future__ import annotations

from fractions import Fraction

import msgspec

from arb.core.events import FundingRate
from venues.sim.config import FundingSpec

__all__ = ["PPB", "FundingPayment", "FundingSchedule", "funding_credit"]

PPB = 1_000_000_000


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True, tag="funding_payment"):
    """One funding settlement of one position on a simulated venue (a fact to journal).

    ``amount`` is what the account was credited, in ``ccy`` at ``AMOUNT_PRECISION``: negative
    when the position paid.
    """

    venue: str
    symbol: str
    ts_event: int
    """The funding time (ns) the payment settles."""
    amount: int
    ccy: str
    rate_ppb: int
    position: int
    """Signed contracts held at the funding time (raw at the size precision)."""
    value: int
    """The position's value at the mark price (rounded down), in ``ccy``."""
    source: str
    """``"recorded"`` (the recording's rate) or ``"config"`` (``FundingSpec``)."""


def funding_credit(position: int, value: Fraction, rate_ppb: int) -> int:
    """Credit of ``position`` contracts worth ``value`` at ``rate_ppb``, rounded down."""
    if position == 0 or rate_ppb == 0:
        return 0
    sign = 1 if position > 0 else -1
    x = -sign * rate_ppb * value / PPB
    return x.numerator // x.denominator


class _Recorded:
    __slots__ = ("next_time", "rate", "time")

    def __init__(self, ev: FundingRate) -> None:
        self.rate = ev.rate_ppb
        self.time = ev.funding_time_ns
        self.next_time = ev.next_funding_time_ns


class FundingSchedule:
    """Funding times and rates of one venue's perpetuals (see the module doc).

    ``last[symbol]`` is the latest time already settled (or not to be settled: the time a
    position opened); the next funding time is the first one after it.
    """

    __slots__ = ("_last", "_recorded", "spec")

    def __init__(self, spec: FundingSpec | None) -> None:
        self.spec = spec
        self._recorded: dict[str, _Recorded] = {}
        self._last: dict[str, int] = {}

    def next(self, symbol: str) -> tuple[int, int, str] | None:
        """``(time, rate_ppb, source)`` of ``symbol``'s next settlement, None if none."""
        last = self._last.get(symbol)
        rec = self._recorded.get(symbol)
        if rec is not None:
            if last is None or rec.time > last:
                return rec.time, rec.rate, "recorded"
            if rec.next_time > last:
                return rec.next_time, rec.rate, "recorded"
            return None
        spec = self.spec
        if spec is None:
            return None
        t = spec.next_after(last) if last is not None else spec.first_ns
        return t, spec.rate_ppb, "config"

    def opened(self, symbol: str, t: int) -> None:
        """A position of ``symbol`` opened at ``t``: no funding at or before ``t``."""
        last = self._last.get(symbol)
        self._last[symbol] = t if last is None else max(last, t)

    def settled(self, symbol: str, t: int) -> None:
        """The funding of ``symbol`` at ``t`` was settled."""
        self.opened(symbol, t)

    def on_rate(self, ev: FundingRate) -> tuple[int, int] | None:
        """Record ``ev``; return ``(time, rate)`` of a pending settlement it overtook."""
        prev = self._recorded.get(ev.symbol)
        overtaken: tuple[int, int] | None = None
        if prev is not None:
            pending = self.next(ev.symbol)
            if pending is not None and ev.funding_time_ns > pending[0]:
                overtaken = (pending[0], pending[1])
        self._recorded[ev.symbol] = _Recorded(ev)
        return overtaken
