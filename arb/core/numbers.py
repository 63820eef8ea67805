"""Exact fixed-point conversion between venue decimal strings and raw integers.

Venues send prices and sizes as decimal strings. They are converted once, at the adapter
edge, to integers scaled by ``10**precision`` of the instrument (``"24670.90"`` at
precision 2 -> ``2467090``). The core does integer arithmetic only; nothing drifts.

A string with more significant decimals than the precision is refused (``PrecisionError``):
silently truncating a price would trade at a price nobody quoted. So is anything but a plain
ASCII decimal (an optional ``-``, digits, an optional ``.`` and digits): ``int()`` alone would
take ``"1_000"``, ``" 5"``, ``"+5"`` or non-ASCII digits.
"""

from __future__ import annotations

import re
from decimal import Decimal

from arb.core.errors import PrecisionError

__all__ = [
    "POW10",
    "decimals_of",
    "from_raw",
    "raw_to_decimal",
    "rescale",
    "to_raw",
]

POW10: tuple[int, ...] = tuple(10**i for i in range(40))
_PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def to_raw(s: str, precision: int) -> int:
    """Convert a decimal string to an integer scaled by ``10**precision``.

    Trailing zeros past the precision are accepted (``"61737.63000000"`` at precision 2).
    Raises ``PrecisionError`` for non-zero digits past the precision or a malformed string.

    Runtime complexity: O(len(s)).
    """
    if _PLAIN_DECIMAL.fullmatch(s) is None:
        raise PrecisionError(f"{s!r} is not a decimal number")
    i = s.find(".")
    try:
        if i < 0:
            return int(s) * POW10[precision]
        frac = s[i + 1 :]
        n = len(frac)
        if n == precision:
            return int(s[:i] + frac)
        if n < precision:
            return int(s[:i] + frac) * POW10[precision - n]
        head = frac[:precision]
        if frac[precision:].strip("0"):
            raise PrecisionError(f"{s!r} has more than {precision} decimals")
        return int(s[:i] + head)
    except ValueError as e:
        raise PrecisionError(f"{s!r} is not a decimal number") from e


def from_raw(raw: int, precision: int) -> str:
    """Format a raw integer back to a plain decimal string with exactly ``precision`` decimals."""
    if precision == 0:
        return str(raw)
    sign = "-" if raw < 0 else ""
    q, r = divmod(abs(raw), POW10[precision])
    return f"{sign}{q}.{r:0{precision}d}"


def raw_to_decimal(raw: int, precision: int) -> Decimal:
    """Return the exact ``Decimal`` value of a raw integer (for reports and order formatting)."""
    return Decimal(raw).scaleb(-precision)


def decimals_of(s: str) -> int:
    """Count significant decimals of a decimal string (``"0.5000"`` -> 1, ``"100"`` -> 0)."""
    i = s.find(".")
    if i < 0:
        return 0
    return len(s[i + 1 :].rstrip("0"))


def rescale(raw: int, from_precision: int, to_precision: int) -> int:
    """Change the scale of a raw integer; refuses to drop non-zero digits."""
    if to_precision >= from_precision:
        return raw * POW10[to_precision - from_precision]
    q, r = divmod(raw, POW10[from_precision - to_precision])
    if r:
        raise PrecisionError(
            f"raw {raw} at precision {from_precision} does not fit precision {to_precision}"
        )
    return q
