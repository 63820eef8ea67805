"""OKX v5 wire Structs: the JSON the venue sends, field names verbatim from the v5 docs.

These are "view" Structs: only the fields arb reads are declared; msgspec skips the rest.
All numbers are strings except ``seqId``, ``prevSeqId`` and ``checksum`` (integers). Absent
sequence fields decode to ``-1`` (``arb.core.events.NO_SEQ``), an absent checksum to ``0``.

WebSocket pushes are decoded in one pass into ``OkxWsMsg``: the envelope (``arg``,
``action``, ``event``) and every ``data`` entry at once. ``OkxWsDataMsg`` is the union of
the fields of the channels arb reads (books, bbo-tbt, tickers, trades); each channel fills
its own subset.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "OkxBooksRestMsg",
    "OkxInstrumentMsg",
    "OkxInstrumentsMsg",
    "OkxWsArgMsg",
    "OkxWsDataMsg",
    "OkxWsMsg",
]

# -- WebSocket -------------------------------------------------------------------------------


class OkxWsArgMsg(msgspec.Struct, gc=False):
    """``arg`` of a push or an event: ``{"channel":"books","instId":"BTC-USDT"}``."""

    channel: str = ""
    instId: str = ""


class OkxWsDataMsg(msgspec.Struct, gc=False):
    """One entry of ``data``; the fields of books, bbo-tbt, tickers and trades together.

    Book rows are ``[price, size, "0", numOrders]``, all strings, as received.
    """

    instId: str = ""
    asks: list[list[str]] = []
    bids: list[list[str]] = []
    ts: str = ""
    checksum: int = 0
    seqId: int = -1
    prevSeqId: int = -1
    # tickers
    last: str = ""
    bidPx: str = ""
    bidSz: str = ""
    askPx: str = ""
    askSz: str = ""
    # trades
    tradeId: str = ""
    px: str = ""
    sz: str = ""
    side: str = ""


class OkxWsMsg(msgspec.Struct, gc=False):
    """Any text frame of ``/ws/v5/public`` but ``pong``: a push or an event.

    A push has ``arg`` and ``data`` (and ``action`` on incremental book channels); an event
    (``subscribe``, ``unsubscribe``, ``error``, ``login``, ``notice``, ...) has ``event``.
    """

    arg: OkxWsArgMsg | None = None
    action: str = ""
    event: str = ""
    data: list[OkxWsDataMsg] = []


# -- REST ------------------------------------------------------------------------------------


class OkxBookRestDataMsg(msgspec.Struct, gc=False):
    """``data[0]`` of ``GET /api/v5/market/books``."""

    asks: list[list[str]] = []
    bids: list[list[str]] = []
    ts: str = ""
    seqId: int = -1


class OkxBooksRestMsg(msgspec.Struct, gc=False):
    """Envelope of ``GET /api/v5/market/books``: ``{"code":"0","msg":"","data":[{...}]}``."""

    code: str
    msg: str = ""
    data: list[OkxBookRestDataMsg] = []


class OkxInstrumentMsg(msgspec.Struct, gc=False):
    """One instrument of ``GET /api/v5/public/instruments`` (docs section "Get instruments").

    ``baseCcy``/``quoteCcy`` are set for SPOT/MARGIN only; ``uly``/``instFamily``,
    ``settleCcy``, ``ctVal``, ``ctMult``, ``ctValCcy`` and ``ctType`` for derivatives only
    (``ctType`` empty for options); ``expTime`` is a ms string, ``""`` for perpetuals and spot.
    """

    instType: str
    instId: str
    tickSz: str
    lotSz: str
    minSz: str = "0"
    uly: str = ""
    instFamily: str = ""
    baseCcy: str = ""
    quoteCcy: str = ""
    settleCcy: str = ""
    ctVal: str = ""
    ctMult: str = ""
    ctValCcy: str = ""
    ctType: str = ""
    optType: str = ""
    stk: str = ""
    expTime: str = ""
    state: str = ""


class OkxInstrumentsMsg(msgspec.Struct, gc=False):
    """Envelope of ``GET /api/v5/public/instruments``."""

    code: str
    msg: str = ""
    data: list[OkxInstrumentMsg] = []
