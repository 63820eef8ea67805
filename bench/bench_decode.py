"""Decode and pipeline benchmarks on OKX ``books`` frames.

- ``decode: one 10-row update``: one typical frame, decoded again and again. arb's
  ``OkxCodec.decode`` (bytes -> ``BookDelta`` with raw ints; its str->int memos are warm after
  the first call, so this is its best case; checksum 0, so no raw rows are kept) and the same
  on the frame with its real CRC32 (the rows are then decoded a second time, as received, for
  the checksum) against the parsers alone: msgspec with the codec's own ``OkxWsMsg`` schema
  (typed, price and size strings of each row kept), msgspec untyped, orjson, json.
- ``decode: 20k updates``: the whole stream through a fresh codec per round (memos start cold,
  as after a connect), against orjson and json.
- ``pipeline: 20k updates``: raw bytes -> decoded -> book updated, arb (``OkxCodec`` +
  ``BookSync``, checksum 0 and CRC32 verified) against the ccxt baseline (json or orjson +
  ``float`` + ``OrderBook`` store), the same step functions as ``bench.compare_ccxt``.

Every benchmark checks what it produced (decoded rows, final book) against the stream's model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
import pytest

from arb.core.events import BookDelta
from bench import record
from bench.compare_ccxt import CONN
from bench.compare_ccxt import TS_RECV
from bench.compare_ccxt import arb_pipeline
from bench.compare_ccxt import ccxt_pipeline
from bench.compare_ccxt import model_levels
from bench.compare_ccxt import okx_instrument
from bench.streams import BookStream
from venues.okx.codec import OkxCodec
from venues.okx.schemas import ws_decoder

ROUNDS = 5

# -- one message --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one(book_stream: BookStream) -> tuple[bytes, int]:
    i = book_stream.typical_frame(10)
    return book_stream.frames[i], i


def test_decode_one_arb_codec(
    benchmark: Any, book_stream: BookStream, one: tuple[bytes, int]
) -> None:
    benchmark.group = "decode: one 10-row update"
    frame, i = one
    codec = OkxCodec([okx_instrument()])
    (d,) = benchmark(codec.decode, "<", CONN, frame, TS_RECV)
    assert isinstance(d, BookDelta)
    assert (d.bids, d.asks) == book_stream.deltas[i]
    assert (d.raw_bids, d.raw_asks) == (None, None)  # checksum 0: nothing to verify
    assert d.checksum == 0
    assert d.prev_seq < d.last_seq


def test_decode_one_arb_codec_checksummed(
    benchmark: Any, book_stream: BookStream, one: tuple[bytes, int]
) -> None:
    benchmark.group = "decode: one 10-row update"
    _, i = one
    frame = book_stream.frames_checksummed[i]
    codec = OkxCodec([okx_instrument()])
    (d,) = benchmark(codec.decode, "<", CONN, frame, TS_RECV)
    assert isinstance(d, BookDelta)
    assert (d.bids, d.asks) == book_stream.deltas[i]
    assert (d.raw_bids, d.raw_asks) == book_stream.delta_rows[i]
    assert d.checksum != 0


def test_decode_one_msgspec_typed(
    benchmark: Any, book_stream: BookStream, one: tuple[bytes, int]
) -> None:
    benchmark.group = "decode: one 10-row update"
    frame, i = one
    msg = benchmark(ws_decoder().decode, frame)
    rows = ([[r.px, r.sz] for r in msg.data[0].bids], [[r.px, r.sz] for r in msg.data[0].asks])
    assert rows == tuple([row[:2] for row in side] for side in book_stream.delta_rows[i])


@pytest.mark.parametrize(
    ("name", "loads"),
    [
        ("msgspec-untyped", msgspec.json.Decoder().decode),
        ("orjson", orjson.loads),
        ("json", json.loads),
    ],
)
def test_decode_one_parser(
    benchmark: Any,
    book_stream: BookStream,
    one: tuple[bytes, int],
    name: str,
    loads: Callable[[bytes], Any],
) -> None:
    benchmark.group = "decode: one 10-row update"
    frame, i = one
    msg = benchmark(loads, frame)
    assert (msg["data"][0]["bids"], msg["data"][0]["asks"]) == book_stream.delta_rows[i]


# -- the whole stream ---------------------------------------------------------------------


def _decode_all(decode: Callable[[bytes], Any], frames: list[bytes], last: list[Any]) -> None:
    for f in frames:
        last[0] = decode(f)


def test_decode_stream_arb_codec(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "decode: 20k updates"
    s = book_stream
    last: list[Any] = [None]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        codec = OkxCodec([okx_instrument()])  # fresh memos every round

        def decode(f: bytes) -> Any:
            return codec.decode("<", CONN, f, TS_RECV)

        return (decode, s.frames, last), {}

    benchmark.pedantic(_decode_all, setup=setup, rounds=ROUNDS, iterations=1)
    record(benchmark, levels=s.n_levels, messages=len(s.frames))
    (d,) = last[0]
    assert (d.bids, d.asks) == s.deltas[-1]


@pytest.mark.parametrize(("name", "loads"), [("orjson", orjson.loads), ("json", json.loads)])
def test_decode_stream_parser(
    benchmark: Any, book_stream: BookStream, name: str, loads: Callable[[bytes], Any]
) -> None:
    benchmark.group = "decode: 20k updates"
    s = book_stream
    last: list[Any] = [None]
    benchmark.pedantic(_decode_all, args=(loads, s.frames, last), rounds=ROUNDS, iterations=1)
    record(benchmark, levels=s.n_levels, messages=len(s.frames))
    assert last[0]["data"][0]["bids"] == s.delta_rows[-1][0]


# -- pipeline: bytes -> book --------------------------------------------------------------


def _feed(step: Callable[[bytes], object], frames: list[bytes]) -> None:
    for f in frames:
        step(f)


def _run_pipeline(
    benchmark: Any, s: BookStream, make: Callable[[], tuple[Any, Any]], frames: list[bytes]
) -> None:
    finals: list[Any] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        step, final = make()
        finals.append(final)
        return (step, frames), {}

    benchmark.pedantic(_feed, setup=setup, rounds=ROUNDS, iterations=1)
    record(benchmark, levels=s.n_levels, messages=len(frames))
    assert finals[-1]() == model_levels(s)


def test_pipeline_arb_checksum_0(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "pipeline: 20k updates"
    s = book_stream
    _run_pipeline(benchmark, s, lambda: arb_pipeline(s, checksummed=False), s.frames)


def test_pipeline_arb_checksum_verified(benchmark: Any, book_stream: BookStream) -> None:
    benchmark.group = "pipeline: 20k updates"
    s = book_stream
    _run_pipeline(benchmark, s, lambda: arb_pipeline(s, checksummed=True), s.frames_checksummed)


@pytest.mark.parametrize(("name", "loads"), [("orjson", orjson.loads), ("json", json.loads)])
def test_pipeline_ccxt_baseline(
    benchmark: Any, book_stream: BookStream, name: str, loads: Callable[[bytes], Any]
) -> None:
    benchmark.group = "pipeline: 20k updates"
    s = book_stream
    _run_pipeline(benchmark, s, lambda: ccxt_pipeline(s, loads), s.frames)
