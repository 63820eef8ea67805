"""Simulated venue for replay and paper trading (``arb.ports.ExecutionVenue``).

See ``venues.sim.venue`` for the matching, latency and balance rules, ``venues.sim.positions``
for contracts (positions, margin, PnL) and ``venues.sim.funding`` for funding.
"""

from venues.sim.config import ConstantLatency
from venues.sim.config import FundingSpec
from venues.sim.config import LatencySpec
from venues.sim.config import LognormalLatency
from venues.sim.config import SimVenueConfig
from venues.sim.config import UniformLatency
from venues.sim.funding import FundingPayment
from venues.sim.latency import LatencyModel
from venues.sim.latency import build_latency
from venues.sim.matching import SimBook
from venues.sim.positions import Position
from venues.sim.venue import SimVenue

__all__ = [
    "ConstantLatency",
    "FundingPayment",
    "FundingSpec",
    "LatencyModel",
    "LatencySpec",
    "LognormalLatency",
    "Position",
    "SimBook",
    "SimVenue",
    "SimVenueConfig",
    "UniformLatency",
    "build_latency",
]
