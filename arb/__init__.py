"""arb: a cross-exchange cryptocurrency arbitrage engine.

The public API: exact numbers, instruments, market events, the L2 book and its integrity
state machine, the recording format and the config loader. See README.md.
"""

from arb.config import Config
from arb.config import load_config
from arb.core.book import DepthWalk
from arb.core.book import LocalBook
from arb.core.errors import ArbError
from arb.core.errors import BadChecksum
from arb.core.errors import ConfigError
from arb.core.errors import CrossedBook
from arb.core.errors import DataError
from arb.core.errors import DecodeError
from arb.core.errors import InvariantViolation
from arb.core.errors import PrecisionError
from arb.core.errors import RecordingError
from arb.core.errors import SequenceGap
from arb.core.errors import UnknownInstrument
from arb.core.errors import VenueError
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import MarketEvent
from arb.core.events import Quote
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.instruments import parse_symbol
from arb.core.numbers import from_raw
from arb.core.numbers import to_raw
from arb.core.scaler import RawScaler
from arb.core.sequencing import SequenceRule
from arb.core.sequencing import Verdict
from arb.core.sync import BookSpec
from arb.core.sync import BookStats
from arb.core.sync import BookSync
from arb.core.sync import Outcome
from arb.core.sync import SyncState
from arb.core.types import Side
from arb.ports import FrameCodec
from arb.recording import Frame
from arb.recording import Kind
from arb.recording import Manifest
from arb.recording import Recording
from arb.recording import RecordingWriter
from arb.recording import open_recording

__version__ = "0.1.0"

__all__ = [
    "NO_SEQ",
    "ArbError",
    "BadChecksum",
    "BookDelta",
    "BookSnapshot",
    "BookSpec",
    "BookStats",
    "BookSync",
    "Config",
    "ConfigError",
    "CrossedBook",
    "DataError",
    "DecodeError",
    "DepthWalk",
    "Frame",
    "FrameCodec",
    "Instrument",
    "InstrumentKind",
    "InvariantViolation",
    "Kind",
    "LocalBook",
    "Manifest",
    "MarketEvent",
    "Outcome",
    "PrecisionError",
    "Quote",
    "RawScaler",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "SequenceGap",
    "SequenceRule",
    "Side",
    "SyncState",
    "Trade",
    "UnknownInstrument",
    "VenueError",
    "Verdict",
    "from_raw",
    "load_config",
    "open_recording",
    "parse_symbol",
    "to_raw",
]
