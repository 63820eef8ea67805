from pathlib import Path

import pytest

from arb.config import load_config
from arb.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[[venues]]
id = "okx"
kind = "okx"
[[venues]]
id = "binance"
kind = "binance"
[[pairs]]
symbol = "BTC-USDT"
venues = ["okx", "binance"]
"""


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.pairs
    assert cfg.venues


def test_minimal_config_gets_defaults(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(GOOD)
    cfg = load_config(p)
    assert cfg.symbols == ["BTC-USDT"]
    assert cfg.venue("okx").taker_fee_bps == 10.0
    assert cfg.risk.max_quote_age_ms == 1000


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            GOOD.replace('kind = "okx"', 'kind = "okx"\ntker_fee_bps = 1'),
            r"venues\[0\]\.tker_fee_bps: unknown key",
        ),
        (
            GOOD.replace('kind = "okx"', 'kind = "okx"\ntaker_fee_bps = "x"'),
            r"venues\[0\]\.taker_fee_bps: expected `float`, got `str`",
        ),
        (
            GOOD.replace('kind = "okx"', 'kind = "okq"'),
            r"venues\[0\]\.kind: invalid enum value 'okq'",
        ),
        (GOOD.replace('kind = "binance"\n', ""), r"venues\[1\]\.kind: required key is missing"),
        (
            GOOD.replace('"okx", "binance"]', '"okx", "bnb"]'),
            r"pairs\[0\]\.venues\[1\]: venue 'bnb' is not defined",
        ),
        (GOOD.replace('"BTC-USDT"', '"BTCUSDT"'), r"pairs\[0\]\.symbol: symbol 'BTCUSDT'"),
        (
            GOOD.replace('id = "binance"', 'id = "okx"'),
            r"venues\[1\]\.id: venue 'okx' is defined twice",
        ),
        (GOOD + "\n[synth]\nsecnds = 3\n", r"synth\.secnds: unknown key"),
        (GOOD + "\n[synth]\nseconds = -1\n", r"synth\.seconds: must be > 0"),
        (GOOD.replace('kind = "okx"', 'kind = "ccxt"'), r"venues\[0\]\.exchange: required"),
        (
            GOOD.replace('kind = "okx"', 'kind = "okx"\ntaker_fee_bps = 500'),
            r"venues\[0\]\.taker_fee_bps: 500",
        ),
        ("venues = [", r"not valid TOML"),
        (GOOD + "\n[risk]\nmax_open_order = 3\n", r"risk\.max_open_order: unknown key"),
        (
            GOOD + '\n[rollback]\ntime_budget_ms = "x"\n',
            r"rollback\.time_budget_ms: expected `int`",
        ),
        (
            GOOD.replace('kind = "okx"', 'kind = "okx"\n[venues.sim]\nreject_rat = 0.1'),
            r"venues\[0\]\.sim\.reject_rat: unknown key",
        ),
        (
            GOOD + "\n[detector]\nmax_quote_age_ms = 10\n",
            r"detector\.max_quote_age_ms: set it as risk\.max_quote_age_ms",
        ),
        (
            GOOD.replace('kind = "okx"', 'kind = "okx"\n[venues.sim]\ntaker_fee_ppm = 5'),
            r"venues\[0\]\.sim\.taker_fee_ppm: set it as venues\[0\]\.taker_fee_bps",
        ),
        (
            GOOD + "\n[detector]\nmin_profit_quote = 0.5\n",
            r"detector\.min_profit_quote: expected `str`",
        ),
        (
            GOOD + '\n[[instruments]]\nvenue = "kraken"\nsymbol = "BTC-USDT"\n',
            r"instruments\[0\]\.venue: venue 'kraken' is not defined",
        ),
        (
            GOOD + '\n[[instruments]]\nvenue = "okx"\nsymbol = "BTC-USDT"\nlot_size = "-1"\n',
            r"instruments\[0\]\.lot_size: '-1' is not a positive decimal",
        ),
        (GOOD + "\n[replay]\ncommit_every = 0\n", r"replay\.commit_every: must be >= 1"),
    ],
)
def test_bad_config_names_file_and_key_path(tmp_path, edit, message):
    p = tmp_path / "bad.toml"
    p.write_text(edit)
    with pytest.raises(ConfigError, match=message) as e:
        load_config(p)
    assert str(e.value).startswith(str(p))


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_risk_rollback_and_sim_sections_decode(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        GOOD.replace(
            'kind = "okx"',
            'kind = "okx"\n[venues.sim]\norder_latency = 25.0\nreject_rate = 0.01\n'
            '[venues.sim.balances]\nUSDT = "10000"\nBTC = "0.5"',
        )
        + '\n[risk]\nmax_open_orders = 4\ndaily_loss_limit_quote = "50"\n'
        + "\n[rollback]\ntime_budget_ms = 2000\n"
    )
    cfg = load_config(p)
    assert cfg.risk.max_open_orders == 4
    assert cfg.rollback.time_budget_ms == 2000
    sim = cfg.venue("okx").sim
    assert sim is not None
    assert sim.reject_rate == 0.01
    assert cfg.venue("binance").sim is None
