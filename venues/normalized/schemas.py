"""Messages of arb's normalized L2 encoding (frame kind ``n``), and their encoders.

One compact JSON object per frame, a tagged union on ``t``::

    {"t":"snap","s":"BTCUSDT","seq":1,"te":1598918403696000000,
     "b":[["11657.07","10.896"]],"a":[["11657.08","1.714"]],"partial":true}
    {"t":"delta","s":"BTC-PERPETUAL","seq":2,"te":1585699200245000000,"b":[],"a":[["6421.5","0"]]}
    {"t":"quote","s":"BTC-USD","te":1588291201099000000,"bp":"8629.2","bq":"806",
     "ap":"8629.3","aq":"5494"}
    {"t":"trade","s":"XBTUSD","te":1583020803145000000,"id":"ccc3c1fa-...","side":"sell",
     "px":"8531.5","qty":"2152"}

- ``s``: the venue symbol as the source writes it; the codec finds the instrument by it;
- ``seq``: assigned by the importer, per symbol, contiguous from 1 over ``snap`` and ``delta``
  messages, so that a lost line is a sequence gap (``arb.core.sequencing.ContiguousRule``);
- ``te``: the venue's event time, ns;
- ``b`` / ``a``: ``[price, size]`` rows, best first in a ``snap``; size ``"0"`` deletes in a
  ``delta``; ``partial``: the snapshot holds only the top N levels (CSV top-N snapshots);
- quote sides: ``"0"`` price and size when the source had no level on that side;
- trade ``side``: the taker's side, ``"buy"`` or ``"sell"`` (``"unknown"`` when the source
  does not say).

Prices and sizes stay decimal strings exactly as in the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

__all__ = [
    "Level",
    "NormalizedDeltaMsg",
    "NormalizedMsg",
    "NormalizedQuoteMsg",
    "NormalizedSnapMsg",
    "NormalizedTradeMsg",
    "TradeSide",
    "encode_delta",
    "encode_quote",
    "encode_snap",
    "encode_trade",
]

Level = tuple[str, str]
TradeSide = Literal["buy", "sell", "unknown"]


class NormalizedSnapMsg(
    msgspec.Struct, tag_field="t", tag="snap", frozen=True, gc=False, omit_defaults=True
):
    """A book snapshot: levels best first; ``partial`` when only the top N are given."""

    s: str
    seq: int
    te: int
    b: list[Level]
    a: list[Level]
    partial: bool = False


class NormalizedDeltaMsg(msgspec.Struct, tag_field="t", tag="delta", frozen=True, gc=False):
    """Book changes: a size of zero deletes the level, any other size replaces it."""

    s: str
    seq: int
    te: int
    b: list[Level]
    a: list[Level]


class NormalizedQuoteMsg(msgspec.Struct, tag_field="t", tag="quote", frozen=True, gc=False):
    """Best bid and offer; ``"0"`` price and size for an empty side."""

    s: str
    te: int
    bp: str
    bq: str
    ap: str
    aq: str


class NormalizedTradeMsg(msgspec.Struct, tag_field="t", tag="trade", frozen=True, gc=False):
    """A public trade; ``side`` is the taker's side."""

    s: str
    te: int
    id: str
    side: TradeSide
    px: str
    qty: str


NormalizedMsg = NormalizedSnapMsg | NormalizedDeltaMsg | NormalizedQuoteMsg | NormalizedTradeMsg

_encoder = msgspec.json.Encoder()


def encode_snap(
    symbol: str,
    seq: int,
    ts_event: int,
    bids: Sequence[Level],
    asks: Sequence[Level],
    *,
    partial: bool = False,
) -> bytes:
    """Encode a ``snap`` message.

    Parameters
    ----------
    symbol
        Venue symbol as in the source.
    seq
        Per-symbol sequence number (contiguous from 1 over snapshots and deltas).
    ts_event
        Venue event time, ns.
    bids, asks
        ``(price, size)`` string pairs, best first.
    partial
        True when the source holds only the top N levels.

    Returns
    -------
    bytes
        Compact JSON, one line (no newline).
    """
    return _encoder.encode(
        NormalizedSnapMsg(
            s=symbol, seq=seq, te=ts_event, b=list(bids), a=list(asks), partial=partial
        )
    )


def encode_delta(
    symbol: str, seq: int, ts_event: int, bids: Sequence[Level], asks: Sequence[Level]
) -> bytes:
    """Encode a ``delta`` message (size ``"0"`` deletes a level); see ``encode_snap``."""
    return _encoder.encode(
        NormalizedDeltaMsg(s=symbol, seq=seq, te=ts_event, b=list(bids), a=list(asks))
    )


def encode_quote(
    symbol: str, ts_event: int, bid_px: str, bid_qty: str, ask_px: str, ask_qty: str
) -> bytes:
    """Encode a ``quote`` message; pass ``"0"`` price and size for an empty side."""
    return _encoder.encode(
        NormalizedQuoteMsg(s=symbol, te=ts_event, bp=bid_px, bq=bid_qty, ap=ask_px, aq=ask_qty)
    )


def encode_trade(
    symbol: str, ts_event: int, trade_id: str, side: TradeSide, px: str, qty: str
) -> bytes:
    """Encode a ``trade`` message; ``side`` is the taker's side."""
    return _encoder.encode(
        NormalizedTradeMsg(s=symbol, te=ts_event, id=trade_id, side=side, px=px, qty=qty)
    )
