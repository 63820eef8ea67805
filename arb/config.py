"""Config files: TOML decoded into msgspec Structs with unknown keys forbidden.

A bad config stops arb at start with the file, the key path and what was expected::

    configs/x.toml: venues[0].tker_fee_bps: unknown key
    configs/x.toml: pairs[1].venues[0]: venue 'okk' is not defined in [[venues]]

Secrets never live here: credentials come from the environment (see the live issue).

One owner per number, so that two sections cannot disagree:

- fees: ``venues[i].taker_fee_bps`` / ``maker_fee_bps`` (the detector prices with them, the
  simulated venue charges them); ``[venues.sim]`` takes no fees;
- quote age: ``risk.max_quote_age_ms`` (the detector and the send-time check both use it);
  ``[detector]`` takes no ``max_quote_age_ms``;
- expected order latency (for the haircut): ``venues[i].order_latency_ms``, defaulting to the
  median of the simulated venue's latency law when there is one.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from decimal import InvalidOperation
from pathlib import Path
from typing import Literal

import msgspec

from arb.core.basis import BasisConfig
from arb.core.detector import DetectorConfig
from arb.core.errors import ConfigError
from arb.core.instruments import parse_symbol
from arb.core.risk import RiskConfig
from arb.core.triangular import TriangularConfig
from arb.core.unwind import UnwindConfig
from venues.sim.config import SimVenueConfig

__all__ = [
    "AlertsConfig",
    "Config",
    "EngineConfig",
    "InstrumentOverride",
    "LiveConfig",
    "MetricsConfig",
    "PairConfig",
    "ReplayConfig",
    "SynthConfig",
    "VenueConfig",
    "load_config",
]

VenueKind = Literal["okx", "binance", "binance-usdm", "binance-coinm", "ccxt", "sim"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class EngineConfig(_Strict, kw_only=True, frozen=True):
    name: str = "arb"


class VenueConfig(_Strict, kw_only=True, frozen=True):
    id: str
    kind: VenueKind
    taker_fee_bps: float = 10.0
    maker_fee_bps: float = 8.0
    exchange: str = ""
    """ccxt exchange id when ``kind = "ccxt"``."""
    order_latency_ms: float | None = None
    """Expected decision-to-match time used by the detector's latency haircut. Default: the
    median of ``[venues.sim] order_latency`` when set, else 50 ms."""
    sim: SimVenueConfig | None = None
    """How the simulated venue behaves in replay and paper mode (``[venues.sim]``)."""
    rest_url: str = ""
    """REST base URL of a live venue (``""``: the venue's official one; a sandbox for tests)."""
    ws_url: str = ""
    """WebSocket public URL of a live venue (``""``: the venue's official one)."""
    demo: bool = False
    """OKX demo trading (``x-simulated-trading: 1``; demo keys); for ``kind = "ccxt"``, ccxt's
    ``set_sandbox_mode(True)`` (the exchange's testnet)."""
    credentials_env: str = ""
    """Prefix of the environment variables holding this venue's API key (``<prefix>API_KEY``,
    ``<prefix>SECRET_KEY``, ``<prefix>PASSPHRASE`` where the venue has one, or
    ``<prefix>CREDENTIALS_FILE`` naming an owner-only TOML file). Default ``ARB_<ID>_`` (the
    id upper-cased, ``-`` as ``_``). Never the secrets themselves: they are not config."""
    poll_interval_ms: int = 0
    """ccxt venues without WebSocket books: the REST polling interval of their books (ms);
    0 picks 1000. Also the order-status polling interval where ``watch_orders`` is missing."""
    book_depth: int = 20
    """Levels per side kept from ccxt books (and asked of the venue)."""

    @property
    def env_prefix(self) -> str:
        """``credentials_env``, or ``ARB_<ID>_``."""
        return self.credentials_env or "ARB_" + re.sub(r"[^A-Z0-9]", "_", self.id.upper()) + "_"


class PairConfig(_Strict, kw_only=True, frozen=True):
    symbol: str
    venues: list[str]


class InstrumentOverride(_Strict, kw_only=True, frozen=True):
    """Order rules of an instrument whose metadata the recording lacks or only inferred
    (``[[instruments]]``); ``""`` keeps the recorded value. Decimal strings."""

    venue: str
    symbol: str
    tick_size: str = ""
    lot_size: str = ""
    min_size: str = ""
    min_notional: str = ""


class ReplayConfig(_Strict, kw_only=True, frozen=True):
    run_id: str = "replay"
    """Written in the journal (part of its digest): keep it fixed for comparable runs."""
    commit_every: int = 500
    """Journal events per commit (a killed replay loses at most this many)."""
    drain_ms: int = 30_000
    """After the last frame, how long the virtual clock may run to finish open trades."""


class MetricsConfig(_Strict, kw_only=True, frozen=True):
    """Prometheus text endpoint of ``arb run`` (``GET /metrics``)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9464
    """0: any free port (logged at start)."""


class AlertsConfig(_Strict, kw_only=True, frozen=True):
    """Where alerts go (kill switch, breaker, residual exposure, stale feeds): an HTTP POST of
    one JSON object, and/or a command run with the same JSON on stdin. Neither: logged only."""

    webhook_url: str = ""
    command: list[str] = []
    cooldown_s: float = 60.0
    """The same alert (kind and subject) is sent at most once per cool-down."""
    timeout_s: float = 5.0
    stale_feed_ms: int = 5_000
    """A venue feed with no message for this long raises a ``stale_feed`` alert."""
    unhedged_alert_usd: float = 0.0
    """Residual unhedged exposure above this raises an alert (0: any residual left after a
    trade finished)."""


class LiveConfig(_Strict, kw_only=True, frozen=True):
    """``arb run``: the live (or paper) engine."""

    mode: Literal["live", "paper"] = "live"
    """``paper``: live market data, orders to simulated venues (``[venues.sim]``)."""
    state_dir: str = "state"
    """Journal (``journal.sqlite``) and recordings; relative paths are from the working
    directory. The journal is read back at start to settle what a previous run left."""
    record: bool = False
    """Also write every received frame to ``<state_dir>/recordings/`` (replayable)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    shutdown_timeout_s: float = 15.0
    """On SIGTERM/SIGINT: how long open trades may take to finish or roll back."""
    recovery_timeout_s: float = 30.0
    """At start: how long settling a previous run's open orders may take before arb refuses
    to trade (and exits with an error)."""
    warmup_s: float = 1.0
    """No trade before every book of every pair has been valid this long."""
    metrics: MetricsConfig = MetricsConfig()
    alerts: AlertsConfig = AlertsConfig()


class SynthConfig(_Strict, kw_only=True, frozen=True):
    seconds: float = 300.0
    seed: int = 7
    triangular: bool = False
    """Write the one-venue OKX triangle (BTC-USDT, ETH-BTC, ETH-USDT) of
    ``arb.synth.triangular`` instead of the two-venue market."""


class Config(_Strict, kw_only=True, frozen=True):
    engine: EngineConfig = EngineConfig()
    venues: list[VenueConfig]
    pairs: list[PairConfig]
    synth: SynthConfig = SynthConfig()
    risk: RiskConfig = RiskConfig()
    rollback: UnwindConfig = UnwindConfig()
    detector: DetectorConfig = DetectorConfig()
    instruments: list[InstrumentOverride] = []
    replay: ReplayConfig = ReplayConfig()
    live: LiveConfig = LiveConfig()
    triangular: TriangularConfig | None = None
    """``[triangular]``: the triangular detector on the venues it names (off when absent)."""
    basis: BasisConfig | None = None
    """``[basis]``: spot against perpetuals or futures, the pairs it names (off when absent)."""

    def venue(self, venue_id: str) -> VenueConfig:
        for v in self.venues:
            if v.id == venue_id:
                return v
        raise KeyError(venue_id)

    @property
    def symbols(self) -> list[str]:
        return list(dict.fromkeys(p.symbol for p in self.pairs))


_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _key_path(msg: str) -> tuple[str, str]:
    """Turn msgspec's ``... - at `$.a[0]` `` into (``a[0]``, the message without location)."""
    m = _AT.search(msg)
    path = m.group("path").lstrip(".") if m else ""
    text = msg[: m.start()] if m else msg
    for pattern, what in ((_UNKNOWN, "unknown key"), (_MISSING, "required key is missing")):
        u = pattern.match(text)
        if u:
            field = u.group("field")
            return (f"{path}.{field}" if path else field), what
    return path or "(top level)", text[0].lower() + text[1:] if text else text


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config. Raises ``ConfigError`` naming file and key path."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{p}: no such config file") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from e
    _check_owners(raw, p)
    try:
        cfg = msgspec.convert(raw, Config)
    except msgspec.ValidationError as e:
        key, what = _key_path(str(e))
        raise ConfigError(f"{p}: {key}: {what}") from e
    _check(cfg, p)
    return cfg


def _check(cfg: Config, p: Path) -> None:
    ids = _check_venues(cfg, p)
    _check_pairs(cfg, p, ids)
    for i, ov in enumerate(cfg.instruments):
        if ov.venue not in ids:
            raise ConfigError(
                f"{p}: instruments[{i}].venue: venue {ov.venue!r} is not defined in [[venues]]"
            )
        for name in ("tick_size", "lot_size", "min_size", "min_notional"):
            value = getattr(ov, name)
            if value and not _positive_decimal(value, allow_zero=name.startswith("min")):
                raise ConfigError(
                    f"{p}: instruments[{i}].{name}: {value!r} is not a positive decimal string"
                )
    if cfg.synth.seconds <= 0:
        raise ConfigError(f"{p}: synth.seconds: must be > 0, was {cfg.synth.seconds}")
    if cfg.replay.commit_every < 1:
        raise ConfigError(f"{p}: replay.commit_every: must be >= 1")
    if cfg.replay.drain_ms < 0:
        raise ConfigError(f"{p}: replay.drain_ms: must be >= 0")
    if not cfg.replay.run_id.isprintable() or not cfg.replay.run_id:
        raise ConfigError(f"{p}: replay.run_id: must be a non-empty printable string")
    _check_live(cfg.live, p)
    _check_strategies(cfg, p, ids)


def _check_strategies(cfg: Config, p: Path, ids: set[str]) -> None:
    traded = {(v, pair.symbol) for pair in cfg.pairs for v in pair.venues}
    if cfg.basis is not None:
        for i, bp in enumerate(cfg.basis.pairs):
            for leg in ("spot", "perp"):
                venue, _, symbol = getattr(bp, leg).partition(":")
                if venue not in ids:
                    raise ConfigError(
                        f"{p}: basis.pairs[{i}].{leg}: venue {venue!r} is not defined in [[venues]]"
                    )
                if (venue, symbol) not in traded:
                    raise ConfigError(
                        f"{p}: basis.pairs[{i}].{leg}: {symbol} on {venue} is not in [[pairs]] "
                        "(add it there so its book is kept)"
                    )
    if cfg.triangular is not None:
        for i, venue in enumerate(cfg.triangular.venues):
            if venue not in ids:
                raise ConfigError(
                    f"{p}: triangular.venues[{i}]: venue {venue!r} is not defined in [[venues]]"
                )


def _check_live(live: LiveConfig, p: Path) -> None:
    m = live.metrics
    if not 0 <= m.port <= 65535:
        raise ConfigError(f"{p}: live.metrics.port: {m.port} is not a TCP port")
    a = live.alerts
    if a.webhook_url and not a.webhook_url.startswith(("http://", "https://")):
        raise ConfigError(f"{p}: live.alerts.webhook_url: must be an http(s) URL")
    for name in ("cooldown_s", "timeout_s", "unhedged_alert_usd"):
        if getattr(a, name) < 0:
            raise ConfigError(f"{p}: live.alerts.{name}: must be >= 0")
    if a.stale_feed_ms <= 0:
        raise ConfigError(f"{p}: live.alerts.stale_feed_ms: must be > 0")
    for name in ("shutdown_timeout_s", "recovery_timeout_s", "warmup_s"):
        if getattr(live, name) < 0:
            raise ConfigError(f"{p}: live.{name}: must be >= 0")
    if not live.state_dir:
        raise ConfigError(f"{p}: live.state_dir: must not be empty")


_OWNED = {
    "detector": {
        "max_quote_age_ms": "risk.max_quote_age_ms",
        "venues": "[[venues]] (taker_fee_bps, order_latency_ms)",
        "default_venue": "[[venues]] (taker_fee_bps, order_latency_ms)",
    },
    "triangular": {
        "max_quote_age_ms": "risk.max_quote_age_ms",
    },
    "basis": {
        "max_quote_age_ms": "risk.max_quote_age_ms",
    },
    "sim": {
        "taker_fee_ppm": "venues[i].taker_fee_bps",
        "maker_fee_ppm": "venues[i].maker_fee_bps",
    },
}


def _check_owners(raw: dict[str, object], p: Path) -> None:
    # A number with two homes would let them disagree: name the one place it is set.
    for section in ("detector", "triangular", "basis"):
        table = raw.get(section)
        if isinstance(table, dict):
            for key, owner in _OWNED[section].items():
                if key in table:
                    raise ConfigError(f"{p}: {section}.{key}: set it as {owner}")
    venues = raw.get("venues")
    if isinstance(venues, list):
        for i, v in enumerate(venues):
            sim = v.get("sim") if isinstance(v, dict) else None
            if isinstance(sim, dict):
                for key, owner in _OWNED["sim"].items():
                    if key in sim:
                        owner_i = owner.replace("[i]", f"[{i}]")
                        raise ConfigError(f"{p}: venues[{i}].sim.{key}: set it as {owner_i}")


def _check_venues(cfg: Config, p: Path) -> set[str]:
    ids: set[str] = set()
    for i, v in enumerate(cfg.venues):
        if v.id in ids:
            raise ConfigError(f"{p}: venues[{i}].id: venue {v.id!r} is defined twice")
        ids.add(v.id)
        if v.kind == "ccxt" and not v.exchange:
            raise ConfigError(f'{p}: venues[{i}].exchange: required when kind = "ccxt"')
        if v.poll_interval_ms < 0:
            raise ConfigError(f"{p}: venues[{i}].poll_interval_ms: must be >= 0")
        if not 1 <= v.book_depth <= 400:
            raise ConfigError(f"{p}: venues[{i}].book_depth: must be 1..400")
        if v.credentials_env and not re.fullmatch(r"[A-Z][A-Z0-9_]*_", v.credentials_env):
            raise ConfigError(
                f"{p}: venues[{i}].credentials_env: {v.credentials_env!r} must look like "
                "ARB_OKX_ (upper case, ending with _)"
            )
        for name in ("taker_fee_bps", "maker_fee_bps"):
            fee = getattr(v, name)
            if not -100.0 <= fee <= 100.0:
                raise ConfigError(f"{p}: venues[{i}].{name}: {fee} bps is outside -100..100")
    return ids


def _check_pairs(cfg: Config, p: Path, ids: set[str]) -> None:
    if not cfg.pairs:
        raise ConfigError(f"{p}: pairs: at least one [[pairs]] entry is required")
    for i, pair in enumerate(cfg.pairs):
        try:
            parse_symbol(pair.symbol)
        except ValueError as e:
            raise ConfigError(f"{p}: pairs[{i}].symbol: {e}") from e
        if not pair.venues:
            raise ConfigError(f"{p}: pairs[{i}].venues: at least one venue is required")
        for j, vid in enumerate(pair.venues):
            if vid not in ids:
                raise ConfigError(
                    f"{p}: pairs[{i}].venues[{j}]: venue {vid!r} is not defined in [[venues]]"
                )


def _positive_decimal(s: str, *, allow_zero: bool) -> bool:
    try:
        d = Decimal(s)
    except InvalidOperation:
        return False
    return d.is_finite() and (d >= 0 if allow_zero else d > 0)
