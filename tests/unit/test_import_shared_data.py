"""arb import on the real recordings in ../shared/data (skipped when absent)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from arb.core.events import BookSnapshot
from arb.importers import run_import
from arb.recording import Kind
from arb.recording import open_recording
from venues.normalized import NormalizedCodec

pytestmark = pytest.mark.data

BINANCE = "binance-btc-spot-usdm-coinm-20240808"


def imported(tmp_path: Path, fmt: str, inputs: list[Path]):
    report = run_import(fmt, inputs, tmp_path / "out")
    return report, open_recording(tmp_path / "out")


def test_cryptofeed_okx_ws_and_rest(shared_data, tmp_path):
    ws = shared_data / "okx-20220513" / "OKX.ws.1.0"
    rest = shared_data / "okx-20220513" / "OKX.0"
    report, rec = imported(tmp_path, "cryptofeed", [ws, rest])
    assert (report.frames, report.skipped, report.bad_lines) == (414, 26, {})
    assert (report.start_ns, report.end_ns) == (1652459224530060500, 1652459236341644500)
    insts = {i.symbol: i for i in rec.manifest.instruments}
    assert sorted(insts) == ["BTC-USD-20220527", "BTC-USDT", "UNI-USD-PERP"]
    assert (insts["BTC-USD-20220527"].contract_value, insts["BTC-USD-20220527"].inverse) == (
        "100",
        True,
    )
    assert (insts["UNI-USD-PERP"].venue_symbol, insts["UNI-USD-PERP"].tick_size) == (
        "UNI-USD-SWAP",
        "0.001",
    )
    assert insts["BTC-USDT"].source == "venue"
    assert rec.manifest.notes["configuration OKX.0"].startswith('{"l2_book":["BTC-USD-22K27"')
    frames = list(rec.frames())
    assert [f.kind for f in frames].count(Kind.RECV) == 410
    # Every frame's payload is the source line's message, byte for byte.
    for f, line in zip(frames, ws.read_bytes().splitlines(), strict=True):
        if f.kind == Kind.OPEN:
            assert line == f.payload + b" <-> " + line.rsplit(b" ", 1)[1]
        else:
            assert line.split(b": ", 1)[1] == f.payload


@pytest.mark.parametrize(
    ("market", "files", "frames", "venue", "symbol", "precisions", "span"),
    [
        (
            "spot",
            ["btcusdt_20240808.gz", "btcusdt_20240809.gz"],
            99574,
            "binance",
            "BTC-USDT",
            (2, 6),
            (1723161253937085768, 1723161904535092233),
        ),
        (
            "usdm",
            ["btcusdt_20240808.gz"],
            93954,
            "binance-usdm",
            "BTC-USDT-PERP",
            (1, 3),
            (1723161255030314667, 1723161599833492584),
        ),
        (
            "cm",
            ["btcusd_perp_20240808.gz", "btcusd_perp_20240809.gz"],
            98386,
            "binance-coinm",
            "BTC-USD-PERP",
            (1, 0),
            (1723161256172216566, 1723161903531356026),
        ),
    ],
)
def test_hftbacktest_binance_streams(
    shared_data, tmp_path, market, files, frames, venue, symbol, precisions, span
):
    paths = [shared_data / BINANCE / market / name for name in files]
    report, rec = imported(tmp_path, "hftbacktest", paths)
    assert (report.frames, report.bad_lines, (report.start_ns, report.end_ns)) == (frames, {}, span)
    (inst,) = rec.manifest.instruments
    assert (inst.venue, inst.symbol, inst.source) == (venue, symbol, "inferred")
    assert (inst.price_precision, inst.size_precision) == precisions
    assert inst.inverse is (venue == "binance-coinm")
    source = [line for p in paths for line in gzip.decompress(p.read_bytes()).splitlines()]
    got = list(rec.frames())
    assert len(got) == len(source)
    snapshots = [f for f in got if f.kind == Kind.REST]
    assert len(snapshots) == 1
    assert snapshots[0].conn.endswith("?symbol=" + inst.venue_symbol)
    for f, line in zip(got, source, strict=True):
        assert line == b"%d %s" % (f.ts_recv, f.payload)


def test_topn_csv_binance_and_huobi_link(shared_data, tmp_path):
    d = shared_data / "binance-huobi-linkusdt-20210820"
    report, rec = imported(tmp_path, "topn-csv", [d / "orderbook_bnc.csv", d / "orderbook_hb.csv"])
    assert (report.frames, report.bad_lines) == (14400, {})
    assert (report.start_ns, report.end_ns) == (1629417600 * 10**9, 1629424799 * 10**9)
    insts = {i.venue: i for i in rec.manifest.instruments}
    assert sorted(insts) == ["binance", "huobi"]
    assert {i.symbol for i in insts.values()} == {"LINK-USDT"}
    assert (insts["binance"].price_precision, insts["binance"].size_precision) == (3, 3)
    # Huobi sizes are float renderings such as "994.9169045331536": kept exact.
    assert (insts["huobi"].price_precision, insts["huobi"].size_precision) == (4, 18)
    codecs = {v: NormalizedCodec(v, rec.manifest.instruments) for v in insts}
    per_second: dict[int, list[str]] = {}
    for f in rec.frames():
        (snap,) = codecs[f.venue].decode(f.kind, f.conn, f.payload, f.ts_recv)
        assert isinstance(snap, BookSnapshot)
        assert snap.partial
        assert (len(snap.bids), len(snap.asks)) == (10, 10)
        per_second.setdefault(f.ts_recv, []).append(f.venue)
    assert len(per_second) == 7200
    assert all(v == ["binance", "huobi"] for v in per_second.values())


@pytest.mark.parametrize(
    ("name", "frames", "venue", "symbol"),
    [
        ("binance-futures_book_snapshot_25_BTCUSDT.csv", 10, "binance-usdm", "BTC-USDT-PERP"),
        ("binance-futures_book_snapshot_5_BTCUSDT.csv", 10, "binance-usdm", "BTC-USDT-PERP"),
        ("bitmex_trades_XBTUSD.csv", 10, "bitmex", "BTC-USD-PERP"),
        ("deribit_incremental_book_L2_BTC-PERPETUAL.csv", 1, "deribit", "BTC-USD-PERP"),
        ("huobi-dm-swap_quotes_BTC-USD.csv", 10, "huobi-swap", "BTC-USD-PERP"),
    ],
)
def test_tardis_samples(shared_data, tmp_path, name, frames, venue, symbol):
    src = shared_data / "tardis-format-samples" / name
    report, rec = imported(tmp_path, "tardis", [src])
    assert (report.frames, report.bad_lines) == (frames, {})
    (inst,) = rec.manifest.instruments
    assert (inst.venue, inst.symbol, inst.source) == (venue, symbol, "inferred")
    rows = src.read_text().splitlines()[1:]
    assert report.start_ns == min(int(r.split(",")[3]) for r in rows) * 1000
    assert report.end_ns == max(int(r.split(",")[3]) for r in rows) * 1000
    codec = NormalizedCodec(venue, rec.manifest.instruments)
    events = [ev for f in rec.frames() for ev in codec.decode(f.kind, f.conn, f.payload, f.ts_recv)]
    assert len(events) == frames
