"""What the sandbox's REST and WebSocket handlers share (one object per running server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Protocol

from venues.okx.sandbox.accounts import Faults
from venues.okx.sandbox.accounts import SandboxAccount
from venues.okx.sandbox.auth import RateLimiter
from venues.okx.sandbox.market import BookUpdate
from venues.okx.sandbox.market import PublicBooks
from venues.okx.sandbox.market import TradeTape
from venues.okx.sandbox.state import Exchange

__all__ = ["BookSink", "Ctx", "PublicTrade"]


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """One trade of the public ``trades`` channel, OKX strings (``side``: the taker's)."""

    inst_id: str
    trade_id: str
    px: str
    sz: str
    side: str
    ts_ms: int


class BookSink(Protocol):
    def on_books(self, updates: list[BookUpdate]) -> None:
        """Called once per market tick with the ``books`` updates of that tick."""
        ...

    def on_tick(self, trades: list[PublicTrade], changed: set[str]) -> None:
        """Called once per market tick, after ``on_books``: the trades of the tick (the
        market's and our own fills) and the spot ``instId``s whose book or last price moved."""
        ...


@dataclass(eq=False)
class Ctx:
    exchange: Exchange
    books: PublicBooks
    faults: Faults
    accounts: dict[str, SandboxAccount]
    clock: Callable[[], int]
    """Wall time in ns."""
    limiter: RateLimiter = field(default_factory=RateLimiter)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every HTTP request and WebSocket upgrade received, in order."""
    book_sinks: set[BookSink] = field(default_factory=set)
    tape: TradeTape = field(default_factory=TradeTape)
    """Public trades and our own fills, for ``market/candles``."""
    conn_no: int = 0
    trade_no: int = 0
    """Last trade id given to a trade of the replayed market (own fills keep theirs)."""

    def now_ms(self) -> int:
        return self.clock() // 1_000_000

    def conn_id(self) -> str:
        self.conn_no += 1
        return f"{self.conn_no:08x}"
