"""Pre-trade risk: the limits every opportunity passes before an order leaves, and their state.

Pure: no I/O, no clock, no signals. Time comes in as ``now_ns``; the shell watches the
kill-switch file and the signals and reports them with ``RiskGate.trip_kill_switch``, and the
executor reports what happened to orders, legs, rollbacks and PnL. Money is at
``AMOUNT_PRECISION`` in the quote currency of the opportunities.

``RiskGate.check`` runs the checks in this order; the first that fails gives the refusal code:

============================  ===================================================================
``KILL_SWITCH``               tripped (file, signal, config or operator); sticky until reset
``DAILY_LOSS_LIMIT``          realized loss of the UTC day reached the limit; until UTC midnight
``VENUE_DISABLED:<venue>``    N consecutive leg failures on the venue; until ``reset_venue``
``ROLLBACK_COOLDOWN:<sym>``   a leg's (symbol, venue) had a rollback less than the cool-down ago
``STALE_BOOK``                a leg's quote is older than ``max_quote_age_ms`` (or has no time)
``MAX_ORDER_NOTIONAL``        a leg's notional is over the per-order limit
``MAX_OPPORTUNITY_NOTIONAL``  the legs' notionals sum to more than the per-opportunity limit
``MAX_UNHEDGED_NOTIONAL``     unhedged now + in flight + the largest leg over the limit
``MAX_OPEN_ORDERS``           open orders + the legs over the limit
``RATE_LIMITED:<venue>``      the venue's order-rate bucket cannot take the legs now
============================  ===================================================================

A passing check reserves what the legs use: rate tokens, open-order slots, and the worst
one-legged exposure (the largest leg's notional, held "in flight" until ``on_opportunity_done``).
So the executor never exceeds a limit between the check and the send, and opportunities in
flight together cannot exceed the unhedged limit. Orders sent without a check (rollback hedges
and unwinds, which must go out even when trading is halted) are reported with
``on_orders_sent``. Every refusal is counted by code in ``refusal_counts``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Literal

import msgspec

from arb.core.errors import InvariantViolation
from arb.core.errors import PrecisionError
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import from_raw
from arb.core.numbers import to_raw
from arb.core.opportunity import Opportunity
from arb.core.ratelimit import NS_PER_S
from arb.core.ratelimit import TokenBucket

__all__ = [
    "NS_PER_DAY",
    "RateLimit",
    "Refusal",
    "RefusalCode",
    "RiskConfig",
    "RiskGate",
    "RiskLimits",
    "RiskState",
    "utc_day",
]

NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * NS_PER_S
"""POSIX time has no leap seconds: every UTC day is exactly this long from the epoch."""


def utc_day(now_ns: int) -> int:
    """UTC day number of ``now_ns`` (ns since the epoch); it changes at UTC midnight."""
    return now_ns // NS_PER_DAY


class RefusalCode(enum.StrEnum):
    """Stable refusal reasons. Venue and symbol codes carry a ``:<name>`` suffix."""

    KILL_SWITCH = "KILL_SWITCH"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    VENUE_DISABLED = "VENUE_DISABLED"
    ROLLBACK_COOLDOWN = "ROLLBACK_COOLDOWN"
    STALE_BOOK = "STALE_BOOK"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_OPPORTUNITY_NOTIONAL = "MAX_OPPORTUNITY_NOTIONAL"
    MAX_UNHEDGED_NOTIONAL = "MAX_UNHEDGED_NOTIONAL"
    MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
    RATE_LIMITED = "RATE_LIMITED"
    OWN_LIQUIDITY = "OWN_LIQUIDITY"
    """A leg's book still shows liquidity our own orders are taking (or took and the venue's
    book has not been updated since): the same quotes are not traded twice."""


class Refusal(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Why an opportunity was not traded: a stable ``code`` and a detail for humans."""

    code: str
    """``KILL_SWITCH``, ``VENUE_DISABLED:okx``, ``RATE_LIMITED:binance``, ... (``RefusalCode``)."""
    detail: str

    @property
    def reason(self) -> RefusalCode:
        """The code without its venue or symbol suffix."""
        return RefusalCode(self.code.partition(":")[0])


def _amount(name: str, s: str) -> int:
    """Parse a positive decimal string of money to AMOUNT_PRECISION; ValueError names the key."""
    try:
        raw = to_raw(s, AMOUNT_PRECISION)
    except PrecisionError as e:
        raise ValueError(f"{name}: {e}") from e
    if raw <= 0:
        raise ValueError(f"{name}: must be > 0, was {s!r}")
    return raw


def _fmt(amount: int) -> str:
    """Format an amount at AMOUNT_PRECISION without trailing zeros (``"-12.5"``)."""
    s = from_raw(amount, AMOUNT_PRECISION).rstrip("0")
    return s[:-1] if s.endswith(".") else s


class RateLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An order-rate token bucket: bursts of ``capacity`` orders, refilled ``refill_per_s``.

    OKX documents 60 place-order requests per 2 s per instrument (``capacity = 60,
    refill_per_s = "30", scope = "instrument"``) and 1,000 order requests per 2 s per
    sub-account. A per-venue bucket is stricter than a per-instrument one of the same size.
    """

    capacity: int = 10
    """Most orders sent at once (>= 1)."""
    refill_per_s: str = "5"
    """Orders per second, an exact decimal string (``"30"``, ``"0.5"``)."""
    scope: Literal["venue", "instrument"] = "venue"
    """One bucket per venue, or one per (venue, instrument)."""

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity: must be >= 1, was {self.capacity}")
        TokenBucket.per_second(self.capacity, self.refill_per_s)  # validates the rate

    def bucket(self, now_ns: int) -> TokenBucket:
        """Return a new full bucket at ``now_ns``."""
        return TokenBucket.per_second(self.capacity, self.refill_per_s, now_ns=now_ns)


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True):
    """``RiskConfig`` converted once: money at AMOUNT_PRECISION, times in ns."""

    max_order_notional: int
    max_opportunity_notional: int
    max_unhedged_notional: int
    max_open_orders: int
    max_consecutive_leg_failures: int
    daily_loss_limit: int
    max_quote_age_ns: int
    rollback_cooldown_ns: int


class RiskConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Risk limits, as written in the ``[risk]`` table of a config. Money is a decimal string
    in the quote currency (exact; floats are refused). The defaults are deliberately small.
    """

    max_order_notional_quote: str = "1000"
    """Largest notional of one order (one leg)."""
    max_opportunity_notional_quote: str = "2000"
    """Largest sum of the legs' notionals of one opportunity."""
    max_unhedged_notional_quote: str = "1000"
    """Largest unhedged notional across venues: what is unhedged now, plus the worst one-legged
    fill (largest leg) of every opportunity in flight and of the new one."""
    max_open_orders: int = 10
    """Orders sent and not yet terminal (filled, cancelled or rejected), across venues."""
    rate_limits: dict[str, RateLimit] = {}
    """Order-rate bucket per venue id; venues not listed use ``default_rate_limit``."""
    default_rate_limit: RateLimit = RateLimit()
    """10 orders at once, 5 a second, per venue: below every major venue's documented limit."""
    max_consecutive_leg_failures: int = 3
    """Leg failures in a row (reject, timeout, unfilled) after which the venue is disabled."""
    daily_loss_limit_quote: str = "100"
    """Realized loss in one UTC day at which trading stops until the next UTC midnight."""
    max_quote_age_ms: int = 1_000
    """Refuse a leg priced on a quote received longer ago than this."""
    rollback_cooldown_ms: int = 5_000
    """No new opportunity touching a (symbol, venue) for this long after a rollback on it."""
    kill_switch: bool = False
    """Start with the kill switch tripped: trade nothing."""
    kill_switch_file: str = ""
    """While this file exists, the shell trips the kill switch (``""``: no file)."""

    def __post_init__(self) -> None:
        self.limits()  # raises ValueError (msgspec reports it as a ValidationError)

    def limits(self) -> RiskLimits:
        """Convert to integers (money at AMOUNT_PRECISION, ns); ValueError if a value is bad."""
        for name in ("max_open_orders", "max_consecutive_leg_failures", "max_quote_age_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, was {getattr(self, name)}")
        if self.rollback_cooldown_ms < 0:
            raise ValueError(f"rollback_cooldown_ms: must be >= 0, was {self.rollback_cooldown_ms}")
        return RiskLimits(
            max_order_notional=_amount("max_order_notional_quote", self.max_order_notional_quote),
            max_opportunity_notional=_amount(
                "max_opportunity_notional_quote", self.max_opportunity_notional_quote
            ),
            max_unhedged_notional=_amount(
                "max_unhedged_notional_quote", self.max_unhedged_notional_quote
            ),
            max_open_orders=self.max_open_orders,
            max_consecutive_leg_failures=self.max_consecutive_leg_failures,
            daily_loss_limit=_amount("daily_loss_limit_quote", self.daily_loss_limit_quote),
            max_quote_age_ns=self.max_quote_age_ms * NS_PER_MS,
            rollback_cooldown_ns=self.rollback_cooldown_ms * NS_PER_MS,
        )

    def rate_limit(self, venue: str) -> RateLimit:
        """The order-rate limit of ``venue``."""
        return self.rate_limits.get(venue, self.default_rate_limit)


class RiskState:
    """What the limits are checked against. Mutated only by ``RiskGate``; read freely.

    Attributes
    ----------
    kill_switch_reason
        Why the kill switch was tripped (the first reason); ``""`` while it is not.
    day, daily_pnl, daily_loss_hit
        UTC day number, realized PnL of that day (AMOUNT_PRECISION), and whether the daily
        loss limit was reached that day (latched until UTC midnight).
    open_orders
        Orders sent and not yet terminal.
    unhedged_notional, unhedged_high_water
        Unhedged notional across venues now, and the most it has been (for the report).
    in_flight
        Opportunity id -> worst one-legged exposure reserved by its passing check, until
        ``on_opportunity_done``.
    leg_failures, disabled_venues
        Consecutive leg failures per venue; disabled venue -> when it was disabled (ns).
    cooldowns
        (symbol, venue) -> end of its rollback cool-down (ns).
    buckets
        (venue, symbol, or ``""`` for a venue-wide bucket) -> order-rate bucket.
    refusal_counts, passed
        Refusals by code, and checks passed.
    """

    __slots__ = (
        "buckets",
        "cooldowns",
        "daily_loss_hit",
        "daily_pnl",
        "day",
        "disabled_venues",
        "in_flight",
        "kill_switch_reason",
        "leg_failures",
        "open_orders",
        "passed",
        "refusal_counts",
        "unhedged_high_water",
        "unhedged_notional",
    )

    def __init__(self) -> None:
        self.kill_switch_reason = ""
        self.day = -1
        self.daily_pnl = 0
        self.daily_loss_hit = False
        self.open_orders = 0
        self.unhedged_notional = 0
        self.unhedged_high_water = 0
        self.leg_failures: dict[str, int] = {}
        self.disabled_venues: dict[str, int] = {}
        self.cooldowns: dict[tuple[str, str], int] = {}
        self.in_flight: dict[str, int] = {}
        self.buckets: dict[tuple[str, str], TokenBucket] = {}
        self.refusal_counts: dict[str, int] = {}
        self.passed = 0


class RiskGate:
    """Checks opportunities against ``RiskConfig`` and keeps the ``RiskState`` up to date.

    ``quote_ts`` in ``check`` maps each leg's venue to the local receive time (``ts_recv``)
    of the book the leg was priced on; without it, every leg's quote time is the
    opportunity's ``ts`` (its decision time).
    """

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config if config is not None else RiskConfig()
        self.limits = self.config.limits()
        self.state = RiskState()
        if self.config.kill_switch:
            self.state.kill_switch_reason = "config: kill_switch = true"

    # ------------------------------------------------------------------ check

    def check(
        self, opportunity: Opportunity, now_ns: int, *, quote_ts: Mapping[str, int] | None = None
    ) -> Refusal | None:
        """Return the first refusal, or None after reserving rate tokens and open-order slots.

        Raises ``InvariantViolation`` for an opportunity without legs.
        """
        if not opportunity.legs:
            raise InvariantViolation(f"opportunity {opportunity.id} has no legs")
        self._roll_day(now_ns)
        refusal = (
            self._check_halts(opportunity, now_ns)
            or self._check_quotes(opportunity, now_ns, quote_ts)
            or self._check_notionals(opportunity)
            or self._check_capacity(opportunity, now_ns)
        )
        st = self.state
        if refusal is not None:
            st.refusal_counts[refusal.code] = st.refusal_counts.get(refusal.code, 0) + 1
            return refusal
        for key, n in self._orders_per_bucket(opportunity).items():
            self._bucket(key, now_ns).take(now_ns, n)
        st.open_orders += len(opportunity.legs)
        st.in_flight[opportunity.id] = st.in_flight.get(opportunity.id, 0) + _worst_exposure(
            opportunity
        )
        st.passed += 1
        return None

    def halt_refusal(self, opp: Opportunity, now_ns: int) -> Refusal | None:
        """The refusal of a halt alone (kill switch, daily loss, disabled venue, cool-down),
        without reserving anything: a halt outranks any other reason to refuse."""
        return self._check_halts(opp, now_ns)

    def _check_halts(self, opp: Opportunity, now_ns: int) -> Refusal | None:
        st = self.state
        if st.kill_switch_reason:
            return Refusal(code=RefusalCode.KILL_SWITCH.value, detail=st.kill_switch_reason)
        if st.daily_loss_hit:
            return Refusal(
                code=RefusalCode.DAILY_LOSS_LIMIT.value,
                detail=f"realized PnL today was {_fmt(st.daily_pnl)} {opp.quote}, limit "
                f"{_fmt(self.limits.daily_loss_limit)}; trading resumes at UTC midnight",
            )
        for leg in opp.legs:
            if leg.venue in st.disabled_venues:
                return Refusal(
                    code=f"{RefusalCode.VENUE_DISABLED}:{leg.venue}",
                    detail=f"{leg.venue} was disabled after "
                    f"{self.limits.max_consecutive_leg_failures} consecutive leg failures",
                )
        for leg in opp.legs:
            key = (leg.symbol, leg.venue)
            until = st.cooldowns.get(key)
            if until is None:
                continue
            if now_ns < until:
                return Refusal(
                    code=f"{RefusalCode.ROLLBACK_COOLDOWN}:{leg.symbol}",
                    detail=f"rollback on {leg.venue} {leg.symbol}; cool-down ends in "
                    f"{_ms(until - now_ns)} ms",
                )
            del st.cooldowns[key]
        return None

    def _check_quotes(
        self, opp: Opportunity, now_ns: int, quote_ts: Mapping[str, int] | None
    ) -> Refusal | None:
        max_age = self.limits.max_quote_age_ns
        for leg in opp.legs:
            ts = opp.ts if quote_ts is None else quote_ts.get(leg.venue)
            if ts is None:
                return Refusal(
                    code=RefusalCode.STALE_BOOK.value,
                    detail=f"no quote time was received for {leg.venue} {leg.symbol}",
                )
            if now_ns - ts > max_age:
                return Refusal(
                    code=RefusalCode.STALE_BOOK.value,
                    detail=f"{leg.venue} {leg.symbol} quote was {_ms(now_ns - ts)} ms old, "
                    f"limit {_ms(max_age)} ms",
                )
        return None

    def _check_notionals(self, opp: Opportunity) -> Refusal | None:
        lim = self.limits
        for leg in opp.legs:
            if leg.expected_notional > lim.max_order_notional:
                return Refusal(
                    code=RefusalCode.MAX_ORDER_NOTIONAL.value,
                    detail=f"{leg.venue} {leg.side.name} {leg.symbol} notional was "
                    f"{_fmt(leg.expected_notional)} {opp.quote}, "
                    f"limit {_fmt(lim.max_order_notional)}",
                )
        total = sum(leg.expected_notional for leg in opp.legs)
        if total > lim.max_opportunity_notional:
            return Refusal(
                code=RefusalCode.MAX_OPPORTUNITY_NOTIONAL.value,
                detail=f"opportunity notional was {_fmt(total)} {opp.quote}, "
                f"limit {_fmt(lim.max_opportunity_notional)}",
            )
        worst = _worst_exposure(opp)
        unhedged = self.state.unhedged_notional
        in_flight = sum(self.state.in_flight.values())
        if unhedged + in_flight + worst > lim.max_unhedged_notional:
            return Refusal(
                code=RefusalCode.MAX_UNHEDGED_NOTIONAL.value,
                detail=f"unhedged {_fmt(unhedged)} + in flight {_fmt(in_flight)} + largest leg "
                f"{_fmt(worst)} {opp.quote} would exceed limit {_fmt(lim.max_unhedged_notional)}",
            )
        return None

    def _check_capacity(self, opp: Opportunity, now_ns: int) -> Refusal | None:
        open_orders = self.state.open_orders
        if open_orders + len(opp.legs) > self.limits.max_open_orders:
            return Refusal(
                code=RefusalCode.MAX_OPEN_ORDERS.value,
                detail=f"{open_orders} open + {len(opp.legs)} legs, "
                f"limit {self.limits.max_open_orders}",
            )
        for key, n in self._orders_per_bucket(opp).items():
            venue = key[0]
            bucket = self._bucket(key, now_ns)
            if n > bucket.capacity:
                return Refusal(
                    code=f"{RefusalCode.RATE_LIMITED}:{venue}",
                    detail=f"{n} orders at once on {venue}, bucket capacity {bucket.capacity}",
                )
            wait = bucket.wait_ns(now_ns, n)
            if wait:
                return Refusal(
                    code=f"{RefusalCode.RATE_LIMITED}:{venue}",
                    detail=f"{n} order(s) on {venue} available in {_ms(wait)} ms",
                )
        return None

    # ----------------------------------------------------------- rate limits

    def _bucket_key(self, venue: str, symbol: str) -> tuple[str, str]:
        scope = self.config.rate_limit(venue).scope
        return (venue, symbol if scope == "instrument" else "")

    def _bucket(self, key: tuple[str, str], now_ns: int) -> TokenBucket:
        bucket = self.state.buckets.get(key)
        if bucket is None:
            bucket = self.state.buckets[key] = self.config.rate_limit(key[0]).bucket(now_ns)
        return bucket

    def _orders_per_bucket(self, opp: Opportunity) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for leg in opp.legs:
            key = self._bucket_key(leg.venue, leg.symbol)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def rate_wait_ns(self, venue: str, symbol: str, now_ns: int, n: int = 1) -> int:
        """Nanoseconds until ``n`` orders on ``venue``/``symbol`` fit its rate limit (0: now)."""
        return self._bucket(self._bucket_key(venue, symbol), now_ns).wait_ns(now_ns, n)

    # ------------------------------------------------------ executor updates

    def on_orders_sent(self, venue: str, symbol: str, now_ns: int, n: int = 1) -> None:
        """Record ``n`` orders sent without a check (rollback orders): they use rate tokens
        (going into debt if needed, which delays later checks) and open-order slots."""
        self._bucket(self._bucket_key(venue, symbol), now_ns).take(now_ns, n)
        self.state.open_orders += n

    def on_opportunity_done(self, opportunity_id: str) -> None:
        """Release the worst-case exposure reserved for a passed opportunity: its legs (and any
        rollback) are finished, and what is left unhedged is reported with ``set_unhedged``."""
        self.state.in_flight.pop(opportunity_id, None)

    def on_order_terminal(self, n: int = 1) -> None:
        """Record ``n`` orders that reached a terminal state (filled, cancelled, rejected)."""
        if n > self.state.open_orders:
            raise InvariantViolation(
                f"{n} orders terminal but only {self.state.open_orders} were open"
            )
        self.state.open_orders -= n

    def on_leg_failure(self, venue: str, now_ns: int) -> bool:
        """Count a failed leg on ``venue``; return True if this failure disabled the venue."""
        st = self.state
        count = st.leg_failures.get(venue, 0) + 1
        st.leg_failures[venue] = count
        if count >= self.limits.max_consecutive_leg_failures and venue not in st.disabled_venues:
            st.disabled_venues[venue] = now_ns
            return True
        return False

    def on_leg_success(self, venue: str) -> None:
        """A leg filled on ``venue``: its consecutive-failure count starts again from zero."""
        self.state.leg_failures.pop(venue, None)

    def reset_venue(self, venue: str) -> None:
        """Re-enable ``venue`` (operator action) and clear its failure count."""
        self.state.disabled_venues.pop(venue, None)
        self.state.leg_failures.pop(venue, None)

    def on_rollback(self, symbol: str, venues: Iterable[str], now_ns: int) -> None:
        """Start the cool-down of ``symbol`` on each of ``venues`` after a rollback."""
        until = now_ns + self.limits.rollback_cooldown_ns
        cooldowns = self.state.cooldowns
        for venue in venues:
            key = (symbol, venue)
            cooldowns[key] = max(cooldowns.get(key, until), until)

    def on_pnl(self, realized_delta: int, now_ns: int) -> bool:
        """Add realized PnL (AMOUNT_PRECISION) to the UTC day of ``now_ns``.

        Return True while the daily loss limit is reached (latched until UTC midnight).
        """
        self._roll_day(now_ns)
        st = self.state
        st.daily_pnl += realized_delta
        if -st.daily_pnl >= self.limits.daily_loss_limit:
            st.daily_loss_hit = True
        return st.daily_loss_hit

    def _roll_day(self, now_ns: int) -> None:
        day = utc_day(now_ns)
        st = self.state
        if day > st.day:
            st.day = day
            st.daily_pnl = 0
            st.daily_loss_hit = False

    def set_unhedged(self, notional: int) -> None:
        """Report the unhedged notional across venues now (AMOUNT_PRECISION, >= 0)."""
        if notional < 0:
            raise InvariantViolation(f"unhedged notional must be >= 0, was {notional}")
        st = self.state
        st.unhedged_notional = notional
        st.unhedged_high_water = max(st.unhedged_high_water, notional)

    def trip_kill_switch(self, reason: str) -> None:
        """Stop all new opportunities until ``reset_kill_switch``; the first reason is kept."""
        if not self.state.kill_switch_reason:
            self.state.kill_switch_reason = reason or "kill switch"

    def reset_kill_switch(self) -> None:
        """Allow trading again (operator action)."""
        self.state.kill_switch_reason = ""

    # ------------------------------------------------------------ read-outs

    @property
    def kill_switch_tripped(self) -> bool:
        return bool(self.state.kill_switch_reason)

    @property
    def refusal_counts(self) -> dict[str, int]:
        """Refusals so far, by code (a copy)."""
        return dict(self.state.refusal_counts)

    def is_venue_enabled(self, venue: str) -> bool:
        return venue not in self.state.disabled_venues

    @property
    def unhedged_over_limit(self) -> bool:
        """The unhedged notional now is over ``max_unhedged_notional_quote``."""
        return self.state.unhedged_notional > self.limits.max_unhedged_notional


def _worst_exposure(opp: Opportunity) -> int:
    """Unhedged notional if only the largest leg fills (the worst one-legged outcome)."""
    return max(leg.expected_notional for leg in opp.legs)


def _ms(ns: int) -> str:
    """Format ns as ms, exactly (``1500000`` -> ``"1.5"``)."""
    q, r = divmod(ns, NS_PER_MS)
    return f"{q}.{r:06d}".rstrip("0") if r else str(q)
