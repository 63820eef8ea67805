"""Spatial (cross-venue spot) arbitrage: buy a symbol on one venue, sell it on another.

``SpatialDetector.on_book_update`` runs on every book update, for the pairs of venues that the
updated book takes part in (precomputed), and returns an ``Opportunity`` or ``None``; the reason
for ``None`` is left in ``last_refusal`` (a code) and ``last_refusal_detail`` (for humans), so the
engine can journal it without a second evaluation. Pure: no I/O, no clock, no randomness; the
time comes in as ``now_ns``.

How a pair (buy on A, sell on B) is priced
-------------------------------------------
1. Tops, at a common price scale (``arb.core.sizing``): A's best ask < B's best bid, else
   ``NO_CROSS`` (the common case: no allocation, about as long as reading the four tops with
   ``LocalBook.best_bid``/``best_ask``, see ``bench/bench_detector.py``); then the same after
   both taker fees, else ``FEES_EXCEED_SPREAD``.
2. Both books synced (``BOOK_INVALID:<venue>:<symbol>``) and received at most
   ``max_quote_age_ms`` ago (``STALE_BOOK:<venue>:<symbol>``).
3. Latency haircut rate per leg (a fraction of the leg's notional)::

       h_X = haircut_sigmas * sigma_X * sqrt(order_latency_X + quote_age_X)

   ``sigma_X``: volatility of X's mid per sqrt(second) (``arb.core.volatility``), the times in
   seconds, ``quote_age_X = now - book_X.ts_recv``. It is the adverse move expected (in
   ``haircut_sigmas`` standard deviations) while the quote ages and the order travels.
4. Size: the two-book walk (``sizing.walk_cross``) takes A's asks and B's bids together while
   ``bid * (1 - fee_B - h_B) > ask * (1 + fee_A + h_A)``, capped by ``max_qty_base``,
   ``max_notional_quote`` (on each leg), the quote balance on A (cost + fee) and the base
   balance on B; then rounded down to a multiple of both lots, and at least both minimum sizes
   (``SIZE_BELOW_MIN``, or ``NO_BALANCE:<venue>:<asset>`` when a balance was the limit).
5. Money, at ``AMOUNT_PRECISION`` in the quote currency, always rounded against us::

       cost      = depth walk of A's asks for the size   (rounded up)
       proceeds  = depth walk of B's bids for the size   (rounded down)
       fees      = fee_amount(cost, fee_A) + fee_amount(proceeds, fee_B)
       haircut   = ceil(cost * h_A) + ceil(proceeds * h_B)
       expected  = (proceeds - cost) - fees - haircut

   ``BELOW_MIN_PROFIT`` when ``expected`` is not positive, is below ``min_profit_quote``, or is
   below ``min_profit_bps`` of the cost; ``SIZE_BELOW_MIN`` when a leg is below its venue's
   minimum notional. Limit prices are the worst level each walk touched.

Fees are valued in the quote currency on each leg's notional. A venue that charges the buy fee
in the base asset (OKX, Binance without BNB) charges the same value, but delivers
``qty * (1 - fee)`` base while the sell leg delivers ``qty``: that small base difference is
left to the executor's inventory accounting, not hedged here.

Balances are what each venue has available now: two opportunities priced on the same balance
both see all of it, so the caller reserves what an opportunity uses before the next one.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import msgspec

from arb.core.errors import InvariantViolation
from arb.core.errors import PrecisionError
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.money import AMOUNT_PRECISION
from arb.core.money import PPM
from arb.core.money import fee_amount
from arb.core.numbers import POW10
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.opportunity import most_profitable
from arb.core.opportunity import opportunity_id
from arb.core.quotes import book_age
from arb.core.quotes import quote_haircut
from arb.core.sizing import NO_CAP
from arb.core.sizing import RATE_ONE
from arb.core.sizing import CrossWalk
from arb.core.sizing import WalkCaps
from arb.core.sizing import ceil_raw
from arb.core.sizing import common_lot
from arb.core.sizing import floor_raw
from arb.core.sizing import round_down
from arb.core.sizing import walk_cross
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import Volatilities
from arb.core.volatility import Volatility

__all__ = [
    "Balances",
    "DetectorConfig",
    "DetectorRefusal",
    "SpatialDetector",
    "SymbolLimits",
    "VenueParams",
]

Key = tuple[str, str]
"""(venue, symbol)."""
Balances = Mapping[str, Mapping[str, int]]
"""Available balance per venue and asset, at AMOUNT_PRECISION."""

NS_PER_MS = 1_000_000
_PPB_PER_PPM = RATE_ONE // PPM


class DetectorRefusal(enum.StrEnum):
    """Why the detector returned ``None``. Book codes carry ``:<venue>:<symbol>``, balance
    codes ``:<venue>:<asset>``."""

    NO_PAIR = "NO_PAIR"
    """The updated book is not part of any spatial pair (unknown, not spot, or one venue)."""
    NO_CROSS = "NO_CROSS"
    """No pair's best ask is below the other venue's best bid."""
    FEES_EXCEED_SPREAD = "FEES_EXCEED_SPREAD"
    """Tops cross, but not by both taker fees."""
    BOOK_INVALID = "BOOK_INVALID"
    STALE_BOOK = "STALE_BOOK"
    BELOW_MIN_PROFIT = "BELOW_MIN_PROFIT"
    SIZE_BELOW_MIN = "SIZE_BELOW_MIN"
    NO_BALANCE = "NO_BALANCE"


_NO_PAIR = DetectorRefusal.NO_PAIR.value
_NO_CROSS = DetectorRefusal.NO_CROSS.value
_FEES = DetectorRefusal.FEES_EXCEED_SPREAD.value


# -- config -------------------------------------------------------------------------------


class VenueParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the detector needs to know about one venue."""

    taker_fee_ppm: int = 1_000
    """Taker fee in parts per million of notional (1,000 = 10 bps: OKX and Binance spot, lowest
    tier). Negative for a rebate."""
    order_latency_ms: float = 50.0
    """Expected time from decision to the order matching on the venue (used by the haircut)."""

    def __post_init__(self) -> None:
        if not -PPM // 10 <= self.taker_fee_ppm <= PPM // 10:
            raise ValueError(f"taker_fee_ppm: {self.taker_fee_ppm} is outside -100000..100000")
        if not 0.0 <= self.order_latency_ms < 3_600_000.0:
            raise ValueError(f"order_latency_ms: must be >= 0, was {self.order_latency_ms}")


class SymbolLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-symbol overrides of the detector's limits; ``""`` keeps the detector-wide value."""

    min_profit_quote: str = ""
    max_qty_base: str = ""
    max_notional_quote: str = ""


class DetectorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds, caps and latency model of the spatial detector.

    Money is an exact decimal string in the quote currency of each symbol (floats are refused);
    use ``symbols`` to set different limits for symbols quoted in different currencies.
    """

    min_profit_quote: str = "0.50"
    """Smallest expected profit (after fees and haircut) worth trading, in quote currency."""
    min_profit_bps: float = 1.0
    """Smallest expected profit worth trading, in bps of the buy leg's cost."""
    max_qty_base: str = ""
    """Largest size of one opportunity in base units (``""``: no cap beyond the notional)."""
    max_notional_quote: str = "1000"
    """Largest notional of either leg of one opportunity, in quote currency."""
    max_quote_age_ms: int = 1_000
    """Stale-book guard: refuse a book whose last update was received longer ago than this."""
    haircut_sigmas: float = 1.0
    """Standard deviations of the adverse move charged as latency haircut (0: none)."""
    vol_halflife_ms: float = 60_000.0
    """Half-life of the volatility estimate of each book's mid."""
    vol_prior_per_sqrt_s: float = 0.0
    """Volatility assumed before a book has data, per sqrt(second) of log price (BTC at 60%
    a year is about 1.1e-4); 0: none, the estimate is data-only (cautious at first)."""
    venues: dict[str, VenueParams] = {}
    """Fee and latency per venue id; venues not listed use ``default_venue``."""
    default_venue: VenueParams = VenueParams()
    symbols: dict[str, SymbolLimits] = {}
    """Per-symbol overrides of ``min_profit_quote``, ``max_qty_base``, ``max_notional_quote``."""

    def __post_init__(self) -> None:
        if self.max_quote_age_ms < 1:
            raise ValueError(f"max_quote_age_ms: must be >= 1, was {self.max_quote_age_ms}")
        for name in ("min_profit_bps", "haircut_sigmas", "vol_prior_per_sqrt_s"):
            v = getattr(self, name)
            if not 0.0 <= v < math.inf:
                raise ValueError(f"{name}: must be >= 0 and finite, was {v}")
        if not 0.0 < self.vol_halflife_ms < math.inf:
            raise ValueError(f"vol_halflife_ms: must be > 0, was {self.vol_halflife_ms}")
        for sym in (None, *self.symbols):
            self.parsed_limits(sym)

    def venue(self, venue: str) -> VenueParams:
        """The parameters of ``venue``."""
        return self.venues.get(venue, self.default_venue)

    def parsed_limits(self, symbol: str | None, qty_precision: int = 30) -> tuple[int, int, int]:
        """``(min_profit, max_notional, max_qty)`` of ``symbol`` (``None``: the detector-wide
        values): money at AMOUNT_PRECISION, the size cap at ``qty_precision`` (``NO_CAP`` when
        unset). Raises ``ValueError`` naming the key of a bad value."""
        over = self.symbols.get(symbol) if symbol is not None else None
        prefix = f"symbols.{symbol}." if over is not None else ""

        def get(name: str) -> tuple[str, str]:
            value: str = getattr(over, name) if over is not None else ""
            if value:
                return prefix + name, value
            return name, str(getattr(self, name))

        where, s = get("min_profit_quote")
        min_profit = _parse(where, s, AMOUNT_PRECISION, round_up=True, allow_zero=True)
        where, s = get("max_notional_quote")
        max_notional = _parse(where, s, AMOUNT_PRECISION, round_up=False, allow_zero=False)
        where, s = get("max_qty_base")
        max_qty = _parse(where, s, qty_precision, round_up=False, allow_zero=False) if s else NO_CAP
        return min_profit, max_notional, max_qty


def _parse(where: str, s: str, precision: int, *, round_up: bool, allow_zero: bool) -> int:
    """A decimal string limit as a raw integer; ``ValueError`` naming ``where`` if bad."""
    try:
        raw = ceil_raw(s, precision) if round_up else floor_raw(s, precision)
    except PrecisionError as e:
        raise ValueError(f"{where}: {s!r} is not a decimal number") from e
    if raw < 0 or (raw == 0 and not allow_zero):
        sign = ">=" if allow_zero else ">"
        raise ValueError(f"{where}: must be {sign} 0 (at {precision} decimals), was {s!r}")
    return raw


# -- precomputed pairs --------------------------------------------------------------------


class _LegSpec:
    """One instrument as a leg of one pair: its constants on the pair's common scales."""

    __slots__ = (
        "fee_ppb",
        "fee_ppm",
        "inst",
        "key",
        "latency_s",
        "lot",
        "min_notional",
        "min_qty",
        "notional_scale",
        "px_mul",
        "qty_mul",
    )

    def __init__(self, inst: Instrument, vp: VenueParams, px_prec: int, qty_prec: int) -> None:
        self.inst = inst
        self.key: Key = (inst.venue, inst.symbol)
        self.px_mul = POW10[px_prec - inst.price_precision]
        self.qty_mul = POW10[qty_prec - inst.size_precision]
        self.lot = inst.lot_raw * self.qty_mul
        self.min_qty = ceil_raw(inst.min_size, qty_prec)
        self.min_notional = ceil_raw(inst.min_notional, AMOUNT_PRECISION)
        self.notional_scale = inst.price_precision + inst.size_precision
        self.fee_ppm = vp.taker_fee_ppm
        self.fee_ppb = vp.taker_fee_ppm * _PPB_PER_PPM
        self.latency_s = vp.order_latency_ms / 1_000.0


class _Pair:
    """Buy on ``buy.key``, sell on ``sell.key``: every constant the pricing needs."""

    __slots__ = (
        "base",
        "buy",
        "lot",
        "max_notional",
        "max_qty",
        "min_profit",
        "min_qty",
        "notional_scale",
        "qty_prec",
        "quote",
        "sell",
        "symbol",
    )

    def __init__(self, cfg: DetectorConfig, a: Instrument, b: Instrument) -> None:
        px_prec = max(a.price_precision, b.price_precision)
        qty_prec = max(a.size_precision, b.size_precision)
        self.symbol, self.base, self.quote = a.symbol, a.base, a.quote
        self.buy = _LegSpec(a, cfg.venue(a.venue), px_prec, qty_prec)
        self.sell = _LegSpec(b, cfg.venue(b.venue), px_prec, qty_prec)
        self.qty_prec = qty_prec
        self.notional_scale = px_prec + qty_prec
        self.lot = common_lot(self.buy.lot, self.sell.lot)
        self.min_qty = max(self.buy.min_qty, self.sell.min_qty, self.lot)
        self.min_profit, cap, self.max_qty = cfg.parsed_limits(a.symbol, qty_prec)
        # A leg's money is its notional moved to AMOUNT_PRECISION (costs up, proceeds down):
        # ``cap`` on the walk's notional scale keeps both legs' money <= the cap.
        self.max_notional = _amount_to_scale(cap, self.notional_scale)


def _amount_to_scale(amount: int, scale: int) -> int:
    # Largest notional at ``scale`` whose amount (rounded up) is <= ``amount``.
    if scale <= AMOUNT_PRECISION:
        return amount // POW10[AMOUNT_PRECISION - scale]
    return amount * POW10[scale - AMOUNT_PRECISION]


def _to_amount(notional: int, scale: int, *, round_up: bool) -> int:
    if scale <= AMOUNT_PRECISION:
        return notional * POW10[AMOUNT_PRECISION - scale]
    q, r = divmod(notional, POW10[scale - AMOUNT_PRECISION])
    return q + 1 if (r and round_up) else q


_ABSENT = 1 << 256
"""Best ask of a book with no asks: dearer than any bid on any scale."""
_EMPTY: list[Any] = []


class _BookView:
    """The detector's handle on one book: O(1) tops without method calls, and its volatility.

    ``bids`` is the bid ``SortedList``'s ``_maxes`` (best bid: ``bids[-1]``) and ``asks`` the ask
    ``SortedList``'s ``_lists`` (best ask: ``asks[0][0]``), as ``LocalBook.best_bid`` /
    ``best_ask`` read them. sortedcontainers mutates both lists in place for the life of the
    ``SortedList`` (``clear`` included), ``LocalBook`` never replaces its ``SortedList``s and
    ``BookSync`` never replaces its book, so they are bound once per ``BookSync`` object and
    re-bound when the mapping holds another one. (``test_detector`` checks all three.)
    """

    __slots__ = ("asks", "bids", "key", "sync", "vol")

    def __init__(self, key: Key, vol: Volatility) -> None:
        self.key = key
        self.vol = vol
        self.sync: BookSync | None = None
        self.bids: list[Any] = _EMPTY
        self.asks: list[Any] = _EMPTY

    def bind(self, sync: BookSync | None) -> None:
        self.sync = sync
        if sync is None:
            self.bids = self.asks = _EMPTY
        else:
            self.bids = sync.book.bid_prices._maxes
            self.asks = sync.book.ask_prices._lists


Check = tuple[_BookView, int, int, _Pair, _Pair, int, int, int, int]
"""Per other venue: ``(other, mul_self, mul_other, buy_here, sell_here, fee_buy_here,
fee_sell_there, fee_buy_there, fee_sell_here)``: price multipliers to the pair's common scale,
both directions' pairs, and fee factors (``mul * (PPM +- fee)``) for the after-fees top test."""


class _Node:
    """What one book's update evaluates: its own view and the checks against other venues."""

    __slots__ = ("checks", "view")

    def __init__(self, view: _BookView) -> None:
        self.view = view
        self.checks: list[Check] = []


def _is_spatial(inst: Instrument) -> bool:
    return inst.kind is InstrumentKind.SPOT and inst.contract_value == "1" and not inst.inverse


# -- detector -----------------------------------------------------------------------------


class SpatialDetector:
    """Cross-venue spot arbitrage detector over a fixed set of instruments.

    Parameters
    ----------
    config
        Thresholds, caps, fees and latencies.
    instruments
        ``(venue, symbol) -> Instrument``. Spot instruments of a symbol listed on two or more
        venues form pairs; other instruments are ignored.
    id_prefix
        First characters of every opportunity id (1-2 alphanumerics).

    Opportunity ids are ``<prefix><now in ms>N<counter>`` (``S1700000000001N1``): alphanumeric,
    at most 24 characters up to 1e8 opportunities (client order ids add ``L<leg>A<attempt>``
    within OKX's 32), the same in every replay of the same input, and unique across restarts
    of a live engine without reading the journal (a restart is never in the same millisecond).
    """

    __slots__ = (
        "_counter",
        "_id_prefix",
        "_max_age_ns",
        "_nodes",
        "config",
        "last_refusal",
        "last_refusal_detail",
    )

    def __init__(
        self,
        config: DetectorConfig,
        instruments: Mapping[Key, Instrument],
        *,
        id_prefix: str = "S",
        vols: Volatilities | None = None,
    ) -> None:
        if not (id_prefix.isalnum() and id_prefix.isascii() and len(id_prefix) <= 2):
            raise ValueError(f"id_prefix: {id_prefix!r} must be 1-2 ASCII letters or digits")
        self.config = config
        self._id_prefix = id_prefix
        self._counter = 0
        self._max_age_ns = config.max_quote_age_ms * NS_PER_MS
        self.last_refusal = ""
        """Code of the last ``None`` (``NO_CROSS``, ``STALE_BOOK:okx:BTC-USDT``, ...)."""
        self.last_refusal_detail = ""
        """The last refusal explained (built only off the no-cross path; may be stale there)."""
        halflife_ns = round(config.vol_halflife_ms * NS_PER_MS)
        vols = Volatilities() if vols is None else vols
        self._nodes: dict[Key, _Node] = {}
        by_symbol: dict[str, list[Instrument]] = {}
        for key in sorted(instruments):
            inst = instruments[key]
            if key != inst.key:
                raise ValueError(f"instruments: {key} maps to {inst.venue}:{inst.symbol}")
            if _is_spatial(inst):
                by_symbol.setdefault(inst.symbol, []).append(inst)
        for insts in by_symbol.values():
            if len(insts) < 2:
                continue
            for inst in insts:
                vol = vols.of(inst.key, halflife_ns, config.vol_prior_per_sqrt_s)
                self._nodes[inst.key] = _Node(_BookView(inst.key, vol))
            for i, a in enumerate(insts):
                for b in insts[i + 1 :]:
                    self._add_pair(a, b)

    def _add_pair(self, a: Instrument, b: Instrument) -> None:
        if (a.base, a.quote) != (b.base, b.quote):
            raise ValueError(
                f"{a.symbol}: {a.venue} trades {a.base}/{a.quote}, {b.venue} {b.base}/{b.quote}"
            )
        ab = _Pair(self.config, a, b)  # buy on a, sell on b
        ba = _Pair(self.config, b, a)
        ma, mb = ab.buy.px_mul, ab.sell.px_mul
        fa, fb = ab.buy.fee_ppm, ab.sell.fee_ppm
        # After fees, buy on x / sell on y crosses when ask_x*(1+f_x) < bid_y*(1-f_y).
        na, nb = self._nodes[a.key], self._nodes[b.key]
        na.checks.append(
            (
                nb.view,
                ma,
                mb,
                ab,
                ba,
                ma * (PPM + fa),
                mb * (PPM - fb),
                mb * (PPM + fb),
                ma * (PPM - fa),
            )
        )
        nb.checks.append(
            (
                na.view,
                mb,
                ma,
                ba,
                ab,
                mb * (PPM + fb),
                ma * (PPM - fa),
                ma * (PPM + fa),
                mb * (PPM - fb),
            )
        )

    @property
    def pairs(self) -> list[tuple[Key, Key]]:
        """Every (buy, sell) pair of books the detector prices, sorted."""
        out = {(c[3].buy.key, c[3].sell.key) for n in self._nodes.values() for c in n.checks}
        return sorted(out)

    def volatility(self, venue: str, symbol: str) -> Volatility | None:
        """The volatility estimator of one book (``None`` when the book is in no pair)."""
        node = self._nodes.get((venue, symbol))
        return node.view.vol if node is not None else None

    @property
    def opportunities_emitted(self) -> int:
        """How many opportunities this detector has returned (the id counter)."""
        return self._counter

    # -- the hot path ----------------------------------------------------------------------

    def on_book_update(
        self,
        venue: str,
        symbol: str,
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None = None,
    ) -> Opportunity | None:
        """Evaluate the pairs that ``(venue, symbol)`` takes part in, after its book changed.

        ``books`` maps ``(venue, symbol)`` to each book's ``BookSync``; ``balances`` gives what
        each venue has available per asset at AMOUNT_PRECISION (``None``: no balance cap, for
        research runs only). Returns the most profitable opportunity, or ``None`` with the
        reason in ``last_refusal``. Feeds the updated book's mid to its volatility estimate.
        Runtime complexity: O(pairs of the book) when nothing crosses (the common case), plus
        O(levels walked) per crossing pair.
        """
        key = (venue, symbol)
        node = self._nodes.get(key)
        if node is None:
            self.last_refusal = _NO_PAIR
            return None
        view = node.view
        sync = books.get(key)
        if sync is not view.sync:
            view.bind(sync)
        bids = view.bids
        asks = view.asks
        bid = bids[-1] if bids else 0
        ask = asks[0][0] if asks else _ABSENT
        if bids and asks and bid + ask != view.vol.last_mid and sync is not None:
            view.vol.update(sync.book.ts_recv or now_ns, bid + ask)
        cands: list[_Pair] | None = None
        fees_killed = False
        get = books.get
        for other, ms, mo, buy_here, sell_here, fbh, fst, fbt, fsh in node.checks:
            osync = get(other.key)
            if osync is not other.sync:
                other.bind(osync)
            obids = other.bids
            oasks = other.asks
            obid = obids[-1] if obids else 0
            if ask * ms < obid * mo:  # buy here, sell there
                if ask * fbh < obid * fst:
                    cands = [buy_here] if cands is None else [*cands, buy_here]
                else:
                    fees_killed = True
            oask = oasks[0][0] if oasks else _ABSENT
            if oask * mo < bid * ms:  # buy there, sell here
                if oask * fbt < bid * fsh:
                    cands = [sell_here] if cands is None else [*cands, sell_here]
                else:
                    fees_killed = True
        if cands is None:
            if fees_killed:
                self.last_refusal = _FEES
                self.last_refusal_detail = "the tops cross by less than both taker fees"
            else:
                self.last_refusal = _NO_CROSS
            return None
        return self._best(cands, books, now_ns, balances)

    # -- pricing a crossed pair ------------------------------------------------------------

    def _best(
        self,
        cands: list[_Pair],
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> Opportunity | None:
        best, refusal = most_profitable(
            self._price(pair, books, now_ns, balances) for pair in cands
        )
        if best is None:
            if refusal is not None:  # always: every candidate was refused
                self.last_refusal, self.last_refusal_detail = refusal
            return None
        self.last_refusal = ""
        self.last_refusal_detail = ""
        return self._emit(best, now_ns)

    def _price(
        self,
        pair: _Pair,
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> _Priced | tuple[str, str]:
        quotes = self._quotes(pair, books, now_ns)
        if isinstance(quotes, tuple):
            return quotes
        buy_q, sell_q = quotes
        caps = self._caps(pair, balances)
        walk = walk_cross(
            buy_q.sync.book,
            sell_q.sync.book,
            ask_px_mul=pair.buy.px_mul,
            ask_qty_mul=pair.buy.qty_mul,
            bid_px_mul=pair.sell.px_mul,
            bid_qty_mul=pair.sell.qty_mul,
            buy_rate=RATE_ONE + pair.buy.fee_ppb + buy_q.haircut_ppb,
            sell_rate=RATE_ONE - pair.sell.fee_ppb - sell_q.haircut_ppb,
            caps=caps,
        )
        if walk.qty == 0 and walk.limited_by == "profit":
            return (
                DetectorRefusal.BELOW_MIN_PROFIT.value,
                f"{_name(pair)}: the best levels do not pay fees "
                f"({pair.buy.fee_ppm}+{pair.sell.fee_ppm} ppm) and haircut "
                f"({buy_q.haircut_ppb}+{sell_q.haircut_ppb} ppb)",
            )
        qty = round_down(walk.qty, pair.lot)
        if qty < pair.min_qty:
            return _size_refusal(pair, walk, qty)
        priced = _finish(pair, buy_q, sell_q, walk, qty, balances)
        if isinstance(priced, tuple):
            return priced
        return self._check_profit(pair, priced)

    def _quotes(
        self, pair: _Pair, books: Mapping[Key, BookSync], now_ns: int
    ) -> list[_Quote] | tuple[str, str]:
        out: list[_Quote] = []
        cfg = self.config
        for spec in (pair.buy, pair.sell):
            sync = books.get(spec.key)
            age = book_age(sync, spec.key, now_ns, self._max_age_ns, cfg.max_quote_age_ms)
            if isinstance(age, tuple):
                return age
            assert sync is not None  # noqa: S101 - book_age refuses a missing book
            vol = self._nodes[spec.key].view.vol
            sigma, haircut = quote_haircut(
                vol, sync, now_ns, spec.latency_s, age, cfg.haircut_sigmas
            )
            out.append(_Quote(sync, age, sigma, haircut))
        return out

    def _caps(self, pair: _Pair, balances: Balances | None) -> WalkCaps:
        if balances is None:
            return WalkCaps(max_qty=pair.max_qty, max_notional=pair.max_notional)
        quote = balances.get(pair.buy.key[0], {}).get(pair.quote, 0)
        base = balances.get(pair.sell.key[0], {}).get(pair.base, 0)
        # cost + fee <= quote balance, with cost moved from the walk's notional scale to money.
        scale = pair.notional_scale
        factor = PPM + pair.buy.fee_ppm
        budget = max(quote, 0) * PPM
        if scale <= AMOUNT_PRECISION:
            factor *= POW10[AMOUNT_PRECISION - scale]
        else:
            budget *= POW10[scale - AMOUNT_PRECISION]
        qprec = pair.qty_prec
        if qprec <= AMOUNT_PRECISION:
            max_base = max(base, 0) // POW10[AMOUNT_PRECISION - qprec]
        else:
            max_base = max(base, 0) * POW10[qprec - AMOUNT_PRECISION]
        return WalkCaps(
            max_qty=pair.max_qty,
            max_notional=pair.max_notional,
            budget=budget,
            budget_factor=factor,
            max_base=max_base,
        )

    def _check_profit(self, pair: _Pair, p: _Priced) -> _Priced | tuple[str, str]:
        cost = p.buy_walk_amount
        if p.profit <= 0 or p.profit < pair.min_profit or p.bps < self.config.min_profit_bps:
            return (
                DetectorRefusal.BELOW_MIN_PROFIT.value,
                f"{_name(pair)}: expected profit {p.profit} ({p.bps:.3f} bps of {cost}) is below "
                f"{pair.min_profit} or {self.config.min_profit_bps} bps "
                f"(at 1e-{AMOUNT_PRECISION} quote)",
            )
        return p

    def _emit(self, p: _Priced, now_ns: int) -> Opportunity:
        self._counter += 1
        oid = opportunity_id(self._id_prefix, now_ns, self._counter)
        return p.opportunity(oid, now_ns, self.config.haircut_sigmas)


# -- pricing helpers ----------------------------------------------------------------------


class _Quote(msgspec.Struct, frozen=True, gc=False):
    """One leg's book as priced: age (ns), volatility and haircut rate (ppb of notional)."""

    sync: BookSync
    age_ns: int
    sigma: float
    haircut_ppb: int


class _Priced(msgspec.Struct, frozen=True, kw_only=True):
    pair: _Pair
    buy_q: _Quote
    sell_q: _Quote
    walk: CrossWalk
    buy_leg: Leg
    sell_leg: Leg
    buy_levels: int
    sell_levels: int
    haircut_buy: int
    haircut_sell: int
    profit: int
    bps: float

    @property
    def buy_walk_amount(self) -> int:
        return self.buy_leg.expected_notional

    def opportunity(self, oid: str, now_ns: int, haircut_sigmas: float) -> Opportunity:
        pair, bq, sq = self.pair, self.buy_q, self.sell_q
        b, s = self.buy_leg, self.sell_leg
        fees = b.fee + s.fee
        haircut = self.haircut_buy + self.haircut_sell
        inputs: dict[str, int | float | str] = {
            "buy_venue": b.venue,
            "sell_venue": s.venue,
            "buy_best_ask": _best_ask(bq.sync),
            "sell_best_bid": _best_bid(sq.sync),
            "buy_px_precision": pair.buy.inst.price_precision,
            "sell_px_precision": pair.sell.inst.price_precision,
            "buy_age_ms": bq.age_ns / NS_PER_MS,
            "sell_age_ms": sq.age_ns / NS_PER_MS,
            "buy_latency_ms": pair.buy.latency_s * 1_000.0,
            "sell_latency_ms": pair.sell.latency_s * 1_000.0,
            "buy_sigma": bq.sigma,
            "sell_sigma": sq.sigma,
            "haircut_sigmas": haircut_sigmas,
            "buy_haircut_ppb": bq.haircut_ppb,
            "sell_haircut_ppb": sq.haircut_ppb,
            "buy_haircut": self.haircut_buy,
            "sell_haircut": self.haircut_sell,
            "buy_fee_ppm": pair.buy.fee_ppm,
            "sell_fee_ppm": pair.sell.fee_ppm,
            "buy_levels": self.buy_levels,
            "sell_levels": self.sell_levels,
            "walk_qty": self.walk.qty,
            "qty_precision": pair.qty_prec,
            "limited_by": self.walk.limited_by,
        }
        return Opportunity(
            id=oid,
            kind="spatial",
            ts=now_ns,
            symbol=pair.symbol,
            quote=pair.quote,
            legs=(b, s),
            gross_profit=s.expected_notional - b.expected_notional,
            fees=fees,
            latency_haircut=haircut,
            expected_profit=self.profit,
            expected_profit_bps=self.bps,
            inputs=inputs,
        )


def _name(pair: _Pair) -> str:
    return f"{pair.symbol} buy {pair.buy.key[0]} sell {pair.sell.key[0]}"


def _best_ask(sync: BookSync) -> int:
    lists = sync.book.ask_prices._lists
    return int(lists[0][0]) if lists else 0


def _best_bid(sync: BookSync) -> int:
    maxes = sync.book.bid_prices._maxes
    return int(maxes[-1]) if maxes else 0


def _size_refusal(pair: _Pair, walk: CrossWalk, qty: int) -> tuple[str, str]:
    detail = (
        f"{_name(pair)}: size {qty} (walk {walk.qty}, limited by {walk.limited_by}) is below "
        f"the minimum {pair.min_qty} (1e-{pair.qty_prec} {pair.base}, lot {pair.lot})"
    )
    if walk.limited_by == "quote_balance":
        return f"{DetectorRefusal.NO_BALANCE.value}:{pair.buy.key[0]}:{pair.quote}", detail
    if walk.limited_by == "base_balance":
        return f"{DetectorRefusal.NO_BALANCE.value}:{pair.sell.key[0]}:{pair.base}", detail
    return DetectorRefusal.SIZE_BELOW_MIN.value, detail


def _finish(
    pair: _Pair,
    buy_q: _Quote,
    sell_q: _Quote,
    walk: CrossWalk,
    qty: int,
    balances: Balances | None,
) -> _Priced | tuple[str, str]:
    """Walk both books for ``qty`` (common scale) and price it; shrink by a lot if the exact
    quote balance check fails (only possible when notionals are finer than AMOUNT_PRECISION)."""
    buy, sell = pair.buy, pair.sell
    quote_bal = NO_CAP
    if balances is not None:
        quote_bal = balances.get(buy.key[0], {}).get(pair.quote, 0)
    while qty >= pair.min_qty:
        bw = buy_q.sync.book.walk(Side.BUY, qty // buy.qty_mul)
        sw = sell_q.sync.book.walk(Side.SELL, qty // sell.qty_mul)
        if bw.qty * buy.qty_mul != qty or sw.qty * sell.qty_mul != qty:
            raise InvariantViolation(f"{_name(pair)}: walk of {qty} found less depth")
        cost = _to_amount(bw.notional, buy.notional_scale, round_up=True)
        fee_buy = fee_amount(cost, buy.fee_ppm)
        if cost + fee_buy > quote_bal:
            qty -= pair.lot
            continue
        proceeds = _to_amount(sw.notional, sell.notional_scale, round_up=False)
        if cost < buy.min_notional or proceeds < sell.min_notional:
            return (
                DetectorRefusal.SIZE_BELOW_MIN.value,
                f"{_name(pair)}: notional {cost} / {proceeds} is below the minimum "
                f"{buy.min_notional} / {sell.min_notional} (1e-{AMOUNT_PRECISION} {pair.quote})",
            )
        fee_sell = fee_amount(proceeds, sell.fee_ppm)
        hc_buy = _ceil_rate(cost, buy_q.haircut_ppb)
        hc_sell = _ceil_rate(proceeds, sell_q.haircut_ppb)
        profit = proceeds - cost - fee_buy - fee_sell - hc_buy - hc_sell
        return _Priced(
            pair=pair,
            buy_q=buy_q,
            sell_q=sell_q,
            walk=walk,
            buy_leg=Leg(
                venue=buy.key[0],
                symbol=pair.symbol,
                side=Side.BUY,
                px=bw.worst_px,
                qty=bw.qty,
                expected_notional=cost,
                fee=fee_buy,
            ),
            sell_leg=Leg(
                venue=sell.key[0],
                symbol=pair.symbol,
                side=Side.SELL,
                px=sw.worst_px,
                qty=sw.qty,
                expected_notional=proceeds,
                fee=fee_sell,
            ),
            buy_levels=bw.levels,
            sell_levels=sw.levels,
            haircut_buy=hc_buy,
            haircut_sell=hc_sell,
            profit=profit,
            bps=profit * 10_000 / cost if cost else 0.0,
        )
    return (
        f"{DetectorRefusal.NO_BALANCE.value}:{buy.key[0]}:{pair.quote}",
        f"{_name(pair)}: no size >= {pair.min_qty} fits the {pair.quote} balance with fees",
    )


def _ceil_rate(amount: int, ppb: int) -> int:
    return -(-amount * ppb // RATE_ONE)
