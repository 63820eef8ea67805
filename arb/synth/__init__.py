"""Synthetic multi-venue markets in real venue wire formats (``arb synth``).

``generate`` writes an arb recording of OKX ``books``/``trades`` and Binance spot / USD-M
diff. depth, trades and REST snapshots, driven by one latent price per asset that each venue
follows with its own lag, noise and spread, so that cross-venue spreads open and close like
real ones. Deterministic: the same arguments give byte-identical files.
"""

from __future__ import annotations

from arb.synth.specs import SYMBOLS
from arb.synth.specs import VENUES
from arb.synth.writer import SynthReport
from arb.synth.writer import generate

__all__ = ["SYMBOLS", "VENUES", "SynthReport", "generate"]
