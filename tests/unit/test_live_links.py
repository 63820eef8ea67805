"""``arb run``'s venue links refuse a config that cannot run live, naming the key or variable."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from arb.config import load_config
from arb.core.errors import ConfigError
from arb.live.links import CcxtLink
from arb.live.links import OkxLink
from arb.live.links import build_links
from arb.live.links import symbols_of

BASE = """
[[venues]]
id = "{id}"
kind = "{kind}"
{extra}

[[venues]]
id = "binance"
kind = "ccxt"
exchange = "binance"

[[pairs]]
symbol = "BTC-USDT"
venues = ["{id}", "binance"]
"""


def _links(tmp_path: Path, env: dict[str, str], *, paper: bool = False, **fmt: str):
    p = tmp_path / "c.toml"
    p.write_text(BASE.format(**{"id": "okx", "kind": "okx", "extra": ""} | fmt))
    cfg = load_config(p)
    return build_links(
        cfg, str(p), paper=paper, clock_ns=time.time_ns, on_frame=lambda *a: None, env=env
    )


def test_live_mode_needs_credentials_and_names_the_variable_not_a_value(tmp_path):
    with pytest.raises(ConfigError, match="ARB_OKX_API_KEY"):
        _links(tmp_path, {})
    env = {"ARB_OKX_API_KEY": "k-1234", "ARB_OKX_SECRET_KEY": "s3cr3t-value",
           "ARB_OKX_PASSPHRASE": "p4ss-value"}  # fmt: skip
    with pytest.raises(ConfigError, match="ARB_BINANCE_API_KEY") as e:
        _links(tmp_path, env)
    assert "s3cr3t" not in str(e.value)


def test_paper_mode_needs_no_credentials(tmp_path):
    links = _links(tmp_path, {}, paper=True)
    assert [type(link) for link in links] == [OkxLink, CcxtLink]
    assert [link.venue_id for link in links] == ["okx", "binance"]
    assert all(link.execution is None for link in links)  # built by open(), from the venue


def test_a_native_okx_venue_must_be_called_okx(tmp_path):
    with pytest.raises(ConfigError, match='id = "okx"'):
        _links(tmp_path, {}, paper=True, id="okx-main")


def test_a_replay_only_kind_is_refused_with_its_key_path(tmp_path):
    with pytest.raises(ConfigError, match=r"venues\[0\]\.kind"):
        _links(tmp_path, {}, paper=True, id="sim1", kind="sim")


def test_symbols_of_keeps_config_order_per_venue(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        BASE.format(id="okx", kind="okx", extra="")
        + """
[[pairs]]
symbol = "ETH-USDT"
venues = ["binance"]
"""
    )
    cfg = load_config(p)
    assert symbols_of(cfg, "okx") == ["BTC-USDT"]
    assert symbols_of(cfg, "binance") == ["BTC-USDT", "ETH-USDT"]


def test_basis_is_refused_live_with_its_section_named(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(
        BASE.format(id="okx", kind="okx", extra="")
        + """
[[pairs]]
symbol = "BTC-USDT-PERP"
venues = ["okx"]

[basis]
pairs = [{ spot = "okx:BTC-USDT", perp = "okx:BTC-USDT-PERP" }]
"""
    )
    cfg = load_config(p)
    with pytest.raises(ConfigError, match="basis: basis trading runs in replay only"):
        build_links(cfg, str(p), paper=True, clock_ns=time.time_ns, on_frame=lambda *a: None)
