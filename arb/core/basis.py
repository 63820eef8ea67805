"""Basis arbitrage: spot against a perpetual swap or a dated future, on one venue or two.

Pure: no I/O, no clock; time comes in as arguments. Money at ``AMOUNT_PRECISION`` in the spot's
quote currency, rounded against us; contract maths from ``arb.core.contracts``.

Directions
----------
- ``LONG_SPOT`` (the perp is rich): buy spot, sell (short) the perp;
- ``SHORT_SPOT`` (the perp is cheap): sell spot from inventory, buy the perp.

The two legs are sized to the same base exposure: spot ``q`` base against the perp's contracts
(linear: ``q / cv``; inverse: ``q * px / cv``). Linear sizes are rounded down to a whole number
of both lots (the hedge is exact); an inverse contract's base depends on its fill prices, so the
contracts are rounded down to their lot, walked, and the spot size is the nearest spot lot to
their exact base (a mismatch of at most half a spot lot). ``HEDGE_MISMATCH`` refuses a size
whose legs differ by more than ``max_hedge_mismatch_bps`` of the spot leg, or that no common
lot fits.

Entry pricing (``BasisDetector.on_book_update``)
------------------------------------------------
Evaluated only for the pairs the updated book belongs to. First a test on the tops (no
allocation), as rates (ppb of notional) with ``R = 1e9``::

    LONG_SPOT:  perp_bid * (R - a_p) > spot_ask * (R + a_s)
    SHORT_SPOT: spot_bid * (R - a_s) > perp_ask * (R + a_p)
    a_s = 2 * fee_s + half_spread_s + exit + min_entry (+ haircut_s on the slow path)
    a_p = 2 * fee_p + half_spread_p - funding (LONG_SPOT) | + funding (SHORT_SPOT) (+ haircut_p)

``half_spread = (ask - bid) / (ask + bid)`` of each book now; ``funding`` is the sum of the
funding rates expected at the settlements within the horizon (``on_funding``: the current rate
for the next settlement, the predicted one, if given, for every later one, else the current);
``exit`` is ``exit_bps``; ``min_entry`` is ``min_entry_bps``. Then, for the passing direction(s):
books synced and fresh, latency haircut per leg as in ``arb.core.detector``
(``haircut_sigmas * sigma * sqrt(order_latency + quote_age)``), size (both books walked together
while the marginal unit passes the test above with haircuts, capped by ``max_notional_quote``
and the balances: spot quote (LONG_SPOT) or spot base (SHORT_SPOT) on the spot venue, and the
perp's margin ``perp_margin_ppm`` of its notional plus fee in its settlement currency on the
perp venue), lot rounding, and the money::

    basis     = s * ((perp_notional - spot_notional) - (perp_base - spot_base) * spot_px)
    gross     = basis - exit level - half spreads + funding over the horizon
    fees      = taker fees of both legs at entry + the same at exit (estimated on entry notionals)
    haircut   = ceil(spot_notional * h_s) + ceil(perp_notional * h_p)
    expected  = gross - fees - haircut

``s`` is +1 for LONG_SPOT, -1 for SHORT_SPOT; the base term takes the lot mismatch out of the
captured basis. The expected return must be positive, at least ``min_profit_quote`` and at least
``min_entry_bps`` of the spot notional; for a dated future also ``min_annualised_bps`` per year.
The horizon is ``horizon_h``, cut at a dated future's expiry (whose annualised basis
``(F / S - 1) * year / time_to_expiry`` goes to the inputs). The expectation assumes that the
mid basis reaches ``exit_bps`` and that the exit crosses today's half spreads; the exit trigger
itself is on executable prices (``arb.core.basis_book``), so the estimate is conservative when
spreads hold.

An inverse contract (Binance COIN-M, OKX ``BTC-USD-SWAP``) quoted in USD may be paired with spot
quoted in a USD stablecoin: its USD is taken at par with the spot quote (the basis then includes
the stablecoin's deviation from USD). The inverse position is hedged at entry; its base exposure
(``contracts * cv / px``) drifts as the price moves (not rebalanced here).

Modules
-------
Positions, funding payments and exits: ``BasisBook`` (``arb.core.basis_book``). Per-pair
constants, tops, walks, funding estimate and entry sizing (depth walk, lots, hedge check):
``arb.core.basis_pricing``. The public names of both are re-exported here.

Opportunity legs
----------------
``legs = (spot leg, perp leg)``; each ``qty`` is raw at its instrument's size precision: base
units for spot, **contracts** for the perp (Binance USD-M sizes are in BTC, contract value 1);
``px`` is the raw limit price (the worst level the walk touched). ``expected_notional`` is the
leg's quote notional (an inverse contract's is ``contracts * cv`` USD) and ``fee`` its entry
taker fee valued in the quote. ``inputs["action"]`` is ``"open"`` or ``"close"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from arb.core.basis_book import BasisBook
from arb.core.basis_book import BasisClose
from arb.core.basis_book import BasisFill
from arb.core.basis_book import BasisPosition
from arb.core.basis_book import FundingPayment
from arb.core.basis_book import PositionState
from arb.core.basis_pricing import NO_BOUND_HI as _NO_BOUND_HI
from arb.core.basis_pricing import NO_BOUND_LO as _NO_BOUND_LO
from arb.core.basis_pricing import NS_PER_MS
from arb.core.basis_pricing import UNIT
from arb.core.basis_pricing import BasisDirection
from arb.core.basis_pricing import BasisRefusal
from arb.core.basis_pricing import CostRates
from arb.core.basis_pricing import FundingEstimate
from arb.core.basis_pricing import Key
from arb.core.basis_pricing import PairParams
from arb.core.basis_pricing import R
from arb.core.basis_pricing import Tops
from arb.core.basis_pricing import Walk
from arb.core.basis_pricing import ceil_rate
from arb.core.basis_pricing import depth_base
from arb.core.basis_pricing import half_spread_ppb
from arb.core.basis_pricing import opportunity_leg
from arb.core.basis_pricing import passing_directions
from arb.core.basis_pricing import read_tops
from arb.core.basis_pricing import size_legs
from arb.core.basis_pricing import stale_refusal
from arb.core.basis_pricing import walks_basis_ppb
from arb.core.contracts import NS_PER_YEAR
from arb.core.contracts import annualised_basis_ppm
from arb.core.contracts import px_amount
from arb.core.detector import Balances
from arb.core.detector import VenueParams
from arb.core.errors import PrecisionError
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import PPM
from arb.core.money import fee_amount
from arb.core.numbers import POW10
from arb.core.opportunity import Opportunity
from arb.core.opportunity import most_profitable
from arb.core.opportunity import opportunity_id
from arb.core.sizing import ceil_raw
from arb.core.sizing import floor_raw
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import NS_PER_S
from arb.core.volatility import Volatilities
from arb.core.volatility import Volatility

__all__ = [
    "BasisBook",
    "BasisClose",
    "BasisConfig",
    "BasisDetector",
    "BasisDirection",
    "BasisFill",
    "BasisPair",
    "BasisPosition",
    "BasisRefusal",
    "FundingPayment",
    "PositionState",
]

NS_PER_HOUR = 3_600 * NS_PER_S
_MAX_SHRINK = 6


# -- config -----------------------------------------------------------------------------------


def _parse_key(where: str, s: str) -> Key:
    venue, sep, symbol = s.partition(":")
    if not (sep and venue and symbol):
        raise ValueError(f"{where}: {s!r} is not 'venue:SYMBOL'")
    return venue, symbol


class BasisPair(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One spot instrument against one perpetual swap or dated future."""

    spot: str
    """``venue:SYMBOL`` of the spot instrument, e.g. ``binance:BTC-USDT``."""
    perp: str
    """``venue:SYMBOL`` of the derivative, e.g. ``binance-coinm:BTC-USD-PERP``."""

    def __post_init__(self) -> None:
        _parse_key("spot", self.spot)
        _parse_key("perp", self.perp)

    @property
    def keys(self) -> tuple[Key, Key]:
        """``((spot venue, symbol), (perp venue, symbol))``."""
        return _parse_key("spot", self.spot), _parse_key("perp", self.perp)

    @property
    def name(self) -> str:
        return f"{self.spot}/{self.perp}"


class BasisConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Pairs, thresholds, caps and latency model of the basis detector.

    Money is an exact decimal string in the spot's quote currency (floats are refused). The
    haircut and staleness fields mean what they mean in ``DetectorConfig``; fees and latencies
    come from the same ``VenueParams`` per venue id.
    """

    pairs: list[BasisPair] = []
    horizon_h: float = 24.0
    """Holding horizon: funding is expected over it, and a position is closed at its end."""
    min_entry_bps: float = 5.0
    """Net expected return over the horizon (after fees both ways, exit cost, funding and
    haircut), in bps of the spot leg's notional."""
    exit_bps: float = 0.0
    """Close when the executable basis has converged to this level (bps of spot)."""
    min_annualised_bps: float = 0.0
    """Dated futures: smallest net expected return per year (bps) worth trading."""
    max_notional_quote: str = "1000"
    """Largest notional of either leg of one entry."""
    min_profit_quote: str = "0.50"
    """Smallest net expected profit of one entry."""
    max_positions: int = 1
    """Open (and entering) positions per pair."""
    max_hedge_mismatch_bps: float = 10.0
    """Largest base difference between the legs, in bps of the spot leg's base."""
    perp_margin_ppm: int = PPM
    """Initial margin the perp venue holds, per million of the perp notional (1e6: 1x)."""
    require_funding: bool = True
    """Refuse a perpetual until a funding rate has been seen (dated futures have none)."""
    max_quote_age_ms: int = 1_000
    haircut_sigmas: float = 1.0
    vol_halflife_ms: float = 60_000.0
    vol_prior_per_sqrt_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("horizon_h", "vol_halflife_ms"):
            v = getattr(self, name)
            if not 0.0 < v < math.inf:
                raise ValueError(f"{name}: must be > 0 and finite, was {v}")
        for name in ("haircut_sigmas", "vol_prior_per_sqrt_s", "max_hedge_mismatch_bps"):
            v = getattr(self, name)
            if not 0.0 <= v < math.inf:
                raise ValueError(f"{name}: must be >= 0 and finite, was {v}")
        for name in ("min_entry_bps", "exit_bps", "min_annualised_bps"):
            v = getattr(self, name)
            if not -10_000.0 < v < 10_000.0:
                raise ValueError(f"{name}: must be within (-10000, 10000) bps, was {v}")
        if self.max_positions < 1 or self.max_quote_age_ms < 1:
            raise ValueError("max_positions and max_quote_age_ms must be >= 1")
        if not 0 < self.perp_margin_ppm <= 100 * PPM:
            raise ValueError(f"perp_margin_ppm: must be in 1..1e8, was {self.perp_margin_ppm}")
        self.money()
        names = [p.name for p in self.pairs]
        if len(set(names)) != len(names):
            raise ValueError("pairs: a pair is listed twice")

    def money(self) -> tuple[int, int]:
        """``(max_notional, min_profit)`` at AMOUNT_PRECISION; ``ValueError`` naming a bad one."""
        out = []
        for name, round_up in (("max_notional_quote", False), ("min_profit_quote", True)):
            s = getattr(self, name)
            try:
                raw = ceil_raw(s, AMOUNT_PRECISION) if round_up else floor_raw(s, AMOUNT_PRECISION)
            except PrecisionError as e:
                raise ValueError(f"{name}: {s!r} is not a decimal number") from e
            if raw < 0 or (raw == 0 and not round_up):
                raise ValueError(f"{name}: {s!r} is out of range")
            out.append(raw)
        return out[0], out[1]


_TOPS_REFUSAL = (
    BasisRefusal.BELOW_MIN_ENTRY.value,
    "the tops do not pay fees both ways, half spreads, exit level, min entry and funding",
)


_EMPTY: list[Any] = []


class _PairView:
    """The detector's handle on one pair for the tops test (``passing_directions``) on every
    update: the two books' sorted lists bound once per ``BookSync`` object (as the spatial
    detector's ``_BookView``: best bid ``bids[-1]``, best ask ``asks[0][0]``), the rate
    constants folded with ``R``, and the funding expected over the horizon with the span of
    ``now`` over which it holds (``FundingEstimate.expected_span``), kept until ``now`` leaves
    it or the estimate is replaced (``on_funding``)."""

    __slots__ = (
        "dated",
        "expiry_ns",
        "fund_hi",
        "fund_lo",
        "fund_ppb",
        "fund_seq",
        "long_p",
        "long_s",
        "mul_p",
        "mul_s",
        "name",
        "p_asks",
        "p_bids",
        "p_sync",
        "pair",
        "perp_key",
        "r_minus_p",
        "r_minus_s",
        "r_plus_p",
        "r_plus_s",
        "s_asks",
        "s_bids",
        "s_sync",
        "short_p",
        "short_s",
        "spot_key",
    )

    def __init__(self, pair: PairParams) -> None:
        self.pair = pair
        self.name = pair.name
        self.spot_key, self.perp_key = pair.spot_key, pair.perp_key
        self.dated = pair.dated
        self.expiry_ns = pair.perp.expiry_ns if pair.dated else 0
        self.mul_s, self.mul_p = pair.mul_s, pair.mul_p
        self.r_plus_s, self.r_minus_s = R + pair.fixed_s, R - pair.fixed_s
        self.r_plus_p, self.r_minus_p = R + pair.fixed_p, R - pair.fixed_p
        # Top test without half spreads: LONG_SPOT fails when pb * long_p <= sa * long_s,
        # SHORT_SPOT when sb * short_s <= pa * short_p (long_p and short_p hold the funding).
        self.long_s = self.mul_s * self.r_plus_s
        self.short_s = self.mul_s * self.r_minus_s
        self.fund_seq = 0  # BasisDetector._funding_seq when fund_ppb was computed
        self.fund_lo = self.fund_hi = 0  # the span of ``now`` ``fund_ppb`` holds for
        self.fund_ppb = self.long_p = self.short_p = 0
        self.s_sync: BookSync | None = None
        self.p_sync: BookSync | None = None
        self.s_bids: list[Any] = _EMPTY
        self.s_asks: list[Any] = _EMPTY
        self.p_bids: list[Any] = _EMPTY
        self.p_asks: list[Any] = _EMPTY

    def set_funding(self, funding: int) -> None:
        self.fund_ppb = funding
        self.long_p = self.mul_p * (self.r_minus_p + funding)
        self.short_p = self.mul_p * (self.r_plus_p + funding)

    def bind_spot(self, sync: BookSync | None) -> None:
        self.s_sync = sync
        if sync is None:
            self.s_bids = self.s_asks = _EMPTY
        else:
            self.s_bids, self.s_asks = sync.book._bid_maxes, sync.book._ask_lists

    def bind_perp(self, sync: BookSync | None) -> None:
        self.p_sync = sync
        if sync is None:
            self.p_bids = self.p_asks = _EMPTY
        else:
            self.p_bids, self.p_asks = sync.book._bid_maxes, sync.book._ask_lists


# -- detector ---------------------------------------------------------------------------------


class _Priced(msgspec.Struct, frozen=True, kw_only=True):
    pair: PairParams
    direction: BasisDirection
    spot: Walk
    perp: Walk
    basis: int
    exit_level: int
    spreads: int
    funding: int
    fee_entry: tuple[int, int]
    fee_exit: int
    haircut: tuple[int, int]
    profit: int
    bps: float
    mismatch: int
    rates: CostRates


class BasisDetector:
    """Basis (spot vs perp / dated future) detector over the configured pairs.

    Parameters
    ----------
    config
        Pairs, thresholds, caps, latency model.
    instruments
        ``(venue, symbol) -> Instrument``; every configured pair's two must be there.
    venue_params
        Taker fee and order latency per venue id (``DetectorConfig.venues``); venues not
        listed use ``default_venue``.
    book
        The positions (a new ``BasisBook`` when not given).
    id_prefix
        First characters of entry opportunity ids (``<prefix><ms>N<counter>``).
    """

    def __init__(
        self,
        config: BasisConfig,
        instruments: Mapping[Key, Instrument],
        venue_params: Mapping[str, VenueParams] | None = None,
        *,
        default_venue: VenueParams | None = None,
        book: BasisBook | None = None,
        id_prefix: str = "B",
        vols: Volatilities | None = None,
    ) -> None:
        if not (id_prefix.isalnum() and id_prefix.isascii() and len(id_prefix) <= 2):
            raise ValueError(f"id_prefix: {id_prefix!r} must be 1-2 ASCII letters or digits")
        self.config = config
        self.book = book or BasisBook(
            config, instruments, venue_params, default_venue=default_venue
        )
        self.last_refusal = ""
        self.last_refusal_detail = ""
        self._id_prefix = id_prefix
        self._counter = 0
        self._max_age_ns = config.max_quote_age_ms * NS_PER_MS
        self._horizon_ns = round(config.horizon_h * NS_PER_HOUR)
        self._max_notional, self._min_profit = config.money()
        self._by_key: dict[Key, list[PairParams]] = {}
        self._vol: dict[Key, Volatility] = {}
        self._funding: dict[Key, FundingEstimate] = {}
        self._funding_seq = 1
        self._views: dict[Key, list[_PairView]] = {}
        halflife = round(config.vol_halflife_ms * NS_PER_MS)
        board = Volatilities() if vols is None else vols
        for pair in self.book.pairs.values():
            view = _PairView(pair)
            for key in (pair.spot_key, pair.perp_key):
                self._by_key.setdefault(key, []).append(pair)
                self._views.setdefault(key, []).append(view)
                if key not in self._vol:
                    self._vol[key] = board.of(key, halflife, config.vol_prior_per_sqrt_s)

    # -- inputs -------------------------------------------------------------------------------

    def on_funding(self, ev: FundingRate, predicted_ppb: int | None = None) -> None:
        """Keep a perp's current funding rate (and the predicted next one, if the venue gives
        it: OKX ``nextFundingRate``)."""
        key = (ev.venue, ev.symbol)
        if key in self._by_key:
            self._funding[key] = FundingEstimate(ev, predicted_ppb)
            self._funding_seq += 1  # every pair's cached expectation is out of date

    def funding_rate(self, venue: str, symbol: str) -> tuple[int, int | None] | None:
        """``(current, predicted)`` rate in ppb of a perp, or ``None`` before the first."""
        f = self._funding.get((venue, symbol))
        return None if f is None else (f.rate_ppb, f.predicted_ppb)

    def expected_funding_ppb(self, venue: str, symbol: str, now_ns: int, end_ns: int) -> int:
        """Sum of the funding rates expected at the settlements in ``(now, end]`` (0: none)."""
        f = self._funding.get((venue, symbol))
        return 0 if f is None else f.expected_ppb(now_ns, end_ns)

    @property
    def opportunities_emitted(self) -> int:
        return self._counter

    # -- the hot path -------------------------------------------------------------------------

    def on_book_update(
        self,
        venue: str,
        symbol: str,
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None = None,
    ) -> Opportunity | None:
        """Evaluate the pairs ``(venue, symbol)`` belongs to: first the exits of their open
        positions, then entries. Returns one opportunity (an exit, else the most profitable
        entry) or ``None`` with the reason in ``last_refusal``.

        An entry is recorded as pending in ``book`` (``BasisBook.expect``); an exit marks its
        position CLOSING. Runtime complexity: O(pairs of the book) when the tops do not pay
        (the common case), plus O(levels walked) per pair that does.
        """
        key = (venue, symbol)
        views = self._views.get(key)
        if views is None:
            self._refuse(BasisRefusal.NO_PAIR.value, "")
            return None
        sync = books.get(key)
        if sync is not None and sync.valid:
            # The updated book's mid to its volatility (skipped when the mid did not move).
            book = sync.book
            maxes = book._bid_maxes
            lists = book._ask_lists
            if maxes and lists:
                vol = self._vol[key]
                mid = maxes[-1] + lists[0][0]
                if mid != vol.last_mid:
                    vol.update(book.ts_recv or now_ns, mid)
        active = self.book.active
        for v in views:
            if active(v.name):  # a position or pending entry: exits first, MAX_POSITIONS
                return self._decide(self._by_key[key], books, now_ns, balances)
        # No position is open, so no exit is due and MAX_POSITIONS does not apply: the tops
        # test alone decides the common case; a pair that may pass takes the full path.
        for v in views:
            if not self._tops_fail(v, books, now_ns):
                return self._entries(views, books, now_ns, balances)
        self.last_refusal, self.last_refusal_detail = _TOPS_REFUSAL
        return None

    def _tops_fail(self, v: _PairView, books: Mapping[Key, BookSync], now_ns: int) -> bool:
        # True when ``_evaluate`` (no position of the pair active) returns _TOPS_REFUSAL: the
        # same checks, in its order, on the bound tops; False for anything else.
        if not (
            v.fund_lo <= now_ns < v.fund_hi and v.fund_seq == self._funding_seq
        ) and not self._fund(v, now_ns):
            return False  # EXPIRED or NO_FUNDING
        get = books.get
        s = get(v.spot_key)
        if s is not v.s_sync:
            v.bind_spot(s)
        p = get(v.perp_key)
        if p is not v.p_sync:
            v.bind_perp(p)
        sm, sl, pm, pl = v.s_bids, v.s_asks, v.p_bids, v.p_asks
        if not (sm and sl and pm and pl) or s is None or p is None or not s.valid or not p.valid:
            return False
        sb, sa, pb, pa = sm[-1], sl[0][0], pm[-1], pl[0][0]
        # passing_directions with the constants folded: first without the half spreads,
        # which (>= 0 when no book is crossed) only make a direction harder to pass.
        if (
            pb * v.long_p <= sa * v.long_s
            and sb * v.short_s <= pa * v.short_p
            and 0 < sb <= sa
            and 0 < pb <= pa
        ):
            return True
        f = v.fund_ppb
        hs_s = -(-(sa - sb) * R // (sa + sb))
        hs_p = -(-(pa - pb) * R // (pa + pb))
        mul_s, mul_p = v.mul_s, v.mul_p
        if pb * mul_p * (v.r_minus_p - hs_p + f) > sa * mul_s * (v.r_plus_s + hs_s):
            return False
        return not sb * mul_s * (v.r_minus_s - hs_s) > pa * mul_p * (v.r_plus_p + hs_p + f)

    def _fund(self, v: _PairView, now_ns: int) -> bool:
        # The pair's funding over the horizon into ``v`` (and the rate constants that hold
        # it), as ``_evaluate`` takes it; False where ``_evaluate`` refuses before the tops
        # (EXPIRED, NO_FUNDING).
        f = self._funding.get(v.perp_key)
        if v.dated:
            horizon = min(self._horizon_ns, v.expiry_ns - now_ns)
            if horizon <= 0:
                return False
            funding = f.expected_ppb(now_ns, now_ns + horizon) if f is not None else 0
            v.fund_lo = v.fund_hi = 0  # recomputed on every update
        elif f is None:
            if self.config.require_funding:
                return False
            funding, v.fund_lo, v.fund_hi = 0, _NO_BOUND_LO, _NO_BOUND_HI
        else:
            funding, v.fund_lo, v.fund_hi = f.expected_span(now_ns, self._horizon_ns)
        v.fund_seq = self._funding_seq
        v.set_funding(funding)
        return True

    def _entries(
        self,
        views: list[_PairView],
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> Opportunity | None:
        # Every pair's entry, as ``_decide`` with no position open (so no exit due).
        best, refusal = most_profitable(
            _TOPS_REFUSAL
            if self._tops_fail(v, books, now_ns)
            else self._evaluate(v.pair, books, now_ns, balances)
            for v in views
        )
        return self._conclude(best, refusal, now_ns)

    def _decide(
        self,
        pairs: list[PairParams],
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> Opportunity | None:
        # The full path: exits of the open positions first, then every pair's entry.
        exit_ = self._exits(pairs, books, now_ns)
        if exit_ is not None:
            self._refuse("", "")
            return exit_
        best, refusal = most_profitable(
            self._evaluate(pair, books, now_ns, balances) for pair in pairs
        )
        return self._conclude(best, refusal, now_ns)

    def _conclude(
        self, best: _Priced | None, refusal: tuple[str, str] | None, now_ns: int
    ) -> Opportunity | None:
        if best is None:
            if refusal is not None:
                self._refuse(*refusal)
            return None
        self._refuse("", "")
        opp = self._emit(best, now_ns)
        self.book.expect(opp)
        return opp

    def _exits(
        self, pairs: list[PairParams], books: Mapping[Key, BookSync], now_ns: int
    ) -> Opportunity | None:
        # The first exit due among the open positions of ``pairs``.
        book = self.book
        for pair in pairs:
            if not book.has_open(pair.name):
                continue
            for pos in book.open_positions(pair.name):
                opp = book.exit_opportunity(pos, books, now_ns)
                if opp is not None:
                    return opp
        return None

    def _refuse(self, code: str, detail: str) -> None:
        self.last_refusal = code
        self.last_refusal_detail = detail

    def _evaluate(
        self,
        pair: PairParams,
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> _Priced | tuple[str, str]:
        if self.book.active(pair.name) >= self.config.max_positions:
            return (
                BasisRefusal.MAX_POSITIONS.value,
                f"{pair.name}: {self.config.max_positions} open",
            )
        horizon = self._horizon_ns
        if pair.dated:
            horizon = min(horizon, pair.perp.expiry_ns - now_ns)
            if horizon <= 0:
                return BasisRefusal.EXPIRED.value, f"{pair.name}: expired"
        f = self._funding.get(pair.perp_key)
        if f is None and not pair.dated and self.config.require_funding:
            v, s = pair.perp_key
            return f"{BasisRefusal.NO_FUNDING.value}:{v}:{s}", f"{pair.name}: no funding rate yet"
        funding = f.expected_ppb(now_ns, now_ns + horizon) if f is not None else 0
        tops = read_tops(pair, books)
        if isinstance(tops, tuple):
            return tops
        dirs = passing_directions(pair, tops, funding)
        if not dirs:
            return _TOPS_REFUSAL
        stale = stale_refusal(pair, tops, now_ns, self._max_age_ns)
        if stale is not None:
            return stale
        best: _Priced | tuple[str, str] | None = None
        for d in dirs:
            rates = self._rates(pair, d, tops, funding, horizon, now_ns)
            out = self._price(pair, d, tops, rates, balances)
            if isinstance(out, _Priced):
                if not isinstance(best, _Priced) or out.profit > best.profit:
                    best = out
            elif best is None:
                best = out
        return best if best is not None else (BasisRefusal.BELOW_MIN_ENTRY.value, "")

    def _rates(
        self,
        pair: PairParams,
        d: BasisDirection,
        tops: Tops,
        funding: int,
        horizon: int,
        now_ns: int,
    ) -> CostRates:
        hs_s = half_spread_ppb(tops.s_bid, tops.s_ask)
        hs_p = half_spread_ppb(tops.p_bid, tops.p_ask)
        out = []
        for key, sync, lat in (
            (pair.spot_key, tops.spot, pair.lat_s),
            (pair.perp_key, tops.perp, pair.lat_p),
        ):
            age = max(now_ns - sync.book.ts_recv, 0)
            sigma = self._vol[key].sigma_per_sqrt_s(now_ns)
            h = math.ceil(self.config.haircut_sigmas * sigma * math.sqrt(lat + age / NS_PER_S) * R)
            out.append((h, sigma, age))
        (h_s, sig_s, age_s), (h_p, sig_p, age_p) = out
        return CostRates(
            a_s=pair.fixed_s + hs_s + h_s,
            a_p=pair.fixed_p + hs_p + h_p - d.sign * funding,
            hs_s=hs_s,
            hs_p=hs_p,
            h_s=h_s,
            h_p=h_p,
            funding=funding,
            horizon_ns=horizon,
            sigma_s=sig_s,
            sigma_p=sig_p,
            age_s=age_s,
            age_p=age_p,
        )

    # -- pricing ------------------------------------------------------------------------------

    def _price(
        self,
        pair: PairParams,
        d: BasisDirection,
        tops: Tops,
        rates: CostRates,
        balances: Balances | None,
    ) -> _Priced | tuple[str, str]:
        cap, by_balance = self._cap(pair, d, tops, balances)
        q = depth_base(pair, d, tops, rates, cap)
        if q == 0 and by_balance is None:
            return BasisRefusal.BELOW_MIN_ENTRY.value, f"{pair.name} {d}: no unit pays with haircut"
        out: _Priced | tuple[str, str] = (BasisRefusal.SIZE_BELOW_MIN.value, "")
        for _ in range(_MAX_SHRINK):
            sized = size_legs(pair, d, tops, q)
            if isinstance(sized, tuple):
                # Too small to trade: say so by the balance when one set the size.
                return by_balance if by_balance is not None and q >= cap else sized
            ws, wp = sized.spot, sized.perp
            short = self._check_limits(pair, d, ws, wp, balances)
            if short is None:
                return self._money(pair, d, tops, rates, ws, wp)
            have, need, out = short
            # Scale down by what the limit allows, and by at least one lot.
            q = min(q * have // need, ws.base - pair.lot_base)
            if q <= 0:
                break
        return out

    def _cap(
        self, pair: PairParams, d: BasisDirection, tops: Tops, balances: Balances | None
    ) -> tuple[int, tuple[str, str] | None]:
        # Largest base size (AMOUNT_PRECISION) the notional cap and balances allow at the tops,
        # and the NO_BALANCE refusal of the balance that set it (None: the notional cap did).
        px = max(tops.s_ask * pair.mul_s, tops.p_ask * pair.mul_p)
        cap = self._max_notional * POW10[pair.pc] // px
        if balances is None:
            return cap, None
        sv, pv = pair.spot_key[0], pair.perp_key[0]
        if d is BasisDirection.LONG_SPOT:
            asset = pair.spot.quote
            have = balances.get(sv, {}).get(asset, 0)
            limits = [(max(have, 0) * POW10[pair.spot.price_precision] // tops.s_ask, sv, asset)]
        else:
            asset = pair.spot.base
            limits = [(max(balances.get(sv, {}).get(asset, 0), 0), sv, asset)]
        margin = balances.get(pv, {}).get(pair.settle, 0)
        margin = max(margin, 0) * PPM // self.config.perp_margin_ppm
        if pair.settle != pair.spot.base:
            margin = margin * POW10[pair.perp.price_precision] // tops.p_ask
        limits.append((margin, pv, pair.settle))
        code = None
        for limit, venue, asset in limits:
            if limit < cap:
                cap = limit
                code = (
                    f"{BasisRefusal.NO_BALANCE.value}:{venue}:{asset}",
                    f"{pair.name}: the {venue} {asset} balance allows {limit} base "
                    f"(1e-{AMOUNT_PRECISION})",
                )
        return cap, code

    def _check_limits(
        self,
        pair: PairParams,
        d: BasisDirection,
        ws: Walk,
        wp: Walk,
        balances: Balances | None,
    ) -> tuple[int, int, tuple[str, str]] | None:
        # (have, need, refusal) of the first limit the walked size breaks; None if none.
        cap = self._max_notional
        for notional in (ws.notional, wp.notional):
            if notional > cap:
                return (
                    cap,
                    notional,
                    (BasisRefusal.SIZE_BELOW_MIN.value, f"{pair.name}: notional cap"),
                )
        if balances is None:
            return None
        sv, pv = pair.spot_key[0], pair.perp_key[0]
        if d is BasisDirection.LONG_SPOT:
            asset, need = pair.spot.quote, ws.notional + fee_amount(ws.notional, pair.fee_s)
        else:
            asset, need = pair.spot.base, ws.base
        have = balances.get(sv, {}).get(asset, 0)
        if need > have:
            return max(have, 0), need, _no_balance(pair, sv, asset, have, need)
        margin_base = wp.base if pair.settle == pair.spot.base else wp.notional
        need = _ceil_ppm(margin_base, self.config.perp_margin_ppm) + fee_amount(
            margin_base, pair.fee_p
        )
        have = balances.get(pv, {}).get(pair.settle, 0)
        if need > have:
            return max(have, 0), need, _no_balance(pair, pv, pair.settle, have, need)
        return None

    def _money(
        self,
        pair: PairParams,
        d: BasisDirection,
        tops: Tops,
        rates: CostRates,
        ws: Walk,
        wp: Walk,
    ) -> _Priced | tuple[str, str]:
        s = d.sign
        spot_px = px_amount(pair.spot, tops.s_ask if s > 0 else tops.s_bid)
        mismatch = wp.base - ws.base
        basis = s * ((wp.notional - ws.notional) - mismatch * spot_px // UNIT)
        exit_level = ceil_rate(ws.notional, pair.exit_ppb)
        spreads = ceil_rate(ws.notional, rates.hs_s) + ceil_rate(wp.notional, rates.hs_p)
        funding = s * rates.funding * wp.notional // R
        fee_entry = (fee_amount(ws.notional, pair.fee_s), fee_amount(wp.notional, pair.fee_p))
        fee_exit = fee_entry[0] + fee_entry[1]
        haircut = (ceil_rate(ws.notional, rates.h_s), ceil_rate(wp.notional, rates.h_p))
        profit = basis - exit_level - spreads + funding - sum(fee_entry) - fee_exit - sum(haircut)
        bps = profit * 10_000 / ws.notional
        if profit <= 0 or profit < self._min_profit or bps < self.config.min_entry_bps:
            return (
                BasisRefusal.BELOW_MIN_PROFIT.value,
                f"{pair.name} {d}: expected {profit} ({bps:.3f} bps of {ws.notional}) is below "
                f"{self._min_profit} or {self.config.min_entry_bps} bps",
            )
        if pair.dated and bps * NS_PER_YEAR / rates.horizon_ns < self.config.min_annualised_bps:
            return (
                BasisRefusal.BELOW_MIN_PROFIT.value,
                f"{pair.name} {d}: {bps:.3f} bps over {rates.horizon_ns} ns is below "
                f"{self.config.min_annualised_bps} bps a year",
            )
        return _Priced(
            pair=pair,
            direction=d,
            spot=ws,
            perp=wp,
            basis=basis,
            exit_level=exit_level,
            spreads=spreads,
            funding=funding,
            fee_entry=fee_entry,
            fee_exit=fee_exit,
            haircut=haircut,
            profit=profit,
            bps=bps,
            mismatch=mismatch,
            rates=rates,
        )

    def _emit(self, p: _Priced, now_ns: int) -> Opportunity:
        self._counter += 1
        oid = opportunity_id(self._id_prefix, now_ns, self._counter)
        pair, d = p.pair, p.direction
        spot_side = Side.BUY if d is BasisDirection.LONG_SPOT else Side.SELL
        legs = (
            opportunity_leg(pair.spot, spot_side, p.spot, p.fee_entry[0]),
            opportunity_leg(pair.perp, spot_side.opposite, p.perp, p.fee_entry[1]),
        )
        r = p.rates
        horizon = r.horizon_ns
        inputs: dict[str, int | float | str] = {
            "action": "open",
            "pair": pair.name,
            "direction": d.value,
            "basis_ppb": walks_basis_ppb(p.spot, p.perp),
            "basis_amount": p.basis,
            "exit_ppb": pair.exit_ppb,
            "exit_level": p.exit_level,
            "half_spreads": p.spreads,
            "funding_expected": p.funding,
            "horizon_ns": horizon,
            "horizon_end_ns": now_ns + horizon,
            "spot_fee_ppm": pair.fee_s,
            "perp_fee_ppm": pair.fee_p,
            "exit_fees": p.fee_exit,
            "spot_haircut": p.haircut[0],
            "perp_haircut": p.haircut[1],
            "spot_haircut_ppb": r.h_s,
            "perp_haircut_ppb": r.h_p,
            "spot_sigma": r.sigma_s,
            "perp_sigma": r.sigma_p,
            "spot_age_ms": r.age_s / NS_PER_MS,
            "perp_age_ms": r.age_p / NS_PER_MS,
            "spot_half_spread_ppb": r.hs_s,
            "perp_half_spread_ppb": r.hs_p,
            "funding_ppb_over_horizon": r.funding,
            "hedge_mismatch_base": p.mismatch,
            "spot_levels": p.spot.levels,
            "perp_levels": p.perp.levels,
        }
        f = self._funding.get(pair.perp_key)
        if f is not None:
            inputs["funding_rate_ppb"] = f.rate_ppb
            if f.predicted_ppb is not None:
                inputs["funding_predicted_ppb"] = f.predicted_ppb
            inputs["funding_interval_ns"] = f.interval_ns
        if pair.dated:
            inputs["expiry_ns"] = pair.perp.expiry_ns
            inputs["annualised_basis_ppm"] = _annualised(pair, p, now_ns)
        return Opportunity(
            id=oid,
            kind="basis",
            ts=now_ns,
            symbol=pair.spot.symbol,
            quote=pair.spot.quote,
            legs=legs,
            gross_profit=p.basis - p.exit_level - p.spreads + p.funding,
            fees=sum(p.fee_entry) + p.fee_exit,
            latency_haircut=sum(p.haircut),
            expected_profit=p.profit,
            expected_profit_bps=p.bps,
            inputs=inputs,
        )


def _annualised(pair: PairParams, p: _Priced, now_ns: int) -> int:
    # The walks' average prices: spot quote per base; the future's quote per base.
    spot_px = p.spot.notional * POW10[pair.spot.price_precision] // p.spot.base
    fut_px = p.perp.notional * POW10[pair.perp.price_precision] // p.perp.base
    return annualised_basis_ppm(pair.perp, fut_px, pair.spot, spot_px, now_ns)


def _ceil_ppm(amount: int, ppm: int) -> int:
    return -(-amount * ppm // PPM)


def _no_balance(pair: PairParams, venue: str, asset: str, have: int, need: int) -> tuple[str, str]:
    return (
        f"{BasisRefusal.NO_BALANCE.value}:{venue}:{asset}",
        f"{pair.name}: {venue} {asset} balance {have} is below {need} (1e-{AMOUNT_PRECISION})",
    )
