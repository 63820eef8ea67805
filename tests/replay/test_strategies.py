"""The basis and triangular strategies through the whole replay (``make replay-basis``,
``make replay-triangular``): detectors on every update of their books, the executor with
rollback, simulated venues (contracts with margin and funding), the journal and the report's
per-strategy section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arb.config import load_config
from arb.importers import run_import
from arb.journal import open_journal
from arb.replay import run_replay
from arb.synth.triangular import write_triangular_market

ROOT = Path(__file__).resolve().parents[2]
TRIANGULAR = ROOT / "configs" / "replay-triangular.toml"
BASIS = ROOT / "configs" / "replay-basis.toml"
BASIS_DATA = "binance-btc-spot-usdm-coinm-20240808"


@pytest.fixture(scope="module")
def triangle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tri") / "rec"
    write_triangular_market(out, seconds=120.0, seed=7)
    return out


def test_triangular_replay_trades_cycles_and_reports_them(triangle: Path, tmp_path: Path) -> None:
    cfg = load_config(TRIANGULAR)
    report = run_replay(cfg, TRIANGULAR, [triangle], tmp_path / "out")
    assert report.trades > 0
    tri = report.strategies["triangular"]
    assert tri.trades == report.trades
    assert tri.opportunities >= tri.trades
    assert report.unfinished_trades == 0
    assert report.ledger_matches_venues
    for t in report.trade_list:
        assert t.kind == "triangular"
        assert t.symbol.startswith("USDT>")
    with open_journal(tmp_path / "out" / "journal.sqlite") as j:
        legs: dict[str, set[str]] = {o.opportunity_id: set() for o in j.orders()}
        for o in j.orders():
            legs[o.opportunity_id].add(o.symbol)
    assert all(s == {"BTC-USDT", "ETH-BTC", "ETH-USDT"} for s in legs.values())  # three legs
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Strategies" in md
    assert "| triangular |" in md
    # same recording, same config: same journal
    again = run_replay(cfg, TRIANGULAR, [triangle], tmp_path / "again")
    assert again.journal_sha256 == report.journal_sha256


@pytest.fixture(scope="module")
def basis_recordings(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    src = shared_data / BASIS_DATA
    out = tmp_path_factory.mktemp("basis")
    parts = {
        "spot": ["spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"],
        "usdm": ["usdm/btcusdt_20240808.gz"],
        "coinm": ["cm/btcusd_perp_20240808.gz", "cm/btcusd_perp_20240809.gz"],
    }
    for name, files in parts.items():
        run_import("hftbacktest", [src / f for f in files], out / name)
    return [out / name for name in parts]


def test_basis_replay_opens_and_closes_hedged_positions(
    basis_recordings: list[Path], tmp_path: Path
) -> None:
    cfg = load_config(BASIS)
    report = run_replay(cfg, BASIS, basis_recordings, tmp_path / "out")
    basis = report.strategies["basis"]
    assert basis.trades >= 2  # at least one entry and its exit
    assert report.unfinished_trades == 0
    assert report.ledger_matches_venues  # spot cash, contract positions, margin and fees
    with open_journal(tmp_path / "out" / "journal.sqlite") as j:
        rows = j.positions()
        open_ids = [p.position_id for p in j.open_positions()]
    opened = {p.position_id for p in rows if p.event == "open"}
    closed = {p.position_id: p for p in rows if p.event == "close"}
    assert opened
    assert set(closed) == opened  # every position opened in the recording was closed
    assert open_ids == []
    perps = {p.perp_symbol for p in rows}
    assert perps <= {"BTC-USDT-PERP", "BTC-USD-PERP"}
    for p in rows:
        if p.event == "open":  # hedged: one leg short, the other long
            assert (p.spot_qty > 0) != (p.perp_qty > 0)
    # realised PnL of the positions is what the trades of the strategy made
    realised = sum(p.realised for p in closed.values())
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert abs(float(data["strategies"]["basis"]["pnl_quote"]) - realised / 1e18) < 0.05
    assert float(data["unhedged_notional_end_quote"]) < 1.0  # rounding dust at most


def test_basis_position_held_over_the_funding_time_pays_funding_to_the_unit(
    basis_recordings: list[Path], tmp_path: Path
) -> None:
    """With a 3-minute horizon the USD-M position is still open at 00:00 UTC: the simulated
    venue settles the configured 0.01 % on its value at the mark; the ledger, the journal's
    funding row and the position agree on it."""
    text = BASIS.read_text().replace("horizon_h = 0.02 ", "horizon_h = 0.05 ", 1)
    assert "horizon_h = 0.05 " in text
    cfg_path = tmp_path / "basis-3min.toml"
    cfg_path.write_text(text)
    report = run_replay(load_config(cfg_path), cfg_path, basis_recordings, tmp_path / "out")
    assert report.ledger_matches_venues
    with open_journal(tmp_path / "out" / "journal.sqlite") as j:
        (row,) = j.funding()
        (opened,) = j.open_positions()
    assert row.ts == 1_723_161_600_000_000_000  # 2024-08-09 00:00:00 UTC
    assert (row.venue, row.symbol, row.ccy, row.source) == (
        "binance-usdm",
        "BTC-USDT-PERP",
        "USDT",
        "config",
    )
    assert row.position == opened.perp_qty > 0  # long perp (short spot): longs pay
    assert row.rate_ppb == 100_000
    # 0.01 % of the position's value at the mark, charged (rounded against the account)
    assert row.amount == (-row.value * 100_000) // 10**9 < 0
    assert row.position_id == opened.position_id
    # the strategy books the venue's own amount on its position, to the unit
    assert report.strategies["basis"].funding_quote * 10**18 == row.amount
    assert opened.funding_quote == 0  # the open row was written before the settlement
