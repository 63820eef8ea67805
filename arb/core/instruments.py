"""Instruments: what a venue trades and how its numbers are scaled.

Canonical symbols (the same on every venue, so that venues can be compared):

- spot ``BASE-QUOTE`` (``BTC-USDT``);
- perpetual swap ``BASE-QUOTE-PERP``: linear when settled in the quote (``BTC-USDT-PERP``),
  inverse when quoted in USD and settled in the base (``BTC-USD-PERP``);
- dated future ``BASE-QUOTE-YYYYMMDD`` (``BTC-USD-20220527``);
- option ``BASE-QUOTE-YYYYMMDD-STRIKE-C|P``.

Each adapter maps its own names with ``to_venue_symbol`` / ``from_venue_symbol``.
"""

from __future__ import annotations

import enum

import msgspec

from arb.core.numbers import decimals_of
from arb.core.numbers import from_raw
from arb.core.numbers import to_raw

__all__ = ["Instrument", "InstrumentKind", "parse_symbol"]


class InstrumentKind(enum.StrEnum):
    SPOT = "spot"
    PERP = "perp"
    FUTURE = "future"
    OPTION = "option"


class Instrument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Static description of one instrument on one venue.

    Decimal fields are kept as the venue's strings (exact, JSON-safe); the precisions say how
    prices and sizes are scaled to raw integers. ``contract_value`` is ``"1"`` for spot.
    ``source`` says where the metadata came from (``"venue"`` or ``"inferred"`` from data).
    """

    venue: str
    symbol: str
    venue_symbol: str
    kind: InstrumentKind
    base: str
    quote: str
    settle: str = ""
    tick_size: str
    lot_size: str
    min_size: str = "0"
    min_notional: str = "0"
    contract_value: str = "1"
    contract_value_ccy: str = ""
    inverse: bool = False
    expiry_ns: int = 0
    price_precision: int
    size_precision: int
    source: str = "venue"

    @classmethod
    def create(
        cls,
        *,
        venue: str,
        symbol: str,
        venue_symbol: str,
        kind: InstrumentKind,
        base: str,
        quote: str,
        tick_size: str,
        lot_size: str,
        **kw: object,
    ) -> Instrument:
        """Build an instrument whose precisions follow from its tick and lot sizes."""
        kw.setdefault("price_precision", decimals_of(tick_size))
        kw.setdefault("size_precision", decimals_of(lot_size))
        return cls(
            venue=venue,
            symbol=symbol,
            venue_symbol=venue_symbol,
            kind=kind,
            base=base,
            quote=quote,
            tick_size=tick_size,
            lot_size=lot_size,
            **kw,  # type: ignore[arg-type]
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.venue, self.symbol)

    def px_to_raw(self, s: str) -> int:
        return to_raw(s, self.price_precision)

    def qty_to_raw(self, s: str) -> int:
        return to_raw(s, self.size_precision)

    def px_str(self, raw: int) -> str:
        return from_raw(raw, self.price_precision)

    def qty_str(self, raw: int) -> str:
        return from_raw(raw, self.size_precision)

    @property
    def tick_raw(self) -> int:
        return to_raw(self.tick_size, self.price_precision)

    @property
    def lot_raw(self) -> int:
        return to_raw(self.lot_size, self.size_precision)


def parse_symbol(symbol: str) -> tuple[str, str, InstrumentKind]:
    """Split a canonical symbol into (base, quote, kind). Raises ``ValueError`` if malformed."""
    parts = symbol.split("-")
    if len(parts) < 2 or not all(parts[:2]):
        raise ValueError(f"symbol {symbol!r} is not BASE-QUOTE[-PERP|-YYYYMMDD[-K-C|P]]")
    base, quote = parts[0], parts[1]
    if len(parts) == 2:
        return base, quote, InstrumentKind.SPOT
    if len(parts) == 3 and parts[2] == "PERP":
        return base, quote, InstrumentKind.PERP
    if len(parts) == 3 and len(parts[2]) == 8 and parts[2].isdigit():
        return base, quote, InstrumentKind.FUTURE
    if len(parts) == 5 and parts[2].isdigit() and parts[4] in ("C", "P"):
        return base, quote, InstrumentKind.OPTION
    raise ValueError(f"symbol {symbol!r} is not BASE-QUOTE[-PERP|-YYYYMMDD[-K-C|P]]")
