"""How a replay is set up from a config: owned values, instrument overrides, sim venues."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.config import load_config
from arb.core.errors import ConfigError
from arb.engine import detector_config
from arb.engine import expected_latency_ms
from arb.recording import open_recording
from arb.replay import instruments_for
from arb.synth import generate
from venues.sim import ConstantLatency
from venues.sim import LognormalLatency
from venues.sim import UniformLatency

ROOT = Path(__file__).resolve().parents[2]
BASE = """
[[venues]]
id = "okx"
kind = "okx"
taker_fee_bps = 8.0
[venues.sim]
order_latency = { kind = "lognormal", median_ms = 12.0, p99_ms = 40.0 }
[[venues]]
id = "binance"
kind = "binance"
taker_fee_bps = 7.5
order_latency_ms = 3.0
[[pairs]]
symbol = "BTC-USDT"
venues = ["okx", "binance"]
[risk]
max_quote_age_ms = 250
"""


def test_detector_takes_fees_latency_and_quote_age_from_their_owners(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(BASE)
    d = detector_config(load_config(p))
    assert d.max_quote_age_ms == 250
    assert d.venue("okx").taker_fee_ppm == 800
    assert d.venue("okx").order_latency_ms == 12.0  # the simulated venue's median
    assert d.venue("binance").taker_fee_ppm == 750
    assert d.venue("binance").order_latency_ms == 3.0  # stated explicitly


@pytest.mark.parametrize(
    ("spec", "ms"),
    [
        (None, 50.0),
        (4.0, 4.0),
        (ConstantLatency(ms=7.0), 7.0),
        (UniformLatency(min_ms=2.0, max_ms=6.0), 4.0),
        (LognormalLatency(median_ms=9.0, p99_ms=30.0), 9.0),
    ],
)
def test_expected_latency_is_the_median_of_the_law(spec, ms):
    assert expected_latency_ms(spec) == ms


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "rec"
    generate(out, seconds=2.0, seed=1, symbols=["BTC-USDT"])
    return open_recording(out)


def test_instrument_override_changes_order_rules_only(rec, tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        BASE + '[[instruments]]\nvenue = "okx"\nsymbol = "BTC-USDT"\nlot_size = "0.001"\n'
        'min_notional = "10"\n'
    )
    insts = {i.key: i for i in instruments_for(load_config(p), [rec], str(p))}
    okx = insts[("okx", "BTC-USDT")]
    recorded = {i.key: i for i in rec.manifest.instruments}[("okx", "BTC-USDT")]
    assert okx.lot_size == "0.001"
    assert okx.min_notional == "10"
    assert okx.size_precision == recorded.size_precision
    assert okx.tick_size == recorded.tick_size


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('venue = "okx"\nsymbol = "ETH-USDT"\n', r"instruments\[0\]: no instrument okx ETH-USDT"),
        (
            'venue = "okx"\nsymbol = "BTC-USDT"\ntick_size = "0.00001"\n',
            r"instruments\[0\]\.tick_size: 0\.00001 is finer than the recorded precision",
        ),
    ],
)
def test_bad_instrument_override_names_the_key(rec, tmp_path, override, message):
    p = tmp_path / "c.toml"
    p.write_text(BASE + "[[instruments]]\n" + override)
    with pytest.raises(ConfigError, match=message):
        instruments_for(load_config(p), [rec], str(p))
