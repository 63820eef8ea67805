"""Contract maths: what a position in spot, a linear or an inverse contract is worth and pays.

Pure and exact: raw prices and sizes in (at the instrument's precisions), amounts out as
integers at ``AMOUNT_PRECISION`` with the rounding direction explicit. A *position* is a signed
size in the instrument's raw size units (contracts for a derivative, base units for spot;
long > 0).

With ``cv`` the contract value (``Instrument.contract_value``; ``"1"`` for spot), a position of
``n`` contracts at price ``px`` (quote per base):

============  ===================  =====================  ===============================
kind          quote notional        base exposure          PnL from ``e`` to ``x`` (in)
============  ===================  =====================  ===============================
spot/linear   ``n * cv * px``       ``n * cv``             ``n * cv * (x - e)`` (quote)
inverse       ``n * cv``            ``n * cv / px``        ``n * cv * (1/e - 1/x)`` (base)
============  ===================  =====================  ===============================

A linear contract's value ``cv`` is in the base (OKX ``BTC-USDT-SWAP``: 0.01 BTC; Binance
USD-M: 1 BTC, sizes in BTC); an inverse contract's in the quote (Binance COIN-M
``BTCUSD_PERP``: 100 USD; OKX ``BTC-USD-SWAP``: 100 USD) and it is settled in the base, so its
PnL and funding are base amounts (``pnl_currency``), which ``base_to_quote`` values at a price.

Funding (``funding_payment``): at each settlement a position pays or receives
``rate * notional at the mark price``, where the notional is in the settlement currency
(linear: ``n * cv * mark`` quote; inverse: ``n * cv / mark`` base). A positive rate means longs
pay shorts. The amount returned is what the position *receives* (negative: it pays).

Rounding never flatters the holder: a PnL or a funding amount is rounded down (toward minus
infinity: a loss grows, a gain shrinks); notionals and exposures take ``round_up``.
"""

from __future__ import annotations

import enum
import functools
from fractions import Fraction

from arb.core.instruments import Instrument
from arb.core.money import AMOUNT_PRECISION
from arb.core.numbers import POW10
from arb.core.numbers import decimals_of
from arb.core.numbers import to_raw

__all__ = [
    "NS_PER_YEAR",
    "PPB",
    "Rounding",
    "annualised_basis_ppm",
    "base_amount",
    "base_exposure",
    "base_to_quote",
    "basis_ppb",
    "contract_value",
    "fills_base_amount",
    "funding_payment",
    "hedge_contracts",
    "pnl_currency",
    "position_pnl",
    "px_amount",
    "quote_notional",
    "quote_to_base",
]

PPB = 1_000_000_000
"""Funding rates are in parts per billion (``FundingRate.rate_ppb``)."""
NS_PER_YEAR = 365 * 86_400 * 1_000_000_000
"""The year of annualised rates: 365 days."""
_UNIT = POW10[AMOUNT_PRECISION]


class Rounding(enum.StrEnum):
    """How a quantity is rounded to the lot."""

    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"
    """Half up."""


@functools.lru_cache(maxsize=1024)
def _cv(s: str) -> tuple[int, int]:
    # Contract value as (raw integer, decimals): "0.01" -> (1, 2), "100" -> (100, 0).
    p = decimals_of(s)
    return to_raw(s, p), p


def contract_value(inst: Instrument) -> Fraction:
    """The contract value of ``inst`` (in the base if linear, in the quote if inverse)."""
    raw, p = _cv(inst.contract_value)
    return Fraction(raw, POW10[p])


def pnl_currency(inst: Instrument) -> str:
    """The currency of a position's PnL and funding: the quote, or the base when inverse."""
    return inst.base if inst.inverse else inst.quote


def _div(n: int, d: int, round_up: bool) -> int:
    # n / d rounded toward +inf (round_up) or -inf; d > 0.
    return -(-n // d) if round_up else n // d


def _amount(n: int, scale: int, d: int, round_up: bool) -> int:
    # n / (d * 10**scale) as an amount at AMOUNT_PRECISION.
    if scale <= AMOUNT_PRECISION:
        return _div(n * POW10[AMOUNT_PRECISION - scale], d, round_up)
    return _div(n, d * POW10[scale - AMOUNT_PRECISION], round_up)


def _check_px(inst: Instrument, px: int) -> None:
    if px <= 0:
        raise ValueError(f"{inst.venue}:{inst.symbol}: price must be > 0, was {px}")


def quote_notional(inst: Instrument, px: int, qty: int, *, round_up: bool) -> int:
    """Quote amount of ``qty`` (raw, >= 0) at ``px``: ``qty * cv * px`` (linear) or ``qty * cv``
    (inverse, whatever the price)."""
    cv, cvp = _cv(inst.contract_value)
    if inst.inverse:
        return _amount(qty * cv, inst.size_precision + cvp, 1, round_up)
    return _amount(px * qty * cv, inst.price_precision + inst.size_precision + cvp, 1, round_up)


def base_amount(inst: Instrument, px: int, qty: int, *, round_up: bool) -> int:
    """Base amount of ``qty`` (raw, >= 0) at ``px``: ``qty * cv`` (linear; ``px`` unused) or
    ``qty * cv / px`` (inverse; ``px`` > 0)."""
    cv, cvp = _cv(inst.contract_value)
    scale = inst.size_precision + cvp
    if inst.inverse:
        _check_px(inst, px)
        return _amount(qty * cv * POW10[inst.price_precision], scale, px, round_up)
    return _amount(qty * cv, scale, 1, round_up)


def base_exposure(inst: Instrument, position: int, px: int, *, round_up: bool = False) -> int:
    """Signed base exposure of ``position`` at ``px`` (long > 0); ``round_up`` rounds its size
    away from zero (default: toward zero)."""
    a = base_amount(inst, px, abs(position), round_up=round_up)
    return a if position >= 0 else -a


def px_amount(inst: Instrument, px: int) -> int:
    """The price ``px`` as an amount of quote per one unit of base (rounded down)."""
    return _amount(px, inst.price_precision, 1, False)


def base_to_quote(inst: Instrument, amount: int, px: int, *, round_up: bool) -> int:
    """A base ``amount`` (AMOUNT_PRECISION, signed) valued in the quote at ``px``."""
    return _div(amount * px, POW10[inst.price_precision], round_up)


def quote_to_base(inst: Instrument, amount: int, px: int, *, round_up: bool) -> int:
    """A quote ``amount`` (AMOUNT_PRECISION, signed) in base units at ``px`` (> 0)."""
    _check_px(inst, px)
    return _div(amount * POW10[inst.price_precision], px, round_up)


def position_pnl(inst: Instrument, position: int, entry_px: int, exit_px: int) -> int:
    """PnL of ``position`` opened at ``entry_px`` and closed at ``exit_px``, in
    ``pnl_currency(inst)`` at AMOUNT_PRECISION, rounded down.

    Linear: ``position * cv * (exit - entry)``; inverse: ``position * cv * (1/entry - 1/exit)``.
    """
    cv, cvp = _cv(inst.contract_value)
    scale = inst.size_precision + cvp
    if inst.inverse:
        _check_px(inst, entry_px)
        _check_px(inst, exit_px)
        n = position * cv * (exit_px - entry_px) * POW10[inst.price_precision]
        return _amount(n, scale, entry_px * exit_px, False)
    return _amount(position * cv * (exit_px - entry_px), scale + inst.price_precision, 1, False)


def funding_payment(inst: Instrument, position: int, mark_px: int, rate_ppb: int) -> int:
    """Funding received by ``position`` at one settlement (negative: paid), in
    ``pnl_currency(inst)`` at AMOUNT_PRECISION, rounded down.

    ``rate_ppb > 0``: longs pay shorts ``rate * notional``; the notional is at ``mark_px``
    (linear: ``|position| * cv * mark`` quote; inverse: ``|position| * cv / mark`` base).
    """
    cv, cvp = _cv(inst.contract_value)
    scale = inst.size_precision + cvp + 9  # 9: ppb
    n = -position * rate_ppb * cv
    if inst.inverse:
        _check_px(inst, mark_px)
        return _amount(n * POW10[inst.price_precision], scale, mark_px, False)
    return _amount(n * mark_px, scale + inst.price_precision, 1, False)


def hedge_contracts(inst: Instrument, base: int, px: int, rounding: Rounding) -> int:
    """Contracts (raw size, a multiple of the lot) whose base exposure at ``px`` is ``base``
    (AMOUNT_PRECISION, >= 0), rounded to the lot as asked.

    Linear: ``base / cv``; inverse: ``base * px / cv`` (``px`` > 0).
    """
    cv, cvp = _cv(inst.contract_value)
    lot = inst.lot_raw
    num = base * POW10[inst.size_precision + cvp]
    den = _UNIT * cv * lot
    if inst.inverse:
        _check_px(inst, px)
        num *= px
        den *= POW10[inst.price_precision]
    if rounding is Rounding.DOWN:
        lots = num // den
    elif rounding is Rounding.UP:
        lots = -(-num // den)
    else:
        lots = (2 * num + den) // (2 * den)
    return lots * lot


def basis_ppb(future: Instrument, future_px: int, spot: Instrument, spot_px: int) -> int:
    """``future_px / spot_px - 1`` in parts per billion (rounded toward minus infinity); the
    two prices at their instruments' precisions."""
    _check_px(spot, spot_px)
    fp, sp = future.price_precision, spot.price_precision
    f = future_px * POW10[max(sp - fp, 0)]
    s = spot_px * POW10[max(fp - sp, 0)]
    return (f - s) * PPB // s


def annualised_basis_ppm(
    future: Instrument, future_px: int, spot: Instrument, spot_px: int, now_ns: int
) -> int:
    """``(F / S - 1) * year / time_to_expiry`` in ppm (rounded toward minus infinity) of a dated
    future (``future.expiry_ns``) against spot, at ``now_ns``.

    Raises ``ValueError`` when the future has no expiry or has expired.
    """
    ttx = future.expiry_ns - now_ns
    if not future.expiry_ns or ttx <= 0:
        raise ValueError(f"{future.venue}:{future.symbol}: no time to expiry at {now_ns}")
    _check_px(spot, spot_px)
    fp, sp = future.price_precision, spot.price_precision
    f = future_px * POW10[max(sp - fp, 0)]
    s = spot_px * POW10[max(fp - sp, 0)]
    return (f - s) * 1_000_000 * NS_PER_YEAR // (s * ttx)


def fills_base_amount(inst: Instrument, qty: int, fill_value: int, *, round_up: bool) -> int:
    """Base amount of fills of ``qty`` in total whose ``sum(px * qty)`` is ``fill_value`` (raw,
    as ``Order.fill_value`` keeps it).

    Linear: ``qty * cv``. Inverse: ``qty * cv / vwap``, which is exact when the fills share one
    price and otherwise low by the spread of their prices (``sum(q_i / p_i) >= Q**2 /
    sum(q_i * p_i)``); with no fill value (nothing filled) it is 0.
    """
    if not inst.inverse:
        return base_amount(inst, 0, qty, round_up=round_up)
    if qty == 0:
        return 0
    if fill_value <= 0:
        raise ValueError(f"{inst.venue}:{inst.symbol}: fill value {fill_value} for qty {qty}")
    # qty * cv / (fill_value / qty) = base_amount of qty**2 contracts at the price fill_value.
    return base_amount(inst, fill_value, qty * qty, round_up=round_up)
