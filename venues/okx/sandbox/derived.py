"""What the sandbox derives from its spot market: swap twins' funding and mark, candles, bills.

**Perpetual twins.** The market is spot only. Each spot instrument ``BASE-QUOTE`` has a twin
``BASE-QUOTE-SWAP`` (arb ``BASE-QUOTE-PERP``, ``perp_twins``) that is neither listed by
``public/instruments`` nor tradable: it exists for ``public/funding-rate``,
``public/mark-price`` and the ``funding-rate`` / ``mark-price`` channels. Its model, seeded:

- funding settles every 8 h (00:00, 08:00, 16:00 UTC). ``fundingTime`` is the next
  settlement, ``nextFundingTime`` the one after; the period's ``fundingRate`` is drawn from
  ``random.Random(f"okx-sandbox-funding/{seed}/{instId}/{fundingTime}")``, uniform in
  [-0.0003, 0.0005] with 8 decimals, so it is the same for every request of a period and run;
  ``settFundingRate`` is the previous period's rate;
- the mark price is the spot book's mid rounded down to the tick (the last trade when a side
  is empty).

**Candles** (``market/candles``) come from a tape of the public trades the sandbox replayed and
our own fills since start (``market.TradeTape``, bounded). Bars ``1m`` .. ``4H`` align to UTC;
``6H``, ``12H``, ``1D``, ``1W`` (Mondays) and ``1M`` to Hong Kong time (UTC+8) as on OKX, their
``...utc`` variants to UTC. Only bars with trades are listed; with no trade at all, the current
bar is the book's mid with volume 0. Newest first; ``confirm`` is ``"0"`` for the open bar.

**Bills** (``account/bills``): per fill, one row per currency (type ``2`` trade, subType ``1``
buy / ``2`` sell): the base currency's change, and the quote currency's notional change with
the fee included (``fee`` negative = charged, always in the quote in the sandbox); ``bal`` is
the balance after the row, replayed from the account's starting balances.
"""

from __future__ import annotations

import random
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from venues.okx.sandbox.context import Ctx
from venues.okx.sandbox.market import trim
from venues.okx.sandbox.state import Reject

__all__ = [
    "BARS",
    "bills",
    "candles",
    "funding_rate",
    "funding_row",
    "mark_price",
    "mark_row",
    "perp_twins",
    "twin_of",
]

SWAP = "-SWAP"
FUNDING_PERIOD_MS = 8 * 3_600_000
_MIN_MS = 60_000
_HK_MS = 8 * 3_600_000
_WEEK_PHASE_MS = 4 * 86_400_000  # 1970-01-05 was a Monday
BARS: dict[str, int] = {
    "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1H": 60, "2H": 120, "4H": 240,
    "6H": 360, "12H": 720, "1D": 1_440, "1W": 10_080, "1M": 0,
}  # fmt: skip
"""Bar -> minutes (0: a calendar month). ``6H`` .. ``1M`` also exist as ``...utc``."""
_LOCAL = frozenset(("6H", "12H", "1D", "1W", "1M"))
MAX_CANDLES = 300


def perp_twins(spot: list[Instrument]) -> list[Instrument]:
    """The perpetual twin of each spot instrument (same tick; 1 contract = 1 lot of the base)."""
    return [
        Instrument.create(
            venue=i.venue,
            symbol=f"{i.symbol}-PERP",
            venue_symbol=i.venue_symbol + SWAP,
            kind=InstrumentKind.PERP,
            base=i.base,
            quote=i.quote,
            settle=i.quote,
            tick_size=i.tick_size,
            lot_size="1",
            min_size="1",
            contract_value=i.lot_size,
            contract_value_ccy=i.base,
            source="sandbox",
        )
        for i in spot
        if i.kind is InstrumentKind.SPOT
    ]


def twin_of(ctx: Ctx, inst_id: str) -> str | None:
    """The spot ``instId`` whose twin is ``inst_id`` (``None`` if it is not a twin)."""
    spot = inst_id.removesuffix(SWAP)
    return spot if spot != inst_id and spot in ctx.exchange.instruments else None


def _twins(ctx: Ctx, inst_id: str) -> list[str]:
    # Spot instIds of the twins asked for: all for "" / "ANY"; Reject 51001 for a non-twin.
    if inst_id in ("", "ANY"):
        return list(ctx.exchange.instruments)
    spot = twin_of(ctx, inst_id)
    if spot is None:
        raise Reject("51001", "Instrument ID does not exist.")
    return [spot]


def _need(p: dict[str, str], name: str) -> str:
    v = p.get(name, "")
    if not v:
        raise Reject("50014", f"Parameter {name} can not be empty")
    return v


# -- funding rate and mark price ------------------------------------------------------------


def _rate(seed: int, twin: str, funding_time: int) -> str:
    rng = random.Random(f"okx-sandbox-funding/{seed}/{twin}/{funding_time}")
    return trim(format(Decimal(rng.randint(-30_000, 50_000)).scaleb(-8), "f"))


def funding_row(ctx: Ctx, spot_id: str) -> dict[str, str]:
    """The twin of ``spot_id``'s funding-rate entry now (REST and WebSocket share it)."""
    now = ctx.now_ms()
    twin = spot_id + SWAP
    t = (now // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS
    seed = ctx.exchange.seed
    return {
        "instType": "SWAP",
        "instId": twin,
        "method": "current_period",
        "formulaType": "withRate",
        "fundingRate": _rate(seed, twin, t),
        "fundingTime": str(t),
        "nextFundingTime": str(t + FUNDING_PERIOD_MS),
        "minFundingRate": "-0.0075",
        "maxFundingRate": "0.0075",
        "settState": "settled",
        "settFundingRate": _rate(seed, twin, t - FUNDING_PERIOD_MS),
        "premium": "0",
        "interestRate": "0.0001",
        "impactValue": "",
        "ts": str(now),
    }


def mark_row(ctx: Ctx, spot_id: str) -> dict[str, str]:
    """The twin of ``spot_id``'s mark-price entry now."""
    inst = ctx.exchange.instruments[spot_id]
    bids, asks, _, _ = ctx.books.snapshot(spot_id, 1)
    if bids and asks:
        mid = (inst.px_to_raw(bids[0][0]) + inst.px_to_raw(asks[0][0])) // 2
        px = mid - mid % inst.tick_raw
    else:
        px = ctx.exchange.last_px.get(inst.symbol, 0)
    return {
        "instType": "SWAP",
        "instId": spot_id + SWAP,
        "markPx": trim(inst.px_str(px)),
        "ts": str(ctx.now_ms()),
    }


def funding_rate(ctx: Ctx, p: dict[str, str]) -> list[dict[str, str]]:
    """``GET /api/v5/public/funding-rate?instId=`` (a twin or ``ANY``)."""
    return [funding_row(ctx, s) for s in _twins(ctx, _need(p, "instId"))]


def mark_price(ctx: Ctx, p: dict[str, str], inst_types: frozenset[str]) -> list[dict[str, str]]:
    """``GET /api/v5/public/mark-price?instType=[&instId=]``: the twins for ``SWAP``."""
    inst_type = _need(p, "instType")
    if inst_type not in inst_types:
        raise Reject("51000", "Parameter instType error")
    if inst_type != "SWAP":
        return []
    return [mark_row(ctx, s) for s in _twins(ctx, p.get("instId", ""))]


# -- candles --------------------------------------------------------------------------------


def bar_start(ts_ms: int, bar: str) -> int:
    """Start (Unix ms) of the ``bar`` containing ``ts_ms`` (see the module doc for alignment)."""
    base = bar.removesuffix("utc")
    tz = _HK_MS if base in _LOCAL and not bar.endswith("utc") else 0
    if BARS[base] == 0:
        d = datetime.fromtimestamp((ts_ms + tz) / 1000, UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp()) * 1000 - tz
    size = BARS[base] * _MIN_MS
    phase = _WEEK_PHASE_MS if base == "1W" else 0
    return (ts_ms + tz - phase) // size * size + phase - tz


def candles(ctx: Ctx, p: dict[str, str]) -> list[list[str]]:
    """``GET /api/v5/market/candles?instId=&bar=&limit=``: ``[ts,o,h,l,c,vol,volCcy,
    volCcyQuote,confirm]`` rows, newest first."""
    inst_id = _need(p, "instId")
    inst = ctx.exchange.instruments.get(inst_id)
    if inst is None:
        raise Reject("51001", "Instrument ID does not exist.")
    bar = p.get("bar", "1m")
    if bar.removesuffix("utc") not in BARS or (bar.endswith("utc") and bar[:-3] not in _LOCAL):
        raise Reject("51000", "Parameter bar error")
    try:
        limit = int(p.get("limit", "100"))
    except ValueError as e:
        raise Reject("51000", "Parameter limit error") from e
    if not 1 <= limit <= MAX_CANDLES:
        raise Reject("51000", "Parameter limit error")
    now_bar = bar_start(ctx.now_ms(), bar)
    bars: dict[int, list[int]] = {}  # start -> [o, h, l, c, vol, notional]
    for ts, px, q in ctx.tape.trades(inst_id):
        b = bars.get(start := bar_start(ts, bar))
        if b is None:
            bars[start] = [px, px, px, px, q, px * q]
        else:
            b[1], b[2], b[3] = max(b[1], px), min(b[2], px), px
            b[4] += q
            b[5] += px * q
    if not bars:
        px = inst.px_to_raw(mark_row(ctx, inst_id)["markPx"])
        bars[now_bar] = [px, px, px, px, 0, 0]
    rows = []
    scale = inst.price_precision + inst.size_precision
    for start in sorted(bars, reverse=True)[:limit]:
        o, h, lo, c, vol, notional = bars[start]
        quote = trim(format(Decimal(notional).scaleb(-scale), "f"))
        ohlc = [trim(inst.px_str(x)) for x in (o, h, lo, c)]
        confirm = "0" if start >= now_bar else "1"
        rows.append([str(start), *ohlc, trim(inst.qty_str(vol)), quote, quote, confirm])
    return rows


# -- bills ----------------------------------------------------------------------------------


def bills(ctx: Ctx, key: str, p: dict[str, str]) -> list[dict[str, str]]:
    """``GET /api/v5/account/bills``: the account's trade bills, newest first (<= 100)."""
    ex = ctx.exchange
    bal = {c: Decimal(v) for c, v in ex.accounts[key].account.balances.items()}
    rows: list[dict[str, str]] = []
    for f in ex.fills:
        if f["_key"] != key:
            continue
        inst = ex.instruments[f["instId"]]
        sz = Decimal(f["fillSz"])
        notional = Decimal(f["fillPx"]) * sz
        fee = Decimal(f["fee"])  # negative = charged
        buy = f["side"] == "buy"
        changes = ((inst.base, sz if buy else -sz, Decimal(0)),
                   (inst.quote, (-notional if buy else notional) + fee, fee))  # fmt: skip
        for n, (ccy, chg, row_fee) in enumerate(changes):
            bal[ccy] = bal.get(ccy, Decimal(0)) + chg
            rows.append(_bill(f, ccy, chg, bal[ccy], row_fee, n))
    rows.reverse()
    for name in ("ccy", "instType", "type", "instId"):
        if p.get(name):
            rows = [r for r in rows if r[name] == p[name]]
    try:
        limit = max(1, min(int(p.get("limit", "100")), 100))
    except ValueError as e:
        raise Reject("51000", "Parameter limit error") from e
    return rows[:limit]


def _bill(
    f: dict[str, Any], ccy: str, chg: Decimal, bal: Decimal, fee: Decimal, n: int
) -> dict[str, str]:
    def s(d: Decimal) -> str:
        return "0" if not d else format(d.normalize(), "f")

    return {
        "billId": f"{f['tradeId']}{n}",
        "ccy": ccy,
        "balChg": s(chg),
        "bal": s(bal),
        "type": "2",
        "subType": "1" if f["side"] == "buy" else "2",
        "instType": "SPOT",
        "instId": f["instId"],
        "ordId": f["ordId"],
        "clOrdId": f["clOrdId"],
        "tradeId": f["tradeId"],
        "execType": f["execType"],
        "px": f["fillPx"],
        "sz": f["fillSz"],
        "fee": s(fee),
        "mgnMode": "cash",
        "posBal": "",
        "posBalChg": "",
        "pnl": "0",
        "notes": "",
        "from": "",
        "to": "",
        "interest": "0",
        "tag": f.get("tag", ""),
        "fillTime": f["fillTime"],
        "ts": f["ts"],
    }
