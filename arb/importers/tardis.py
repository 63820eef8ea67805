"""``tardis``: tardis.dev CSV files -> arb's normalized frames (kind ``n``).

The data type is told by the header (the first four columns are always
``exchange,symbol,timestamp,local_timestamp``, times in microseconds):

- ``incremental_book_L2``: ``...,is_snapshot,side,price,amount``. Consecutive rows with the
  same symbol, ``local_timestamp`` and ``is_snapshot`` form one message: a ``snap`` (levels
  sorted best first, zero sizes dropped) for ``is_snapshot=true``, else a ``delta``;
- ``book_snapshot_N``: ``...,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,...``
  -> ``snap`` with ``partial=true``;
- ``quotes``: ``...,ask_amount,ask_price,bid_price,bid_amount`` -> ``quote``;
- ``trades``: ``...,id,side,price,amount`` -> ``trade``.

``ts_recv`` is ``local_timestamp`` and ``te`` is ``timestamp``, both converted to ns. Rows with
an empty price or amount (tardis leaves the cells empty when a side is shorter) are skipped.
The ``exchange`` column names the venue: ``binance`` -> binance, ``binance-futures`` ->
binance-usdm, ``binance-delivery`` -> binance-coinm, ``deribit``, ``bitmex``,
``huobi-dm-swap`` -> huobi-swap, ``okex``/``okx`` (and their ``-swap``/``-futures``) -> okx,
``huobi``, ``coinbase`` (spot). Instruments are inferred from the decimals in the data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterator
from decimal import Decimal
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
from venues.normalized.schemas import TradeSide
from venues.normalized.schemas import encode_quote
from venues.normalized.schemas import encode_trade

__all__ = ["EXCHANGES", "TardisImporter"]

EXCHANGES: dict[str, Callable[[str], Market]] = {
    "binance": lambda s: _markets.binance("binance", s),
    "binance-futures": lambda s: _markets.binance("binance-usdm", s),
    "binance-delivery": lambda s: _markets.binance("binance-coinm", s),
    "deribit": _markets.deribit,
    "bitmex": _markets.bitmex,
    "huobi-dm-swap": _markets.huobi_swap,
    "huobi": lambda s: _markets.spot("huobi", s),
    "coinbase": lambda s: _markets.spot("coinbase", s),
    **dict.fromkeys(
        ("okex", "okex-swap", "okex-futures", "okx", "okx-swap", "okx-futures"), _markets.okx
    ),
}
"""tardis.dev exchange id -> venue symbol mapping (raises ``ValueError`` for unknown shapes)."""

_LEAD = ["exchange", "symbol", "timestamp", "local_timestamp"]
_INCREMENTAL = ["is_snapshot", "side", "price", "amount"]
_QUOTES = {"ask_amount", "ask_price", "bid_price", "bid_amount"}
_TRADES = {"id", "side", "price", "amount"}
_LEVEL_COL = re.compile(r"(asks|bids)\[(\d+)\]\.(price|amount)")
_SIDES: dict[str, TradeSide] = {"buy": "buy", "sell": "sell", "unknown": "unknown"}
_CONN = "csv"


class _Bad(Exception):
    """A row that cannot be imported; the message says why."""


def _ns(us: str) -> int:
    if not us.isdigit():
        raise _Bad(f"timestamp {us!r} is not integer microseconds")
    return int(us) * 1000


def _num(s: str) -> str:
    if not is_decimal(s):
        raise _Bad(f"{s!r} is not a decimal number")
    return s


def _is_zero(s: str) -> bool:
    return not s.strip("0.")


class TardisImporter:
    """Import tardis.dev CSV files; see the module docstring."""

    def __init__(self, ctx: ImportContext, venue: str | None) -> None:
        self.ctx = ctx
        self.venue = venue
        self._markets: dict[tuple[str, str], Market] = {}
        self._prec = Precisions()
        self._types: dict[str, str] = {}

    def _market(self, exchange: str, symbol: str) -> Market:
        m = self._markets.get((exchange, symbol))
        if m is None:
            f = EXCHANGES.get(exchange)
            if f is None:
                raise _Bad(f"unknown exchange {exchange!r} (known: {', '.join(sorted(EXCHANGES))})")
            try:
                m = self._markets[(exchange, symbol)] = f(symbol)
            except ValueError as e:
                raise _Bad(f"{exchange} symbol {symbol!r}: {e}") from e
        return m

    def frames(self, path: Path) -> Generator[Out, None, None]:
        """Yield the frames of one tardis CSV file, in file order."""
        rows = read_csv(path, self.ctx)
        first = next(rows, None)
        if first is None:
            return
        lineno, header = first
        self.ctx.skipped += 1
        found = self._reader(path, rows, header)
        if found is None:
            raise self.ctx.fail(
                path,
                lineno,
                "header is not a tardis.dev incremental_book_L2, book_snapshot_N, quotes or "
                f"trades CSV (received {','.join(header)[:120]!r})",
            )
        kind, gen = found
        self._types[path.name] = kind
        yield from gen

    def _reader(
        self, path: Path, rows: Iterator[tuple[int, list[str]]], header: list[str]
    ) -> tuple[str, Iterator[Out]] | None:
        # The data type told by the header, and the generator that reads it.
        cols = header[4:]
        if header[:4] != _LEAD:
            return None
        if cols == _INCREMENTAL:
            return "incremental_book_L2", self._incremental(path, rows)
        if len(cols) == 4 and set(cols) == _QUOTES:
            return "quotes", self._quotes(path, rows, header)
        if len(cols) == 4 and set(cols) == _TRADES:
            return "trades", self._trades(path, rows, header)
        layout = _snapshot_layout(cols)
        if layout is None:
            return None
        return f"book_snapshot_{len(layout[0])}", self._snapshots(path, rows, layout)

    def _rows(
        self, path: Path, rows: Iterator[tuple[int, list[str]]], width: int
    ) -> Iterator[tuple[int, list[str], Market, int, int]]:
        # Common checks: cell count, market, times. Yields (lineno, cells, market, recv, event).
        bad = self.ctx.bad
        for lineno, cells in rows:
            try:
                if len(cells) != width:
                    raise _Bad(f"expected {width} cells, received {len(cells)}")
                m = self._market(cells[0], cells[1])
                ts_recv, ts_event = _ns(cells[3]), _ns(cells[2])
            except _Bad as e:
                bad(path, lineno, str(e))
                continue
            yield lineno, cells, m, ts_recv, ts_event

    def _out(self, m: Market, ts: int, payload: bytes | BookMsg) -> Out:
        return (ts, self.venue or m.venue, _CONN, Kind.NORMALIZED, payload)

    def _incremental(self, path: Path, rows: Iterator[tuple[int, list[str]]]) -> Iterator[Out]:
        group: tuple[str, str, str, str] | None = None
        m: Market | None = None
        recv = te = 0
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        for lineno, cells, market, ts_recv, ts_event in self._rows(path, rows, 8):
            key = (cells[0], cells[1], cells[3], cells[4])
            if key != group:
                if m is not None and group is not None:
                    out = self._book(m, recv, te, group[3] == "true", bids, asks)
                    if out is not None:
                        yield out
                group, m, recv, te, bids, asks = key, market, ts_recv, ts_event, [], []
            snap, side, px, amount = cells[4], cells[5], cells[6], cells[7]
            if not px or not amount:
                self.ctx.skipped += 1
                continue
            try:
                if snap not in ("true", "false"):
                    raise _Bad(f"is_snapshot {snap!r} is not true or false")
                level = (_num(px), _num(amount))
                if side == "bid":
                    bids.append(level)
                elif side == "ask":
                    asks.append(level)
                else:
                    raise _Bad(f"side {side!r} is not bid or ask")
            except _Bad as e:
                self.ctx.bad(path, lineno, str(e))
        if m is not None and group is not None:
            out = self._book(m, recv, te, group[3] == "true", bids, asks)
            if out is not None:
                yield out

    def _book(
        self,
        m: Market,
        ts_recv: int,
        ts_event: int,
        snapshot: bool,
        bids: list[tuple[str, str]],
        asks: list[tuple[str, str]],
    ) -> Out | None:
        key = (m.venue, m.venue_symbol)
        if snapshot:
            bids = sorted((lv for lv in bids if not _is_zero(lv[1])), key=_px, reverse=True)
            asks = sorted((lv for lv in asks if not _is_zero(lv[1])), key=_px)
        elif not bids and not asks:
            return None
        self._prec.add_levels(key, bids)
        self._prec.add_levels(key, asks)
        return self._out(m, ts_recv, BookMsg(m.venue_symbol, ts_event, bids, asks, snapshot))

    def _snapshots(
        self,
        path: Path,
        rows: Iterator[tuple[int, list[str]]],
        layout: tuple[list[tuple[int, int]], list[tuple[int, int]]],
    ) -> Iterator[Out]:
        ask_cols, bid_cols = layout
        width = 4 + 2 * (len(ask_cols) + len(bid_cols))
        for lineno, cells, m, ts_recv, ts_event in self._rows(path, rows, width):
            try:
                asks = _levels(cells, ask_cols)
                bids = _levels(cells, bid_cols)
            except _Bad as e:
                self.ctx.bad(path, lineno, str(e))
                continue
            key = (m.venue, m.venue_symbol)
            self._prec.add_levels(key, bids)
            self._prec.add_levels(key, asks)
            payload = BookMsg(m.venue_symbol, ts_event, bids, asks, snapshot=True, partial=True)
            yield self._out(m, ts_recv, payload)

    def _quotes(
        self, path: Path, rows: Iterator[tuple[int, list[str]]], header: list[str]
    ) -> Iterator[Out]:
        ix = {name: i for i, name in enumerate(header)}
        cols = [ix["bid_price"], ix["bid_amount"], ix["ask_price"], ix["ask_amount"]]
        for lineno, cells, m, ts_recv, ts_event in self._rows(path, rows, len(header)):
            try:
                bp, bq, ap, aq = (_num(cells[i]) if cells[i] else "0" for i in cols)
            except _Bad as e:
                self.ctx.bad(path, lineno, str(e))
                continue
            self._prec.add_levels((m.venue, m.venue_symbol), [(bp, bq), (ap, aq)])
            yield self._out(m, ts_recv, encode_quote(m.venue_symbol, ts_event, bp, bq, ap, aq))

    def _trades(
        self, path: Path, rows: Iterator[tuple[int, list[str]]], header: list[str]
    ) -> Iterator[Out]:
        ix = {name: i for i, name in enumerate(header)}
        i_id, i_side, i_px, i_qty = ix["id"], ix["side"], ix["price"], ix["amount"]
        for lineno, cells, m, ts_recv, ts_event in self._rows(path, rows, len(header)):
            side = _SIDES.get(cells[i_side])
            try:
                if side is None:
                    raise _Bad(f"side {cells[i_side]!r} is not buy, sell or unknown")
                px, qty = _num(cells[i_px]), _num(cells[i_qty])
            except _Bad as e:
                self.ctx.bad(path, lineno, str(e))
                continue
            self._prec.add_levels((m.venue, m.venue_symbol), [(px, qty)])
            payload = encode_trade(m.venue_symbol, ts_event, cells[i_id], side, px, qty)
            yield self._out(m, ts_recv, payload)

    def instruments(self) -> list[Instrument]:
        """Return the inferred instrument of every symbol that produced frames."""
        out = []
        for m in self._markets.values():
            key = (m.venue, m.venue_symbol)
            if key in self._prec.seen:
                inst = m.instrument(*self._prec.get(key))
                out.append(_markets.with_venue(inst, self.venue) if self.venue else inst)
        return out

    def notes(self) -> dict[str, str]:
        """Return the tardis data type of each input file."""
        return {"tardis_types": ", ".join(f"{k}: {v}" for k, v in self._types.items())}


def _px(level: tuple[str, str]) -> Decimal:
    return Decimal(level[0])


def _snapshot_layout(
    cols: list[str],
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
    # Column indexes (price, amount) of asks[0..N-1] and bids[0..N-1], or None if not that shape.
    found: dict[tuple[str, int, str], int] = {}
    for i, name in enumerate(cols, 4):
        mt = _LEVEL_COL.fullmatch(name)
        if mt is None:
            return None
        found[(mt[1], int(mt[2]), mt[3])] = i
    n = len(found) // 4
    if n == 0 or len(found) != 4 * n:
        return None
    try:
        asks = [(found[("asks", k, "price")], found[("asks", k, "amount")]) for k in range(n)]
        bids = [(found[("bids", k, "price")], found[("bids", k, "amount")]) for k in range(n)]
    except KeyError:
        return None
    return asks, bids


def _levels(cells: list[str], cols: list[tuple[int, int]]) -> list[tuple[str, str]]:
    out = []
    for ip, iq in cols:
        px, qty = cells[ip], cells[iq]
        if px and qty:
            out.append((_num(px), _num(qty)))
        elif px or qty:
            raise _Bad("a level has a price without an amount (or the reverse)")
    return out
