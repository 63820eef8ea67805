"""Triangular arbitrage on one venue: home -> A -> B -> home over three spot pairs.

``TriangularDetector`` finds, once at construction, every cycle of three spot instruments of
one venue that starts and ends in the home currency (``TriangularConfig.quote``): with pairs
between home and A, A and B, B and home (``BTC-USDT``, ``ETH-BTC``, ``ETH-USDT``) there are two
cycles, one per direction (USDT -> BTC -> ETH -> USDT and USDT -> ETH -> BTC -> USDT). Each
step converts what the previous one delivered: a **buy** when the pair's base is the asset
received (``BTC-USDT`` from USDT), a **sell** when it is the asset given. Which pair exists
(``ETH-BTC`` or ``BTC-ETH``) decides the side; both are handled.

``on_book_update`` evaluates only the cycles the updated book is in (an index built at
construction) and returns the most profitable ``Opportunity`` (``kind="triangular"``, three
legs) or ``None`` with a code in ``last_refusal``. Pure: no I/O, no clock; time is ``now_ns``.

How a cycle is priced
---------------------
1. Tops, exactly in integers: the product of the three best rates (a buy converts at
   ``1 / ask``, a sell at ``bid``) after the three taker fees must exceed 1, else
   ``NO_EDGE`` (not even before fees) or ``FEES_EXCEED_EDGE``. The common case costs three
   top reads and two integer products per cycle.
2. Every book synced (``BOOK_INVALID:<venue>:<symbol>``) and fresh (``STALE_BOOK:...``), and
   a latency haircut rate per leg, as the spatial detector charges it::

       h_i = haircut_sigmas * sigma_i * sqrt(order_latency_venue + quote_age_i)

3. Size: the three books are walked together, in home units, while the marginal cycle rate
   ``prod(rate_i * (1 - fee_i) * (1 - h_i))`` exceeds 1 (the three-book version of the
   spatial two-book walk), capped by ``max_notional_quote`` and the balances: the legs are
   fired at once, so each leg spends what the venue already holds of its input asset (home
   for leg 1, A for leg 2, B for leg 3). This search is in floats (it only picks a size);
   the money below is exact.
4. The chain, exactly, at AMOUNT_PRECISION in each asset: leg 1 is walked for the home
   amount found, leg 2 spends what leg 1 delivers and leg 3 sells what leg 2 delivers, each
   walked on its book, its fee taken (see *Fees*), its size rounded down to its lot. Then leg
   1 is resized to the least multiple of its lot that delivers what leg 2 spends, so the
   quantities chain: **the asset bought by one leg is what the next one sells, to within one
   lot of the delivering leg**. That rounding residue (of A after leg 2, of B after leg 3)
   stays as a small inventory and is counted in the profit at the cycle's own rate (A at what
   leg 1 paid for it, B at what leg 3 got for it, fees included, rounded down).
5. Each leg at least its instrument's minimum size and notional (``SIZE_BELOW_MIN``), and
   within the balance of its input asset (with a buy's reservation at its limit price plus
   fee; ``NO_BALANCE:<venue>:<asset>``).
6. Profit, in home currency at AMOUNT_PRECISION, always rounded against us::

       expected = home out (leg 3, after fee) - home in (leg 1, with fee)
                  + residues at their rate - sum(ceil(home notional_i * h_i))

   ``BELOW_MIN_PROFIT`` when it is not positive or below ``min_profit_quote`` or
   ``min_profit_bps`` of the home in; ``ROUNDING_KILLS_PROFIT`` when the unrounded walk (step
   3) did clear those thresholds, i.e. lot rounding and minimum sizes carried through the
   cycle are what took the profit away.

Fees
----
The taker fee is ``VenueParams.taker_fee_ppm`` of each leg's notional. By default it is
charged in the instrument's quote currency (arb's simulated venue): a buy pays notional + fee,
a sell receives notional - fee. Venues listed in ``fee_in_received`` (OKX spot, Binance
without BNB) take it out of the asset a leg receives: a buy delivers ``qty * (1 - fee)``.

Legs of the ``Opportunity``: ``px`` is the worst level each walk touched (the IOC limit),
``qty`` the rounded size; ``expected_notional`` and ``fee`` are **valued in the home
currency** (the opportunity's ``quote``), so that risk limits in the home currency apply to
all three legs; each leg's own-currency amounts are in ``inputs`` (``leg<i>_spent``,
``leg<i>_received``, ``leg<i>_fee`` with ``leg<i>_in``/``_out``/``_fee_asset``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import msgspec

from arb.core.detector import Balances
from arb.core.detector import VenueParams
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
from arb.core.sizing import ceil_raw
from arb.core.sizing import floor_raw
from arb.core.sync import BookSync
from arb.core.types import Side
from arb.core.volatility import Volatilities
from arb.core.volatility import Volatility

__all__ = [
    "Cycle",
    "TriangularConfig",
    "TriangularDetector",
    "TriangularRefusal",
    "find_cycles",
]

Key = tuple[str, str]
NS_PER_MS = 1_000_000
UNIT = POW10[AMOUNT_PRECISION]
_MAX_TRIMS = 8  # balance / minimum re-fits of one chain before giving up


class TriangularRefusal(enum.StrEnum):
    """Why the detector returned ``None``. Book codes carry ``:<venue>:<symbol>``, balance
    codes ``:<venue>:<asset>``."""

    NO_CYCLE = "NO_CYCLE"
    """The updated book is in no cycle."""
    NO_EDGE = "NO_EDGE"
    """No cycle's top-of-book rates multiply to more than 1."""
    FEES_EXCEED_EDGE = "FEES_EXCEED_EDGE"
    """A cycle's tops pay before fees, not after the three taker fees."""
    BOOK_INVALID = "BOOK_INVALID"
    STALE_BOOK = "STALE_BOOK"
    BELOW_MIN_PROFIT = "BELOW_MIN_PROFIT"
    ROUNDING_KILLS_PROFIT = "ROUNDING_KILLS_PROFIT"
    """The unrounded walk cleared the profit thresholds; lot and minimum rounding did not."""
    SIZE_BELOW_MIN = "SIZE_BELOW_MIN"
    NO_BALANCE = "NO_BALANCE"


_NO_CYCLE = TriangularRefusal.NO_CYCLE.value
_NO_EDGE = TriangularRefusal.NO_EDGE.value
_FEES = TriangularRefusal.FEES_EXCEED_EDGE.value
_SIZE = TriangularRefusal.SIZE_BELOW_MIN.value


class TriangularConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cycles, thresholds, caps and latency model of the triangular detector (``[triangular]``).

    Money is an exact decimal string in the home currency ``quote`` (floats are refused).
    Fees and order latencies come from each venue's ``VenueParams`` (one owner per number).
    """

    venues: list[str] = []
    """Venues searched for cycles (``[]``: every venue of the instruments)."""
    quote: str = "USDT"
    """Home currency: where each cycle starts and ends and the profit lands."""
    min_profit_quote: str = "0.50"
    """Smallest expected profit (after fees, haircut and rounding) worth trading."""
    min_profit_bps: float = 1.0
    """Smallest expected profit, in bps of the home amount spent by leg 1."""
    max_notional_quote: str = "1000"
    """Largest home amount one cycle spends."""
    max_quote_age_ms: int = 1_000
    """Stale-book guard: refuse a book whose last update was received longer ago than this."""
    haircut_sigmas: float = 1.0
    """Standard deviations of the adverse move charged as latency haircut per leg (0: none)."""
    vol_halflife_ms: float = 60_000.0
    """Half-life of the volatility estimate of each book's mid."""
    vol_prior_per_sqrt_s: float = 0.0
    """Volatility assumed before a book has data, per sqrt(second) of log price."""
    fee_in_received: list[str] = []
    """Venues that take the taker fee out of the asset a leg receives (OKX spot, Binance
    without BNB); the others charge it in the instrument's quote currency (the simulated
    venue)."""

    def __post_init__(self) -> None:
        if not self.quote:
            raise ValueError("quote: must name the home currency, was empty")
        if self.max_quote_age_ms < 1:
            raise ValueError(f"max_quote_age_ms: must be >= 1, was {self.max_quote_age_ms}")
        for name in ("min_profit_bps", "haircut_sigmas", "vol_prior_per_sqrt_s"):
            v = getattr(self, name)
            if not 0.0 <= v < math.inf:
                raise ValueError(f"{name}: must be >= 0 and finite, was {v}")
        if not 0.0 < self.vol_halflife_ms < math.inf:
            raise ValueError(f"vol_halflife_ms: must be > 0, was {self.vol_halflife_ms}")
        self.limits()

    def limits(self) -> tuple[int, int]:
        """``(min_profit, max_notional)`` at AMOUNT_PRECISION; ``ValueError`` naming the key."""
        return (
            _parse("min_profit_quote", self.min_profit_quote, round_up=True, allow_zero=True),
            _parse("max_notional_quote", self.max_notional_quote, round_up=False, allow_zero=False),
        )


def _parse(where: str, s: str, *, round_up: bool, allow_zero: bool) -> int:
    try:
        raw = ceil_raw(s, AMOUNT_PRECISION) if round_up else floor_raw(s, AMOUNT_PRECISION)
    except PrecisionError as e:
        raise ValueError(f"{where}: {s!r} is not a decimal number") from e
    if raw < 0 or (raw == 0 and not allow_zero):
        raise ValueError(f"{where}: must be {'>=' if allow_zero else '>'} 0, was {s!r}")
    return raw


# -- precomputed cycles -------------------------------------------------------------------


class _Step:
    """One leg of a cycle: converts ``src`` into ``dst`` on ``inst`` (a buy or a sell)."""

    __slots__ = (
        "buy",
        "dst",
        "fee_in_src",
        "fee_ppm",
        "inst",
        "key",
        "latency_s",
        "lot",
        "min_notional",
        "min_qty",
        "px_one",
        "scale",
        "size_mul",
        "src",
    )

    def __init__(self, inst: Instrument, src: str, vp: VenueParams, received: bool) -> None:
        if inst.size_precision > AMOUNT_PRECISION:
            raise ValueError(f"{inst.venue}:{inst.symbol}: sizes finer than 1e-18")
        self.inst = inst
        self.key: Key = (inst.venue, inst.symbol)
        self.buy = inst.quote == src
        self.src = src
        self.dst = inst.base if self.buy else inst.quote
        self.fee_ppm = vp.taker_fee_ppm
        # A buy charged in the quote pays the fee on top of what it spends.
        self.fee_in_src = self.buy and not received
        self.latency_s = vp.order_latency_ms / 1_000.0
        self.px_one = POW10[inst.price_precision]
        self.scale = inst.price_precision + inst.size_precision
        self.size_mul = POW10[AMOUNT_PRECISION - inst.size_precision]
        self.lot = inst.lot_raw
        mq = max(ceil_raw(inst.min_size, inst.size_precision), self.lot)
        self.min_qty = -(-mq // self.lot) * self.lot
        self.min_notional = ceil_raw(inst.min_notional, AMOUNT_PRECISION)

    @property
    def side(self) -> Side:
        return Side.BUY if self.buy else Side.SELL

    @property
    def fee_asset(self) -> str:
        return self.src if self.fee_in_src else self.dst


class Cycle:
    """Three legs on one venue that start and end in ``home``: ``home -> a -> b -> home``."""

    __slots__ = (
        "_c_den",
        "_c_num",
        "_g_den",
        "_g_num",
        "a",
        "b",
        "home",
        "name",
        "steps",
        "top_keys",
        "venue",
    )

    def __init__(self, steps: tuple[_Step, _Step, _Step], home: str) -> None:
        self.steps = steps
        self.home = home
        self.venue = steps[0].key[0]
        self.a = steps[0].dst
        self.b = steps[1].dst
        self.name = f"{home}>{self.a}>{self.b}>{home}"
        self.top_keys: tuple[tuple[Key, bool], ...] = tuple((s.key, s.buy) for s in steps)
        # Top test: prod(rate_i) > 1 with rate = px_one / ask (buy) or bid / px_one (sell);
        # constant factors folded once, the tops multiplied in on every evaluation.
        g_num = g_den = c_num = c_den = 1
        for s in steps:
            if s.buy:
                g_num *= s.px_one
                fn, fd = (PPM, PPM + s.fee_ppm) if s.fee_in_src else (PPM - s.fee_ppm, PPM)
            else:
                g_den *= s.px_one
                fn, fd = PPM - s.fee_ppm, PPM
            c_num *= fn
            c_den *= fd
        self._g_num, self._g_den = g_num, g_den
        self._c_num, self._c_den = g_num * c_num, g_den * c_den

    @property
    def keys(self) -> tuple[Key, Key, Key]:
        """The three books, in leg order."""
        s = self.steps
        return (s[0].key, s[1].key, s[2].key)

    def __repr__(self) -> str:
        return f"Cycle({self.venue} {self.name}: {', '.join(k[1] for k in self.keys)})"


def _is_spot(inst: Instrument) -> bool:
    return inst.kind is InstrumentKind.SPOT and inst.contract_value == "1" and not inst.inverse


def find_cycles(
    instruments: Sequence[Instrument],
    home: str,
    venue_params: Mapping[str, VenueParams],
    fee_in_received: Sequence[str] = (),
) -> list[Cycle]:
    """Every three-leg cycle ``home -> A -> B -> home`` over the spot ``instruments`` of each
    venue, both directions, sorted by (venue, name). Runtime complexity: O(assets^2) per venue.
    """
    by_venue: dict[str, dict[frozenset[str], Instrument]] = {}
    for inst in sorted(instruments, key=lambda i: i.key):
        if _is_spot(inst) and inst.base != inst.quote:
            by_venue.setdefault(inst.venue, {}).setdefault(frozenset((inst.base, inst.quote)), inst)
    out: list[Cycle] = []
    default = VenueParams()
    for venue in sorted(by_venue):
        pairs = by_venue[venue]
        vp = venue_params.get(venue, default)
        received = venue in fee_in_received
        others = sorted({a for p in pairs if home in p for a in p if a != home})
        for i, a in enumerate(others):
            for b in others[i + 1 :]:
                ab = pairs.get(frozenset((a, b)))
                if ab is None:
                    continue
                ha, hb = pairs[frozenset((home, a))], pairs[frozenset((home, b))]
                for x, y, hx, yh in ((a, b, ha, hb), (b, a, hb, ha)):
                    steps = (
                        _Step(hx, home, vp, received),
                        _Step(ab, x, vp, received),
                        _Step(yh, y, vp, received),
                    )
                    out.append(Cycle(steps, home))
    out.sort(key=lambda c: (c.venue, c.name))
    return out


class _Triangle:
    """The two cycles (one per direction) over the same three books: one read of the six tops
    tests both. ``k0..k2`` are ``fwd``'s books in leg order; ``s0..s2`` whether ``fwd``
    sells on each (``rev`` does the opposite on every book)."""

    __slots__ = (
        "fc",
        "fg",
        "fwd",
        "k0",
        "k1",
        "k2",
        "keys",
        "lone",
        "qmax",
        "rc",
        "rev",
        "rg",
        "s0",
        "s1",
        "s2",
        "syncs",
        "tops",
        "wmax",
    )

    def __init__(self, fwd: Cycle, rev: Cycle) -> None:
        self.fwd, self.rev = fwd, rev
        (self.k0, b0), (self.k1, b1), (self.k2, b2) = fwd.top_keys
        self.s0, self.s1, self.s2 = not b0, not b1, not b2
        # float rate constants: after fees (c) and before (g), px scales folded in
        self.fc = fwd._c_num / fwd._c_den
        self.fg = fwd._g_num / fwd._g_den
        self.rc = rev._c_num / rev._c_den
        self.rg = rev._g_num / rev._g_den
        # ``quiet``: one cycle sells on one book (``lone``) and buys on the other two, the
        # other cycle the reverse (as every triangle whose home currency is the quote of its
        # home pairs). ``qmax`` / ``wmax``: the larger of the after / before fees constants of
        # the cycle that sells on ``lone`` / of the other one. None: ``quiet`` is never sure.
        self.keys = (self.k0, self.k1, self.k2)
        sells = [k for k, sell in zip(self.keys, (self.s0, self.s1, self.s2), strict=True) if sell]
        fmax, rmax = max(self.fc, self.fg), max(self.rc, self.rg)
        self.lone: Key | None = None
        self.qmax = self.wmax = 0.0
        if len(sells) == 1:
            self.lone, self.qmax, self.wmax = sells[0], fmax, rmax
        elif len(sells) == 2:
            (self.lone,) = (k for k in self.keys if k not in sells)
            self.qmax, self.wmax = rmax, fmax
        # The three books as last bound (``bind``) and their LocalBooks' sorted lists (best
        # bid ``m[-1]``, best ask ``l[0][0]``; mutated in place for the life of each book, as
        # the spatial detector's ``_BookView`` holds them), ``lone``'s first.
        self.syncs: tuple[BookSync | None, ...] = (None, None, None)
        self.tops: tuple[list[Any], ...] = ()

    def bind(self, get: Callable[[Key], BookSync | None]) -> None:
        """Bind the books ``get`` (a ``books.get``) returns now."""
        self.syncs = syncs = (get(self.k0), get(self.k1), get(self.k2))
        self.tops = ()
        if self.lone is None or None in syncs:
            return
        order = sorted(range(3), key=lambda i: self.keys[i] != self.lone)
        tops: list[list[Any]] = []
        for i in order:
            book = syncs[i].book  # type: ignore[union-attr]
            tops += (book._bid_maxes, book._ask_lists)
        self.tops = tuple(tops)

    def quiet(self, get: Callable[[Key], BookSync | None]) -> bool:
        """True when neither cycle's tops pay even before fees, by the float test of
        ``edges`` (where it returns ``(-1, -1)``); False: ask ``edges``. ``get`` is the
        ``books.get`` of the update; the books are re-bound when one is not the bound object.
        """
        k0, k1, k2 = self.keys
        y0, y1, y2 = self.syncs
        if get(k0) is not y0 or get(k1) is not y1 or get(k2) is not y2:
            self.bind(get)
        try:
            m0, l0, m1, l1, m2, l2 = self.tops
            b0, a0, b1, a1, b2, a2 = m0[-1], l0[0][0], m1[-1], l1[0][0], m2[-1], l2[0][0]
        except (ValueError, IndexError):  # not a one-sell triangle, a book or a side missing
            return False
        # ``_classify`` gives -1 when ``x * c`` and ``x * g`` are both below _LOW; c and g are
        # > 0 (fees within +-10%), so that is ``x * max(c, g)`` below _LOW. The rates: sell
        # on the lone book, buy on the others (``q``), and the reverse (``w``).
        q: float = b0 / (a1 * a2) * self.qmax
        return q < _LOW and b1 * b2 / a0 * self.wmax < _LOW

    def edges(self, books: Mapping[Key, BookSync]) -> tuple[int, int]:
        """``_top_edge`` of (fwd, rev): floats first, exact integers only near the edge."""
        get = books.get
        y0, y1, y2 = get(self.k0), get(self.k1), get(self.k2)
        if y0 is None or y1 is None or y2 is None:
            return (-1, -1)
        o0, o1, o2 = y0.book, y1.book, y2.book
        m0, m1, m2 = o0._bid_maxes, o1._bid_maxes, o2._bid_maxes
        l0, l1, l2 = o0._ask_lists, o1._ask_lists, o2._ask_lists
        if not (m0 and m1 and m2 and l0 and l1 and l2):  # a side is empty: exact path
            return (_top_edge(self.fwd, books), _top_edge(self.rev, books))
        b0, b1, b2 = m0[-1], m1[-1], m2[-1]
        i0, i1, i2 = 1.0 / l0[0][0], 1.0 / l1[0][0], 1.0 / l2[0][0]
        f = (b0 if self.s0 else i0) * (b1 if self.s1 else i1) * (b2 if self.s2 else i2)
        r = (i0 if self.s0 else b0) * (i1 if self.s1 else b1) * (i2 if self.s2 else b2)
        return (
            _classify(f * self.fc, f * self.fg, self.fwd, books),
            _classify(r * self.rc, r * self.rg, self.rev, books),
        )


_EPS = 1e-9  # floats decide only this far from the edge (their error is ~1e-15)
_LOW = 1.0 - _EPS
_EMPTY: list[Any] = []


def _lists(sync: BookSync | None) -> tuple[list[Any], list[Any]]:
    if sync is None:
        return _EMPTY, _EMPTY
    return sync.book._bid_maxes, sync.book._ask_lists


def _classify(after: float, before: float, c: Cycle, books: Mapping[Key, BookSync]) -> int:
    if after > 1.0 + _EPS:
        return 1
    if after < _LOW:
        if before < _LOW:
            return -1
        if before > 1.0 + _EPS:
            return 0
    return _top_edge(c, books)


def _triangles(cycles: list[Cycle]) -> list[_Triangle]:
    by_books: dict[frozenset[Key], list[Cycle]] = {}
    for c in cycles:
        by_books.setdefault(frozenset(c.keys), []).append(c)
    out = []
    for group in by_books.values():
        if len(group) != 2:  # pragma: no cover - find_cycles makes both directions
            raise InvariantViolation(f"cycles {group} do not pair up")
        out.append(_Triangle(group[0], group[1]))
    return out


# -- the detector -------------------------------------------------------------------------


class TriangularDetector:
    """Triangular arbitrage detector over a fixed set of instruments.

    Parameters
    ----------
    config
        Home currency, venues, thresholds, caps and latency model.
    instruments
        ``(venue, symbol) -> Instrument``; spot instruments of the configured venues form
        cycles, the others are ignored.
    venue_params
        Taker fee and order latency per venue id (missing venues: ``VenueParams()``).
    id_prefix
        First characters of every opportunity id (1-2 ASCII letters or digits).

    Opportunity ids are ``<prefix><now in ms>N<counter>`` like the spatial detector's; give
    the two detectors different prefixes.
    """

    __slots__ = (
        "_counter",
        "_id_prefix",
        "_max_age_ns",
        "_max_notional",
        "_min_profit",
        "_tris",
        "_vols",
        "by_book",
        "config",
        "cycles",
        "evaluated",
        "last_refusal",
        "last_refusal_detail",
    )

    def __init__(
        self,
        config: TriangularConfig,
        instruments: Mapping[Key, Instrument],
        venue_params: Mapping[str, VenueParams] | None = None,
        *,
        id_prefix: str = "T",
        vols: Volatilities | None = None,
    ) -> None:
        if not (id_prefix.isalnum() and id_prefix.isascii() and len(id_prefix) <= 2):
            raise ValueError(f"id_prefix: {id_prefix!r} must be 1-2 ASCII letters or digits")
        for key, inst in instruments.items():
            if key != inst.key:
                raise ValueError(f"instruments: {key} maps to {inst.venue}:{inst.symbol}")
        self.config = config
        self._id_prefix = id_prefix
        self._counter = 0
        self._max_age_ns = config.max_quote_age_ms * NS_PER_MS
        self._min_profit, self._max_notional = config.limits()
        wanted = set(config.venues)
        insts = [i for i in instruments.values() if not wanted or i.venue in wanted]
        self.cycles = find_cycles(insts, config.quote, venue_params or {}, config.fee_in_received)
        """Every cycle, sorted by venue and name."""
        self.by_book: dict[Key, list[Cycle]] = {}
        """Book -> the cycles it is a leg of."""
        for c in self.cycles:
            for k in c.keys:
                self.by_book.setdefault(k, []).append(c)
        self._tris: dict[Key, list[_Triangle]] = {}
        for t in _triangles(self.cycles):
            for k in t.fwd.keys:
                self._tris.setdefault(k, []).append(t)
        halflife_ns = round(config.vol_halflife_ms * NS_PER_MS)
        board = Volatilities() if vols is None else vols
        self._vols = {
            k: board.of(k, halflife_ns, config.vol_prior_per_sqrt_s) for k in sorted(self.by_book)
        }
        self.evaluated = 0
        """Cycles whose tops were tested (a counter for tests and benchmarks)."""
        self.last_refusal = ""
        self.last_refusal_detail = ""

    def watched(self) -> list[Key]:
        """The books whose updates this detector evaluates (its cycles' books)."""
        return sorted(self.by_book)

    def volatility(self, venue: str, symbol: str) -> Volatility | None:
        """The volatility estimator of one book (``None`` when the book is in no cycle)."""
        return self._vols.get((venue, symbol))

    @property
    def opportunities_emitted(self) -> int:
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
        """Evaluate the cycles that ``(venue, symbol)`` is a leg of, after its book changed.

        ``books`` maps ``(venue, symbol)`` to each book's ``BookSync``; ``balances`` what each
        venue has available per asset at AMOUNT_PRECISION (``None``: no balance cap, research
        only). Returns the most profitable opportunity, or ``None`` with the reason in
        ``last_refusal``. Runtime complexity: O(cycles of the book) when no cycle's tops pay,
        plus O(levels walked) per cycle that does.
        """
        key = (venue, symbol)
        tris = self._tris.get(key)
        if tris is None:
            self.last_refusal = _NO_CYCLE
            return None
        get = books.get
        sync = get(key)
        if sync is not None:
            # The updated book's mid to its volatility (skipped when the mid did not move).
            book = sync.book
            maxes = book._bid_maxes
            lists = book._ask_lists
            if maxes and lists:
                vol = self._vols[key]
                mid = maxes[-1] + lists[0][0]
                if mid != vol.last_mid:
                    vol.update(book.ts_recv or now_ns, mid)
        cands: list[Cycle] | None = None
        fees_killed = False
        self.evaluated += 2 * len(tris)
        for t in tris:
            if t.quiet(get):
                continue  # edges would be (-1, -1)
            ef, er = t.edges(books)
            if ef > 0:
                cands = [t.fwd] if cands is None else [*cands, t.fwd]
            if er > 0:
                cands = [t.rev] if cands is None else [*cands, t.rev]
            if ef == 0 or er == 0:
                fees_killed = True
        if cands is None:
            self.last_refusal = _FEES if fees_killed else _NO_EDGE
            if fees_killed:
                self.last_refusal_detail = "the tops pay less than the three taker fees"
            return None
        return self._best(cands, books, now_ns, balances)

    # -- pricing a cycle whose tops pay ----------------------------------------------------

    def _best(
        self,
        cands: list[Cycle],
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> Opportunity | None:
        best, refusal = most_profitable(self._price(c, books, now_ns, balances) for c in cands)
        if best is None:
            if refusal is not None:
                self.last_refusal, self.last_refusal_detail = refusal
            return None
        self.last_refusal = ""
        self.last_refusal_detail = ""
        self._counter += 1
        oid = opportunity_id(self._id_prefix, now_ns, self._counter)
        return best.opportunity(oid, now_ns, self.config.haircut_sigmas)

    def _price(
        self,
        c: Cycle,
        books: Mapping[Key, BookSync],
        now_ns: int,
        balances: Balances | None,
    ) -> _Priced | tuple[str, str]:
        quotes = self._quotes(c, books, now_ns)
        if isinstance(quotes, tuple):
            return quotes
        bal = _cycle_balances(c, balances)
        h_cap = min(self._max_notional, bal[0])
        walk = _joint_walk(c, quotes, h_cap, bal)
        if walk.home_in <= 0.0:
            if walk.limited_by.startswith("balance"):
                return _no_balance(c, int(walk.limited_by[-1]), "no balance to start the cycle")
            return (
                TriangularRefusal.BELOW_MIN_PROFIT.value,
                f"{c.name} on {c.venue}: the best levels do not pay fees and haircut "
                f"({[q.haircut_ppb for q in quotes]} ppb)",
            )
        chain = _fit_chain(c, quotes, walk, h_cap, bal)
        if isinstance(chain, tuple):
            if chain[0] == _SIZE and walk.limited_by.startswith("balance"):
                return _no_balance(c, int(walk.limited_by[-1]), chain[1])
            return chain
        priced = _Priced.build(c, quotes, chain, walk)
        return self._check_profit(c, priced, walk)

    def _quotes(
        self, c: Cycle, books: Mapping[Key, BookSync], now_ns: int
    ) -> list[_Quote] | tuple[str, str]:
        out: list[_Quote] = []
        cfg = self.config
        for s in c.steps:
            sync = books.get(s.key)
            age = book_age(sync, s.key, now_ns, self._max_age_ns, cfg.max_quote_age_ms)
            if isinstance(age, tuple):
                return age
            assert sync is not None  # noqa: S101 - book_age refuses a missing book
            sigma, haircut = quote_haircut(
                self._vols[s.key], sync, now_ns, s.latency_s, age, cfg.haircut_sigmas
            )
            out.append(_Quote(sync, age, sigma, haircut))
        return out

    def _check_profit(self, c: Cycle, p: _Priced, walk: _Walk) -> _Priced | tuple[str, str]:
        if self._passes(p.profit, p.home_in):
            return p
        ideal = int(walk.profit * UNIT)
        code = TriangularRefusal.BELOW_MIN_PROFIT.value
        if self._passes(ideal, int(walk.home_in * UNIT)):
            code = TriangularRefusal.ROUNDING_KILLS_PROFIT.value
        return (
            code,
            f"{c.name} on {c.venue}: expected profit {p.profit} ({p.bps:.3f} bps of {p.home_in}) "
            f"after rounding (unrounded {ideal}) is below {self._min_profit} or "
            f"{self.config.min_profit_bps} bps (at 1e-{AMOUNT_PRECISION} {c.home})",
        )

    def _passes(self, profit: int, home_in: int) -> bool:
        if profit <= 0 or profit < self._min_profit or home_in <= 0:
            return False
        return profit * 10_000 >= self.config.min_profit_bps * home_in


def _top_edge(c: Cycle, books: Mapping[Key, BookSync]) -> int:
    """1: the cycle's tops pay after fees; 0: only before fees; -1: not at all (or a book has
    no side to trade). Reads each top straight off the ``LocalBook``'s sorted lists (see
    ``LocalBook.best_bid`` / ``best_ask``)."""
    get = books.get
    (k0, b0), (k1, b1), (k2, b2) = c.top_keys
    y0, y1, y2 = get(k0), get(k1), get(k2)
    if y0 is None or y1 is None or y2 is None:
        return -1
    buys = sells = 1
    for y, buy in ((y0, b0), (y1, b1), (y2, b2)):
        if buy:
            lists = y.book._ask_lists
            if not lists:
                return -1
            buys *= lists[0][0]
        else:
            maxes = y.book._bid_maxes
            if not maxes:
                return -1
            sells *= maxes[-1]
    if c._c_num * sells > c._c_den * buys:
        return 1
    return 0 if c._g_num * sells > c._g_den * buys else -1


def _cycle_balances(c: Cycle, balances: Balances | None) -> tuple[int, int, int]:
    # What the venue holds of each leg's input asset (home, A, B).
    if balances is None:
        return (NO_CAP, NO_CAP, NO_CAP)
    held = balances.get(c.venue, {})
    return (
        max(held.get(c.home, 0), 0),
        max(held.get(c.a, 0), 0),
        max(held.get(c.b, 0), 0),
    )


def _no_balance(c: Cycle, leg: int, why: str) -> tuple[str, str]:
    asset = c.steps[leg].src
    return (
        f"{TriangularRefusal.NO_BALANCE.value}:{c.venue}:{asset}",
        f"{c.name} on {c.venue}: {why} (leg {leg} spends {asset})",
    )


class _Quote(msgspec.Struct, frozen=True, gc=False):
    """One leg's book as priced: age (ns), volatility and haircut rate (ppb of notional)."""

    sync: BookSync
    age_ns: int
    sigma: float
    haircut_ppb: int


# -- the three-book walk (sizing only, floats) --------------------------------------------


class _Walk(msgspec.Struct, frozen=True, gc=False):
    home_in: float
    """Home units the walk would spend (unrounded)."""
    profit: float
    """Home units it would gain, after fees and haircut, before any rounding."""
    limited_by: str
    """``profit``, ``depth``, ``max_notional``, ``balance0`` / ``balance1`` / ``balance2``."""
    in_a: float = 0.0
    """Units of A leg 1 would spend (unrounded)."""


class _Levels:
    """One leg's levels as (rate dst-per-src after fee and haircut, capacity in src units)."""

    __slots__ = ("cap", "it", "k", "rate", "step")

    def __init__(self, s: _Step, q: _Quote) -> None:
        self.step = s
        book = q.sync.book
        self.it = book.iter_asks() if s.buy else book.iter_bids()
        self.k = 1.0 - q.haircut_ppb / RATE_ONE
        self.rate = 0.0
        self.cap = 0.0

    def next(self) -> bool:
        lvl = next(self.it, None)
        if lvl is None:
            return False
        s = self.step
        px = lvl[0] / s.px_one
        size = lvl[1] * s.size_mul / UNIT
        f = s.fee_ppm / PPM
        if not s.buy:
            self.rate = px * (1.0 - f) * self.k
            self.cap = size
        elif s.fee_in_src:  # pays px * (1 + f) of the quote per unit of base
            self.rate = self.k / (px * (1.0 + f))
            self.cap = px * size * (1.0 + f)
        else:  # pays px, receives 1 - f of the base
            self.rate = (1.0 - f) * self.k / px
            self.cap = px * size
        return True


def _joint_walk(c: Cycle, quotes: list[_Quote], h_cap: int, bal: tuple[int, int, int]) -> _Walk:
    """Walk the three books together in home units while the marginal cycle rate exceeds 1."""
    legs = [_Levels(s, q) for s, q in zip(c.steps, quotes, strict=True)]
    for lv in legs:
        if not lv.next():
            return _Walk(0.0, 0.0, "depth")
    l0, l1, l2 = legs
    cap_h = h_cap / UNIT
    cap_a = bal[1] / UNIT
    cap_b = bal[2] / UNIT
    h = out = in_a = in_b = 0.0
    if cap_h <= 0.0:
        return _Walk(0.0, 0.0, "balance0" if h_cap == bal[0] else "max_notional")
    for _ in range(10_000):
        r0, r1, r2 = l0.rate, l1.rate, l2.rate
        if r0 * r1 * r2 <= 1.0:
            return _Walk(h, out - h, "profit", in_a)
        r01 = r0 * r1
        dh, why = l0.cap, ""
        for room, name in (
            (l1.cap / r0, ""),
            (l2.cap / r01, ""),
            (cap_h - h, "max_notional" if h_cap < bal[0] else "balance0"),
            ((cap_a - in_a) / r0, "balance1"),
            ((cap_b - in_b) / r01, "balance2"),
        ):
            if room < dh:
                dh, why = room, name
        dh = max(dh, 0.0)
        h += dh
        in_a += dh * r0
        in_b += dh * r01
        out += dh * r01 * r2
        if why:
            return _Walk(h, out - h, why, in_a)
        l0.cap -= dh
        l1.cap -= dh * r0
        l2.cap -= dh * r01
        for lv in legs:
            if lv.cap <= 1e-15 * max(1.0, h) and not lv.next():
                return _Walk(h, out - h, "depth", in_a)
    return _Walk(h, out - h, "depth", in_a)


# -- the exact chain ----------------------------------------------------------------------


class _Fill(msgspec.Struct, frozen=True, gc=False):
    """One leg converted exactly: size (raw), limit (worst px), amounts at AMOUNT_PRECISION."""

    qty: int
    px: int
    levels: int
    notional: int
    """In the instrument's quote (costs rounded up, proceeds down)."""
    fee: int
    """In ``step.fee_asset``."""
    spent: int
    """Of ``step.src``, fee included when charged in it."""
    received: int
    """Of ``step.dst``, after a fee charged in it."""
    reserve: int
    """What the venue holds back for the order: a buy at its limit price plus fee."""


def _fill(s: _Step, sync: BookSync, qty: int) -> _Fill:
    book = sync.book
    w = book.walk(s.side, qty)
    q = w.qty - w.qty % s.lot
    if q != w.qty:
        w = book.walk(s.side, q)
    n = w.notional
    sc = s.scale
    if s.buy:
        if sc <= AMOUNT_PRECISION:
            notional = n * POW10[AMOUNT_PRECISION - sc]
            limit_n = w.worst_px * q * POW10[AMOUNT_PRECISION - sc]
        else:
            notional = -(-n // POW10[sc - AMOUNT_PRECISION])
            limit_n = -(-w.worst_px * q // POW10[sc - AMOUNT_PRECISION])
        fee = fee_amount(notional, s.fee_ppm)
        base = q * s.size_mul
        if s.fee_in_src:
            spent, received = notional + fee, base
            reserve = limit_n + fee_amount(limit_n, max(s.fee_ppm, 0))
        else:
            fee = fee_amount(base, s.fee_ppm)
            spent, received = notional, base - fee
            reserve = limit_n
    else:
        if sc <= AMOUNT_PRECISION:
            notional = n * POW10[AMOUNT_PRECISION - sc]
        else:
            notional = n // POW10[sc - AMOUNT_PRECISION]
        fee = fee_amount(notional, s.fee_ppm)
        spent = reserve = q * s.size_mul
        received = notional - fee
    return _Fill(q, w.worst_px, w.levels, notional, fee, spent, received, reserve)


def _qty_for_input(s: _Step, sync: BookSync, amount: int) -> int:
    """Largest size (raw, a multiple of the lot) whose input is at most ``amount``."""
    if not s.buy:
        q = amount // s.size_mul
        return q - q % s.lot
    # Walk the asks with a notional budget; the exact fill below fixes rounding.
    budget = amount * PPM // (PPM + max(s.fee_ppm, 0)) if s.fee_in_src else amount
    sc = s.scale
    n_max = (
        budget // POW10[AMOUNT_PRECISION - sc]
        if sc <= AMOUNT_PRECISION
        else budget * POW10[sc - AMOUNT_PRECISION]
    )
    q = n = 0
    asks = sync.book.asks
    for px in sync.book.ask_prices:
        avail = asks[px]
        take = (n_max - n) // px
        if take >= avail:
            q += avail
            n += px * avail
            continue
        q += take
        break
    q -= q % s.lot
    while q > 0 and _fill(s, sync, q).spent > amount:
        q -= s.lot
    return q


def _qty_for_output(s: _Step, sync: BookSync, need: int, hint: _Fill) -> _Fill | None:
    """The least size (a multiple of the lot) that delivers at least ``need`` of ``s.dst``,
    found from ``hint`` by proportion; ``None`` if the book cannot deliver it."""
    lot = s.lot
    f = hint if hint.received > 0 else _fill(s, sync, lot)
    if f.received <= 0:
        return None
    for _ in range(_MAX_TRIMS):
        q = -(-f.qty * need // f.received)
        q = max(-(-q // lot) * lot, lot)
        g = _fill(s, sync, q)
        if g.qty != q:
            return None  # depth ran out
        if g.received >= need:
            for _ in range(_MAX_TRIMS):
                if g.qty <= lot:
                    break
                smaller = _fill(s, sync, g.qty - lot)
                if smaller.received < need:
                    break
                g = smaller
            return g
        f = g if g.qty > f.qty else _fill(s, sync, f.qty + lot)
        if f.received <= 0:
            return None
    return None


Chain = list[_Fill]
"""The three legs' fills, in leg order."""


def _fit_chain(
    c: Cycle, quotes: list[_Quote], walk: _Walk, h_cap: int, bal: tuple[int, int, int]
) -> Chain | tuple[str, str]:
    """The exact chain for the walk's size, anchored on leg 1 (the middle): its size from
    what the walk spends of A (rounded down to its lot), leg 0 the least that delivers what
    leg 1 spends, leg 2 what leg 1 delivers (rounded down); shrunk while the home cap or a
    balance is exceeded."""
    s0, s1, s2 = c.steps
    y0, y1, y2 = (q.sync for q in quotes)
    # Floats only picked the size: nudge it up by 1e-9 so that a walk ending exactly on a
    # level or a lot does not lose a lot to float error; the caps below are exact.
    in_a = min(math.ceil(walk.in_a * (1.0 + 1e-9) * UNIT), bal[1])
    q1 = _qty_for_input(s1, y1, in_a)
    home = min(math.ceil(walk.home_in * (1.0 + 1e-9) * UNIT), h_cap)
    hint = _fill(s0, y0, _qty_for_input(s0, y0, home))
    chain: Chain = []
    for _ in range(_MAX_TRIMS):
        f1 = _fill(s1, y1, q1)
        f0 = _qty_for_output(s0, y0, f1.spent, hint) if f1.qty > 0 else None
        if f0 is None:
            f0 = _fill(s0, y0, 0)
        f2 = _fill(s2, y2, _qty_for_input(s2, y2, min(f1.received, bal[2])))
        chain = [f0, f1, f2]
        small = _below_min(c, chain)
        if small is not None:
            return small
        over = _over_balance(c, chain, bal)
        if over is None and f0.spent <= h_cap:
            return chain
        # shrink leg 1 in proportion to the worst overshoot, and try again
        ratio = min(
            (b / f.reserve for f, b in zip(chain, bal, strict=True) if f.reserve > b),
            default=1.0,
        )
        if f0.spent > h_cap:
            ratio = min(ratio, h_cap / f0.spent)
        nq = int(q1 * ratio * 0.9999)
        nq -= nq % s1.lot
        q1 = min(nq, q1 - s1.lot)
        if q1 <= 0:
            break
    over = _over_balance(c, chain, bal) if chain else None
    return _no_balance(c, over if over is not None else 0, "no size fits the balances")


def _below_min(c: Cycle, chain: Chain) -> tuple[str, str] | None:
    for i, (s, f) in enumerate(zip(c.steps, chain, strict=True)):
        if f.qty < s.min_qty or f.notional < s.min_notional:
            return (
                TriangularRefusal.SIZE_BELOW_MIN.value,
                f"{c.name} on {c.venue}: leg {i} {s.key[1]} size {f.qty} (min {s.min_qty}, lot "
                f"{s.lot}) or notional {f.notional} (min {s.min_notional}) is below the minimum",
            )
    return None


def _over_balance(c: Cycle, chain: Chain, bal: tuple[int, int, int]) -> int | None:
    for i, (f, b) in enumerate(zip(chain, bal, strict=True)):
        if f.reserve > b:
            return i
    return None


# -- the priced opportunity ---------------------------------------------------------------


def _ceil_rate(amount: int, ppb: int) -> int:
    return -(-amount * ppb // RATE_ONE)


class _Priced(msgspec.Struct, frozen=True, kw_only=True):
    cycle: Cycle
    quotes: list[_Quote]
    chain: Chain
    walk: _Walk
    home_in: int
    home_out: int
    residue_a: int
    residue_b: int
    residue_value: int
    home_notionals: tuple[int, int, int]
    home_fees: tuple[int, int, int]
    haircuts: tuple[int, int, int]
    profit: int
    bps: float

    @classmethod
    def build(cls, c: Cycle, quotes: list[_Quote], chain: Chain, walk: _Walk) -> _Priced:
        f0, f1, f2 = chain
        home_in, home_out = f0.spent, f2.received
        res_a = f0.received - f1.spent
        res_b = f1.received - f2.spent
        if res_a < 0 or res_b < 0:
            raise InvariantViolation(f"{c.name}: legs do not chain ({res_a}, {res_b})")

        # Home value of an amount of A (at what leg 1 paid) or B (at what leg 3 got).
        def value(asset: str, amount: int) -> int:
            if asset == c.home:
                return amount
            if asset == c.a:
                return amount * f0.spent // f0.received if f0.received else 0
            return amount * f2.received // f2.spent if f2.spent else 0

        residue_value = value(c.a, res_a) + value(c.b, res_b)
        notionals = tuple(
            value(s.inst.quote, f.notional) for s, f in zip(c.steps, chain, strict=True)
        )
        fees = tuple(value(s.fee_asset, f.fee) for s, f in zip(c.steps, chain, strict=True))
        haircuts = tuple(
            _ceil_rate(n, q.haircut_ppb) for n, q in zip(notionals, quotes, strict=True)
        )
        profit = home_out - home_in + residue_value - sum(haircuts)
        return cls(
            cycle=c,
            quotes=quotes,
            chain=chain,
            walk=walk,
            home_in=home_in,
            home_out=home_out,
            residue_a=res_a,
            residue_b=res_b,
            residue_value=residue_value,
            home_notionals=(notionals[0], notionals[1], notionals[2]),
            home_fees=(fees[0], fees[1], fees[2]),
            haircuts=(haircuts[0], haircuts[1], haircuts[2]),
            profit=profit,
            bps=profit * 10_000 / home_in if home_in else 0.0,
        )

    def opportunity(self, oid: str, now_ns: int, haircut_sigmas: float) -> Opportunity:
        c = self.cycle
        legs = tuple(
            Leg(
                venue=s.key[0],
                symbol=s.key[1],
                side=s.side,
                px=f.px,
                qty=f.qty,
                expected_notional=n,
                fee=fee,
            )
            for s, f, n, fee in zip(
                c.steps, self.chain, self.home_notionals, self.home_fees, strict=True
            )
        )
        inputs: dict[str, int | float | str] = {
            "venue": c.venue,
            "cycle": c.name,
            "home_in": self.home_in,
            "home_out": self.home_out,
            "residue_a": self.residue_a,
            "residue_b": self.residue_b,
            "residue_value": self.residue_value,
            "walk_home_in": self.walk.home_in,
            "walk_profit": self.walk.profit,
            "limited_by": self.walk.limited_by,
            "haircut_sigmas": haircut_sigmas,
        }
        for i, (s, f, q, hc) in enumerate(
            zip(c.steps, self.chain, self.quotes, self.haircuts, strict=True)
        ):
            p = f"leg{i}_"
            inputs.update(
                {
                    p + "symbol": s.key[1],
                    p + "in": s.src,
                    p + "out": s.dst,
                    p + "spent": f.spent,
                    p + "received": f.received,
                    p + "notional": f.notional,
                    p + "fee": f.fee,
                    p + "fee_asset": s.fee_asset,
                    p + "fee_ppm": s.fee_ppm,
                    p + "levels": f.levels,
                    p + "px_precision": s.inst.price_precision,
                    p + "best": _best(q.sync, s.buy),
                    p + "age_ms": q.age_ns / NS_PER_MS,
                    p + "latency_ms": s.latency_s * 1_000.0,
                    p + "sigma": q.sigma,
                    p + "haircut_ppb": q.haircut_ppb,
                    p + "haircut": hc,
                }
            )
        fees = sum(self.home_fees)
        haircut = sum(self.haircuts)
        return Opportunity(
            id=oid,
            kind="triangular",
            ts=now_ns,
            symbol=c.name,
            quote=c.home,
            legs=legs,
            gross_profit=self.profit + fees + haircut,
            fees=fees,
            latency_haircut=haircut,
            expected_profit=self.profit,
            expected_profit_bps=self.bps,
            inputs=inputs,
        )


def _best(sync: BookSync, buy: bool) -> int:
    book = sync.book
    if buy:
        lists = book.ask_prices._lists
        return int(lists[0][0]) if lists else 0
    maxes = book.bid_prices._maxes
    return int(maxes[-1]) if maxes else 0
