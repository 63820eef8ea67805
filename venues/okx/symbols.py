"""Canonical arb symbols <-> OKX ``instId``.

- spot: ``BTC-USDT`` <-> ``BTC-USDT``;
- perpetual swap: ``BTC-USDT-PERP`` <-> ``BTC-USDT-SWAP``;
- dated future: ``BTC-USD-20220527`` <-> ``BTC-USD-220527``;
- option: ``BTC-USD-20220514-22000-C`` <-> ``BTC-USD-220514-22000-C``.

Linear and inverse contracts share the shape (``BTC-USDT-SWAP`` is linear, ``BTC-USD-SWAP``
inverse); whether a contract is inverse is instrument metadata, not part of the symbol. OKX
dates are ``YYMMDD`` and are read as 20YY. Anything else raises ``ValueError``.
"""

from __future__ import annotations

import re

__all__ = ["from_venue_symbol", "to_venue_symbol"]

# Currency codes: upper-case letters and digits (1INCH), plus "_" for OKX families (USD_UM).
_CCY = r"[A-Z0-9][A-Z0-9_]*"
_STRIKE = r"[0-9]+(?:\.[0-9]+)?"
_CANONICAL = re.compile(
    rf"(?P<pair>{_CCY}-{_CCY})"
    rf"(?:-(?P<perp>PERP)|-20(?P<date>[0-9]{{6}})(?:-(?P<strike>{_STRIKE})-(?P<cp>[CP]))?)?"
)
_VENUE = re.compile(
    rf"(?P<pair>{_CCY}-{_CCY})"
    rf"(?:-(?P<swap>SWAP)|-(?P<date>[0-9]{{6}})(?:-(?P<strike>{_STRIKE})-(?P<cp>[CP]))?)?"
)
_RESERVED = frozenset(("PERP", "SWAP"))
_CANONICAL_FORMS = "BASE-QUOTE, BASE-QUOTE-PERP, BASE-QUOTE-YYYYMMDD or BASE-QUOTE-YYYYMMDD-K-C|P"
_VENUE_FORMS = "BASE-QUOTE, BASE-QUOTE-SWAP, BASE-QUOTE-YYMMDD or BASE-QUOTE-YYMMDD-K-C|P"


def _check_date(yymmdd: str, symbol: str) -> None:
    # Month 01-12 and day 01-31: enough to refuse a strike or a garbled field taken for a date.
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError(f"symbol {symbol!r} has an invalid date {yymmdd!r}")


def _check_pair(pair: str, symbol: str) -> None:
    # "BTC-PERP" / "BTC-SWAP" would otherwise read as a spot pair quoted in "PERP".
    if pair.rpartition("-")[2] in _RESERVED:
        raise ValueError(f"symbol {symbol!r} has no quote currency")


def _build(pair: str, tail: str, date: str | None, strike: str | None, cp: str | None) -> str:
    if tail:
        return f"{pair}-{tail}"
    if date is None:
        return pair
    if strike is None:
        return f"{pair}-{date}"
    return f"{pair}-{date}-{strike}-{cp}"


def to_venue_symbol(symbol: str) -> str:
    """Return the OKX ``instId`` of a canonical symbol.

    Parameters
    ----------
    symbol
        Canonical symbol, e.g. ``"BTC-USDT-PERP"`` or ``"BTC-USD-20220527"``.

    Returns
    -------
    str
        The OKX ``instId``, e.g. ``"BTC-USDT-SWAP"`` or ``"BTC-USD-220527"``.

    Raises
    ------
    ValueError
        If ``symbol`` is not one of the canonical shapes (dates must be in the 2000s).
    """
    m = _CANONICAL.fullmatch(symbol)
    if m is None:
        raise ValueError(f"symbol {symbol!r} is not a canonical symbol ({_CANONICAL_FORMS})")
    _check_pair(m["pair"], symbol)
    date = m["date"]
    if date is not None:
        _check_date(date, symbol)
    return _build(m["pair"], "SWAP" if m["perp"] else "", date, m["strike"], m["cp"])


def from_venue_symbol(inst_id: str) -> str:
    """Return the canonical symbol of an OKX ``instId``.

    Parameters
    ----------
    inst_id
        OKX instrument id, e.g. ``"BTC-USD-SWAP"`` or ``"BTC-USD-220514-22000-C"``.

    Returns
    -------
    str
        The canonical symbol, e.g. ``"BTC-USD-PERP"`` or ``"BTC-USD-20220514-22000-C"``.

    Raises
    ------
    ValueError
        If ``inst_id`` is not one of the OKX instrument id shapes.
    """
    m = _VENUE.fullmatch(inst_id)
    if m is None:
        raise ValueError(f"OKX instId {inst_id!r} is not one of {_VENUE_FORMS}")
    _check_pair(m["pair"], inst_id)
    date = m["date"]
    if date is not None:
        _check_date(date, inst_id)
        date = "20" + date
    return _build(m["pair"], "PERP" if m["swap"] else "", date, m["strike"], m["cp"])
