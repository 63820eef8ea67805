"""OKX v5 wire Structs: the JSON the venue sends, field names verbatim from the v5 docs.

These are "view" Structs: only the fields arb reads are declared; msgspec skips the rest.
All numbers are strings except ``seqId``, ``prevSeqId`` and ``checksum`` (integers). Absent
sequence fields decode to ``-1`` (``arb.core.events.NO_SEQ``), an absent checksum to ``0``.
The pushes' ``ts`` (milliseconds, a string of digits) is declared ``int`` and decoded by the
codec's ``strict=False`` decoders, which turn a digit string into an int in C (everything else
stays as strict: a number is never taken for a string, and a string that is not an integer
is an error naming the field).

WebSocket pushes are decoded in one pass into ``OkxWsMsg``: the envelope (``arg``,
``action``, ``event``) and every ``data`` entry at once. ``OkxWsDataMsg`` is the union of
the fields of the channels arb reads (books, bbo-tbt, tickers, trades, funding-rate,
mark-price); each channel fills its own subset. The REST answers of ``public/funding-rate``
and ``public/mark-price`` carry the same fields as those pushes and decode into
``OkxPublicRestMsg``, whose ``data`` entries are ``OkxWsDataMsg`` too. Book rows
``[price, size, "0", numOrders]`` decode to ``OkxRowMsg`` (``array_like``: price and size
only, the rest of the row is skipped without allocating).
The rows exactly as received (four strings), needed only to verify checksums, come from a
second decoder, ``OkxWsRawBooksMsg``, run on the same frame when a checksum asks for them.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "OkxBooksRestMsg",
    "OkxInstrumentMsg",
    "OkxInstrumentsMsg",
    "OkxPublicRestMsg",
    "OkxRawBooksDataMsg",
    "OkxRowMsg",
    "OkxWsArgMsg",
    "OkxWsDataMsg",
    "OkxWsMsg",
    "OkxWsRawBooksMsg",
    "public_rest_decoder",
    "ws_decoder",
]

# -- WebSocket -------------------------------------------------------------------------------


class OkxWsArgMsg(msgspec.Struct, gc=False):
    """``arg`` of a push or an event: ``{"channel":"books","instId":"BTC-USDT"}``."""

    channel: str = ""
    instId: str = ""


class OkxRowMsg(msgspec.Struct, array_like=True, gc=False):
    """One book row ``[price, size, "0", numOrders]``: the price and size strings only."""

    px: str
    sz: str


class OkxWsDataMsg(msgspec.Struct, gc=False):
    """One entry of ``data``: the fields of every channel arb reads, together."""

    instId: str = ""
    asks: list[OkxRowMsg] = []
    bids: list[OkxRowMsg] = []
    ts: int = 0
    """ms: OKX sends a string of digits, decoded to an int (the decoders are ``strict=False``)."""
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
    # funding-rate (fundingTime / nextFundingTime: ms strings; positive rate = longs pay)
    fundingRate: str = ""
    fundingTime: str = ""
    nextFundingTime: str = ""
    # mark-price
    markPx: str = ""


class OkxWsMsg(msgspec.Struct, gc=False):
    """Any text frame of ``/ws/v5/public`` but ``pong``: a push or an event.

    A push has ``arg`` and ``data`` (and ``action`` on incremental book channels); an event
    (``subscribe``, ``unsubscribe``, ``error``, ``login``, ``notice``, ...) has ``event``.
    """

    arg: OkxWsArgMsg | None = None
    action: str = ""
    event: str = ""
    data: list[OkxWsDataMsg] = []


class OkxRawBooksDataMsg(msgspec.Struct, gc=False):
    """One entry of a book push's ``data``: its rows exactly as received, all strings."""

    asks: list[list[str]] = []
    bids: list[list[str]] = []


class OkxWsRawBooksMsg(msgspec.Struct, gc=False):
    """A book push read again for its raw rows (``data`` entries in the order of ``OkxWsMsg``)."""

    data: list[OkxRawBooksDataMsg] = []


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


class OkxPublicRestMsg(msgspec.Struct, gc=False):
    """Envelope of ``GET /api/v5/public/funding-rate`` and ``/api/v5/public/mark-price``.

    Their ``data`` entries have the fields of the ``funding-rate`` / ``mark-price`` pushes.
    """

    code: str
    msg: str = ""
    data: list[OkxWsDataMsg] = []


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


def ws_decoder() -> msgspec.json.Decoder[OkxWsMsg]:
    """The decoder of WebSocket pushes: ``strict=False`` (``ts``, see the module doc)."""
    return msgspec.json.Decoder(OkxWsMsg, strict=False)


def public_rest_decoder() -> msgspec.json.Decoder[OkxPublicRestMsg]:
    """The decoder of ``public/funding-rate`` and ``public/mark-price`` answers (as pushes)."""
    return msgspec.json.Decoder(OkxPublicRestMsg, strict=False)
