"""No frame, however malformed, crashes a codec: it decodes or raises DataError / VenueError.

The engine's dispatch loop catches those two and counts the frame (DESIGN: a malformed frame is
counted and the book resynced, never a crash). Anything else escaping a codec would stop it.
Frames are hand-made fixtures mutated by hypothesis: truncated, with any JSON node replaced by
an arbitrary JSON value, or random bytes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.errors import DataError
from arb.core.errors import UnknownInstrument
from arb.core.errors import VenueError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.recording import Kind
from venues.binance.instruments import inferred_instrument
from venues.registry import build_codec

DATA = Path(__file__).resolve().parents[1] / "data"

OKX_SPOT = Instrument.create(
    venue="okx",
    symbol="BTC-USDT",
    venue_symbol="BTC-USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size="0.1",
    lot_size="0.00000001",
)
INSTRUMENTS = [
    OKX_SPOT,
    inferred_instrument("binance", "BTCUSDT", 2, 8),
    inferred_instrument("binance-usdm", "BTCUSDT", 2, 3),
    inferred_instrument("binance-coinm", "BTCUSD_PERP", 1, 0),
]


def _frames(venue: str, pattern: str) -> list[tuple[str, str, bytes]]:
    out = []
    for path in sorted((DATA / venue.split("-")[0]).glob(pattern)):
        doc = msgspec.json.decode(path.read_bytes())
        kind = Kind.REST if path.name.startswith("rest_") else Kind.RECV
        docs = doc if isinstance(doc, list) and kind == Kind.RECV else [doc]
        out += [(kind, path.name, msgspec.json.encode(d)) for d in docs]
    return out


CONN = {
    "okx": "/api/v5/market/books?instId=BTC-USDT&sz=400",
    "binance": "/api/v3/depth?symbol=BTCUSDT",
    "binance-usdm": "/fapi/v1/depth?symbol=BTCUSDT",
    "binance-coinm": "/dapi/v1/depth?symbol=BTCUSD_PERP",
}
SEEDS = [("okx", *f) for f in _frames("okx", "*.json") if "instruments" not in f[1]] + [
    (v, *f)
    for v, pat in (
        ("binance", "*_spot.json"),
        ("binance-usdm", "*_usdm.json"),
        ("binance-coinm", "*_coinm.json"),
    )
    for f in _frames(v, pat)
    if "exchange_info" not in f[1]
]
CODECS = {v: build_codec(v, INSTRUMENTS) for v in CONN}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["0", "-1", "1e5", "0.5000", "", "30243.5", "BTC-USDT", "snapshot"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(node[head], rest, value)
    return copy


def _decode(venue: str, kind: str, payload: bytes) -> None:
    conn = CONN[venue] if kind == Kind.REST else "ws0"
    try:
        events = CODECS[venue].decode(kind, conn, payload, 1)
    except (DataError, VenueError):
        return
    assert isinstance(events, list)


@pytest.mark.parametrize(("venue", "kind", "name", "payload"), SEEDS, ids=lambda x: str(x)[:30])
def test_seed_frames_decode(venue, kind, name, payload):
    conn = CONN[venue] if kind == Kind.REST else "ws0"
    if "error" in name:
        with pytest.raises(VenueError):
            CODECS[venue].decode(kind, conn, payload, 1)
    else:
        # fixtures also name instruments this test does not build
        with contextlib.suppress(UnknownInstrument):
            assert isinstance(CODECS[venue].decode(kind, conn, payload, 1), list)


@settings(max_examples=400, deadline=None)
@given(seed=st.sampled_from(SEEDS), data=st.data(), value=json_values)
def test_any_node_replaced_never_crashes(seed, data, value):
    venue, kind, _, payload = seed
    doc = msgspec.json.decode(payload)
    path = data.draw(st.sampled_from(_paths(doc)))
    _decode(venue, kind, msgspec.json.encode(_replace(doc, path, value)))


@settings(max_examples=200, deadline=None)
@given(seed=st.sampled_from(SEEDS), cut=st.integers(min_value=0, max_value=4000))
def test_truncated_frame_never_crashes(seed, cut):
    venue, kind, _, payload = seed
    _decode(venue, kind, payload[: cut % max(len(payload), 1)])


@settings(max_examples=200, deadline=None)
@given(
    venue=st.sampled_from(sorted(CONN)),
    kind=st.sampled_from([Kind.RECV, Kind.REST]),
    payload=st.binary(max_size=200),
)
def test_random_bytes_never_crash(venue, kind, payload):
    _decode(venue, kind, payload)
