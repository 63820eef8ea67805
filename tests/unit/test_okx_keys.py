"""Key safety verdicts from GET /api/v5/account/config."""

from __future__ import annotations

import pytest

from venues.okx.keys import judge
from venues.okx.rest_schemas import OkxAccountConfigMsg


def cfg(perm: str, ip: str = "203.0.113.7", level: str = "Lv1") -> OkxAccountConfigMsg:
    return OkxAccountConfigMsg(uid="1", perm=perm, ip=ip, level=level)


def test_read_and_trade_key_bound_to_an_ip_is_accepted():
    v = judge(cfg("read_only,trade"))
    assert v.ok
    assert v.permissions == ("read_only", "trade")
    assert v.fee_tier == "Lv1"
    assert v.ip_bound
    assert v.problems == v.warnings == ()


@pytest.mark.parametrize("perm", ["read_only,withdraw,trade", "trade,withdraw", "withdraw"])
def test_a_key_that_can_withdraw_is_refused(perm):
    v = judge(cfg(perm))
    assert not v.ok
    assert any("withdraw" in p for p in v.problems)
    assert "REFUSED" in v.describe()


def test_a_read_only_key_cannot_trade():
    v = judge(cfg("read_only"))
    assert not v.ok
    assert v.problems == ("the key has no 'trade' permission",)


def test_no_ip_whitelist_is_a_warning_not_a_refusal():
    v = judge(cfg("read_only,trade", ip=""))
    assert v.ok
    assert not v.ip_bound
    assert len(v.warnings) == 1
    assert "IP whitelist: NONE" in v.describe()
