"""Small value types shared by the whole engine."""

from __future__ import annotations

import enum

__all__ = ["Side"]


class Side(enum.IntEnum):
    """Order side. For a book side, ``BUY`` names the bids and ``SELL`` the asks."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY
