"""Risk gate: every limit, every refusal code, reservations, breaker, daily loss, cool-down."""

from datetime import UTC
from datetime import datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arb.core.errors import InvariantViolation
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.numbers import to_raw
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.ratelimit import NS_PER_S
from arb.core.risk import NS_PER_DAY
from arb.core.risk import RateLimit
from arb.core.risk import Refusal
from arb.core.risk import RefusalCode
from arb.core.risk import RiskConfig
from arb.core.risk import RiskGate
from arb.core.risk import utc_day
from arb.core.types import Side

pytestmark = pytest.mark.unit

Q = POW10[AMOUNT_PRECISION]  # one unit of quote currency at AMOUNT_PRECISION
MS = 1_000_000
T0 = int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()) * NS_PER_S


def leg(venue: str, side: Side, notional: int, symbol: str = "BTC-USDT") -> Leg:
    return Leg(
        venue=venue,
        symbol=symbol,
        side=side,
        px=6_000_000,
        qty=1_000,
        expected_notional=notional,
        fee=notional // 1000,
    )


def opp(
    buy: int = 100 * Q,
    sell: int = 100 * Q,
    *,
    ts: int = T0,
    venues: tuple[str, str] = ("binance", "okx"),
    symbol: str = "BTC-USDT",
    id: str = "opp1",
) -> Opportunity:
    return Opportunity(
        id=id,
        kind="spatial",
        ts=ts,
        symbol=symbol,
        quote="USDT",
        legs=(leg(venues[0], Side.BUY, buy, symbol), leg(venues[1], Side.SELL, sell, symbol)),
        gross_profit=Q,
        fees=Q // 5,
        latency_haircut=Q // 10,
        expected_profit=7 * Q // 10,
        expected_profit_bps=35.0,
    )


def gate(**kw) -> RiskGate:
    return RiskGate(RiskConfig(**kw))


def code(r: Refusal | None) -> str | None:
    return None if r is None else r.code


# ------------------------------------------------------------------ config


def test_default_config_converts_money_once_to_amount_precision():
    lim = RiskConfig().limits()
    assert lim.max_order_notional == 1000 * Q
    assert lim.max_opportunity_notional == 2000 * Q
    assert lim.max_unhedged_notional == 1000 * Q
    assert lim.daily_loss_limit == 100 * Q
    assert lim.max_open_orders == 10
    assert lim.max_consecutive_leg_failures == 3
    assert lim.max_quote_age_ns == 1_000 * MS
    assert lim.rollback_cooldown_ns == 5_000 * MS
    g = RiskGate()
    assert g.limits == lim
    assert not g.kill_switch_tripped


def test_config_decodes_from_toml_shaped_dict_with_per_venue_rate_limits():
    raw = {
        "max_order_notional_quote": "250.5",
        "rate_limits": {"okx": {"capacity": 60, "refill_per_s": "30", "scope": "instrument"}},
        "kill_switch_file": "/var/run/arb/KILL",
    }
    cfg = msgspec.convert(raw, RiskConfig)
    assert cfg.limits().max_order_notional == to_raw("250.5", AMOUNT_PRECISION) == 2505 * Q // 10
    assert cfg.rate_limit("okx") == RateLimit(capacity=60, refill_per_s="30", scope="instrument")
    assert cfg.rate_limit("binance") == RateLimit()
    assert cfg.kill_switch_file == "/var/run/arb/KILL"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"max_order_notional_quote": "0"}, "max_order_notional_quote: must be > 0"),
        ({"daily_loss_limit_quote": "-5"}, "daily_loss_limit_quote: must be > 0"),
        ({"max_unhedged_notional_quote": "1e3"}, "max_unhedged_notional_quote: .*not a decimal"),
        (
            {"max_opportunity_notional_quote": "0." + "0" * AMOUNT_PRECISION + "1"},
            f"more than {AMOUNT_PRECISION} decimals",
        ),
        ({"max_order_notional_quote": 100.0}, "Expected `str`"),
        ({"max_open_orders": 0}, "max_open_orders: must be >= 1"),
        ({"max_consecutive_leg_failures": 0}, "max_consecutive_leg_failures: must be >= 1"),
        ({"max_quote_age_ms": 0}, "max_quote_age_ms: must be >= 1"),
        ({"rollback_cooldown_ms": -1}, "rollback_cooldown_ms: must be >= 0"),
        ({"rate_limits": {"okx": {"capacity": 0}}}, "capacity: must be >= 1"),
        ({"rate_limits": {"okx": {"refill_per_s": "0"}}}, ">= 1"),
        ({"rate_limits": {"okx": {"scope": "account"}}}, "Invalid enum value"),
        ({"max_order_notional": "1"}, "unknown field `max_order_notional`"),
        ({"rate_limits": {"okx": {"burst": 1}}}, "unknown field `burst`"),
    ],
)
def test_bad_config_is_refused_at_decode(raw, match):
    with pytest.raises(msgspec.ValidationError, match=match):
        msgspec.convert(raw, RiskConfig)


# ------------------------------------------------------------ passing check


def test_passing_check_reserves_open_orders_and_rate_tokens():
    g = gate(default_rate_limit=RateLimit(capacity=4, refill_per_s="1"))
    assert g.check(opp(), T0) is None
    assert g.state.open_orders == 2
    assert g.state.passed == 1
    assert g.rate_wait_ns("okx", "BTC-USDT", T0, 3) == 0
    assert g.rate_wait_ns("okx", "BTC-USDT", T0, 4) == NS_PER_S
    assert g.refusal_counts == {}


def test_opportunity_without_legs_is_a_bug():
    o = msgspec.structs.replace(opp(), legs=())
    with pytest.raises(InvariantViolation, match="no legs"):
        RiskGate().check(o, T0)


# ------------------------------------------------------------- kill switch


def test_kill_switch_refuses_everything_and_is_sticky_until_reset():
    g = RiskGate()
    g.trip_kill_switch("file /var/run/arb/KILL exists")
    g.trip_kill_switch("SIGUSR1")
    for t in (T0, T0 + NS_PER_DAY, T0 + 30 * NS_PER_DAY):
        r = g.check(opp(ts=t), t)
        assert r == Refusal(code="KILL_SWITCH", detail="file /var/run/arb/KILL exists")
    assert g.kill_switch_tripped
    g.reset_kill_switch()
    assert g.check(opp(), T0) is None


def test_kill_switch_with_empty_reason_still_trips():
    g = RiskGate()
    g.trip_kill_switch("")
    assert code(g.check(opp(), T0)) == "KILL_SWITCH"


def test_kill_switch_in_config_starts_tripped():
    g = gate(kill_switch=True)
    r = g.check(opp(), T0)
    assert r is not None
    assert r.code == "KILL_SWITCH"
    assert "config" in r.detail


def test_kill_switch_wins_over_every_other_refusal():
    g = gate(max_order_notional_quote="1")
    g.trip_kill_switch("operator")
    g.on_pnl(-1000 * Q, T0)
    assert code(g.check(opp(ts=T0 - 10 * NS_PER_S), T0)) == "KILL_SWITCH"


# -------------------------------------------------------------- daily loss


def test_daily_loss_limit_latches_until_utc_midnight():
    g = gate(daily_loss_limit_quote="100")
    assert not g.on_pnl(-60 * Q, T0)
    assert g.check(opp(), T0) is None
    assert g.on_pnl(-40 * Q, T0 + 1)  # exactly -100: the limit is reached
    r = g.check(opp(ts=T0 + 2), T0 + 2)
    assert r is not None
    assert r.code == "DAILY_LOSS_LIMIT"
    assert "-100 USDT" in r.detail
    # A later profit the same day does not lift the stop.
    assert g.on_pnl(+50 * Q, T0 + 3)
    assert code(g.check(opp(ts=T0 + 4), T0 + 4)) == "DAILY_LOSS_LIMIT"
    midnight = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) * NS_PER_S
    assert code(g.check(opp(ts=midnight - 1), midnight - 1)) == "DAILY_LOSS_LIMIT"
    assert g.check(opp(ts=midnight), midnight) is None
    assert g.state.daily_pnl == 0
    assert g.state.day == utc_day(midnight)


def test_daily_pnl_resets_at_utc_midnight_on_pnl_alone():
    g = gate(daily_loss_limit_quote="100")
    midnight = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) * NS_PER_S
    assert not g.on_pnl(-99 * Q, midnight - 1)
    assert not g.on_pnl(-99 * Q, midnight)  # a new day: -99, not -198
    assert g.state.daily_pnl == -99 * Q
    # A late report stamped with yesterday's time counts for today (days never go back).
    assert g.on_pnl(-1 * Q, midnight - 5)
    assert g.state.day == utc_day(midnight)


def test_utc_day_changes_exactly_at_midnight():
    midnight = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * NS_PER_S
    assert utc_day(midnight) == utc_day(midnight - 1) + 1
    assert utc_day(midnight) == utc_day(midnight + NS_PER_DAY - 1)
    assert utc_day(0) == 0


# ---------------------------------------------------------------- breaker


def test_breaker_disables_venue_after_consecutive_leg_failures():
    g = gate(max_consecutive_leg_failures=3)
    assert not g.on_leg_failure("okx", T0)
    assert not g.on_leg_failure("okx", T0 + 1)
    assert g.is_venue_enabled("okx")
    assert g.on_leg_failure("okx", T0 + 2)  # this one trips it
    assert not g.on_leg_failure("okx", T0 + 3)  # already disabled
    assert not g.is_venue_enabled("okx")
    assert g.state.disabled_venues == {"okx": T0 + 2}
    r = g.check(opp(), T0 + 4)
    assert r is not None
    assert r.code == "VENUE_DISABLED:okx"
    assert "3 consecutive" in r.detail
    # Still disabled much later, and a success does not re-enable it.
    g.on_leg_success("okx")
    assert code(g.check(opp(ts=T0 + NS_PER_DAY), T0 + NS_PER_DAY)) == "VENUE_DISABLED:okx"
    g.reset_venue("okx")
    assert g.is_venue_enabled("okx")
    assert g.check(opp(ts=T0 + NS_PER_DAY), T0 + NS_PER_DAY) is None


def test_leg_success_resets_the_consecutive_failure_count():
    g = gate(max_consecutive_leg_failures=3)
    g.on_leg_failure("binance", T0)
    g.on_leg_failure("binance", T0)
    g.on_leg_success("binance")
    assert not g.on_leg_failure("binance", T0)
    assert not g.on_leg_failure("binance", T0)
    assert g.is_venue_enabled("binance")
    assert g.on_leg_failure("binance", T0)
    assert code(g.check(opp(), T0)) == "VENUE_DISABLED:binance"


def test_failures_on_one_venue_do_not_count_for_another():
    g = gate(max_consecutive_leg_failures=2)
    g.on_leg_failure("okx", T0)
    g.on_leg_failure("binance", T0)
    assert g.is_venue_enabled("okx")
    assert g.is_venue_enabled("binance")


# ---------------------------------------------------------------- cooldown


def test_rollback_cooldown_refuses_the_symbol_on_the_venue_until_it_expires():
    g = gate(rollback_cooldown_ms=5_000)
    g.on_rollback("BTC-USDT", ["okx"], T0)
    end = T0 + 5_000 * MS
    r = g.check(opp(ts=end - 1), end - 1)
    assert r is not None
    assert r.code == "ROLLBACK_COOLDOWN:BTC-USDT"
    assert "okx" in r.detail
    # Another symbol on the same venues, and the same symbol on other venues, are not cooling.
    assert g.check(opp(ts=end - 1, symbol="ETH-USDT"), end - 1) is None
    assert g.check(opp(ts=end - 1, venues=("binance", "huobi")), end - 1) is None
    assert g.check(opp(ts=end), end) is None
    assert g.state.cooldowns == {}


def test_a_second_rollback_extends_the_cooldown_and_an_earlier_one_does_not_shorten_it():
    g = gate(rollback_cooldown_ms=1_000)
    g.on_rollback("BTC-USDT", ["okx", "binance"], T0 + 500 * MS)
    g.on_rollback("BTC-USDT", ["okx"], T0)
    assert g.state.cooldowns[("BTC-USDT", "okx")] == T0 + 1_500 * MS
    t = T0 + 1_499 * MS
    assert code(g.check(opp(ts=t), t)) == "ROLLBACK_COOLDOWN:BTC-USDT"


def test_zero_cooldown_never_refuses():
    g = gate(rollback_cooldown_ms=0)
    g.on_rollback("BTC-USDT", ["okx"], T0)
    assert g.check(opp(), T0) is None


# -------------------------------------------------------------- stale book


def test_stale_book_guard_uses_each_legs_quote_time():
    g = gate(max_quote_age_ms=200)
    now = T0 + 10 * NS_PER_S
    fresh = {"binance": now - 200 * MS, "okx": now - 5 * MS}
    assert g.check(opp(), now, quote_ts=fresh) is None
    old = {"binance": now - 200 * MS - 1, "okx": now}
    r = g.check(opp(), now, quote_ts=old)
    assert r is not None
    assert r.code == "STALE_BOOK"
    assert "binance BTC-USDT quote was 200.000001 ms old, limit 200 ms" in r.detail


def test_stale_book_guard_refuses_a_leg_without_a_quote_time():
    r = RiskGate().check(opp(), T0, quote_ts={"binance": T0})
    assert r is not None
    assert r.code == "STALE_BOOK"
    assert "okx" in r.detail


def test_stale_book_guard_defaults_to_the_opportunity_time():
    g = gate(max_quote_age_ms=100)
    assert g.check(opp(ts=T0), T0 + 100 * MS) is None
    assert code(g.check(opp(ts=T0), T0 + 100 * MS + 1)) == "STALE_BOOK"


# -------------------------------------------------------------- notionals


def test_max_order_notional_is_per_leg_and_inclusive():
    g = gate(max_order_notional_quote="500", max_opportunity_notional_quote="5000")
    assert g.check(opp(buy=500 * Q, sell=500 * Q), T0) is None
    r = g.check(opp(buy=100 * Q, sell=500 * Q + 1), T0)
    assert r is not None
    assert r.code == "MAX_ORDER_NOTIONAL"
    just_over = "500." + "0" * (AMOUNT_PRECISION - 1) + "1"  # 500 USDT and one smallest unit
    assert f"okx SELL BTC-USDT notional was {just_over} USDT, limit 500" in r.detail


def test_max_opportunity_notional_sums_the_legs():
    g = gate(max_order_notional_quote="500", max_opportunity_notional_quote="800")
    assert g.check(opp(buy=400 * Q, sell=400 * Q), T0) is None
    r = g.check(opp(buy=400 * Q, sell=400 * Q + 1), T0)
    assert r is not None
    assert r.code == "MAX_OPPORTUNITY_NOTIONAL"


def test_max_unhedged_counts_current_exposure_plus_the_largest_leg():
    g = gate(max_unhedged_notional_quote="300")
    g.set_unhedged(100 * Q)
    assert g.check(opp(buy=200 * Q, sell=150 * Q), T0) is None
    g.on_opportunity_done("opp1")
    g.set_unhedged(100 * Q + 1)
    r = g.check(opp(buy=200 * Q, sell=150 * Q), T0)
    assert r is not None
    assert r.code == "MAX_UNHEDGED_NOTIONAL"
    assert not g.unhedged_over_limit
    g.set_unhedged(301 * Q)
    assert g.unhedged_over_limit
    g.set_unhedged(0)
    assert g.state.unhedged_high_water == 301 * Q
    assert g.check(opp(buy=300 * Q, sell=300 * Q), T0) is None


def test_opportunities_in_flight_hold_their_worst_exposure_until_done():
    g = gate(max_unhedged_notional_quote="500")
    assert g.check(opp(buy=200 * Q, sell=250 * Q, id="a"), T0) is None
    assert g.state.in_flight == {"a": 250 * Q}
    assert g.check(opp(buy=250 * Q, sell=200 * Q, id="b"), T0) is None
    r = g.check(opp(buy=Q, sell=Q, id="c"), T0)
    assert r is not None
    assert r.code == "MAX_UNHEDGED_NOTIONAL"
    assert r.detail == "unhedged 0 + in flight 500 + largest leg 1 USDT would exceed limit 500"
    g.on_opportunity_done("a")
    g.on_opportunity_done("a")  # idempotent
    assert g.check(opp(buy=Q, sell=Q, id="c"), T0) is None
    assert g.state.in_flight == {"b": 250 * Q, "c": Q}


def test_negative_unhedged_notional_is_a_bug():
    with pytest.raises(InvariantViolation):
        RiskGate().set_unhedged(-1)


# ------------------------------------------------------------- open orders


def test_max_open_orders_counts_reservations_until_orders_are_terminal():
    g = gate(max_open_orders=5)
    assert g.check(opp(), T0) is None
    assert g.check(opp(), T0) is None
    r = g.check(opp(), T0)  # 4 open + 2 legs > 5
    assert r is not None
    assert r.code == "MAX_OPEN_ORDERS"
    assert r.detail == "4 open + 2 legs, limit 5"
    g.on_order_terminal()
    assert g.check(opp(), T0) is None
    assert g.state.open_orders == 5


def test_rollback_orders_sent_without_check_use_slots_and_tokens():
    g = gate(max_open_orders=3, default_rate_limit=RateLimit(capacity=2, refill_per_s="1"))
    g.on_orders_sent("okx", "BTC-USDT", T0, 2)
    assert g.state.open_orders == 2
    assert code(g.check(opp(), T0)) == "MAX_OPEN_ORDERS"
    g.on_order_terminal(2)
    assert code(g.check(opp(), T0)) == "RATE_LIMITED:okx"


def test_more_terminal_orders_than_open_is_a_bug():
    g = RiskGate()
    assert g.check(opp(), T0) is None
    with pytest.raises(InvariantViolation, match="only 2 were open"):
        g.on_order_terminal(3)


# ------------------------------------------------------------- rate limits


def test_rate_limit_refuses_until_tokens_refill():
    g = gate(rate_limits={"binance": RateLimit(capacity=2, refill_per_s="1")})
    assert g.check(opp(), T0) is None
    assert g.check(opp(), T0) is None
    r = g.check(opp(), T0 + 1)
    assert r is not None
    assert r.code == "RATE_LIMITED:binance"
    assert "available in 999.999999 ms" in r.detail
    assert g.rate_wait_ns("binance", "BTC-USDT", T0 + 1) == NS_PER_S - 1
    assert g.check(opp(ts=T0 + NS_PER_S), T0 + NS_PER_S) is None


def test_refused_check_reserves_nothing():
    g = gate(
        rate_limits={"okx": RateLimit(capacity=1, refill_per_s="1")},
        default_rate_limit=RateLimit(capacity=10, refill_per_s="1"),
    )
    assert g.check(opp(), T0) is None  # binance 9 left, okx 0 left
    assert code(g.check(opp(), T0)) == "RATE_LIMITED:okx"
    assert g.rate_wait_ns("binance", "BTC-USDT", T0, 9) == 0  # binance was not charged
    assert g.state.open_orders == 2


def test_rollback_debt_delays_the_next_check():
    g = gate(default_rate_limit=RateLimit(capacity=2, refill_per_s="1"))
    g.on_orders_sent("okx", "BTC-USDT", T0, 3)  # one token of debt
    g.on_order_terminal(3)
    assert g.rate_wait_ns("okx", "BTC-USDT", T0) == 2 * NS_PER_S
    assert code(g.check(opp(ts=T0 + NS_PER_S), T0 + NS_PER_S)) == "RATE_LIMITED:okx"
    t = T0 + 2 * NS_PER_S
    assert g.check(opp(ts=t), t) is None


def test_instrument_scope_keeps_one_bucket_per_symbol():
    okx = RateLimit(capacity=1, refill_per_s="1", scope="instrument")
    g = gate(rate_limits={"okx": okx})
    assert g.check(opp(), T0) is None
    assert g.check(opp(symbol="ETH-USDT"), T0) is None
    assert code(g.check(opp(), T0)) == "RATE_LIMITED:okx"
    assert set(g.state.buckets) == {
        ("binance", ""),
        ("okx", "BTC-USDT"),
        ("okx", "ETH-USDT"),
    }


def test_more_legs_on_a_venue_than_its_bucket_holds_is_refused():
    g = gate(default_rate_limit=RateLimit(capacity=1, refill_per_s="1"))
    o = opp(venues=("okx", "okx"))
    r = g.check(o, T0)
    assert r is not None
    assert r.code == "RATE_LIMITED:okx"
    assert r.detail == "2 orders at once on okx, bucket capacity 1"


@given(
    gaps=st.lists(st.integers(0, 3 * NS_PER_S), min_size=1, max_size=100),
    capacity=st.integers(1, 5),
)
def test_checks_never_pass_more_orders_than_the_bucket_allows(gaps, capacity):
    g = gate(
        max_open_orders=10_000,
        max_unhedged_notional_quote="1000000",
        default_rate_limit=RateLimit(capacity=capacity, refill_per_s="2"),
    )
    t, passed = T0, 0
    for gap in gaps:
        t += gap
        if g.check(opp(ts=t), t) is None:
            passed += 1
        # Each check sends one order per venue: passed <= capacity + 2/s * elapsed.
        assert passed * NS_PER_S <= capacity * NS_PER_S + 2 * (t - T0)


# ------------------------------------------------------- refusal bookkeeping


def test_every_refusal_is_counted_by_code():
    g = gate(max_open_orders=2, max_order_notional_quote="150")
    assert g.check(opp(), T0) is None
    g.check(opp(), T0)
    g.check(opp(), T0)
    g.check(opp(buy=151 * Q), T0)
    g.trip_kill_switch("test")
    g.check(opp(), T0)
    assert g.refusal_counts == {"MAX_OPEN_ORDERS": 2, "MAX_ORDER_NOTIONAL": 1, "KILL_SWITCH": 1}
    assert g.state.passed == 1
    counts = g.refusal_counts
    counts["KILL_SWITCH"] = 99  # a copy: the gate's counts are untouched
    assert g.refusal_counts["KILL_SWITCH"] == 1


@pytest.mark.parametrize(
    ("code_", "reason"),
    [
        ("KILL_SWITCH", RefusalCode.KILL_SWITCH),
        ("VENUE_DISABLED:okx", RefusalCode.VENUE_DISABLED),
        ("RATE_LIMITED:binance", RefusalCode.RATE_LIMITED),
        ("ROLLBACK_COOLDOWN:BTC-USDT", RefusalCode.ROLLBACK_COOLDOWN),
    ],
)
def test_refusal_reason_drops_the_suffix(code_, reason):
    assert Refusal(code=code_, detail="").reason is reason


def test_refusal_round_trips_through_msgspec_with_a_tag():
    r = Refusal(code="STALE_BOOK", detail="okx BTC-USDT quote was 1200 ms old, limit 1000 ms")
    raw = msgspec.json.encode(r)
    assert b'"type":"Refusal"' in raw
    assert msgspec.json.decode(raw, type=Refusal) == r


def test_each_refusal_code_is_reachable():
    seen: set[RefusalCode] = set()
    scenarios = [
        (lambda g: g.trip_kill_switch("x"), opp()),
        (lambda g: g.on_pnl(-100 * Q, T0), opp()),
        (lambda g: [g.on_leg_failure("okx", T0) for _ in range(3)], opp()),
        (lambda g: g.on_rollback("BTC-USDT", ["okx"], T0), opp()),
        (lambda g: None, opp(ts=T0 - 2 * NS_PER_S)),
        (lambda g: None, opp(buy=1001 * Q)),
        (lambda g: None, msgspec.structs.replace(opp(), legs=opp(999 * Q, 999 * Q).legs * 2)),
        (lambda g: g.set_unhedged(901 * Q), opp()),
        (lambda g: g.on_orders_sent("huobi", "BTC-USDT", T0, 9), opp()),
        (lambda g: [g.on_orders_sent("okx", "BTC-USDT", T0, 10), g.on_order_terminal(10)], opp()),
    ]
    for setup, o in scenarios:
        g = RiskGate()
        setup(g)
        r = g.check(o, T0)
        assert r is not None
        seen.add(r.reason)
    # OWN_LIQUIDITY is the executor's own check (it knows our orders): test_executor_scenarios
    assert seen == set(RefusalCode) - {RefusalCode.OWN_LIQUIDITY}
