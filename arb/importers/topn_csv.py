"""``topn-csv``: top-N book snapshot CSVs -> normalized ``snap`` frames (kind ``n``).

Header ``timestamp,symbol,b1..bN,bv1..bvN,a1..aN,av1..avN`` (N read from the header), e.g.::

    timestamp,symbol,b1,b2,bv1,bv2,a1,a2,av1,av2
    2021-08-20 00:00:00,LINKUSDT.BNC,27.095,27.088,988.45,215.284,27.101,27.105,21.079,163.422

``timestamp`` is an ISO date-time (UTC unless it names its offset) or an integer epoch in
s, ms, us or ns. ``symbol`` is a concatenated pair with a venue suffix (``.BNC`` Binance,
``.HB`` Huobi, ...). Each row becomes one ``snap`` with ``partial=true``; its receive and
event times are both the row's timestamp. Empty cells (a side shorter than N) are skipped.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from arb.core.instruments import Instrument
from arb.importers import _markets
from arb.importers._base import BookMsg
from arb.importers._base import ImportContext
from arb.importers._base import Out
from arb.importers._base import Precisions
from arb.importers._base import is_decimal
from arb.importers._base import read_csv
from arb.importers._markets import Market
from arb.recording import Kind
from venues.binance.symbols import MARKETS as BINANCE_MARKETS
from venues.okx.symbols import to_venue_symbol as okx_venue_symbol

__all__ = ["VENUE_SUFFIXES", "TopNCsvImporter", "parse_timestamp"]

VENUE_SUFFIXES: dict[str, str] = {
    "BNC": "binance",
    "BN": "binance",
    "BINANCE": "binance",
    "HB": "huobi",
    "HUOBI": "huobi",
    "OKX": "okx",
    "OKEX": "okx",
    "CB": "coinbase",
    "KRK": "kraken",
    "BFX": "bitfinex",
    "BST": "bitstamp",
    "GMN": "gemini",
    "BYB": "bybit",
    "KC": "kucoin",
}
"""Symbol suffix -> arb venue id."""

_CONN = "csv"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_EPOCH_SCALE = {10: 1_000_000_000, 13: 1_000_000, 16: 1_000, 19: 1}


def parse_timestamp(s: str) -> int:
    """Return ns since the epoch of an ISO date-time (naive = UTC) or an integer epoch.

    Raises ``ValueError`` for anything else.
    """
    if s.isdigit():
        scale = _EPOCH_SCALE.get(len(s))
        if scale is None:
            raise ValueError(f"epoch timestamp {s!r} is not s, ms, us or ns")
        return int(s) * scale
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _US * 1000


def _header(n: int) -> list[str]:
    cols = ["timestamp", "symbol"]
    for prefix in ("b", "bv", "a", "av"):
        cols.extend(f"{prefix}{i}" for i in range(1, n + 1))
    return cols


class TopNCsvImporter:
    """Import top-N snapshot CSVs; see the module docstring."""

    def __init__(self, ctx: ImportContext, venue: str | None) -> None:
        self.ctx = ctx
        self.venue = venue
        self._markets: dict[str, Market] = {}
        self._prec = Precisions()

    def _market(self, source_symbol: str) -> Market:
        pair, dot, suffix = source_symbol.rpartition(".")
        if not dot:
            pair, suffix = source_symbol, ""
        venue = VENUE_SUFFIXES.get(suffix.upper()) if suffix else self.venue
        if venue is None:
            if suffix:
                raise ValueError(f"symbol {source_symbol!r}: unknown venue suffix {suffix!r}")
            raise ValueError(f"symbol {source_symbol!r} has no venue suffix; pass --venue")
        if venue in BINANCE_MARKETS:
            return _markets.binance(venue, pair)
        m = _markets.spot(venue, pair)
        if venue == "okx":
            vs = okx_venue_symbol(m.symbol)
            return Market(venue, vs, m.symbol, {})
        return m

    def frames(self, path: Path) -> Generator[Out, None, None]:
        """Yield one ``snap`` frame per row of ``path``."""
        ctx = self.ctx
        rows = read_csv(path, ctx)
        first = next(rows, None)
        if first is None:
            return
        lineno, header = first
        n = (len(header) - 2) // 4
        if n < 1 or header != _header(n):
            raise ctx.fail(
                path,
                lineno,
                "header is not timestamp,symbol,b1..bN,bv1..bvN,a1..aN,av1..avN "
                f"(received {','.join(header)[:120]!r})",
            )
        ctx.skipped += 1
        width = 2 + 4 * n
        for lineno, cells in rows:
            if len(cells) != width:
                ctx.bad(path, lineno, f"expected {width} cells, received {len(cells)}")
                continue
            try:
                ts = parse_timestamp(cells[0])
            except ValueError as e:
                ctx.bad(path, lineno, f"bad timestamp {cells[0]!r} ({e})")
                continue
            m = self._markets.get(cells[1])
            if m is None:
                try:
                    m = self._markets[cells[1]] = self._market(cells[1])
                except ValueError as e:
                    ctx.bad(path, lineno, str(e))
                    continue
            bids = _side(cells, 2, 2 + n, n)
            asks = _side(cells, 2 + 2 * n, 2 + 3 * n, n)
            if bids is None or asks is None:
                ctx.bad(path, lineno, "a price or size is not a decimal number (or lacks its pair)")
                continue
            key = (m.venue, m.venue_symbol)
            self._prec.add_levels(key, bids)
            self._prec.add_levels(key, asks)
            yield (
                ts,
                m.venue,
                _CONN,
                Kind.NORMALIZED,
                BookMsg(m.venue_symbol, ts, bids, asks, snapshot=True, partial=True),
            )

    def instruments(self) -> list[Instrument]:
        """Return the inferred instrument of every symbol seen."""
        out = []
        for m in {(m.venue, m.venue_symbol): m for m in self._markets.values()}.values():
            key = (m.venue, m.venue_symbol)
            if key in self._prec.seen:
                out.append(m.instrument(*self._prec.get(key)))
        return out

    def notes(self) -> dict[str, str]:
        """Return nothing beyond the common notes."""
        return {}


def _side(cells: list[str], px0: int, qty0: int, n: int) -> list[tuple[str, str]] | None:
    # Pairs (price, size) of one side; empty pairs are skipped, half-empty or bad ones refused.
    out = []
    for i in range(n):
        px, qty = cells[px0 + i], cells[qty0 + i]
        if not px and not qty:
            continue
        if not (is_decimal(px) and is_decimal(qty)):
            return None
        out.append((px, qty))
    return out
