"""One error root for arb.

::

    ArbError
      + DataError              venue data untrustworthy: count it, drop the book, resync
        - PrecisionError       a decimal string does not fit the instrument's precision
        - DecodeError          a frame could not be decoded (malformed, unknown shape)
        - SequenceGap          an update does not continue the book's sequence
        - CrossedBook          best bid >= best ask after an update
        - BadChecksum          the venue's checksum disagrees with the local book
        - UnknownInstrument    a frame names an instrument the recording does not know
      + RecordingError         a recording or an import input is unreadable (file and line named)
      + ConfigError            a config file is invalid (file and key path named)
      + VenueError             a venue answered with an error (``retryable``, ``venue``, ``code``)
      + InvariantViolation     a programmer/state bug: fail loudly

Messages say what was received and where.
"""

from __future__ import annotations

import enum

__all__ = [
    "RETRYABLE",
    "ArbError",
    "BadChecksum",
    "ConfigError",
    "CrossedBook",
    "DataError",
    "DecodeError",
    "InvariantViolation",
    "PrecisionError",
    "RecordingError",
    "RetryAction",
    "SequenceGap",
    "UnknownInstrument",
    "VenueError",
]


class ArbError(Exception):
    """Root of every error arb raises on purpose."""


class DataError(ArbError):
    """Venue data cannot be trusted; the affected book is dropped and resynced."""


class PrecisionError(DataError):
    """A decimal string has more decimals than the instrument's precision, or is not a number."""


class DecodeError(DataError):
    """A raw frame could not be decoded."""


class SequenceGap(DataError):
    """An update does not continue the local book's sequence."""


class CrossedBook(DataError):
    """The book is crossed (best bid >= best ask)."""


class BadChecksum(DataError):
    """The checksum sent by the venue disagrees with the local book."""


class UnknownInstrument(DataError):
    """A frame refers to an instrument that is not known."""


class RecordingError(ArbError):
    """A recording or import input cannot be read; the message names the file and line."""


class ConfigError(ArbError):
    """A config file is invalid; the message names the file and the key path."""


class VenueError(ArbError):
    """A venue answered with an error."""

    def __init__(self, message: str, *, venue: str, code: str = "", retryable: bool = False):
        super().__init__(message)
        self.venue = venue
        self.code = code
        self.retryable = retryable


class InvariantViolation(ArbError):
    """An impossible state was reached: a bug. Never caught to continue."""


class RetryAction(enum.Enum):
    """What a caller does after a venue error (each venue's ``should_retry`` table decides)."""

    NONE = "none"
    """Final: report it (a reject, an unknown error)."""
    BACKOFF = "backoff"
    """Resend as is after a backoff with jitter (rate limit, busy)."""
    QUERY_ORDER = "query_order"
    """The order's outcome is unknown: ask for it by client order id before anything else."""
    RESYNC_CLOCK_ONCE = "resync_clock_once"
    """Measure the clock offset again and resend once (timestamp refused)."""
    STOP = "stop"
    """Stop using the venue: never retry (authentication, account restricted)."""


RETRYABLE = frozenset({RetryAction.BACKOFF, RetryAction.RESYNC_CLOCK_ONCE})
"""Actions after which the same request may be sent again as is (``VenueError.retryable``)."""
