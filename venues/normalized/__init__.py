"""arb's normalized L2 encoding: frames of kind ``n`` for sources that are not a wire format.

CSV inputs (tardis.dev, top-N snapshots) have no venue wire format to keep byte for byte, so
``arb import`` stores each row group as one compact JSON message (``schemas``) and
``NormalizedCodec`` turns it back into normalized events (``codec``).
"""

from __future__ import annotations

from venues.normalized.codec import NormalizedCodec
from venues.normalized.schemas import NormalizedDeltaMsg
from venues.normalized.schemas import NormalizedMsg
from venues.normalized.schemas import NormalizedQuoteMsg
from venues.normalized.schemas import NormalizedSnapMsg
from venues.normalized.schemas import NormalizedTradeMsg
from venues.normalized.schemas import encode_delta
from venues.normalized.schemas import encode_quote
from venues.normalized.schemas import encode_snap
from venues.normalized.schemas import encode_trade

__all__ = [
    "NormalizedCodec",
    "NormalizedDeltaMsg",
    "NormalizedMsg",
    "NormalizedQuoteMsg",
    "NormalizedSnapMsg",
    "NormalizedTradeMsg",
    "encode_delta",
    "encode_quote",
    "encode_snap",
    "encode_trade",
]
