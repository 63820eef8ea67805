"""Money amounts and fees, exactly.

Amounts of a currency (fees, PnL, balances, notionals) are integers at ``AMOUNT_PRECISION``
decimals (``1 USDT`` = ``10**18``: the decimals of ERC-20 tokens, and of the finest sizes in
recorded venue data). A notional ``px_raw * qty_raw`` is at the scale
``price_precision + size_precision`` of its instrument; ``notional_amount`` rescales it,
rounding toward the side that never flatters the trader (costs up, proceeds down).

Fees are integers in parts per million of notional (``ppm``): 10 bps = 1000 ppm, a maker rebate
is negative. ``fee_amount`` rounds a charge up and a rebate down (toward zero gain).
"""

from __future__ import annotations

from arb.core.instruments import Instrument
from arb.core.numbers import POW10
from arb.core.numbers import decimals_of
from arb.core.numbers import to_raw

__all__ = [
    "AMOUNT_PRECISION",
    "PPM",
    "bps_to_ppm",
    "fee_amount",
    "notional_amount",
]

AMOUNT_PRECISION = 18
PPM = 1_000_000


def bps_to_ppm(bps: float) -> int:
    """Basis points to ppm, exactly for inputs with at most two decimals (7.5 bps -> 750)."""
    return round(bps * 100)


def _div(n: int, d: int, *, round_up: bool) -> int:
    q, r = divmod(n, d)
    return q + 1 if (r and round_up) else q


def notional_amount(inst: Instrument, px_raw: int, qty_raw: int, *, round_up: bool) -> int:
    """Quote-currency amount of ``qty`` at ``px`` (linear instruments), at AMOUNT_PRECISION.

    ``contract_value`` multiplies the size for linear contracts. ``round_up`` chooses the
    rounding when the instrument is finer than AMOUNT_PRECISION: up for what we pay, down for
    what we receive.
    """
    scale = inst.price_precision + inst.size_precision
    n = px_raw * qty_raw
    if inst.contract_value != "1":
        cv_prec = decimals_of(inst.contract_value)
        n *= to_raw(inst.contract_value, cv_prec)
        scale += cv_prec
    if scale <= AMOUNT_PRECISION:
        return n * POW10[AMOUNT_PRECISION - scale]
    return _div(n, POW10[scale - AMOUNT_PRECISION], round_up=round_up)


def fee_amount(amount: int, fee_ppm: int) -> int:
    """Fee on ``amount`` (at AMOUNT_PRECISION): charges round up, rebates round toward zero."""
    n = amount * fee_ppm
    if n >= 0:
        return _div(n, PPM, round_up=True)
    return -_div(-n, PPM, round_up=False)
