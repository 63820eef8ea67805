"""SimVenueConfig: decoded from TOML, strict, validated at start-up."""

import tomllib

import msgspec
import pytest

from arb.core.money import AMOUNT_PRECISION
from venues.sim import ConstantLatency
from venues.sim import LognormalLatency
from venues.sim import SimVenueConfig
from venues.sim import UniformLatency


def decode(text: str) -> SimVenueConfig:
    return msgspec.convert(tomllib.loads(text), SimVenueConfig)


def test_full_config_decodes_from_toml():
    cfg = decode(
        """
        order_latency = {kind = "lognormal", median_ms = 18.0, p99_ms = 65.0}
        event_latency = 4
        taker_fee_ppm = 1000
        maker_fee_ppm = -50
        balances = {USDT = "1000.5", BTC = "0.25"}
        reject_rate = 0.1
        extra_delay_ms = 2.5
        partial_fill_fraction = 0.5
        seed = 42
        """
    )
    assert cfg.order_latency == LognormalLatency(median_ms=18.0, p99_ms=65.0)
    assert cfg.event_latency == 4.0
    assert cfg.maker_fee_ppm == -50
    assert cfg.initial_balances() == {
        "USDT": 10005 * 10 ** (AMOUNT_PRECISION - 1),
        "BTC": 25 * 10 ** (AMOUNT_PRECISION - 2),
    }
    assert cfg.partial_fill_ppm == 500_000


def test_every_latency_form_decodes():
    assert decode("order_latency = 3").order_latency == 3.0
    assert decode('order_latency = {kind = "constant", ms = 3}').order_latency == ConstantLatency(
        ms=3
    )
    assert decode(
        'order_latency = {kind = "uniform", min_ms = 1, max_ms = 2}'
    ).order_latency == UniformLatency(min_ms=1, max_ms=2)


def test_defaults_are_an_instant_free_venue():
    cfg = SimVenueConfig()
    assert cfg.order_latency == 0.0
    assert cfg.event_latency is None
    assert cfg.reject_rate == 0.0
    assert cfg.partial_fill_ppm == 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        "taker_fee_bps = 10",  # unknown key (a typo fails at start-up)
        'order_latency = {kind = "lognormal", median_ms = 20, p99_ms = 10}',
        'order_latency = {kind = "uniform", min_ms = 5, max_ms = 1}',
        'order_latency = {kind = "gamma", k = 2}',
        'order_latency = {kind = "constant", ms = 1, jitter = 2}',
        "order_latency = -1",
        "reject_rate = 1.5",
        "partial_fill_fraction = 0",
        "extra_delay_ms = -1",
        'balances = {USDT = "-1"}',
        'balances = {USDT = "abc"}',
        f'balances = {{USDT = "0.{"0" * AMOUNT_PRECISION}1"}}',  # finer than AMOUNT_PRECISION
    ],
)
def test_invalid_config_is_refused(text):
    with pytest.raises(msgspec.ValidationError):
        decode(text)
