"""``arb replay``: the engine on recorded markets, with simulated venues and a virtual clock.

The frames of one or more recordings are merged in receive-time order and fed to the same
``Engine`` as live (codecs, books, detector, executor, risk); orders go to ``SimVenue``\\ s built
from ``[venues.sim]``, whose events come back through the same executor. Before each frame, the
venues and the executor's timers run up to the frame's time, so every event is handled at its
own time. After the last frame the clock runs on (no new frames) until every trade is finished
or ``replay.drain_ms`` has passed.

Stopping: SIGINT/SIGTERM stop reading frames, trip the kill switch, finish what is in flight
and still write the report. The kill switch (``risk.kill_switch_file`` existing, SIGUSR1, or
``risk.kill_switch = true``) refuses new trades while rollbacks run to their end.

Output in ``DIR``: ``journal.sqlite`` (every decision, order, event, fill, rollback, balance and
PnL row), ``report.json``, ``report.md`` and ``pnl.png``. Same recordings and config give the
same ``journal_sha256``.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path

import msgspec

from arb.config import Config
from arb.core.errors import ConfigError
from arb.core.errors import PrecisionError
from arb.core.instruments import Instrument
from arb.core.money import bps_to_ppm
from arb.core.numbers import to_raw
from arb.engine import Engine
from arb.journal import Journal
from arb.killswitch import KillSwitch
from arb.recording import Frame
from arb.recording import Recording
from arb.recording import open_recording
from arb.report import ReplayReport
from arb.report import build_report
from arb.report import write_outputs
from venues.sim.venue import SimVenue

__all__ = ["instruments_for", "run_replay"]

NS_PER_MS = 1_000_000
JOURNAL = "journal.sqlite"


def instruments_for(cfg: Config, recordings: Sequence[Recording], where: str) -> list[Instrument]:
    """The recordings' instruments (first one wins per venue and symbol) with the config's
    ``[[instruments]]`` overrides applied. Raises ``ConfigError`` naming the key."""
    out: dict[tuple[str, str], Instrument] = {}
    for rec in recordings:
        for inst in rec.manifest.instruments:
            out.setdefault(inst.key, inst)
    for i, ov in enumerate(cfg.instruments):
        found = out.get((ov.venue, ov.symbol))
        if found is None:
            raise ConfigError(
                f"{where}: instruments[{i}]: no instrument {ov.venue} {ov.symbol} in the recordings"
            )
        inst = found
        changes = {
            k: getattr(ov, k) for k in ("tick_size", "lot_size", "min_size") if getattr(ov, k)
        }
        if ov.min_notional:
            changes["min_notional"] = ov.min_notional
        for name, value in changes.items():
            prec = inst.price_precision if name == "tick_size" else inst.size_precision
            if name == "min_notional":
                continue
            try:
                to_raw(value, prec)
            except PrecisionError as e:
                raise ConfigError(
                    f"{where}: instruments[{i}].{name}: {value} is finer than the recorded "
                    f"precision ({prec} decimals): {e}"
                ) from e
        out[inst.key] = msgspec.structs.replace(inst, **changes)
    return [out[k] for k in sorted(out)]


def _sim_venues(cfg: Config, insts: list[Instrument], where: str) -> dict[str, SimVenue]:
    venues: dict[str, SimVenue] = {}
    for i, v in enumerate(cfg.venues):
        if v.sim is None:
            raise ConfigError(f"{where}: venues[{i}].sim: required for replay ([venues.sim])")
        sim_cfg = msgspec.structs.replace(
            v.sim,
            taker_fee_ppm=bps_to_ppm(v.taker_fee_bps),
            maker_fee_ppm=bps_to_ppm(v.maker_fee_bps),
        )
        venues[v.id] = SimVenue(v.id, insts, sim_cfg)
    return venues


def _fresh_journal(path: Path, commit_every: int) -> Journal:
    for suffix in ("", "-wal", "-shm"):
        p = path.with_name(path.name + suffix)
        if p.exists():
            p.unlink()
    return Journal(path, commit_every=commit_every)


def _merged(recordings: Sequence[Recording]) -> Iterator[Frame]:
    # Receive-time order across recordings; ties keep the order of --data.
    return heapq.merge(*(r.frames() for r in recordings), key=lambda f: f[0])


def run_replay(
    cfg: Config,
    config_path: str | os.PathLike[str],
    recordings: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
    kill: KillSwitch | None = None,
) -> ReplayReport:
    """Replay ``recordings`` under ``cfg``; write the outputs to ``out``; return the report."""
    kill = kill or KillSwitch(cfg.risk.kill_switch_file)
    with kill.installed():  # from the start: a SIGTERM at any point still ends with a report
        return _run(cfg, config_path, recordings, Path(out), progress, kill)


def _run(
    cfg: Config,
    config_path: str | os.PathLike[str],
    recordings: Sequence[str | os.PathLike[str]],
    out_dir: Path,
    progress: Callable[[int], None] | None,
    kill: KillSwitch,
) -> ReplayReport:
    where = str(config_path)
    if not recordings:
        raise ConfigError(f"{where}: no recording to replay")
    recs = [open_recording(r) for r in recordings]
    insts = instruments_for(cfg, recs, where)
    sims = _sim_venues(cfg, insts, where)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = _fresh_journal(out_dir / JOURNAL, cfg.replay.commit_every)
    wall0 = time.perf_counter()
    try:
        journal.begin_run(
            config_digest=hashlib.sha256(Path(config_path).read_bytes()).hexdigest(),
            recording=",".join(str(r) for r in recordings),
            run_id=cfg.replay.run_id,
        )
        balances = {v: sim.balances() for v, sim in sims.items()}
        engine = Engine(cfg, insts, sims, journal, balances)
        for inst in sorted(engine.instruments.values(), key=lambda i: i.key):
            journal.record_instrument(inst)
        start = min((r.manifest.start_ns for r in recs), default=0)
        for v in sorted(balances):
            journal.record_balances(ts=start, venue=v, balances=balances[v])
        last_ts = _feed(engine, recs, kill, progress)
        drained = engine.drain(max(last_ts, engine.now) + cfg.replay.drain_ms * NS_PER_MS)
        end = engine.now
        for v in sorted(engine.ledger.totals):
            journal.record_balances(ts=end, venue=v, balances=engine.ledger.totals[v])
        journal.flush()
        report = build_report(
            cfg,
            engine,
            sims,
            journal,
            config_path=where,
            recordings=[str(r) for r in recordings],
            drained=drained,
            stopped=kill.stop_reason,
            wall_s=time.perf_counter() - wall0,
        )
    finally:
        journal.close()
    write_outputs(out_dir, report, engine)
    return report


def _feed(
    engine: Engine,
    recs: Sequence[Recording],
    kill: KillSwitch,
    progress: Callable[[int], None] | None,
) -> int:
    risk = engine.risk
    advance = engine.advance_to
    on_frame = engine.on_frame
    n = 0
    ts = 0
    kill.poll(risk)
    if kill.stop_reason:
        return ts
    for ts, venue, conn, kind, payload in _merged(recs):
        advance(ts)
        on_frame(ts, venue, conn, kind, payload)
        n += 1
        if kill.pending or not n & 0xFFF:
            if progress is not None:
                progress(n)
            kill.poll(risk)
            if kill.stop_reason:
                break
    kill.poll(risk)
    if progress is not None:
        progress(n)
    return ts
