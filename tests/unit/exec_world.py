"""A two-venue world for executor scenarios: books, simulated venues, risk, ledger, journal.

Everything runs on a virtual clock (``World.run_until`` / ``World.settle``): no sleeps, no
threads. Venue ``A`` is where the opportunity buys, ``B`` where it sells; both trade
``BTC-USDT`` with price precision 2 (tick 0.01) and size precision 3 (lot 0.001).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arb.core.book import LocalBook
from arb.core.events import BookSnapshot
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.ledger import Ledger
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import fee_amount
from arb.core.money import notional_amount
from arb.core.numbers import POW10
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.risk import RiskConfig
from arb.core.risk import RiskGate
from arb.core.sequencing import NoSequenceRule
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.unwind import UnwindConfig
from arb.engine import next_due
from arb.engine import step
from arb.executor import Executor
from arb.journal import Journal
from venues.sim import SimVenue
from venues.sim import SimVenueConfig

A = "va"
B = "vb"
SYM = "BTC-USDT"
MS = 1_000_000
S = 1_000_000_000
UNIT = POW10[AMOUNT_PRECISION]
T0 = 1_700_000_000 * S
FEE_PPM = 1_000  # 10 bps taker on both venues

# Books: A sells at 100.00 (asks), B buys at 101.00 (bids): a 1% cross, deep enough for 5 BTC.
ASKS_A = [(10000, 2000), (10010, 3000), (10050, 10000)]
BIDS_A = [(9990, 5000), (9980, 10000)]
ASKS_B = [(10110, 5000), (10120, 10000)]
BIDS_B = [(10100, 2000), (10090, 3000), (10050, 10000)]


def instrument(venue: str) -> Instrument:
    return Instrument.create(
        venue=venue,
        symbol=SYM,
        venue_symbol="BTCUSDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size="0.01",
        lot_size="0.001",
        min_size="0.001",
        min_notional="1",
    )


def snapshot(venue: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]], ts: int):
    return BookSnapshot(
        venue=venue, symbol=SYM, channel="l2", bids=bids, asks=asks, ts_event=ts, ts_recv=ts
    )


class World:
    """Executor + two simulated venues + books, driven by a virtual clock."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        sim_a: dict[str, Any] | None = None,
        sim_b: dict[str, Any] | None = None,
        risk: dict[str, Any] | None = None,
        rollback: dict[str, Any] | None = None,
        balances: dict[str, str] | None = None,
    ) -> None:
        self.insts = {(v, SYM): instrument(v) for v in (A, B)}
        bal = balances or {"USDT": "100000", "BTC": "10"}
        self.sims: dict[str, SimVenue] = {}
        for v, extra in ((A, sim_a), (B, sim_b)):
            kw: dict[str, Any] = {
                "order_latency": 5.0,
                "event_latency": 2.0,
                "taker_fee_ppm": FEE_PPM,
                "balances": bal,
                "seed": 1 if v == A else 2,
            }
            kw.update(extra or {})
            self.sims[v] = SimVenue(v, [self.insts[(v, SYM)]], SimVenueConfig(**kw))
        self.books = {
            k: BookSync(LocalBook(k[0], SYM), NoSequenceRule()) for k in sorted(self.insts)
        }
        self.journal = Journal(tmp_path / "journal.sqlite")
        self.journal.begin_run(config_digest="test", run_id="world")
        self.risk = RiskGate(RiskConfig(**(risk or {})))
        self.ledger = Ledger({v: s.balances() for v, s in self.sims.items()})
        self.executor = Executor(
            venues=self.sims,
            instruments=self.insts,
            books=self.books,
            risk=self.risk,
            ledger=self.ledger,
            journal=self.journal,
            rollback=UnwindConfig(**(rollback or {})),
            taker_fee_ppm={A: FEE_PPM, B: FEE_PPM},
        )
        self.now = T0
        self._n = 0
        self.book(A, BIDS_A, ASKS_A)
        self.book(B, BIDS_B, ASKS_B)

    # -- market --------------------------------------------------------------------------

    def book(self, venue: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        """A new snapshot of ``venue``'s book now (the engine and the venue both see it)."""
        snap = snapshot(venue, bids, asks, self.now)
        self.books[(venue, SYM)].on_snapshot(snap)
        self.sims[venue].on_market(snap)

    # -- trading -------------------------------------------------------------------------

    def opportunity(
        self, qty: int = 1000, buy_px: int = 10000, sell_px: int = 10100, *, buy: str = A
    ) -> Opportunity:
        """Buy ``qty`` (raw, 0.001 BTC) on ``buy`` up to ``buy_px``, sell on the other venue
        down to ``sell_px``; priced like the detector would (fees, no haircut)."""
        sell = B if buy == A else A
        inst = self.insts[(buy, SYM)]
        cost = notional_amount(inst, buy_px, qty, round_up=True)
        proceeds = notional_amount(inst, sell_px, qty, round_up=False)
        fb, fs = fee_amount(cost, FEE_PPM), fee_amount(proceeds, FEE_PPM)
        self._n += 1
        legs = (
            Leg(venue=buy, symbol=SYM, side=Side.BUY, px=buy_px, qty=qty,
                expected_notional=cost, fee=fb),
            Leg(venue=sell, symbol=SYM, side=Side.SELL, px=sell_px, qty=qty,
                expected_notional=proceeds, fee=fs),
        )  # fmt: skip
        profit = proceeds - cost - fb - fs
        return Opportunity(
            id=f"T{self.now // MS}N{self._n}",
            kind="spatial",
            ts=self.now,
            symbol=SYM,
            quote="USDT",
            legs=legs,
            gross_profit=proceeds - cost,
            fees=fb + fs,
            latency_haircut=0,
            expected_profit=profit,
            expected_profit_bps=profit / cost * 1e4,
        )

    def send(self, opp: Opportunity):  # -> Refusal | None
        return self.executor.on_opportunity(opp, self.now)

    # -- time ----------------------------------------------------------------------------

    def run_until(self, t: int) -> None:
        """Run venue events and executor timers due up to ``t``; the clock ends at ``t``."""
        while (nxt := next_due(self.sims, self.executor)) is not None and nxt <= t:
            self.now = max(nxt, self.now)
            step(self.sims, self.executor, self.now)
        self.now = max(self.now, t)

    def advance(self, ms: float) -> None:
        self.run_until(self.now + round(ms * MS))

    def settle(self, limit_ms: float = 60_000) -> None:
        """Run until nothing is pending anywhere (bounded by ``limit_ms``)."""
        deadline = self.now + round(limit_ms * MS)
        while (nxt := next_due(self.sims, self.executor)) is not None and nxt <= deadline:
            self.now = max(nxt, self.now)
            step(self.sims, self.executor, self.now)

    # -- read-outs -----------------------------------------------------------------------

    def net_btc(self) -> int:
        """BTC bought minus sold across both venues (AMOUNT_PRECISION): the unhedged inventory."""
        return sum(
            self.sims[v].totals().get("BTC", 0) - self.ledger.start[v].get("BTC", 0)
            for v in self.sims
        )

    def close(self) -> None:
        self.journal.close()
