"""Normalized events -> frames of kind ``n``: for venues whose wire format arb does not keep.

A ccxt venue's books arrive already merged by ccxt (``venues.ccxt.books``), as checked top-N
``BookSnapshot`` events with raw integer levels; ``snapshot_frame`` writes each as one
``snap`` message so that recordings and the live engine decode them through the same
``NormalizedCodec`` path (``Engine.on_frame``). ``trade_frame`` does the same for trades.

Levels are written as exact decimal strings: the snapshot's own strings when it has them
(``raw_bids`` / ``raw_asks``), else the raw integers formatted at the instrument's precision
with trailing zeros dropped (``6000020`` at precision 2 -> ``"60000.2"``); ``to_raw`` reads
them back to the same integers.
"""

from __future__ import annotations

from arb.core.events import BookSnapshot
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.numbers import from_raw
from venues.normalized.schemas import Level
from venues.normalized.schemas import TradeSide
from venues.normalized.schemas import encode_snap
from venues.normalized.schemas import encode_trade

__all__ = ["decimal_str", "snapshot_frame", "trade_frame"]

_SIDES: dict[str, TradeSide] = {"buy": "buy", "sell": "sell"}


def decimal_str(raw: int, precision: int) -> str:
    """Format a raw integer as the shortest exact decimal string (``150, 2`` -> ``"1.5"``)."""
    s = from_raw(raw, precision)
    return s.rstrip("0").rstrip(".") if "." in s else s


def _rows(levels: list[tuple[int, int]], px_prec: int, qty_prec: int) -> list[Level]:
    return [(decimal_str(px, px_prec), decimal_str(qty, qty_prec)) for px, qty in levels]


def _raw_rows(rows: list[list[str]]) -> list[Level]:
    return [(r[0], r[1]) for r in rows]


def snapshot_frame(snap: BookSnapshot, inst: Instrument, seq: int) -> bytes:
    """Encode ``snap`` as the payload of one normalized frame (kind ``n``): a ``snap`` message.

    Parameters
    ----------
    snap
        A checked book snapshot of ``inst`` (levels best first).
    inst
        Its instrument: ``venue_symbol`` names the book, the precisions format the levels.
    seq
        The book's frame number, contiguous from 1 per symbol (``NormalizedCodec``'s rule);
        the venue's own sequence, if any, is not written.

    Returns
    -------
    bytes
        Compact JSON, one line: ``s`` = venue symbol, ``te`` = ``snap.ts_event`` and
        ``partial`` = ``snap.partial``.

    Example::

        {"t":"snap","s":"BTC/USDT","seq":3,"te":1795476241508000000,
         "b":[["60000.2","0.95459986"]],"a":[["60000.4","1.2"]],"partial":true}
    """
    if snap.raw_bids is not None and snap.raw_asks is not None:
        bids, asks = _raw_rows(snap.raw_bids), _raw_rows(snap.raw_asks)
    else:
        pp, qp = inst.price_precision, inst.size_precision
        bids, asks = _rows(snap.bids, pp, qp), _rows(snap.asks, pp, qp)
    return encode_snap(inst.venue_symbol, seq, snap.ts_event, bids, asks, partial=snap.partial)


def trade_frame(trade: Trade, inst: Instrument) -> bytes:
    """Encode ``trade`` as the payload of one normalized frame: a ``trade`` message.

    A side other than ``"buy"`` / ``"sell"`` is written as ``"unknown"``.
    """
    return encode_trade(
        inst.venue_symbol,
        trade.ts_event,
        trade.trade_id,
        _SIDES.get(trade.side, "unknown"),
        decimal_str(trade.px, inst.price_precision),
        decimal_str(trade.qty, inst.size_precision),
    )
