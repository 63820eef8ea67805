"""Venue-independent symbol helpers: splitting concatenated venue symbols (``BTCUSDT``)."""

from __future__ import annotations

__all__ = ["KNOWN_QUOTES", "split_concatenated"]

# Longest first, so that "FDUSD" wins over "USD" and "USDT" over "USD".
KNOWN_QUOTES: tuple[str, ...] = tuple(
    sorted(
        (
            "USDT",
            "USDC",
            "FDUSD",
            "BUSD",
            "TUSD",
            "DAI",
            "USD",
            "EUR",
            "TRY",
            "BRL",
            "BTC",
            "ETH",
            "BNB",
        ),
        key=len,
        reverse=True,
    )
)


def split_concatenated(symbol: str) -> tuple[str, str]:
    """Split ``"LINKUSDT"`` into ``("LINK", "USDT")`` by the known quote assets.

    Raises ``ValueError`` when no known quote asset ends the symbol.
    """
    s = symbol.upper()
    for q in KNOWN_QUOTES:
        if s.endswith(q) and len(s) > len(q):
            return s[: -len(q)], q
    raise ValueError(f"cannot split symbol {symbol!r}: no known quote asset at its end")
