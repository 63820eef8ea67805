"""The recorded markets of ../shared/data import and verify cleanly (issue: foundation).

Each test imports with `arb import` (in-process CLI) and checks the JSON line of `arb verify`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arb.cli import main

pytestmark = pytest.mark.data
BINANCE = "binance-btc-spot-usdm-coinm-20240808"


def run_verify(capsys, recording: Path, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["verify", str(recording), *extra])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def run_import(capsys, fmt: str, out: Path, *inputs: Path) -> dict:
    capsys.readouterr()
    assert main(["import", "--format", fmt, "--out", str(out), *map(str, inputs)]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_okx_2022_checksums_all_verify(shared_data, tmp_path, capsys):
    d = shared_data / "okx-20220513"
    run_import(capsys, "cryptofeed", tmp_path / "okx", d / "OKX.ws.1.0", d / "OKX.0")
    code, r = run_verify(capsys, tmp_path / "okx")
    assert code == 0
    assert r["checksum_ok"] == 290
    assert r["checksum_failed"] == 0
    assert r["gaps"] == 0
    assert r["crossed"] == 0
    assert r["errors"] == 0
    assert r["books"] == 3
    assert r["snapshots"] == 3
    assert r["book_updates"] == 290
    assert r["trades"] > 0
    assert r["quotes"] > 0


@pytest.mark.parametrize(
    ("market", "files", "venue"),
    [
        ("spot", ["btcusdt_20240808.gz", "btcusdt_20240809.gz"], "binance"),
        ("usdm", ["btcusdt_20240808.gz"], "binance-usdm"),
        ("cm", ["btcusd_perp_20240808.gz", "btcusd_perp_20240809.gz"], "binance-coinm"),
    ],
)
def test_binance_streams_verify_without_gaps(shared_data, tmp_path, capsys, market, files, venue):
    inputs = [shared_data / BINANCE / market / f for f in files]
    rep = run_import(capsys, "hftbacktest", tmp_path / market, *inputs)
    assert rep["frames"] > 10_000
    code, r = run_verify(capsys, tmp_path / market)
    assert code == 0, r
    assert r["gaps"] == 0
    assert r["snapshots"] == 1
    assert r["books"] == 1
    assert r["crossed"] == 0
    assert r["errors"] == 0
    assert r["unsynced_books"] == 0
    # every diff after the snapshot was applied: only pre-snapshot diffs may be stale
    assert r["deltas"] - r["stale"] > 3_000
    manifest = json.loads((tmp_path / market / "manifest.json").read_text())
    assert [i["venue"] for i in manifest["instruments"]] == [venue]


def test_linkusdt_two_venue_csv_imports_and_verifies(shared_data, tmp_path, capsys):
    d = shared_data / "binance-huobi-linkusdt-20210820"
    rep = run_import(
        capsys, "topn-csv", tmp_path / "link", d / "orderbook_bnc.csv", d / "orderbook_hb.csv"
    )
    assert rep["frames"] == 14_400
    code, r = run_verify(capsys, tmp_path / "link")
    assert code == 0
    assert r["books"] == 2
    assert r["snapshots"] == 14_400
    assert r["crossed"] == 0
    manifest = json.loads((tmp_path / "link" / "manifest.json").read_text())
    assert {(i["venue"], i["symbol"]) for i in manifest["instruments"]} == {
        ("binance", "LINK-USDT"),
        ("huobi", "LINK-USDT"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "deribit_incremental_book_L2_BTC-PERPETUAL.csv",
        "binance-futures_book_snapshot_5_BTCUSDT.csv",
        "binance-futures_book_snapshot_25_BTCUSDT.csv",
        "huobi-dm-swap_quotes_BTC-USD.csv",
        "bitmex_trades_XBTUSD.csv",
    ],
)
def test_tardis_samples_import_and_verify(shared_data, tmp_path, capsys, name):
    rep = run_import(capsys, "tardis", tmp_path / "t", shared_data / "tardis-format-samples" / name)
    assert rep["frames"] > 0
    code, r = run_verify(capsys, tmp_path / "t")
    assert code == 0
    assert r["errors"] == 0
    assert r["frames"] == rep["frames"]
