"""``cryptofeed``: cryptofeed raw-data files -> raw frames, byte for byte.

cryptofeed's ``AsyncFileCallback`` writes one event per line (``<ts>``: local time, float
seconds, converted to ns exactly from the string)::

    wss://ws.okx.com:8443/ws/v5/public <-> 1652459224.5300605            connect   -> kind "+"
    wss://ws.okx.com:8443/ws/v5/public <- 1652459225.29: {"op":..}       sent      -> kind ">"
    1652459225.5037491: {"event":"subscribe",..}                         received  -> kind "<"
    https://www.okx.com/api/v5/public/instruments?instType=SPOT -> 1652458996.25: {..}
                                                                         REST      -> kind "r"
    configuration: {"l2_book":["BTC-USD-22K27",..],..}                   kept in the notes

WebSocket frames get a short connection id per (file, URL), in order of appearance (``ws0``,
``ws1``, ...); received lines belong to the file's last connection. REST frames' ``conn`` is
the URL's path and query. Received messages that cryptofeed stored as a Python bytes literal
(``b'...'``, compressed feeds) are stored as the bytes they spell.

The venue is ``--venue`` or the file name's prefix (``OKX.ws.1.0`` -> okx). Instrument lists
go to the manifest instead of frames: OKX ``/api/v5/public/instruments`` and Binance
``exchangeInfo``, keeping the instruments that the WebSocket data names (all of them when the
import holds no WebSocket data); the latest response wins.
"""

from __future__ import annotations

import ast
from collections.abc import Generator
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from arb.core.errors import DataError
from arb.core.errors import RecordingError
from arb.core.errors import VenueError
from arb.core.instruments import Instrument
from arb.core.numbers import to_raw
from arb.importers._base import ImportContext
from arb.importers._base import Out
from arb.importers._base import read_lines
from arb.recording import Kind
from venues.binance.instruments import parse_exchange_info
from venues.binance.symbols import MARKETS as BINANCE_MARKETS
from venues.okx.instruments import parse_instruments
from venues.okx.schemas import OkxWsArgMsg

__all__ = ["FEEDS", "CryptofeedImporter"]

FEEDS: dict[str, str] = {
    "OKX": "okx",
    "OKEX": "okx",
    "BINANCE": "binance",
    "BINANCE_FUTURES": "binance-usdm",
    "BINANCE_DELIVERY": "binance-coinm",
    "BITFINEX": "bitfinex",
    "BITMEX": "bitmex",
    "BITSTAMP": "bitstamp",
    "BYBIT": "bybit",
    "COINBASE": "coinbase",
    "DERIBIT": "deribit",
    "GATEIO": "gateio",
    "GEMINI": "gemini",
    "HUOBI": "huobi",
    "HUOBI_SWAP": "huobi-swap",
    "KRAKEN": "kraken",
    "KUCOIN": "kucoin",
}
"""cryptofeed exchange id (file name prefix) -> arb venue id."""

_OKX_INSTRUMENTS = "/api/v5/public/instruments"
_CONFIG = b"configuration: "


class _OkxIds(msgspec.Struct, gc=False):
    # instIds of an OKX push (arg) or subscribe request (args).
    arg: OkxWsArgMsg | None = None
    args: list[OkxWsArgMsg] | None = None


class _BnData(msgspec.Struct, gc=False):
    s: str = ""


class _BnIds(msgspec.Struct, gc=False):
    # Symbol of a Binance stream message (combined or raw).
    stream: str = ""
    data: _BnData | None = None
    s: str = ""


_okx_ids = msgspec.json.Decoder(_OkxIds)
_bn_ids = msgspec.json.Decoder(_BnIds)


def _ns(ts: bytes) -> int:
    # Exact: "1652459224.5300605" -> 1652459224530060500 (PrecisionError past 9 decimals).
    return to_raw(ts.decode("ascii", "replace").strip(), 9)


class CryptofeedImporter:
    """Import cryptofeed raw-data files; see the module docstring."""

    def __init__(self, ctx: ImportContext, venue: str | None) -> None:
        self.ctx = ctx
        self.venue = venue
        self._conns: dict[tuple[str, str], str] = {}
        self._urls: dict[str, str] = {}
        self._rest_instruments: dict[tuple[str, str], Instrument] = {}
        self._ws_symbols: dict[str, set[str]] = {}
        self._notes: dict[str, str] = {}

    def _venue_of(self, path: Path) -> str:
        if self.venue is not None:
            return self.venue
        prefix = path.name.split(".", 1)[0].upper()
        venue = FEEDS.get(prefix)
        if venue is None:
            raise RecordingError(
                f"{path}: cannot tell the venue from the file name prefix {prefix!r} "
                f"(known: {', '.join(sorted(FEEDS))}); pass --venue"
            )
        return venue

    def _conn(self, path: Path, url: str) -> str:
        key = (str(path), url)
        conn = self._conns.get(key)
        if conn is None:
            conn = self._conns[key] = f"ws{len(self._conns)}"
            self._urls[conn] = url or "(no connect line)"
        return conn

    def frames(self, path: Path) -> Generator[Out, None, None]:
        """Yield the frames of one cryptofeed file, in file order."""
        venue = self._venue_of(path)
        ws = ""
        for lineno, line in read_lines(path, self.ctx):
            if not line or line.startswith(_CONFIG):
                if line:
                    self._notes[f"configuration {path.name}"] = line[len(_CONFIG) :].decode(
                        errors="replace"
                    )
                self.ctx.skipped += 1
                continue
            try:
                if line[:1].isdigit():
                    ts, sep, msg = line.partition(b": ")
                    if not sep:
                        raise ValueError("received line is not '<ts>: <message>'")
                    yield (
                        _ns(ts),
                        venue,
                        self._conn(path, ws),
                        Kind.RECV,
                        self._received(venue, msg),
                    )
                    continue
                url_b, _, rest = line.partition(b" ")
                url = url_b.decode("ascii")
                if rest.startswith(b"<-> "):
                    ws = url
                    yield _ns(rest[4:]), venue, self._conn(path, url), Kind.OPEN, url_b
                elif rest.startswith(b"<- "):
                    ts, sep, msg = rest[3:].partition(b": ")
                    if not sep:
                        raise ValueError("sent line is not '<url> <- <ts>: <message>'")
                    self._note_symbols(venue, msg)
                    yield _ns(ts), venue, self._conn(path, url), Kind.SENT, msg
                elif rest.startswith(b"-> "):
                    out = self._rest(venue, url, rest[3:])
                    if out is None:
                        self.ctx.skipped += 1
                    else:
                        yield out
                else:
                    raise ValueError("not a cryptofeed connect, sent, received or REST line")
            except (ValueError, SyntaxError, DataError, VenueError) as e:
                self.ctx.bad(path, lineno, str(e))

    def _received(self, venue: str, msg: bytes) -> bytes:
        if msg[:2] in (b"b'", b'b"'):
            value = ast.literal_eval(msg.decode("ascii"))
            if not isinstance(value, bytes):
                raise ValueError("received message is not a bytes literal")
            return value
        self._note_symbols(venue, msg)
        return msg

    def _rest(self, venue: str, url: str, rest: bytes) -> Out | None:
        ts, sep, body = rest.partition(b": ")
        if not sep:
            raise ValueError("REST line is not '<url> -> <ts>: <body>'")
        ns = _ns(ts)
        parts = urlsplit(url)
        if venue == "okx" and parts.path == _OKX_INSTRUMENTS:
            for inst in parse_instruments(body):
                self._rest_instruments[inst.key] = inst
            return None
        if venue in BINANCE_MARKETS and parts.path.endswith("/exchangeInfo"):
            for inst in parse_exchange_info(body, venue):
                self._rest_instruments[inst.key] = inst
            return None
        conn = parts.path + ("?" + parts.query if parts.query else "")
        return ns, venue, conn, Kind.REST, body

    def _note_symbols(self, venue: str, msg: bytes) -> None:
        # Remember which venue symbols the WebSocket data names, to trim instrument lists.
        seen = self._ws_symbols.setdefault(venue, set())
        try:
            if venue == "okx":
                ids = _okx_ids.decode(msg)
                if ids.arg is not None and ids.arg.instId:
                    seen.add(ids.arg.instId)
                seen.update(a.instId for a in ids.args or () if a.instId)
            elif venue in BINANCE_MARKETS:
                bn = _bn_ids.decode(msg)
                if bn.data is not None and bn.data.s:
                    seen.add(bn.data.s)
                elif bn.s:
                    seen.add(bn.s)
                elif bn.stream:
                    seen.add(bn.stream.partition("@")[0].upper())
        except msgspec.DecodeError:
            pass  # not JSON (pongs, text acks): names no instrument

    def instruments(self) -> list[Instrument]:
        """Return the REST instruments named by the WebSocket data (all when there is none)."""
        out = [
            inst
            for inst in self._rest_instruments.values()
            if not self._ws_symbols.get(inst.venue)
            or inst.venue_symbol in self._ws_symbols[inst.venue]
        ]
        if self._rest_instruments:
            self._notes["instruments"] = (
                f"{len(out)} of {len(self._rest_instruments)} instruments from REST responses "
                "(those the WebSocket data names)"
            )
        return out

    def notes(self) -> dict[str, str]:
        """Return the configuration lines, the connection ids and the instrument selection."""
        notes = dict(self._notes)
        if self._urls:
            notes["connections"] = ", ".join(f"{c}={u}" for c, u in self._urls.items())
        return notes
