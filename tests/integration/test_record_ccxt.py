"""``arb record`` of a ``kind = "ccxt"`` venue: ccxt's ``okx`` class against the OKX sandbox.

The venue's ``rest_url`` / ``ws_url`` point at a sandbox on 127.0.0.1; every request ccxt makes
(REST and WebSocket upgrades) goes through a traced session and must stay on loopback. The
recording holds the instruments from ``load_markets`` and normalized frames (kind ``n``) that
``arb verify``'s own function replays into synced books with no gap and no error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from arb.config import load_config
from arb.core.errors import ConfigError
from arb.core.errors import VenueError
from arb.record import RecordReport
from arb.record import record
from arb.recording import Kind
from arb.recording import open_recording
from arb.verify import verify_recording
from tests.integration._okx_helpers import TracedSession
from tests.integration._okx_helpers import run
from venues.ccxt.books import WATCH_CHANNEL
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox

pytestmark = pytest.mark.integration

VENUE = "okx-ccxt"


def write_config(path: Path, sb: Sandbox) -> Path:
    path.write_text(
        f"""
[[venues]]
id = "{VENUE}"
kind = "ccxt"
exchange = "okx"
rest_url = "{sb.base_url}"
ws_url = "{sb.ws_public_url}"
book_depth = 5

[[venues]]
id = "paper"
kind = "sim"

[[pairs]]
symbol = "BTC-USDT"
venues = ["{VENUE}", "paper"]

[[pairs]]
symbol = "ETH-USDT"
venues = ["{VENUE}"]

[[pairs]]
symbol = "DOGE-USDT"
venues = ["{VENUE}"]
"""
    )
    return path


def record_sandbox(tmp_path: Path, **kwargs: Any) -> tuple[RecordReport, list[str], int]:
    notes: list[str] = []

    async def go() -> tuple[RecordReport, int]:
        sb = await start_sandbox()
        traced = TracedSession()
        try:
            cfg = load_config(write_config(tmp_path / "cfg.toml", sb))
            report = await record(
                cfg, tmp_path / "rec", note=notes.append, ccxt_session=traced.session, **kwargs
            )
            traced.assert_only(sb)
            return report, len(traced.urls)
        finally:
            await traced.session.close()
            await sb.close()

    report, requests = run(go(), timeout=30.0)
    return report, notes, requests


def test_record_ccxt_venue_books_and_trades_verify_clean(tmp_path):
    report, notes, requests = record_sandbox(tmp_path, duration_s=2.0)
    assert requests >= 2  # load_markets over REST, then the public WebSocket upgrade
    assert report.stopped_by == "duration"
    (st,) = report.venues
    assert st.venue == VENUE
    assert st.symbols == ["BTC-USDT", "ETH-USDT"]
    assert st.messages == report.frames > 0
    assert (st.errors, st.resyncs) == (0, 0)
    assert any("paper" in n and "skipped (kind sim)" in n for n in notes)
    assert any("DOGE-USDT" in n and "not listed" in n for n in notes)

    rec = open_recording(tmp_path / "rec")
    assert rec.manifest.venues == [VENUE]
    insts = rec.instruments(VENUE)
    assert [(i.symbol, i.venue_symbol) for i in insts] == [
        ("BTC-USDT", "BTC/USDT"),
        ("ETH-USDT", "ETH/USDT"),
    ]
    assert all(i.source == "venue" and i.tick_size and i.lot_size for i in insts)

    frames = list(rec.frames())
    assert {f.kind for f in frames} == {Kind.NORMALIZED}
    assert {f.venue for f in frames} == {VENUE}
    snaps: dict[str, list[int]] = {}
    for f in frames:
        msg = msgspec.json.decode(f.payload)
        if msg["t"] == "snap":
            assert f.conn == WATCH_CHANNEL
            assert msg["partial"] is True
            assert 1 <= len(msg["b"]) <= 5
            assert 1 <= len(msg["a"]) <= 5
            snaps.setdefault(msg["s"], []).append(msg["seq"])
        else:
            assert (msg["t"], f.conn) == ("trade", "ccxt.watch_trades")
    assert set(snaps) == {"BTC/USDT", "ETH/USDT"}
    for seqs in snaps.values():  # contiguous from 1 per symbol
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) >= 2

    v, books, errors = verify_recording(rec)
    assert errors == []
    assert v.failures() == []
    assert v.frames == len(frames)
    assert (v.gaps, v.errors, v.crossed, v.unsynced_books) == (0, 0, 0, 0)
    assert v.snapshots == sum(len(s) for s in snaps.values())
    assert v.trades == len(frames) - v.snapshots
    assert v.trades > 0
    assert {(b.symbol, b.channel) for b in books} == {("BTC-USDT", "l2"), ("ETH-USDT", "l2")}
    assert all(b.synced_at_end for b in books)


def test_record_ccxt_venue_stops_on_stop_before_the_duration(tmp_path):
    async def go() -> RecordReport:
        sb = await start_sandbox()
        traced = TracedSession()
        stop = asyncio.Event()
        try:
            cfg = load_config(write_config(tmp_path / "cfg.toml", sb))
            asyncio.get_running_loop().call_later(0.8, stop.set)
            report = await record(
                cfg, tmp_path / "rec", stop=stop, note=lambda _: None, ccxt_session=traced.session
            )
            traced.assert_only(sb)
            return report
        finally:
            await traced.session.close()
            await sb.close()

    report = run(go(), timeout=20.0)
    assert report.stopped_by == "stop"
    assert report.seconds < 5.0
    rec = open_recording(tmp_path / "rec")
    assert rec.manifest.frames == report.frames
    assert verify_recording(rec)[0].failures() == []


def test_unknown_ccxt_exchange_id_is_refused_before_the_recording_is_made(tmp_path):
    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(
        '[[venues]]\nid = "x"\nkind = "ccxt"\nexchange = "no-such-exchange"\n\n'
        '[[pairs]]\nsymbol = "BTC-USDT"\nvenues = ["x"]\n'
    )
    cfg = load_config(cfg_path)
    with pytest.raises(ConfigError, match=r"venues\[x\]\.exchange: 'no-such-exchange'"):
        run(record(cfg, tmp_path / "rec", duration_s=1.0, note=lambda _: None))
    assert not (tmp_path / "rec").exists()


def test_markets_that_cannot_be_loaded_raise_a_venue_error(tmp_path):
    async def go() -> None:
        sb = await start_sandbox()
        cfg = load_config(write_config(tmp_path / "cfg.toml", sb))
        await sb.close()  # nothing listens on the port any more: connection refused
        await record(cfg, tmp_path / "rec", duration_s=5.0, note=lambda _: None)

    with pytest.raises(VenueError, match=VENUE):
        run(go(), timeout=20.0)
    assert open_recording(tmp_path / "rec").manifest.frames == 0
