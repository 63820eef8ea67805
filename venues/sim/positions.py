"""Positions in contracts on the simulated venue: the pure core's ``arb.core.positions``.

The venue and the engine's ``Ledger`` share that one implementation (value, margin, realised
PnL, reservations), so their balances agree exactly; this module only re-exports it.
"""

from __future__ import annotations

from arb.core.positions import ContractSpec
from arb.core.positions import Position
from arb.core.positions import PositionState
from arb.core.positions import is_contract
from arb.core.positions import order_reservation

__all__ = ["ContractSpec", "Position", "PositionState", "is_contract", "order_reservation"]
