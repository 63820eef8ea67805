"""The basis strategy in the engine: its detector, its positions, their funding, the journal.

The pure pieces are ``arb.core.basis`` (``BasisDetector`` prices entries and exits,
``BasisBook`` holds the positions). This shell part connects them to the rest:

- **trades**: the executor calls ``on_trade_done`` once per finished trade; a basis entry's
  fills open a position (``BasisBook.open``), an exit's fills close it (``BasisBook.close``,
  realised PnL) and both are journaled (``positions`` rows);
- **funding rates**: the venues' ``FundingRate`` events go to the detector (expected funding
  over the horizon). A simulated venue whose recording carries none settles the ``[venues.sim]
  funding`` schedule instead; the detector is told that schedule at start (``seed_funding``),
  so what it expects is what the venue will charge;
- **funding payments**: what a simulated venue settles (``take_funding_payments``) moves the
  ledger, is journaled (``funding`` rows) and is booked on the strategy's positions on that
  perp (``BasisBook.on_funding_settlement`` at the payment's own mark and rate).

Live venues settle funding on their side; reading it back (OKX bills, ccxt funding history) is
not wired yet, so ``arb run`` refuses a ``[basis]`` config (see ``arb.live``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import msgspec

from arb.config import Config
from arb.core.basis import BasisClose
from arb.core.basis import BasisConfig
from arb.core.basis import BasisDetector
from arb.core.basis import BasisFill
from arb.core.basis import BasisPosition
from arb.core.contracts import pnl_currency
from arb.core.detector import VenueParams
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.ledger import Ledger
from arb.core.messages import OrderFilled
from arb.core.opportunity import Opportunity
from arb.core.volatility import Volatilities
from arb.executor import leg_number
from arb.journal import Journal
from venues.sim.funding import FundingPayment as VenueFunding

__all__ = ["BasisDesk"]

Key = tuple[str, str]


class BasisDesk:
    """One per engine with a ``[basis]`` section; see the module docstring."""

    def __init__(
        self,
        cfg: Config,
        basis: BasisConfig,
        instruments: Mapping[Key, Instrument],
        venue_params: Mapping[str, VenueParams],
        ledger: Ledger,
        journal: Journal,
        mark_px: Callable[[Key], int | None],
        vols: Volatilities | None = None,
    ) -> None:
        bcfg = msgspec.structs.replace(basis, max_quote_age_ms=cfg.risk.max_quote_age_ms)
        self.detector = BasisDetector(bcfg, instruments, venue_params, vols=vols)
        self.book = self.detector.book
        self.instruments = instruments
        self.ledger = ledger
        self.journal = journal
        self.funding_quote = 0
        """Funding booked on the strategy's positions, in the quote (negative: paid)."""
        self.realised_quote = 0
        """Realised PnL of the closed positions, in the quote (funding and fees included)."""
        self._cfg = cfg
        self._mark_px = mark_px

    # -- the engine's hooks --------------------------------------------------------------------

    def watched(self) -> list[Key]:
        """The books of the pairs (spot and perp)."""
        keys = {k for p in self.book.pairs.values() for k in (p.spot_key, p.perp_key)}
        return sorted(keys)

    def perps(self) -> list[Key]:
        return sorted({p.perp_key for p in self.book.pairs.values()})

    def seed_funding(self, start_ns: int) -> None:
        """Tell the detector the ``[venues.sim] funding`` schedule of each perp (the rate a
        simulated venue settles when the recording carries none)."""
        for venue, symbol in self.perps():
            v = self._cfg.venue(venue)
            spec = v.sim.funding if v.sim is not None else None
            if spec is None:
                continue
            nxt = spec.next_after(start_ns)
            self.detector.on_funding(
                FundingRate(
                    venue=venue,
                    symbol=symbol,
                    rate_ppb=spec.rate_ppb,
                    funding_time_ns=nxt,
                    next_funding_time_ns=nxt + spec.interval_ns,
                    ts_event=start_ns,
                    ts_recv=start_ns,
                )
            )

    def on_funding(self, ev: FundingRate) -> None:
        self.detector.on_funding(ev)

    def on_venue_funding(self, payments: Iterable[VenueFunding]) -> None:
        """Funding a venue settled: the ledger, the journal, the strategy's positions (the
        venue's own amount, split among them by contracts; the mark is the perp's mid)."""
        for pay in payments:
            self.ledger.on_funding(pay.venue, pay.symbol, pay.amount, pay.ccy)
            key = (pay.venue, pay.symbol)
            mark = self._mark_px(key) or 0
            booked = []
            if pay.position and mark:
                before = sum(p.funding_quote for p in self.book.open_positions())
                booked = self.book.on_funding_settlement(
                    key, mark, pay.rate_ppb, pay.ts_event, paid=(pay.amount, pay.position)
                )
                after = sum(p.funding_quote for p in self.book.open_positions())
                self.funding_quote += after - before
            self.journal.record_funding(
                ts=pay.ts_event,
                venue=pay.venue,
                symbol=pay.symbol,
                amount=pay.amount,
                ccy=pay.ccy,
                rate_ppb=pay.rate_ppb,
                position=pay.position,
                value=pay.value,
                mark_px=mark,
                source=pay.source,
                position_id=",".join(fp.position_id for fp in booked),
            )

    def on_trade_done(self, opp: Opportunity, fills: list[OrderFilled], now: int) -> None:
        """An entry opens a position, an exit closes one (the executor's hook)."""
        if opp.kind != "basis":
            return
        # A flatten order (leg number 2n + i) trades rounding dust of an asset back to the
        # quote: inventory, not the position (the ledger has it); the legs and their hedges or
        # unwinds make the position.
        n = len(opp.legs)
        bf = [
            BasisFill(
                venue=f.venue,
                symbol=self._symbol_of(opp, f),
                side=f.side,
                px=f.px,
                qty=f.qty,
                fee=f.fee,
                fee_ccy=f.fee_ccy,
            )
            for f in fills
            if leg_number(opp.id, f.client_order_id) < 2 * n
        ]
        if opp.inputs.get("action") == "close":
            pid = str(opp.inputs["position_id"])
            pos = self.book.positions.get(pid)
            closed = self.book.close(pid, bf, now)
            if closed is not None and pos is not None:
                self.realised_quote += closed.realised
                self.journal.record_position(**self._row(pos, "close", now, closed))
            return
        opened = self.book.open(opp.id, bf, now)
        if opened is not None:
            self.journal.record_position(**self._row(opened, "open", now))

    def _row(
        self, pos: BasisPosition, event: str, ts: int, closed: BasisClose | None = None
    ) -> dict[str, Any]:
        pair = self.book.pairs[pos.pair]
        spot, perp = pair.spot, pair.perp
        row: dict[str, Any] = {
            "ts": ts,
            "position_id": pos.id,
            "event": event,
            "strategy": "basis",
            "pair": pos.pair,
            "direction": str(pos.direction),
            "quote": pos.quote,
            "spot_venue": spot.venue,
            "spot_symbol": spot.symbol,
            "spot_qty": pos.spot_qty,
            "perp_venue": perp.venue,
            "perp_symbol": perp.symbol,
            "perp_qty": pos.perp_qty,
            "perp_ccy": pnl_currency(perp),
            "spot_px": pos.spot_entry_px,
            "perp_px": pos.perp_entry_px,
            "horizon_end_ns": pos.horizon_end_ns,
            "spot_flow": pos.spot_flow,
            "perp_flow": pos.perp_flow,
            "funding": pos.funding,
            "funding_quote": pos.funding_quote,
            "fees_quote": pos.fees_quote,
            "fees": dict(pos.fees),
        }
        if closed is not None:
            row |= {
                "conversion_px": closed.conversion_px,
                "funding_quote": closed.funding_quote,
                "fees_quote": closed.fees_quote,
                "realised": closed.realised,
                "holding_ns": closed.holding_ns,
            }
        return row

    def _symbol_of(self, opp: Opportunity, f: OrderFilled) -> str:
        # The symbol of the leg the fill's order belongs to (leg number k: leg k % n).
        return opp.legs[leg_number(opp.id, f.client_order_id) % len(opp.legs)].symbol
