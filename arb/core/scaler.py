"""Memoized conversion of one instrument's price and size strings to raw integers.

Book messages repeat the same strings (levels near the top, ``"0"`` deletes): a bounded dict per
field turns most conversions into one lookup. On recorded OKX and Binance streams this makes a
venue codec 2-4x faster than calling ``to_raw`` per string. Results are identical to
``inst.px_to_raw`` / ``inst.qty_to_raw``; errors (``PrecisionError``) are never memoized.
"""

from __future__ import annotations

from collections.abc import Sequence

from arb.core.instruments import Instrument
from arb.core.numbers import POW10
from arb.core.numbers import to_raw

__all__ = ["RawScaler"]

Levels = list[tuple[int, int]]


class RawScaler:
    """Per-instrument string -> raw integer converter with bounded memos.

    Parameters
    ----------
    inst
        The instrument whose precisions scale the strings.
    capacity
        Most strings remembered per field; a memo is cleared once it holds this many.
    """

    __slots__ = ("_px", "_qty", "capacity", "inst", "px_prec", "qty_prec", "symbol")

    def __init__(self, inst: Instrument, capacity: int = 1 << 16) -> None:
        self.inst = inst
        self.symbol = inst.symbol
        self.px_prec = inst.price_precision
        self.qty_prec = inst.size_precision
        self.capacity = capacity
        self._px: dict[str, int] = {}
        self._qty: dict[str, int] = {}

    def px(self, s: str) -> int:
        """Raw price of ``s``. Raises ``PrecisionError``. Runtime: O(1) when seen before."""
        memo = self._px
        v = memo.get(s)
        if v is None:
            v = to_raw(s, self.px_prec)
            if len(memo) >= self.capacity:
                memo.clear()
            memo[s] = v
        return v

    def qty(self, s: str) -> int:
        """Raw size of ``s``. Raises ``PrecisionError``. Runtime: O(1) when seen before."""
        memo = self._qty
        v = memo.get(s)
        if v is None:
            v = to_raw(s, self.qty_prec)
            if len(memo) >= self.capacity:
                memo.clear()
            memo[s] = v
        return v

    def levels(self, rows: Sequence[Sequence[str]]) -> Levels:
        """``[(px_raw, qty_raw), ...]`` of ``[[px, qty, ...], ...]`` rows, in order.

        The hot loop of every book message: memo first, then ``to_raw``'s arithmetic inlined
        for strings with no more decimals than the precision; anything else goes through
        ``to_raw`` (which raises ``PrecisionError`` naming the string).
        """
        pmemo, qmemo = self._px, self._qty
        pget, qget = pmemo.get, qmemo.get
        pp, qp = self.px_prec, self.qty_prec
        out: Levels = []
        append = out.append
        try:
            for r in rows:
                ps = r[0]
                qs = r[1]
                p = pget(ps)
                if p is None:
                    a, _, f = ps.partition(".")
                    n = pp - len(f)
                    p = pmemo[ps] = int(a + f) * POW10[n] if n >= 0 else to_raw(ps, pp)
                q = qget(qs)
                if q is None:
                    a, _, f = qs.partition(".")
                    n = qp - len(f)
                    q = qmemo[qs] = int(a + f) * POW10[n] if n >= 0 else to_raw(qs, qp)
                append((p, q))
        except ValueError:
            # Not a plain decimal (int() refused it): to_raw raises the PrecisionError naming it.
            for r in rows:
                to_raw(r[0], pp)
                to_raw(r[1], qp)
            raise
        cap = self.capacity
        if len(pmemo) > cap:
            pmemo.clear()
        if len(qmemo) > cap:
            qmemo.clear()
        return out
