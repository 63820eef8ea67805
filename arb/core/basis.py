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
itself is on executable prices (below), so the estimate is conservative when spreads hold.

An inverse contract (Binance COIN-M, OKX ``BTC-USD-SWAP``) quoted in USD may be paired with spot
quoted in a USD stablecoin: its USD is taken at par with the spot quote (the basis then includes
the stablecoin's deviation from USD). The inverse position is hedged at entry; its base exposure
(``contracts * cv / px``) drifts as the price moves (not rebalanced here).

Positions (``BasisBook``)
-------------------------
``open`` records the fills of an entry as a ``BasisPosition``; ``on_funding_settlement`` pays
or charges every open position on a perp (exactly, ``contracts.funding_payment``);
``exit_opportunity`` offers the closing trade (legs reversed, the position's size) when the
executable basis has converged to ``exit_bps`` (LONG_SPOT: at most ``exit_bps``; SHORT_SPOT: at
least ``-exit_bps``) or the horizon has ended; ``close`` books the exit fills and realises::

    realised = spot PnL + perp PnL (in the quote) + funding - fees

Opportunity legs
----------------
``legs = (spot leg, perp leg)``; each ``qty`` is raw at its instrument's size precision: base
units for spot, **contracts** for the perp (Binance USD-M sizes are in BTC, contract value 1);
``px`` is the raw limit price (the worst level the walk touched). ``expected_notional`` is the
leg's quote notional (an inverse contract's is ``contracts * cv`` USD) and ``fee`` its entry
taker fee valued in the quote. ``inputs["action"]`` is ``"open"`` or ``"close"``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence

import msgspec

from arb.core.book import LocalBook
from arb.core.contracts import NS_PER_YEAR
from arb.core.contracts import Rounding
from arb.core.contracts import annualised_basis_ppm
from arb.core.contracts import base_amount
from arb.core.contracts import base_to_quote
from arb.core.contracts import funding_payment
from arb.core.contracts import hedge_contracts
from arb.core.contracts import pnl_currency
from arb.core.contracts import px_amount
from arb.core.contracts import quote_notional
from arb.core.detector import Balances
from arb.core.detector import VenueParams
from arb.core.errors import InvariantViolation
from arb.core.errors import PrecisionError
from arb.core.events import FundingRate
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import PPM
from arb.core.money import fee_amount
from arb.core.numbers import POW10
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.sizing import RATE_ONE
from arb.core.sizing import ceil_raw
from arb.core.sizing import common_lot
from arb.core.sizing import floor_raw
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import NS_PER_S
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

Key = tuple[str, str]
R = RATE_ONE
UNIT = POW10[AMOUNT_PRECISION]
NS_PER_MS = 1_000_000
NS_PER_HOUR = 3_600 * NS_PER_S
DEFAULT_FUNDING_INTERVAL_NS = 8 * NS_PER_HOUR
_PPB_PER_BPS = 100_000
_MAX_ID_LEN = 24
_MAX_SHRINK = 6


class BasisDirection(enum.StrEnum):
    LONG_SPOT = "long_spot"
    """The perp is rich: buy spot, sell (short) the perp."""
    SHORT_SPOT = "short_spot"
    """The perp is cheap: sell spot (from inventory), buy the perp."""

    @property
    def sign(self) -> int:
        """+1 for LONG_SPOT, -1 for SHORT_SPOT (the spot leg's side)."""
        return 1 if self is BasisDirection.LONG_SPOT else -1


class BasisRefusal(enum.StrEnum):
    """Why the detector returned ``None``. Book codes carry ``:<venue>:<symbol>``, balance
    codes ``:<venue>:<asset>``."""

    NO_PAIR = "NO_PAIR"
    BOOK_INVALID = "BOOK_INVALID"
    STALE_BOOK = "STALE_BOOK"
    NO_FUNDING = "NO_FUNDING"
    """A perp without a funding rate yet (``require_funding``)."""
    EXPIRED = "EXPIRED"
    """A dated future at or past its expiry."""
    MAX_POSITIONS = "MAX_POSITIONS"
    BELOW_MIN_ENTRY = "BELOW_MIN_ENTRY"
    """The basis does not pay fees, exit, funding and ``min_entry_bps`` (tops or walk)."""
    BELOW_MIN_PROFIT = "BELOW_MIN_PROFIT"
    HEDGE_MISMATCH = "HEDGE_MISMATCH"
    SIZE_BELOW_MIN = "SIZE_BELOW_MIN"
    NO_BALANCE = "NO_BALANCE"


class PositionState(enum.StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    """An exit opportunity was offered and not yet booked (``close``) or dropped."""
    CLOSED = "closed"


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


# -- facts and state --------------------------------------------------------------------------


class BasisFill(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of a basis leg (or of a rollback order on it), as the venue reported it."""

    venue: str
    symbol: str
    side: Side
    px: int
    """Raw at the instrument's price precision."""
    qty: int
    """Raw at the instrument's size precision (contracts for the perp)."""
    fee: int = 0
    """At AMOUNT_PRECISION in ``fee_ccy`` (negative: a rebate)."""
    fee_ccy: str = ""


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True):
    """Funding one position received (``amount`` > 0) or paid at one settlement: a journal row."""

    position_id: str
    venue: str
    symbol: str
    ts: int
    rate_ppb: int
    mark_px: int
    position: int
    """Signed contracts (long > 0) at the settlement."""
    amount: int
    """In ``ccy`` (the perp's PnL currency: quote if linear, base if inverse), AMOUNT_PRECISION."""
    ccy: str
    amount_quote: int
    """``amount`` valued in the spot's quote (at ``mark_px`` when inverse)."""


class BasisPosition(msgspec.Struct, kw_only=True):
    """One hedged spot/perp position. Quantities signed (long > 0), raw; money at
    AMOUNT_PRECISION.

    ``spot_flow`` is the spot's quote cash flow so far (buys negative), ``perp_flow`` the perp's
    PnL flow in its PnL currency (linear: ``-side * px * qty * cv`` quote; inverse:
    ``side * qty * cv / px`` base): each is the leg's PnL once the leg is flat.
    """

    id: str
    pair: str
    direction: BasisDirection
    quote: str
    spot_qty: int = 0
    perp_qty: int = 0
    spot_entry_px: int = 0
    """Average entry price (raw, for reports; the PnL uses the flows)."""
    perp_entry_px: int = 0
    entry_ts: int
    horizon_end_ns: int
    spot_flow: int = 0
    perp_flow: int = 0
    funding: int = 0
    """Funding received so far (negative: paid), in the perp's PnL currency."""
    funding_quote: int = 0
    """The same, each payment valued in the quote at its mark."""
    settlements: int = 0
    last_funding_ts: int = 0
    fees_quote: int = 0
    """Fees paid in the quote or in the legs' base (valued at the fill price)."""
    fees: dict[str, int] = msgspec.field(default_factory=dict)
    """Every fee per currency, as charged."""
    state: PositionState = PositionState.OPEN
    exit_opportunity_id: str = ""
    exits: int = 0
    """Exit opportunities offered so far."""


class BasisClose(msgspec.Struct, frozen=True, kw_only=True):
    """A closed position's realised PnL: money at AMOUNT_PRECISION in the quote unless said."""

    position_id: str
    ts: int
    holding_ns: int
    spot_pnl: int
    perp_pnl: int
    """In ``perp_pnl_ccy``."""
    perp_pnl_ccy: str
    perp_pnl_quote: int
    conversion_px: int
    """Raw perp price the inverse PnL was valued at (0 when linear)."""
    funding_quote: int
    fees_quote: int
    realised: int
    """``spot_pnl + perp_pnl_quote + funding_quote - fees_quote``."""


# -- pairs ------------------------------------------------------------------------------------


class _Pair:
    """A spot/perp pair with every constant the pricing needs."""

    __slots__ = (
        "dated",
        "exit_ppb",
        "fee_p",
        "fee_s",
        "fixed_p",
        "fixed_s",
        "lat_p",
        "lat_s",
        "lot_base",
        "min_perp_notional",
        "min_perp_qty",
        "min_spot_notional",
        "min_spot_qty",
        "mismatch_bps",
        "mul_p",
        "mul_s",
        "name",
        "pc",
        "perp",
        "perp_key",
        "settle",
        "spot",
        "spot_key",
        "spot_unit",
    )

    def __init__(
        self,
        cfg: BasisConfig,
        name: str,
        spot: Instrument,
        perp: Instrument,
        vs: VenueParams,
        vp: VenueParams,
    ) -> None:
        _check_pair(name, spot, perp)
        self.name, self.spot, self.perp = name, spot, perp
        self.spot_key, self.perp_key = spot.key, perp.key
        self.dated = perp.kind is InstrumentKind.FUTURE
        self.fee_s, self.fee_p = vs.taker_fee_ppm, vp.taker_fee_ppm
        self.lat_s, self.lat_p = vs.order_latency_ms / 1_000.0, vp.order_latency_ms / 1_000.0
        pc = self.pc = max(spot.price_precision, perp.price_precision)
        self.mismatch_bps = cfg.max_hedge_mismatch_bps
        self.mul_s = POW10[pc - spot.price_precision]
        self.mul_p = POW10[pc - perp.price_precision]
        self.exit_ppb = round(cfg.exit_bps * _PPB_PER_BPS)
        ppb_per_ppm = R // PPM
        self.fixed_s = (
            2 * self.fee_s * ppb_per_ppm + self.exit_ppb + round(cfg.min_entry_bps * _PPB_PER_BPS)
        )
        self.fixed_p = 2 * self.fee_p * ppb_per_ppm
        self.spot_unit = POW10[AMOUNT_PRECISION - spot.size_precision]
        spot_lot = spot.lot_raw * self.spot_unit
        # Linear: one lot of both, in base; inverse: the spot lot (the perp's depends on price).
        self.lot_base = (
            spot_lot
            if perp.inverse
            else common_lot(spot_lot, base_amount(perp, 0, perp.lot_raw, round_up=False))
        )
        self.min_spot_qty = max(ceil_raw(spot.min_size, spot.size_precision), spot.lot_raw)
        self.min_perp_qty = max(ceil_raw(perp.min_size, perp.size_precision), perp.lot_raw)
        self.min_spot_notional = ceil_raw(spot.min_notional, AMOUNT_PRECISION)
        self.min_perp_notional = ceil_raw(perp.min_notional, AMOUNT_PRECISION)
        self.settle = perp.settle or pnl_currency(perp)


def _check_pair(name: str, spot: Instrument, perp: Instrument) -> None:
    if spot.kind is not InstrumentKind.SPOT or spot.inverse or spot.contract_value != "1":
        raise ValueError(f"pairs: {name}: {spot.venue}:{spot.symbol} is not spot")
    if perp.kind not in (InstrumentKind.PERP, InstrumentKind.FUTURE):
        raise ValueError(f"pairs: {name}: {perp.venue}:{perp.symbol} is not a perp or future")
    if perp.base != spot.base:
        raise ValueError(f"pairs: {name}: bases differ ({spot.base}, {perp.base})")
    if perp.quote != spot.quote and not (perp.inverse and perp.quote == "USD"):
        raise ValueError(
            f"pairs: {name}: quotes differ ({spot.quote}, {perp.quote}); only an inverse USD "
            "contract may face a spot quoted in another currency (taken at par)"
        )
    if spot.size_precision > AMOUNT_PRECISION or perp.size_precision > AMOUNT_PRECISION:
        raise ValueError(f"pairs: {name}: size precision above {AMOUNT_PRECISION}")


def _build_pairs(
    cfg: BasisConfig,
    instruments: Mapping[Key, Instrument],
    venue_params: Mapping[str, VenueParams],
    default_venue: VenueParams,
) -> dict[str, _Pair]:
    out: dict[str, _Pair] = {}
    for p in cfg.pairs:
        skey, pkey = p.keys
        spot, perp = instruments.get(skey), instruments.get(pkey)
        if spot is None or perp is None:
            missing = p.spot if spot is None else p.perp
            raise ValueError(f"pairs: {p.name}: no instrument {missing}")
        vs = venue_params.get(skey[0], default_venue)
        vp = venue_params.get(pkey[0], default_venue)
        out[p.name] = _Pair(cfg, p.name, spot, perp, vs, vp)
    return out


# -- funding ----------------------------------------------------------------------------------


class _Funding:
    """The latest funding rates of one perp and when they settle."""

    __slots__ = ("interval_ns", "predicted_ppb", "rate_ppb", "time_ns")

    def __init__(self, ev: FundingRate, predicted_ppb: int | None) -> None:
        self.rate_ppb = ev.rate_ppb
        self.predicted_ppb = predicted_ppb
        self.time_ns = ev.funding_time_ns
        iv = ev.next_funding_time_ns - ev.funding_time_ns
        self.interval_ns = iv if iv > 0 else DEFAULT_FUNDING_INTERVAL_NS

    def expected_ppb(self, now_ns: int, end_ns: int) -> int:
        """Sum of the rates expected at the settlements in ``(now, end]``."""
        t0, iv = self.time_ns, self.interval_ns
        k0 = 0 if t0 > now_ns else (now_ns - t0) // iv + 1
        if end_ns < t0 + k0 * iv:
            return 0
        n = (end_ns - t0) // iv - k0 + 1
        est = self.rate_ppb if self.predicted_ppb is None else self.predicted_ppb
        first = self.rate_ppb if k0 == 0 else est
        return first + (n - 1) * est


# -- book helpers -----------------------------------------------------------------------------


def _levels(sync: BookSync, taker: Side) -> Iterator[tuple[int, int]]:
    # (px, qty) in the order a taker on ``taker`` side meets them.
    book = sync.book
    if taker is Side.BUY:
        yield from book.asks.items()
        return
    bids = book.bids
    for px in reversed(bids):
        yield px, bids[px]


class _Walk(msgspec.Struct, frozen=True, gc=False):
    # One leg walked for an exact size: quote notional, base amount, limit (worst) price.
    qty: int
    notional: int
    base: int
    worst_px: int
    levels: int
    px_qty: int
    """sum(px * qty), raw."""


def _walk(inst: Instrument, sync: BookSync, taker: Side, qty: int) -> _Walk:
    buy = taker is Side.BUY
    if not inst.inverse:
        w = sync.book.walk(taker, qty)
        notional = quote_notional(inst, w.notional, 1, round_up=buy)
        base = base_amount(inst, 0, w.qty, round_up=False)
        return _Walk(w.qty, notional, base, w.worst_px, w.levels, w.notional)
    left, base, worst, levels, pq = qty, 0, 0, 0, 0
    for px, q in _levels(sync, taker):
        if left <= 0:
            break
        take = min(q, left)
        base += base_amount(inst, px, take, round_up=False)
        pq += px * take
        left -= take
        worst = px
        levels += 1
    filled = qty - left
    notional = quote_notional(inst, 0, filled, round_up=buy)
    return _Walk(filled, notional, base, worst, levels, pq)


class _Legs(msgspec.Struct, frozen=True, gc=False):
    spot: _Walk
    perp: _Walk


def _ceil_rate(amount: int, ppb: int) -> int:
    return -(-amount * ppb // R)


def _half_spread_ppb(bid: int, ask: int) -> int:
    return -(-(ask - bid) * R // (ask + bid))


class _Tops(msgspec.Struct, frozen=True, gc=False):
    spot: BookSync
    perp: BookSync
    s_bid: int
    s_ask: int
    p_bid: int
    p_ask: int


def _tops(pair: _Pair, books: Mapping[Key, BookSync]) -> _Tops | tuple[str, str]:
    syncs = []
    for key in (pair.spot_key, pair.perp_key):
        sync = books.get(key)
        if sync is None or not sync.valid or not sync.book.bids or not sync.book.asks:
            why = "no book" if sync is None else (sync.last_failure or "not synced or one-sided")
            code = f"{BasisRefusal.BOOK_INVALID.value}:{key[0]}:{key[1]}"
            return code, f"{key[0]} {key[1]}: {why}"
        syncs.append(sync)
    s, p = syncs
    sb, pb = s.book, p.book
    return _Tops(s, p, _best_bid(sb), _best_ask(sb), _best_bid(pb), _best_ask(pb))


def _best_bid(book: LocalBook) -> int:
    # O(1) without method calls: the bid SortedList's ``_maxes`` (as LocalBook.best_bid).
    return int(book.bids._list._maxes[-1])


def _best_ask(book: LocalBook) -> int:
    return int(book.asks._list._lists[0][0])


_TOPS_REFUSAL = (
    BasisRefusal.BELOW_MIN_ENTRY.value,
    "the tops do not pay fees both ways, half spreads, exit level, min entry and funding",
)


def _stale(pair: _Pair, tops: _Tops, now_ns: int, max_age_ns: int) -> tuple[str, str] | None:
    for key, sync in ((pair.spot_key, tops.spot), (pair.perp_key, tops.perp)):
        age = now_ns - sync.book.ts_recv
        if age > max_age_ns:
            return (
                f"{BasisRefusal.STALE_BOOK.value}:{key[0]}:{key[1]}",
                f"{key[0]} {key[1]} book was received {age / NS_PER_MS:.3f} ms ago",
            )
    return None


# -- positions --------------------------------------------------------------------------------


class BasisBook:
    """Open basis positions, their funding and their exits. Pure state; one per engine.

    Parameters
    ----------
    config, instruments, venue_params, default_venue
        As for ``BasisDetector`` (which builds one when not given one).
    id_prefix
        First characters of exit opportunity ids (``<prefix><ms>N<counter>``).
    """

    def __init__(
        self,
        config: BasisConfig,
        instruments: Mapping[Key, Instrument],
        venue_params: Mapping[str, VenueParams] | None = None,
        *,
        default_venue: VenueParams | None = None,
        id_prefix: str = "X",
    ) -> None:
        self.config = config
        self.pairs = _build_pairs(
            config, instruments, venue_params or {}, default_venue or VenueParams()
        )
        self.positions: dict[str, BasisPosition] = {}
        """Positions not closed (OPEN or CLOSING) by id, the entry opportunity's id; ``close``
        drops a position once it is flat (the ``BasisClose`` it returns is the record)."""
        self.pending: dict[str, tuple[str, BasisDirection, int]] = {}
        """Entry opportunities sent and not yet opened: id -> (pair, direction, horizon end)."""
        self._by_pair: dict[str, dict[str, BasisPosition]] = {name: {} for name in self.pairs}
        self._pending_n: dict[str, int] = dict.fromkeys(self.pairs, 0)
        self.last_refusal = ""
        self._id_prefix = id_prefix
        self._counter = 0
        self._max_age_ns = config.max_quote_age_ms * NS_PER_MS

    # -- counts -------------------------------------------------------------------------------

    def active(self, pair: str) -> int:
        """Positions of ``pair`` not closed, plus entries pending. Runtime complexity: O(1)."""
        return len(self._by_pair[pair]) + self._pending_n[pair]

    def has_open(self, pair: str) -> bool:
        """True when ``pair`` has a position not closed. Runtime complexity: O(1)."""
        return bool(self._by_pair[pair])

    def open_positions(self, pair: str | None = None) -> list[BasisPosition]:
        """Positions not closed (of ``pair``, or all), in id order."""
        src = self.positions if pair is None else self._by_pair[pair]
        return [src[k] for k in sorted(src)]

    def _add(self, pos: BasisPosition) -> None:
        self.positions[pos.id] = pos
        self._by_pair[pos.pair][pos.id] = pos

    def _take_pending(self, opportunity_id: str) -> tuple[str, BasisDirection, int] | None:
        entry = self.pending.pop(opportunity_id, None)
        if entry is not None:
            self._pending_n[entry[0]] -= 1
        return entry

    # -- entries ------------------------------------------------------------------------------

    def expect(self, opportunity: Opportunity) -> None:
        """Record an entry opportunity as sent (it counts against ``max_positions``)."""
        inputs = opportunity.inputs
        pair = str(inputs["pair"])
        if pair not in self.pairs or opportunity.id in self.pending:
            raise InvariantViolation(f"basis entry {opportunity.id}: pair {pair} or id reused")
        self.pending[opportunity.id] = (
            pair,
            BasisDirection(str(inputs["direction"])),
            int(inputs["horizon_end_ns"]),
        )
        self._pending_n[pair] += 1

    def abandon(self, opportunity_id: str) -> None:
        """Forget an entry that traded nothing."""
        self._take_pending(opportunity_id)

    def open(
        self, opportunity_id: str, fills: Sequence[BasisFill], ts: int
    ) -> BasisPosition | None:
        """Book the fills of an entry (its legs' and their rollbacks') as a position.

        Returns ``None`` (and forgets the entry) when the fills net to nothing. Raises
        ``InvariantViolation`` for an unknown entry or a fill of another instrument.
        """
        entry = self._take_pending(opportunity_id)
        if entry is None:
            raise InvariantViolation(f"basis entry {opportunity_id} is not pending")
        name, direction, horizon_end = entry
        pair = self.pairs[name]
        pos = BasisPosition(
            id=opportunity_id,
            pair=name,
            direction=direction,
            quote=pair.spot.quote,
            entry_ts=ts,
            horizon_end_ns=horizon_end,
        )
        _apply_fills(pos, pair, fills)
        if not pos.spot_qty and not pos.perp_qty:
            return None
        pos.spot_entry_px = _avg_px(fills, pair.spot_key)
        pos.perp_entry_px = _avg_px(fills, pair.perp_key)
        self._add(pos)
        return pos

    def restore(self, position: BasisPosition) -> None:
        """Put back a position read from the journal (restart recovery)."""
        if position.pair not in self.pairs:
            raise InvariantViolation(f"basis position {position.id}: unknown pair {position.pair}")
        if position.state is not PositionState.CLOSED:
            self._add(position)

    # -- funding ------------------------------------------------------------------------------

    def on_funding_settlement(
        self, perp: Key, mark_px: int, rate_ppb: int, ts: int
    ) -> list[FundingPayment]:
        """Pay or charge every position on ``perp`` for the settlement at ``ts`` (a settlement
        already booked for a position, ``ts <= last_funding_ts``, is skipped)."""
        out: list[FundingPayment] = []
        for pos in self.open_positions():
            pair = self.pairs[pos.pair]
            if pair.perp_key != perp or not pos.perp_qty or ts <= pos.last_funding_ts:
                continue
            inst = pair.perp
            amount = funding_payment(inst, pos.perp_qty, mark_px, rate_ppb)
            quote = base_to_quote(inst, amount, mark_px, round_up=False) if inst.inverse else amount
            pos.funding += amount
            pos.funding_quote += quote
            pos.settlements += 1
            pos.last_funding_ts = ts
            out.append(
                FundingPayment(
                    position_id=pos.id,
                    venue=perp[0],
                    symbol=perp[1],
                    ts=ts,
                    rate_ppb=rate_ppb,
                    mark_px=mark_px,
                    position=pos.perp_qty,
                    amount=amount,
                    ccy=pnl_currency(inst),
                    amount_quote=quote,
                )
            )
        return out

    # -- exits --------------------------------------------------------------------------------

    def exit_opportunity(
        self, position: BasisPosition, books: Mapping[Key, BookSync], now_ns: int
    ) -> Opportunity | None:
        """The closing trade of ``position`` when its executable basis has converged to
        ``exit_bps`` or its horizon has ended; ``None`` otherwise (the reason in
        ``last_refusal``). Marks the position CLOSING: no other exit is offered until
        ``close`` or ``abandon_close``."""
        if position.state is not PositionState.OPEN:
            self.last_refusal = f"NOT_OPEN: {position.state}"
            return None
        pair = self.pairs[position.pair]
        tops = _tops(pair, books)
        if isinstance(tops, tuple):
            self.last_refusal = tops[0]
            return None
        stale = _stale(pair, tops, now_ns, self._max_age_ns)
        if stale is not None:
            self.last_refusal = stale[0]
            return None
        horizon = now_ns >= position.horizon_end_ns
        # Quick test on the tops: the walk only widens the closing basis.
        if not horizon and not _top_converged(pair, position, tops):
            self.last_refusal = "NOT_CONVERGED"
            return None
        ws, wp = _exit_walks(pair, position, tops)
        if ws.qty != abs(position.spot_qty) or wp.qty != abs(position.perp_qty):
            self.last_refusal = "NO_DEPTH"
            return None
        basis = _basis_ppb(ws, wp)
        converged = (
            basis <= pair.exit_ppb
            if position.direction is BasisDirection.LONG_SPOT
            else basis >= -pair.exit_ppb
        )
        if not (converged or horizon):
            self.last_refusal = "NOT_CONVERGED"
            return None
        opp = self._exit(
            pair, position, ws, wp, basis, "converged" if converged else "horizon", now_ns
        )
        position.state = PositionState.CLOSING
        position.exit_opportunity_id = opp.id
        position.exits += 1
        self.last_refusal = ""
        return opp

    def abandon_close(self, position_id: str) -> None:
        """The exit traded nothing: the position is OPEN again."""
        pos = self.positions[position_id]
        if pos.state is PositionState.CLOSING:
            pos.state = PositionState.OPEN
            pos.exit_opportunity_id = ""

    def close(
        self,
        position_id: str,
        fills: Sequence[BasisFill],
        ts: int,
        conversion_px: int | None = None,
    ) -> BasisClose | None:
        """Book the exit fills; when both legs are flat, realise the PnL and return it.

        An inverse perp's PnL (base) is valued at ``conversion_px`` (default: the average price
        of the perp fills given). A position left not flat is OPEN again (``None``).
        """
        pos = self.positions[position_id]
        pair = self.pairs[pos.pair]
        _apply_fills(pos, pair, fills)
        if pos.spot_qty or pos.perp_qty:
            pos.state = PositionState.OPEN
            pos.exit_opportunity_id = ""
            return None
        pos.state = PositionState.CLOSED
        del self.positions[pos.id]
        del self._by_pair[pos.pair][pos.id]
        conv = 0
        perp_quote = pos.perp_flow
        if pair.perp.inverse:
            conv = conversion_px or _avg_px(fills, pair.perp_key) or pos.perp_entry_px
            if conv <= 0:
                raise InvariantViolation(f"basis position {position_id}: no conversion price")
            perp_quote = base_to_quote(pair.perp, pos.perp_flow, conv, round_up=False)
        realised = pos.spot_flow + perp_quote + pos.funding_quote - pos.fees_quote
        return BasisClose(
            position_id=pos.id,
            ts=ts,
            holding_ns=ts - pos.entry_ts,
            spot_pnl=pos.spot_flow,
            perp_pnl=pos.perp_flow,
            perp_pnl_ccy=pnl_currency(pair.perp),
            perp_pnl_quote=perp_quote,
            conversion_px=conv,
            funding_quote=pos.funding_quote,
            fees_quote=pos.fees_quote,
            realised=realised,
        )

    def _next_id(self, now_ns: int) -> str:
        self._counter += 1
        oid = f"{self._id_prefix}{now_ns // NS_PER_MS}N{self._counter}"
        if len(oid) > _MAX_ID_LEN:
            raise InvariantViolation(f"opportunity id {oid!r} is longer than {_MAX_ID_LEN}")
        return oid

    def _exit(
        self,
        pair: _Pair,
        pos: BasisPosition,
        ws: _Walk,
        wp: _Walk,
        basis_ppb: int,
        reason: str,
        now_ns: int,
    ) -> Opportunity:
        spot_side = Side.SELL if pos.spot_qty > 0 else Side.BUY
        perp_side = Side.SELL if pos.perp_qty > 0 else Side.BUY
        fee_s, fee_p = fee_amount(ws.notional, pair.fee_s), fee_amount(wp.notional, pair.fee_p)
        spot_pnl = pos.spot_flow - int(spot_side) * ws.notional
        if pair.perp.inverse:
            perp_pnl = pos.perp_flow + int(perp_side) * wp.base
            px = -(-wp.px_qty // wp.qty) if perp_side is Side.BUY else wp.px_qty // wp.qty
            perp_pnl = base_to_quote(pair.perp, perp_pnl, px, round_up=False)
        else:
            perp_pnl = pos.perp_flow - int(perp_side) * wp.notional
        gross = spot_pnl + perp_pnl + pos.funding_quote
        fees = pos.fees_quote + fee_s + fee_p
        expected = gross - fees
        opp_id = self._next_id(now_ns)
        return Opportunity(
            id=opp_id,
            kind="basis",
            ts=now_ns,
            symbol=pair.spot.symbol,
            quote=pair.spot.quote,
            legs=(
                _leg(pair.spot, spot_side, ws, fee_s),
                _leg(pair.perp, perp_side, wp, fee_p),
            ),
            gross_profit=gross,
            fees=fees,
            latency_haircut=0,
            expected_profit=expected,
            expected_profit_bps=expected * 10_000 / ws.notional if ws.notional else 0.0,
            inputs={
                "action": "close",
                "pair": pair.name,
                "position_id": pos.id,
                "direction": pos.direction.value,
                "reason": reason,
                "basis_ppb": basis_ppb,
                "exit_ppb": pair.exit_ppb,
                "horizon_end_ns": pos.horizon_end_ns,
                "funding_quote": pos.funding_quote,
                "settlements": pos.settlements,
                "spot_fee_ppm": pair.fee_s,
                "perp_fee_ppm": pair.fee_p,
            },
        )


def _top_converged(pair: _Pair, pos: BasisPosition, tops: _Tops) -> bool:
    # Closing LONG_SPOT sells spot at the bid and buys the perp at the ask (SHORT_SPOT the
    # reverse); basis = perp / spot - 1 on those prices, against the exit level.
    if pos.direction is BasisDirection.LONG_SPOT:
        s, p = tops.s_bid * pair.mul_s, tops.p_ask * pair.mul_p
        return (p - s) * R <= pair.exit_ppb * s
    s, p = tops.s_ask * pair.mul_s, tops.p_bid * pair.mul_p
    return (p - s) * R >= -pair.exit_ppb * s


def _exit_walks(pair: _Pair, pos: BasisPosition, tops: _Tops) -> tuple[_Walk, _Walk]:
    spot_side = Side.SELL if pos.spot_qty > 0 else Side.BUY
    perp_side = Side.SELL if pos.perp_qty > 0 else Side.BUY
    ws = _walk(pair.spot, tops.spot, spot_side, abs(pos.spot_qty))
    wp = _walk(pair.perp, tops.perp, perp_side, abs(pos.perp_qty))
    return ws, wp


def _basis_ppb(ws: _Walk, wp: _Walk) -> int:
    # (perp quote per base) / (spot quote per base) - 1, in ppb, on two walks.
    num = wp.notional * ws.base - wp.base * ws.notional
    den = wp.base * ws.notional
    return num * R // den if den else 0


def _leg(inst: Instrument, side: Side, w: _Walk, fee: int) -> Leg:
    return Leg(
        venue=inst.venue,
        symbol=inst.symbol,
        side=side,
        px=w.worst_px,
        qty=w.qty,
        expected_notional=w.notional,
        fee=fee,
    )


def _avg_px(fills: Sequence[BasisFill], key: Key) -> int:
    q = sum(f.qty for f in fills if (f.venue, f.symbol) == key)
    v = sum(f.px * f.qty for f in fills if (f.venue, f.symbol) == key)
    return (2 * v + q) // (2 * q) if q else 0


def _fee_quote(inst: Instrument, f: BasisFill) -> int:
    # A fee in the quote as is; in the base valued at the fill price (rounded up); else 0.
    if f.fee_ccy in (inst.quote, ""):
        return f.fee
    if f.fee_ccy == inst.base:
        return base_to_quote(inst, f.fee, f.px, round_up=True)
    return 0


def _apply_fills(pos: BasisPosition, pair: _Pair, fills: Sequence[BasisFill]) -> None:
    for f in fills:
        key = (f.venue, f.symbol)
        s = int(f.side)
        buy = f.side is Side.BUY
        if key == pair.spot_key:
            inst = pair.spot
            pos.spot_qty += s * f.qty
            pos.spot_flow -= s * quote_notional(inst, f.px, f.qty, round_up=buy)
        elif key == pair.perp_key:
            inst = pair.perp
            pos.perp_qty += s * f.qty
            if inst.inverse:
                pos.perp_flow += s * base_amount(inst, f.px, f.qty, round_up=not buy)
            else:
                pos.perp_flow -= s * quote_notional(inst, f.px, f.qty, round_up=buy)
        else:
            raise InvariantViolation(f"basis position {pos.id}: fill on {f.venue}:{f.symbol}")
        if f.fee_ccy:
            pos.fees[f.fee_ccy] = pos.fees.get(f.fee_ccy, 0) + f.fee
        pos.fees_quote += _fee_quote(inst, f)


# -- detector ---------------------------------------------------------------------------------


class _Rates(msgspec.Struct, frozen=True, gc=False):
    # Per-unit cost rates (ppb) of the spot and perp legs for one direction.
    a_s: int
    a_p: int
    hs_s: int
    hs_p: int
    h_s: int
    h_p: int
    funding: int
    horizon_ns: int
    sigma_s: float
    sigma_p: float
    age_s: int
    age_p: int


class _Priced(msgspec.Struct, frozen=True, kw_only=True):
    pair: _Pair
    direction: BasisDirection
    spot: _Walk
    perp: _Walk
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
    rates: _Rates


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
        self._by_key: dict[Key, list[_Pair]] = {}
        self._vol: dict[Key, Volatility] = {}
        self._funding: dict[Key, _Funding] = {}
        halflife = round(config.vol_halflife_ms * NS_PER_MS)
        for pair in self.book.pairs.values():
            for key in (pair.spot_key, pair.perp_key):
                self._by_key.setdefault(key, []).append(pair)
                if key not in self._vol:
                    self._vol[key] = Volatility(halflife, config.vol_prior_per_sqrt_s)

    # -- inputs -------------------------------------------------------------------------------

    def on_funding(self, ev: FundingRate, predicted_ppb: int | None = None) -> None:
        """Keep a perp's current funding rate (and the predicted next one, if the venue gives
        it: OKX ``nextFundingRate``)."""
        key = (ev.venue, ev.symbol)
        if key in self._by_key:
            self._funding[key] = _Funding(ev, predicted_ppb)

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
        pairs = self._by_key.get(key)
        if pairs is None:
            self._refuse(BasisRefusal.NO_PAIR.value, "")
            return None
        sync = books.get(key)
        if sync is not None and sync.valid:
            self._feed_vol(key, sync, now_ns)
        exit_ = self._exits(pairs, books, now_ns)
        if exit_ is not None:
            self._refuse("", "")
            return exit_
        best: _Priced | None = None
        refusal: tuple[str, str] | None = None
        for pair in pairs:
            out = self._evaluate(pair, books, now_ns, balances)
            if isinstance(out, _Priced):
                if best is None or out.profit > best.profit:
                    best = out
            elif refusal is None:
                refusal = out
        if best is None:
            if refusal is not None:
                self._refuse(*refusal)
            return None
        self._refuse("", "")
        opp = self._emit(best, now_ns)
        self.book.expect(opp)
        return opp

    def _exits(
        self, pairs: list[_Pair], books: Mapping[Key, BookSync], now_ns: int
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

    def _feed_vol(self, key: Key, sync: BookSync, now_ns: int) -> None:
        book = sync.book
        if book.bids and book.asks:
            vol = self._vol[key]
            mid = _best_bid(book) + _best_ask(book)
            if mid != vol.last_mid:
                vol.update(book.ts_recv or now_ns, mid)

    def _evaluate(
        self, pair: _Pair, books: Mapping[Key, BookSync], now_ns: int, balances: Balances | None
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
        tops = _tops(pair, books)
        if isinstance(tops, tuple):
            return tops
        dirs = _passing(pair, tops, funding)
        if not dirs:
            return _TOPS_REFUSAL
        stale = _stale(pair, tops, now_ns, self._max_age_ns)
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
        self, pair: _Pair, d: BasisDirection, tops: _Tops, funding: int, horizon: int, now_ns: int
    ) -> _Rates:
        hs_s = _half_spread_ppb(tops.s_bid, tops.s_ask)
        hs_p = _half_spread_ppb(tops.p_bid, tops.p_ask)
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
        return _Rates(
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
        pair: _Pair,
        d: BasisDirection,
        tops: _Tops,
        rates: _Rates,
        balances: Balances | None,
    ) -> _Priced | tuple[str, str]:
        cap, by_balance = self._cap(pair, d, tops, balances)
        q = _depth(pair, d, tops, rates, cap)
        if q == 0 and by_balance is None:
            return BasisRefusal.BELOW_MIN_ENTRY.value, f"{pair.name} {d}: no unit pays with haircut"
        out: _Priced | tuple[str, str] = (BasisRefusal.SIZE_BELOW_MIN.value, "")
        for _ in range(_MAX_SHRINK):
            sized = _size(pair, d, tops, q)
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
        self, pair: _Pair, d: BasisDirection, tops: _Tops, balances: Balances | None
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
        pair: _Pair,
        d: BasisDirection,
        ws: _Walk,
        wp: _Walk,
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
        pair: _Pair,
        d: BasisDirection,
        tops: _Tops,
        rates: _Rates,
        ws: _Walk,
        wp: _Walk,
    ) -> _Priced | tuple[str, str]:
        s = d.sign
        spot_px = px_amount(pair.spot, tops.s_ask if s > 0 else tops.s_bid)
        mismatch = wp.base - ws.base
        basis = s * ((wp.notional - ws.notional) - mismatch * spot_px // UNIT)
        exit_level = _ceil_rate(ws.notional, pair.exit_ppb)
        spreads = _ceil_rate(ws.notional, rates.hs_s) + _ceil_rate(wp.notional, rates.hs_p)
        funding = s * rates.funding * wp.notional // R
        fee_entry = (fee_amount(ws.notional, pair.fee_s), fee_amount(wp.notional, pair.fee_p))
        fee_exit = fee_entry[0] + fee_entry[1]
        haircut = (_ceil_rate(ws.notional, rates.h_s), _ceil_rate(wp.notional, rates.h_p))
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
        oid = f"{self._id_prefix}{now_ns // NS_PER_MS}N{self._counter}"
        if len(oid) > _MAX_ID_LEN:
            raise InvariantViolation(f"opportunity id {oid!r} is longer than {_MAX_ID_LEN}")
        pair, d = p.pair, p.direction
        spot_side = Side.BUY if d is BasisDirection.LONG_SPOT else Side.SELL
        legs = (
            _leg(pair.spot, spot_side, p.spot, p.fee_entry[0]),
            _leg(pair.perp, spot_side.opposite, p.perp, p.fee_entry[1]),
        )
        r = p.rates
        horizon = r.horizon_ns
        inputs: dict[str, int | float | str] = {
            "action": "open",
            "pair": pair.name,
            "direction": d.value,
            "basis_ppb": _basis_ppb(p.spot, p.perp),
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


def _annualised(pair: _Pair, p: _Priced, now_ns: int) -> int:
    # The walks' average prices: spot quote per base; the future's quote per base.
    spot_px = p.spot.notional * POW10[pair.spot.price_precision] // p.spot.base
    fut_px = p.perp.notional * POW10[pair.perp.price_precision] // p.perp.base
    return annualised_basis_ppm(pair.perp, fut_px, pair.spot, spot_px, now_ns)


def _ceil_ppm(amount: int, ppm: int) -> int:
    return -(-amount * ppm // PPM)


def _no_balance(pair: _Pair, venue: str, asset: str, have: int, need: int) -> tuple[str, str]:
    return (
        f"{BasisRefusal.NO_BALANCE.value}:{venue}:{asset}",
        f"{pair.name}: {venue} {asset} balance {have} is below {need} (1e-{AMOUNT_PRECISION})",
    )


def _passing(pair: _Pair, tops: _Tops, funding: int) -> list[BasisDirection]:
    # The directions whose tops pay fees both ways, half spreads, exit level, min entry and
    # funding (no haircut yet): rates in ppb, prices on the pair's common scale.
    hs_s = _half_spread_ppb(tops.s_bid, tops.s_ask)
    hs_p = _half_spread_ppb(tops.p_bid, tops.p_ask)
    a_s = pair.fixed_s + hs_s
    a_p = pair.fixed_p + hs_p
    out = []
    if tops.p_bid * pair.mul_p * (R - a_p + funding) > tops.s_ask * pair.mul_s * (R + a_s):
        out.append(BasisDirection.LONG_SPOT)
    if tops.s_bid * pair.mul_s * (R - a_s) > tops.p_ask * pair.mul_p * (R + a_p + funding):
        out.append(BasisDirection.SHORT_SPOT)
    return out


def _side_base(inst: Instrument, unit: int, px: int, qty: int) -> int:
    # Base amount (AMOUNT_PRECISION) of one book level: spot/linear exact, inverse rounded down.
    if inst.kind is InstrumentKind.SPOT:
        return qty * unit
    return base_amount(inst, px, qty, round_up=False)


def _depth(pair: _Pair, d: BasisDirection, tops: _Tops, rates: _Rates, cap: int) -> int:
    """Base (AMOUNT_PRECISION) taken by walking both books together while the marginal unit
    pays every rate, up to ``cap``."""
    long = d is BasisDirection.LONG_SPOT
    spot_taker = Side.BUY if long else Side.SELL
    s_it = _levels(tops.spot, spot_taker)
    p_it = _levels(tops.perp, spot_taker.opposite)
    unit = pair.spot_unit
    s_lvl, p_lvl = next(s_it, None), next(p_it, None)
    s_left = _side_base(pair.spot, unit, *s_lvl) if s_lvl else 0
    p_left = _side_base(pair.perp, unit, *p_lvl) if p_lvl else 0
    rs_buy, rp_sell = R + rates.a_s, R - rates.a_p
    rs_sell, rp_buy = R - rates.a_s, R + rates.a_p
    taken = 0
    while s_lvl is not None and p_lvl is not None and taken < cap:
        sp, pp = s_lvl[0] * pair.mul_s, p_lvl[0] * pair.mul_p
        pays = pp * rp_sell > sp * rs_buy if long else sp * rs_sell > pp * rp_buy
        if not pays:
            break
        take = min(s_left, p_left, cap - taken)
        taken += take
        s_left -= take
        p_left -= take
        if s_left <= 0:
            s_lvl = next(s_it, None)
            s_left = _side_base(pair.spot, unit, *s_lvl) if s_lvl else 0
        if p_left <= 0:
            p_lvl = next(p_it, None)
            p_left = _side_base(pair.perp, unit, *p_lvl) if p_lvl else 0
    return taken


def _size(pair: _Pair, d: BasisDirection, tops: _Tops, q: int) -> _Legs | tuple[str, str]:
    """Round ``q`` (base) to the lots, walk both legs for it and check the hedge and minimums."""
    spot_side = Side.BUY if d is BasisDirection.LONG_SPOT else Side.SELL
    perp_side = spot_side.opposite
    spot, perp = pair.spot, pair.perp
    if perp.inverse:
        ref = tops.p_bid if perp_side is Side.SELL else tops.p_ask
        contracts = hedge_contracts(perp, q, ref, Rounding.DOWN)
        if contracts < pair.min_perp_qty:
            return _below_min(pair, f"{contracts} contracts")
        wp = _walk(perp, tops.perp, perp_side, contracts)
        lot = pair.lot_base
        spot_qty = (2 * wp.base + lot) // (2 * lot) * spot.lot_raw
    else:
        q -= q % pair.lot_base
        if q == 0:
            return (
                BasisRefusal.HEDGE_MISMATCH.value,
                f"{pair.name}: no size up to the cap is a whole number of both lots "
                f"({pair.lot_base} base at 1e-{AMOUNT_PRECISION})",
            )
        contracts = hedge_contracts(perp, q, 0, Rounding.DOWN)
        spot_qty = q // pair.spot_unit
        wp = _walk(perp, tops.perp, perp_side, contracts)
    if spot_qty < pair.min_spot_qty or contracts < pair.min_perp_qty:
        return _below_min(pair, f"spot {spot_qty}, {contracts} contracts")
    ws = _walk(spot, tops.spot, spot_side, spot_qty)
    if ws.qty != spot_qty or wp.qty != contracts:
        return _below_min(pair, f"depth for spot {spot_qty} / {contracts} contracts")
    if ws.notional < pair.min_spot_notional or wp.notional < pair.min_perp_notional:
        return _below_min(pair, f"notional {ws.notional} / {wp.notional}")
    mismatch = abs(wp.base - ws.base)
    if mismatch * 10_000 > pair.mismatch_bps * ws.base:
        return (
            BasisRefusal.HEDGE_MISMATCH.value,
            f"{pair.name}: spot {ws.base} vs perp {wp.base} base (1e-{AMOUNT_PRECISION}) differ "
            f"by more than {pair.mismatch_bps} bps",
        )
    return _Legs(ws, wp)


def _below_min(pair: _Pair, what: str) -> tuple[str, str]:
    return BasisRefusal.SIZE_BELOW_MIN.value, f"{pair.name}: {what} is below the minimum"
