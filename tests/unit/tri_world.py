"""A one-venue world for triangular scenarios: three books, the triangular detector, a
simulated venue, risk, ledger, journal and executor, on a virtual clock (no sleeps).

Venue ``okx`` trades BTC-USDT (tick 0.1, lot 0.00001), ETH-BTC (tick 0.00001, lot 0.001) and
ETH-USDT (tick 0.01, lot 0.001) at 10 bps taker, charged in the quote like the simulated
venue. ``World.book`` sends a snapshot to both the engine's books and the venue;
``World.venue_book`` to the venue only (the market moved while our orders travelled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arb.core.book import LocalBook
from arb.core.detector import VenueParams
from arb.core.events import BookSnapshot
from arb.core.ledger import Ledger
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.opportunity import Opportunity
from arb.core.risk import RiskConfig
from arb.core.risk import RiskGate
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSync
from arb.core.triangular import TriangularConfig
from arb.core.triangular import TriangularDetector
from arb.core.unwind import UnwindConfig
from arb.engine import next_due
from arb.engine import step
from arb.executor import Executor
from arb.journal import Journal
from tests.unit.markets import TRI_BTC as BTC
from tests.unit.markets import TRI_ETH as ETH
from tests.unit.markets import TRI_ETHBTC as ETHBTC
from tests.unit.markets import Rows
from tests.unit.markets import snapshot
from venues.sim import SimVenue
from venues.sim import SimVenueConfig

V = "okx"
MS = 1_000_000
S = 1_000_000_000
UNIT = POW10[AMOUNT_PRECISION]
T0 = 1_700_000_000 * S
FEE_PPM = 1_000

INSTRUMENTS = {i.key: i for i in (BTC, ETHBTC, ETH)}

# USDT -> BTC (ask 50000.0) -> ETH (ask 0.05) -> USDT (bid 2530.00): about 0.9% after fees.
MISPRICED: dict[str, tuple[Rows, Rows]] = {
    "BTC-USDT": ([("49990.0", "1"), ("49980.0", "5")], [("50000.0", "1"), ("50010.0", "5")]),
    "ETH-BTC": ([("0.04999", "2"), ("0.04998", "10")], [("0.05000", "2"), ("0.05001", "10")]),
    "ETH-USDT": ([("2530.00", "2"), ("2529.00", "10")], [("2531.00", "2"), ("2532.00", "10")]),
}


class World:
    """Detector + executor + one simulated venue with three books, on a virtual clock."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        sim: dict[str, Any] | None = None,
        risk: dict[str, Any] | None = None,
        rollback: dict[str, Any] | None = None,
        detector: dict[str, Any] | None = None,
        balances: dict[str, str] | None = None,
    ) -> None:
        kw: dict[str, Any] = {
            "order_latency": 5.0,
            "event_latency": 2.0,
            "taker_fee_ppm": FEE_PPM,
            "balances": balances or {"USDT": "10000", "BTC": "0.2", "ETH": "4"},
            "seed": 1,
        }
        kw.update(sim or {})
        self.sim = SimVenue(V, list(INSTRUMENTS.values()), SimVenueConfig(**kw))
        self.sims = {V: self.sim}
        self.books = {
            k: BookSync(LocalBook(k[0], k[1]), NoSequenceRule()) for k in sorted(INSTRUMENTS)
        }
        self.journal = Journal(tmp_path / "journal.sqlite")
        self.journal.begin_run(config_digest="test", run_id="tri-world")
        rcfg: dict[str, Any] = {
            "max_order_notional_quote": "2500",
            "max_opportunity_notional_quote": "5000",
            "max_unhedged_notional_quote": "5000",
        }
        rcfg.update(risk or {})
        self.risk = RiskGate(RiskConfig(**rcfg))
        self.ledger = Ledger({V: self.sim.balances()})
        self.executor = Executor(
            venues=self.sims,
            instruments=INSTRUMENTS,
            books=self.books,
            risk=self.risk,
            ledger=self.ledger,
            journal=self.journal,
            rollback=UnwindConfig(**(rollback or {})),
            taker_fee_ppm={V: FEE_PPM},
        )
        dcfg: dict[str, Any] = {
            "venues": [V],
            "quote": "USDT",
            "min_profit_quote": "0.10",
            "max_notional_quote": "1000",
            "haircut_sigmas": 0.0,
        }
        dcfg.update(detector or {})
        self.detector = TriangularDetector(
            TriangularConfig(**dcfg),
            INSTRUMENTS,
            {V: VenueParams(taker_fee_ppm=FEE_PPM, order_latency_ms=5.0)},
        )
        self.now = T0
        for sym, (bids, asks) in MISPRICED.items():
            self.book(sym, bids, asks)

    # -- market --------------------------------------------------------------------------

    def snapshot(self, symbol: str, bids: Rows, asks: Rows) -> BookSnapshot:
        return snapshot(INSTRUMENTS[(V, symbol)], bids, asks, self.now, channel="l2")

    def book(self, symbol: str, bids: Rows, asks: Rows) -> None:
        """A new snapshot of ``symbol`` now, seen by the engine and the venue."""
        snap = self.snapshot(symbol, bids, asks)
        self.books[(V, symbol)].on_snapshot(snap)
        self.sim.on_market(snap)
        self.executor.on_book(V, symbol, self.now)

    def venue_book(self, symbol: str, bids: Rows, asks: Rows) -> None:
        """The venue's book changed; the engine has not seen it yet."""
        self.sim.on_market(self.snapshot(symbol, bids, asks))

    # -- trading -------------------------------------------------------------------------

    def detect(self, symbol: str) -> Opportunity | None:
        return self.detector.on_book_update(V, symbol, self.books, self.now, self.ledger.available)

    def send(self, opp: Opportunity):  # -> Refusal | None
        return self.executor.on_opportunity(opp, self.now)

    # -- time ----------------------------------------------------------------------------

    def settle(self, limit_ms: float = 60_000) -> None:
        """Run until nothing is pending anywhere (bounded by ``limit_ms``)."""
        deadline = self.now + round(limit_ms * MS)
        while (nxt := next_due(self.sims, self.executor)) is not None and nxt <= deadline:
            self.now = max(nxt, self.now)
            step(self.sims, self.executor, self.now)

    def advance(self, ms: float) -> None:
        t = self.now + round(ms * MS)
        while (nxt := next_due(self.sims, self.executor)) is not None and nxt <= t:
            self.now = max(nxt, self.now)
            step(self.sims, self.executor, self.now)
        self.now = max(self.now, t)

    # -- read-outs -----------------------------------------------------------------------

    def change(self) -> dict[str, int]:
        """Per asset: the venue's total now minus at the start (AMOUNT_PRECISION)."""
        totals = self.sim.totals()
        start = self.ledger.start[V]
        return {a: totals.get(a, 0) - start.get(a, 0) for a in sorted(set(totals) | set(start))}

    def close(self) -> None:
        self.journal.close()
