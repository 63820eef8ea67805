"""Configuration of one simulated venue: latencies, fees, starting balances and fault knobs.

Decoded from TOML like every arb config (unknown keys fail at start-up)::

    [venues.sim]
    order_latency = {kind = "lognormal", median_ms = 18.0, p99_ms = 65.0}
    event_latency = 4.0                     # venue -> engine; omitted = drawn like order_latency
    taker_fee_ppm = 1000                    # 10 bps
    maker_fee_ppm = 800
    balances = {USDT = "100000", BTC = "2.5"}
    reject_rate = 0.0                       # fault knobs (tests): share of orders refused
    extra_delay_ms = 0.0                    # added to every command's trip to the venue
    partial_fill_fraction = 1.0             # cap on the taker part of each order
    seed = 7
    leverage = 5                            # contracts: collateral >= entry value / leverage
    funding = {rate_ppb = 100000, interval_h = 8, first_ns = 0}   # perps without recorded rates

A latency is a constant in milliseconds (a number, or ``{kind = "constant", ms = ...}``) or a
distribution: ``{kind = "uniform", min_ms, max_ms}`` or ``{kind = "lognormal", median_ms,
p99_ms}`` (the heavy right tail that order round trips show in practice).

Contracts (perpetual swaps and dated futures, linear and inverse) are margined in their settle
currency with one ``leverage`` for the venue (see ``venues.sim.positions``). Funding of the
perpetuals is settled at the funding times of the recording's ``FundingRate`` events; a
perpetual the recording gives no rate for pays ``funding`` (a ``FundingSpec``) when set, and
nothing when it is not (see ``venues.sim.funding``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from arb.core.errors import PrecisionError
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import to_raw

__all__ = [
    "ConstantLatency",
    "FundingSpec",
    "LatencySpec",
    "LognormalLatency",
    "SimVenueConfig",
    "UniformLatency",
]

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
FeePpm = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class ConstantLatency(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
    tag="constant",
):  # fmt: skip
    """Always ``ms`` milliseconds."""

    ms: NonNegative


class UniformLatency(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
    tag="uniform",
):  # fmt: skip
    """Uniform between ``min_ms`` and ``max_ms`` (inclusive, at nanosecond resolution)."""

    min_ms: NonNegative
    max_ms: NonNegative

    def __post_init__(self) -> None:
        if self.max_ms < self.min_ms:
            raise ValueError(f"max_ms ({self.max_ms}) must be >= min_ms ({self.min_ms})")


class LognormalLatency(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
    tag="lognormal",
):  # fmt: skip
    """Lognormal with the given median and 99th percentile (``p99_ms == median_ms``: constant)."""

    median_ms: Annotated[float, msgspec.Meta(gt=0)]
    p99_ms: Annotated[float, msgspec.Meta(gt=0)]

    def __post_init__(self) -> None:
        if self.p99_ms < self.median_ms:
            raise ValueError(f"p99_ms ({self.p99_ms}) must be >= median_ms ({self.median_ms})")


LatencySpec = NonNegative | ConstantLatency | UniformLatency | LognormalLatency
"""A constant in ms (a plain number) or one of the tagged distributions."""


class FundingSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Funding of the perpetuals that the recording gives no ``FundingRate`` for.

    Funding is settled at ``first_ns + k * interval_h`` hours for every integer ``k`` (the
    default grid is Binance's and OKX's: 00:00, 08:00 and 16:00 UTC), at ``rate_ppb`` parts
    per billion of the position's value at the mark price: ``100000`` is 0.01 % per interval;
    positive = longs pay shorts.
    """

    rate_ppb: Annotated[int, msgspec.Meta(ge=-1_000_000_000, le=1_000_000_000)] = 0
    interval_h: Annotated[int, msgspec.Meta(gt=0, le=24 * 366)] = 8
    first_ns: int = 0
    """One funding time, ns since the epoch (any one of the grid: the others follow)."""

    @property
    def interval_ns(self) -> int:
        """The funding interval in nanoseconds."""
        return self.interval_h * 3_600 * 1_000_000_000

    def next_after(self, t: int) -> int:
        """The first funding time strictly after ``t``."""
        iv = self.interval_ns
        return self.first_ns + ((t - self.first_ns) // iv + 1) * iv


class SimVenueConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that makes one simulated venue behave like the real one (see module doc)."""

    order_latency: LatencySpec = 0.0
    """Engine -> venue: from ``submit`` to the command's arrival at the matching engine."""
    event_latency: LatencySpec | None = None
    """Venue -> engine: from the venue's event to its delivery. ``None``: same law as
    ``order_latency`` (drawn independently)."""
    taker_fee_ppm: FeePpm = 0
    maker_fee_ppm: FeePpm = 0
    """Parts per million of notional (10 bps = 1000); negative = rebate."""
    balances: dict[str, str] = {}
    """Starting balance per asset, as decimal strings (``{"USDT": "1000.5"}``)."""
    reject_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    """Share of otherwise valid orders refused with ``RANDOM_REJECT``."""
    extra_delay_ms: NonNegative = 0.0
    """Added to every command's trip to the venue (a slow or congested gateway)."""
    partial_fill_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0
    """At most this fraction of each order's quantity (rounded down to the lot) is filled as
    a taker; the rest follows the order type (IOC cancelled, FOK refused, LIMIT rests)."""
    seed: int = 0
    leverage: Annotated[int, msgspec.Meta(ge=1, le=200)] = 5
    """Contracts: a position holds ``entry value / leverage`` of its settle currency as margin
    (rounded up); an order whose new exposure needs more than is available is refused with
    ``INSUFFICIENT_BALANCE``."""
    funding: FundingSpec | None = None
    """Funding of perpetuals without recorded ``FundingRate`` events; ``None``: none."""

    def __post_init__(self) -> None:
        for asset, amount in self.balances.items():
            try:
                raw = to_raw(amount, AMOUNT_PRECISION)
            except PrecisionError as e:
                raise ValueError(f"balance of {asset}: {e}") from e
            if raw < 0:
                raise ValueError(f"balance of {asset} must not be negative, was {amount!r}")

    def initial_balances(self) -> dict[str, int]:
        """Starting balances at ``AMOUNT_PRECISION``."""
        return {a: to_raw(s, AMOUNT_PRECISION) for a, s in self.balances.items()}

    @property
    def partial_fill_ppm(self) -> int:
        """``partial_fill_fraction`` in parts per million (exact integer math downstream)."""
        return round(self.partial_fill_fraction * 1_000_000)
