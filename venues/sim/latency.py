"""Latency models: draw one trip time in integer nanoseconds, deterministically from a seed.

Each model owns its ``random.Random``; a venue gives every use (order trips, event delivery,
random rejects) its own stream, so turning one knob never shifts the draws of another.
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist
from typing import Protocol

from venues.sim.config import ConstantLatency
from venues.sim.config import LatencySpec
from venues.sim.config import LognormalLatency
from venues.sim.config import UniformLatency

__all__ = [
    "Constant",
    "LatencyModel",
    "Lognormal",
    "Uniform",
    "build_latency",
    "ms_to_ns",
    "stream",
]

Z99 = NormalDist().inv_cdf(0.99)
"""Standard normal 99th percentile (2.326...): ``p99 = median * exp(Z99 * sigma)``."""


def ms_to_ns(ms: float) -> int:
    """Milliseconds (float) to integer nanoseconds, rounded to the nearest ns."""
    return round(ms * 1_000_000)


def stream(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream named ``name`` under ``seed``.

    String seeds are hashed with SHA-512 by ``random.Random`` (not with ``hash``), so the
    stream is the same in every process regardless of ``PYTHONHASHSEED``.
    """
    return random.Random(f"{seed}/{name}")


class LatencyModel(Protocol):
    def sample(self) -> int:
        """One latency draw in ns (>= 0)."""
        ...


class Constant:
    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def sample(self) -> int:
        return self.ns


class Uniform:
    __slots__ = ("_hi", "_lo", "_rng")

    def __init__(self, lo_ns: int, hi_ns: int, rng: random.Random) -> None:
        self._lo = lo_ns
        self._hi = hi_ns
        self._rng = rng

    def sample(self) -> int:
        return self._rng.randint(self._lo, self._hi)


class Lognormal:
    """``exp(N(mu, sigma))`` ms with ``mu = ln(median)`` and ``sigma = ln(p99 / median) / Z99``."""

    __slots__ = ("_mu", "_rng", "_sigma")

    def __init__(self, median_ms: float, p99_ms: float, rng: random.Random) -> None:
        self._mu = math.log(median_ms)
        self._sigma = math.log(p99_ms / median_ms) / Z99
        self._rng = rng

    def sample(self) -> int:
        return ms_to_ns(self._rng.lognormvariate(self._mu, self._sigma))


def build_latency(spec: LatencySpec, rng: random.Random) -> LatencyModel:
    """Build the model a config entry describes; ``rng`` feeds its draws."""
    if isinstance(spec, ConstantLatency):
        return Constant(ms_to_ns(spec.ms))
    if isinstance(spec, UniformLatency):
        return Uniform(ms_to_ns(spec.min_ms), ms_to_ns(spec.max_ms), rng)
    if isinstance(spec, LognormalLatency):
        return Lognormal(spec.median_ms, spec.p99_ms, rng)
    return Constant(ms_to_ns(spec))
