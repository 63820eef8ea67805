"""OKX order-book checksum: signed CRC32 over the top 25 levels, strings as received.

The check string interleaves ``bid[i].px:bid[i].sz:ask[i].px:ask[i].sz`` for i in 0..24; when a
side is shorter its missing entries are skipped. CRC32 (zlib) is read as a signed 32-bit int.
Since June 2026 OKX sends ``checksum: 0`` (deprecated); verify only non-zero values.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from arb.core.book import LocalBook

__all__ = ["DEPTH", "book_checksum", "checksum_of", "checksum_string"]

DEPTH = 25


def checksum_string(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> str:
    parts: list[str] = []
    nb, na = len(bids), len(asks)
    for i in range(min(DEPTH, max(nb, na))):
        if i < nb:
            parts.append(bids[i][0])
            parts.append(bids[i][1])
        if i < na:
            parts.append(asks[i][0])
            parts.append(asks[i][1])
    return ":".join(parts)


def checksum_of(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> int:
    """Signed CRC32 of the check string of the best 25 bids (best first) and asks."""
    c = zlib.crc32(checksum_string(bids[:DEPTH], asks[:DEPTH]).encode())
    return c - 0x1_0000_0000 if c >= 0x8000_0000 else c


def book_checksum(book: LocalBook) -> int:
    """Checksum of a local book kept with raw strings (``keep_raw=True``)."""
    bids, asks = book.raw_top(DEPTH)
    return checksum_of(bids, asks)
