"""Watchdog: each condition fires once on its rising edge, resolves once, and can fire again."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

import pytest

from arb.config import AlertsConfig
from arb.ops.alerts import FieldValue
from arb.ops.alerts import Watchdog

pytestmark = pytest.mark.unit

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


@dataclass
class FakeSink:
    sent: list[tuple[str, str, bool, dict[str, FieldValue]]] = field(default_factory=list)

    def alert(
        self, kind: str, subject: str, message: str, *, resolved: bool = False, **fields: FieldValue
    ) -> bool:
        assert message
        self.sent.append((kind, subject, resolved, fields))
        return True


def make(cfg: AlertsConfig | None = None) -> tuple[Watchdog, FakeSink]:
    sink = FakeSink()
    return Watchdog(cfg or AlertsConfig(), sink), sink


def run(
    w: Watchdog,
    now_ns: int = T0,
    *,
    kill_reason: str = "",
    halted_venues: Iterable[str] = (),
    breaker_reasons: Mapping[str, str] | None = None,
    unhedged: float = 0.0,
    open_trades: int = 0,
    feed_last_ns: Mapping[str, int] | None = None,
) -> list[str]:
    return w.check(
        now_ns,
        kill_reason=kill_reason,
        halted_venues=halted_venues,
        breaker_reasons=breaker_reasons,
        unhedged=unhedged,
        open_trades=open_trades,
        feed_last_ns=feed_last_ns if feed_last_ns is not None else {},
    )


def test_nothing_fires_when_all_is_well():
    w, sink = make()
    assert run(w) == []
    assert run(w) == []
    assert sink.sent == []


def test_kill_switch_fires_once_resolves_and_fires_again():
    w, sink = make()
    assert run(w, kill_reason="SIGUSR1") == ["kill_switch"]
    assert run(w, kill_reason="SIGUSR1") == []
    assert run(w, kill_reason="SIGUSR1 again") == []
    assert run(w) == ["kill_switch"]
    assert run(w, kill_reason="file") == ["kill_switch"]
    assert [(k, s, r) for k, s, r, _ in sink.sent] == [
        ("kill_switch", "", False),
        ("kill_switch", "", True),
        ("kill_switch", "", False),
    ]
    assert sink.sent[0][3]["reason"] == "SIGUSR1"


def test_breaker_fires_per_venue_with_reason_and_resolves():
    w, sink = make()
    assert run(w, halted_venues=["okx"], breaker_reasons={"okx": "5 rejects"}) == ["breaker"]
    assert run(w, halted_venues=["okx"]) == []
    assert run(w, halted_venues=["okx", "binance"]) == ["breaker"]
    assert run(w, halted_venues=["binance"]) == ["breaker"]
    assert run(w, halted_venues=["binance", "okx"]) == ["breaker"]
    assert [(k, s, r) for k, s, r, _ in sink.sent] == [
        ("breaker", "okx", False),
        ("breaker", "binance", False),
        ("breaker", "okx", True),
        ("breaker", "okx", False),
    ]
    assert sink.sent[0][3]["reason"] == "5 rejects"


def test_residual_exposure_waits_for_trades_to_finish_then_fires_once():
    w, sink = make(AlertsConfig(unhedged_alert_usd=10.0))
    assert run(w, unhedged=50.0, open_trades=1) == []  # a trade in flight: not yet
    assert run(w, unhedged=50.0, open_trades=0) == ["residual_exposure"]
    assert run(w, unhedged=60.0, open_trades=0) == []
    assert run(w, unhedged=60.0, open_trades=2) == []
    assert run(w, unhedged=10.0, open_trades=0) == ["residual_exposure"]  # <= threshold
    assert run(w, unhedged=5.0) == []
    assert run(w, unhedged=11.0) == ["residual_exposure"]
    assert [(k, r) for k, _, r, _ in sink.sent] == [
        ("residual_exposure", False),
        ("residual_exposure", True),
        ("residual_exposure", False),
    ]
    assert sink.sent[0][3] == {"unhedged": 50.0, "threshold": 10.0}


def test_residual_exposure_threshold_zero_means_any_residual():
    w, _ = make(AlertsConfig(unhedged_alert_usd=0.0))
    assert run(w, unhedged=0.0) == []
    assert run(w, unhedged=0.01) == ["residual_exposure"]


def test_stale_feed_per_venue_fires_resolves_and_fires_again():
    w, sink = make(AlertsConfig(stale_feed_ms=1_000))
    feeds = {"okx": T0, "binance": T0}
    assert run(w, now_ns=T0 + 1_000 * MS, feed_last_ns=feeds) == []  # exactly the limit
    assert run(w, now_ns=T0 + 1_001 * MS, feed_last_ns=feeds) == ["stale_feed", "stale_feed"]
    fresh_okx = {"okx": T0 + 1_500 * MS, "binance": T0}
    assert run(w, now_ns=T0 + 1_600 * MS, feed_last_ns=fresh_okx) == ["stale_feed"]
    assert run(w, now_ns=T0 + 1_700 * MS, feed_last_ns=fresh_okx) == []
    assert run(w, now_ns=T0 + 2_600 * MS, feed_last_ns=fresh_okx) == ["stale_feed"]
    assert [(s, r) for _, s, r, _ in sink.sent] == [
        ("binance", False),
        ("okx", False),
        ("okx", True),
        ("okx", False),
    ]
    assert sink.sent[0][3]["age_ms"] == 1_001


def test_stale_feed_disabled_when_limit_is_zero():
    w, sink = make(AlertsConfig(stale_feed_ms=0))
    assert run(w, now_ns=T0 + 10**12, feed_last_ns={"okx": T0}) == []
    assert sink.sent == []


def test_several_conditions_in_one_check_are_all_reported():
    w, _ = make(AlertsConfig(stale_feed_ms=100, unhedged_alert_usd=1.0))
    fired = run(
        w,
        now_ns=T0 + 200 * MS,
        kill_reason="max loss",
        halted_venues=["okx"],
        unhedged=5.0,
        feed_last_ns={"okx": T0},
    )
    assert fired == ["kill_switch", "breaker", "residual_exposure", "stale_feed"]
