"""arb: a cross-exchange cryptocurrency arbitrage engine.

The public API: exact numbers, instruments, market events, the L2 book and its integrity
state machine, the recording format and the config loader. See README.md.
"""

from arb.config import Config
from arb.config import load_config
from arb.core.book import DepthWalk
from arb.core.book import LocalBook
from arb.core.detector import Balances
from arb.core.detector import DetectorConfig
from arb.core.detector import DetectorRefusal
from arb.core.detector import SpatialDetector
from arb.core.detector import SymbolLimits
from arb.core.detector import VenueParams
from arb.core.errors import RETRYABLE
from arb.core.errors import ArbError
from arb.core.errors import BadChecksum
from arb.core.errors import ConfigError
from arb.core.errors import CrossedBook
from arb.core.errors import DataError
from arb.core.errors import DecodeError
from arb.core.errors import InvariantViolation
from arb.core.errors import PrecisionError
from arb.core.errors import RecordingError
from arb.core.errors import RetryAction
from arb.core.errors import SequenceGap
from arb.core.errors import UnknownInstrument
from arb.core.errors import VenueError
from arb.core.events import NO_SEQ
from arb.core.events import BookDelta
from arb.core.events import BookSnapshot
from arb.core.events import Delta
from arb.core.events import FundingRate
from arb.core.events import MarketEvent
from arb.core.events import MarkPrice
from arb.core.events import Quote
from arb.core.events import TextBookDelta
from arb.core.events import TextRow
from arb.core.events import Trade
from arb.core.instruments import Instrument
from arb.core.instruments import InstrumentKind
from arb.core.instruments import parse_symbol
from arb.core.ledger import Ledger
from arb.core.ledger import base_amount
from arb.core.messages import CancelOrder
from arb.core.messages import Command
from arb.core.messages import OrderAccepted
from arb.core.messages import OrderCanceled
from arb.core.messages import OrderEvent
from arb.core.messages import OrderFilled
from arb.core.messages import OrderRejected
from arb.core.messages import OrderType
from arb.core.messages import PlaceOrder
from arb.core.messages import client_order_id
from arb.core.numbers import from_raw
from arb.core.numbers import to_raw
from arb.core.opportunity import MAX_ID_LEN
from arb.core.opportunity import Leg
from arb.core.opportunity import Opportunity
from arb.core.opportunity import Refused
from arb.core.opportunity import most_profitable
from arb.core.opportunity import opportunity_id
from arb.core.orders import RACES
from arb.core.orders import TERMINAL_STATES
from arb.core.orders import TRANSITIONS
from arb.core.orders import Order
from arb.core.orders import OrderState
from arb.core.orders import Race
from arb.core.orders import Trigger
from arb.core.risk import NS_PER_DAY
from arb.core.risk import RateLimit
from arb.core.risk import Refusal
from arb.core.risk import RefusalCode
from arb.core.risk import RiskConfig
from arb.core.risk import RiskGate
from arb.core.risk import RiskLimits
from arb.core.risk import RiskState
from arb.core.risk import utc_day
from arb.core.scaler import RawScaler
from arb.core.sequencing import SequenceRule
from arb.core.sequencing import Verdict
from arb.core.sync import BookSpec
from arb.core.sync import BookStats
from arb.core.sync import BookSync
from arb.core.sync import Outcome
from arb.core.sync import SyncState
from arb.core.types import Side
from arb.core.unwind import DONE_BALANCED
from arb.core.unwind import DONE_EXHAUSTED
from arb.core.unwind import DONE_WITHIN_TOLERANCE
from arb.core.unwind import PERMANENT_REJECTS
from arb.core.unwind import Decision
from arb.core.unwind import LegFills
from arb.core.unwind import Plan
from arb.core.unwind import Pricer
from arb.core.unwind import UnwindConfig
from arb.core.unwind import plan
from arb.core.unwind import residual_exposure
from arb.core.unwind import top_of_book_pricer
from arb.core.unwind import unit_value
from arb.ports import FrameCodec
from arb.recording import Frame
from arb.recording import Kind
from arb.recording import Manifest
from arb.recording import Recording
from arb.recording import RecordingWriter
from arb.recording import open_recording

__version__ = "0.1.0"

__all__ = [
    "DONE_BALANCED",
    "DONE_EXHAUSTED",
    "DONE_WITHIN_TOLERANCE",
    "MAX_ID_LEN",
    "NO_SEQ",
    "NS_PER_DAY",
    "PERMANENT_REJECTS",
    "RACES",
    "RETRYABLE",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "ArbError",
    "BadChecksum",
    "Balances",
    "BookDelta",
    "BookSnapshot",
    "BookSpec",
    "BookStats",
    "BookSync",
    "CancelOrder",
    "Command",
    "Config",
    "ConfigError",
    "CrossedBook",
    "DataError",
    "Decision",
    "DecodeError",
    "Delta",
    "DepthWalk",
    "DetectorConfig",
    "DetectorRefusal",
    "Frame",
    "FrameCodec",
    "FundingRate",
    "Instrument",
    "InstrumentKind",
    "InvariantViolation",
    "Kind",
    "Ledger",
    "Leg",
    "LegFills",
    "LocalBook",
    "Manifest",
    "MarkPrice",
    "MarketEvent",
    "Opportunity",
    "Order",
    "OrderAccepted",
    "OrderCanceled",
    "OrderEvent",
    "OrderFilled",
    "OrderRejected",
    "OrderState",
    "OrderType",
    "Outcome",
    "PlaceOrder",
    "Plan",
    "PrecisionError",
    "Pricer",
    "Quote",
    "Race",
    "RateLimit",
    "RawScaler",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Refusal",
    "RefusalCode",
    "Refused",
    "RetryAction",
    "RiskConfig",
    "RiskGate",
    "RiskLimits",
    "RiskState",
    "SequenceGap",
    "SequenceRule",
    "Side",
    "SpatialDetector",
    "SymbolLimits",
    "SyncState",
    "TextBookDelta",
    "TextRow",
    "Trade",
    "Trigger",
    "UnknownInstrument",
    "UnwindConfig",
    "VenueError",
    "VenueParams",
    "Verdict",
    "base_amount",
    "client_order_id",
    "from_raw",
    "load_config",
    "most_profitable",
    "open_recording",
    "opportunity_id",
    "parse_symbol",
    "plan",
    "residual_exposure",
    "to_raw",
    "top_of_book_pricer",
    "unit_value",
    "utc_day",
]
