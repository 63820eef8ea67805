"""The ``arb`` command line. Each command has ``--help``.

Errors arb expects (bad input, bad config, unreadable recording) print one line
``arb: error: ...`` naming what and where, and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec

from arb.core.errors import ArbError

__all__ = ["main"]


def _cmd_verify(args: argparse.Namespace) -> int:
    from arb.progress import progress_bar
    from arb.recording import open_recording
    from arb.verify import describe
    from arb.verify import verify_recording

    rec = open_recording(args.recording)
    t0 = time.perf_counter()
    with progress_bar("verify", rec.manifest.frames) as update:
        report, books, errors = verify_recording(rec, update)
    elapsed = time.perf_counter() - t0
    print(describe(Path(args.recording), report, books, errors))
    failures = report.failures(allow_gaps=args.allow_gaps)
    rate = report.frames / elapsed if elapsed > 0 else 0.0
    status = "FAILED: " + ", ".join(failures) if failures else "OK"
    print(f"{status} ({report.frames} frames in {elapsed:.2f} s, {rate:,.0f} frames/s)")
    print(msgspec.json.encode(report).decode())
    return 1 if failures else 0


def _cmd_import(args: argparse.Namespace) -> int:
    from arb.importers import run_import

    report = run_import(
        args.format,
        [Path(p) for p in args.inputs],
        Path(args.out),
        skip_bad=args.skip_bad,
        venue=args.venue,
    )
    print(msgspec.json.encode(report).decode())
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from arb.synth import generate

    seconds, seed = args.seconds, args.seed
    venues: list[str] | None = args.venues.split(",") if args.venues else None
    symbols: list[str] | None = args.symbols.split(",") if args.symbols else None
    if args.config:
        from arb.config import load_config

        cfg = load_config(args.config)
        seconds = cfg.synth.seconds if seconds is None else seconds
        seed = cfg.synth.seed if seed is None else seed
        if cfg.synth.triangular:
            from arb.synth.triangular import write_triangular_market

            tri = write_triangular_market(Path(args.out), seconds=seconds, seed=seed)
            print(msgspec.json.encode(tri).decode())
            return 0
        venues = venues or [v.id for v in cfg.venues]
        symbols = symbols or cfg.symbols
    report = generate(
        Path(args.out),
        seconds=300.0 if seconds is None else seconds,
        seed=7 if seed is None else seed,
        venues=venues or ("okx", "binance"),
        symbols=symbols or ("BTC-USDT", "ETH-USDT"),
    )
    print(msgspec.json.encode(report).decode())
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from arb.config import load_config
    from arb.progress import progress_bar
    from arb.recording import open_recording
    from arb.replay import run_replay

    cfg = load_config(args.config)
    data = args.data or []
    if not data:
        raise ArbError(f"{args.config}: give at least one --data RECORDING")
    total = sum(open_recording(d).manifest.frames for d in data)
    out = Path(args.out)
    with progress_bar("replay", total) as update:
        report = run_replay(cfg, args.config, data, out, progress=update)
    print(
        f"{out}: {report.frames} frames, {report.opportunities} opportunities, "
        f"{report.trades} trades, {report.rollbacks} rollbacks, PnL {report.pnl_quote} "
        f"{report.quote}, unhedged at end {report.unhedged_notional_end_quote} {report.quote}"
    )
    print(
        f"wrote {out / 'report.md'}, {out / 'report.json'}, {out / 'pnl.png'}, "
        f"{out / 'journal.sqlite'}"
    )
    print(msgspec.json.encode({"journal_sha256": report.journal_sha256}).decode())
    return 0 if report.ledger_matches_venues else 1


def _cmd_record(args: argparse.Namespace) -> int:
    import asyncio

    from arb.config import load_config
    from arb.record import record

    cfg = load_config(args.config)
    for name in ("duration", "rotate_mb", "rotate_s"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ArbError(f"--{name.replace('_', '-')}: must be > 0; received {value}")
    report = asyncio.run(
        record(
            cfg,
            Path(args.out),
            duration_s=args.duration,
            rotate_bytes=max(int(args.rotate_mb * 1024 * 1024), 1),
            rotate_s=args.rotate_s if args.rotate_s is not None else 3600.0,
            handle_signals=True,
        )
    )
    print(
        f"{report.out}: {report.frames} frames in {len(report.files)} files, "
        f"{report.seconds:.1f} s (stopped by {report.stopped_by})"
    )
    print(msgspec.json.encode(report).decode())
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from arb.config import load_config
    from arb.live.runner import run_cli

    cfg = load_config(args.config)
    if args.duration is not None and args.duration <= 0:
        raise ArbError(f"--duration: must be > 0; received {args.duration}")
    return run_cli(cfg, args.config, duration_s=args.duration, paper=args.paper)


def _cmd_keys_check(args: argparse.Namespace) -> int:
    import asyncio

    from arb.config import load_config
    from venues.okx.credentials import OkxCredentials
    from venues.okx.credentials import load_credentials
    from venues.okx.keys import check_key
    from venues.okx.rest import DEFAULT_BASE_URL

    cfg = load_config(args.config)
    okx = [v for v in cfg.venues if v.kind == "okx" and (not args.venue or v.id == args.venue)]
    if not okx:
        raise ArbError(f'{args.config}: no OKX venue to check (kind = "okx")')
    status = 0
    for v in okx:
        creds = load_credentials()
        if v.demo and not creds.demo:
            creds = OkxCredentials(creds.api_key, creds.secret, creds.passphrase, demo=True)
        verdict = asyncio.run(check_key(creds, v.rest_url or DEFAULT_BASE_URL))
        print(f"{v.id}: key {creds!r}")
        print(verdict.describe())
        if not verdict.ok:
            print(f"{v.id}: refusing to trade with this key", file=sys.stderr)
            status = 1
    return status


def _cmd_check_config(args: argparse.Namespace) -> int:
    from arb.config import load_config

    cfg = load_config(args.config)
    venues = ", ".join(f"{v.id} ({v.kind})" for v in cfg.venues)
    print(f"{args.config}: OK: venues {venues}; pairs {', '.join(cfg.symbols)}")
    return 0


def _cmd_okx_sandbox(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from arb.core.errors import ConfigError
    from venues.okx.sandbox import Faults
    from venues.okx.sandbox import load_accounts
    from venues.okx.sandbox import start_sandbox
    from venues.okx.sandbox import update_faults

    accounts = load_accounts(args.accounts) if args.accounts else None
    faults = Faults()
    if args.faults:
        try:
            changes = msgspec.json.decode(args.faults)
        except msgspec.DecodeError as e:
            raise ConfigError(f"--faults: not JSON: {e}") from e
        update_faults(faults, changes)

    async def serve() -> None:
        sandbox = await start_sandbox(
            port=args.port, accounts=accounts, market=args.market, seed=args.seed,
            speed=args.speed, faults=faults, synthetic_seconds=args.seconds,
            skew_bps=args.skew_bps, skew_every_s=args.skew_every, skew_for_s=args.skew_for,
        )  # fmt: skip
        # SIGTERM / SIGINT: close the server and exit 0 (a parent process stops us so).
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # The ready line: a parent process waits for it and reads the bound port from it.
        print(f"OKX v5 sandbox: REST {sandbox.base_url}, WebSocket {sandbox.ws_public_url} "
              f"and {sandbox.ws_private_url}, control {sandbox.base_url}/sandbox/ "
              "(Ctrl-C stops)", flush=True)  # fmt: skip
        try:
            await stop.wait()
        finally:
            await sandbox.close()

    asyncio.run(serve())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arb",
        description="Cross-exchange cryptocurrency arbitrage engine.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "verify",
        help="replay only the books of a recording and report their integrity",
        description="Replay the order books of RECORDING through the venue codecs and the "
        "book integrity checks (sequence, checksum, crossed). The last line of stdout is one "
        "JSON object of counters. Exit status 1 when gaps, checksum_failed, crossed or errors "
        "is non-zero (gaps allowed with --allow-gaps); 2 when the recording is unreadable.",
    )
    p.add_argument("recording", help="recording directory (holding manifest.json)")
    p.add_argument("--allow-gaps", action="store_true", help="do not fail on sequence gaps")
    p.set_defaults(func=_cmd_verify)

    from arb.importers import FORMATS

    p = sub.add_parser(
        "import",
        help="convert other recordings into arb's recording format",
        description="Convert recordings of other tools into an arb recording (raw frames "
        "kept byte for byte; CSV rows stored in arb's normalized L2 encoding).",
    )
    p.add_argument("--format", required=True, choices=FORMATS, help="input format")
    p.add_argument("--out", required=True, help="output recording directory (must be new)")
    p.add_argument("--venue", help="venue id, when it cannot be told from the input")
    p.add_argument(
        "--skip-bad", action="store_true", help="count and skip bad lines instead of stopping"
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="input files")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser(
        "synth",
        help="write a deterministic synthetic market in real venue wire formats",
        description="Write a synthetic multi-venue market (OKX books with seqId and "
        "checksums, Binance depth diffs with a REST snapshot) as an arb recording. The same "
        "arguments always give the same bytes.",
    )
    p.add_argument("--out", required=True, help="output recording directory (must be new)")
    p.add_argument("--seconds", type=float, help="market length in seconds (default 300)")
    p.add_argument("--seed", type=int, help="random seed (default 7)")
    p.add_argument("--venues", help="comma-separated venue ids (default okx,binance)")
    p.add_argument("--symbols", help="comma-separated symbols (default BTC-USDT,ETH-USDT)")
    p.add_argument("--config", help="take venues, pairs and [synth] from this config")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser(
        "replay",
        help="run the engine on recordings with simulated venues and write a report",
        description="Replay RECORDINGs (merged in time order) through the whole engine: "
        "books, detector, executor with rollback, risk, journal; orders go to simulated venues "
        "([venues.sim] in CONFIG) on a virtual clock. Writes DIR/journal.sqlite, "
        "DIR/report.json, DIR/report.md and DIR/pnl.png. SIGINT/SIGTERM stop early (what is "
        "in flight is finished, the report is written); SIGUSR1 or risk.kill_switch_file trip "
        "the kill switch. Exit status 1 if the engine's ledger disagrees with the venues.",
    )
    p.add_argument("config", help="TOML config file")
    p.add_argument(
        "--data", action="append", metavar="RECORDING", help="recording directory (repeatable)"
    )
    p.add_argument("--out", default="build/replay", help="output directory (default build/replay)")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser(
        "record",
        help="record the venues' raw frames (native OKX) into a recording",
        description='Record every OKX venue of CONFIG (kind = "okx"): its instruments over '
        "REST (kept as frames and in the manifest), then the books and trades of the config's "
        "pairs from the public WebSocket (ws_url, default OKX's), every frame byte for byte "
        "with its receive time; REST book snapshots taken to resync a book are recorded too. "
        "Frames files rotate by size or time. Stops after --duration or on SIGINT/SIGTERM, "
        "then closes the connections and writes DIR/manifest.json (each rotation also writes "
        "one). Venues of other kinds are skipped with a note. Replay with 'arb verify DIR' "
        "or 'arb replay CONFIG --data DIR'.",
    )
    p.add_argument("config", help="TOML config file")
    p.add_argument("--out", required=True, help="output recording directory (must be new)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--rotate-mb",
        type=float,
        default=512.0,
        metavar="N",
        help="new frames file every N MB uncompressed (default 512)",
    )
    p.add_argument(
        "--rotate-s", type=float, metavar="N", help="new frames file every N seconds (default 3600)"
    )
    p.set_defaults(func=_cmd_record)

    p = sub.add_parser(
        "keys",
        help="check API keys (keys check CONFIG)",
        description="Key safety. 'arb keys check CONFIG' reads each OKX venue's key from the "
        "environment (ARB_OKX_API_KEY, ARB_OKX_SECRET_KEY, ARB_OKX_PASSPHRASE, or "
        "ARB_OKX_CREDENTIALS_FILE naming an owner-only file), asks OKX for the key's account "
        "config, and reports its permissions, IP binding and fee tier. Exit status 1 (refuse "
        "to trade) when the key can withdraw or cannot trade; a key bound to no IP is a warning.",
    )
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kc = keys_sub.add_parser("check", help="check the keys of the OKX venues of CONFIG")
    kc.add_argument("config", help="TOML config file")
    kc.add_argument("--venue", help="only this venue id")
    kc.set_defaults(func=_cmd_keys_check)

    p = sub.add_parser(
        "check-config",
        help="validate a config file",
        description="Validate CONFIG; a bad key is reported with its file and key path.",
    )
    p.add_argument("config", help="TOML config file")
    p.set_defaults(func=_cmd_check_config)

    p = sub.add_parser(
        "run",
        help="trade live (or paper) on the config's venues, headless",
        description="The live engine on uvloop: venue adapters from CONFIG (native OKX, ccxt "
        "by exchange id, or simulated), books, detector, executor, risk and journal as in "
        "replay. JSON-lines logs on stderr, Prometheus metrics on [live.metrics], alerts to "
        "[live.alerts]. At start the journal in [live] state_dir is read back and what a "
        "previous run left in flight is settled with the venues before any trade. SIGTERM / "
        "SIGINT: stop new trades, finish or roll back what is in flight, cancel resting "
        "orders, flush the journal, exit 0. Credentials only from the environment (see "
        "venues[i].credentials_env).",
    )
    p.add_argument("config", help="TOML config file")
    p.add_argument("--duration", type=float, help="stop (gracefully) after this many seconds")
    p.add_argument(
        "--paper", action="store_true", help='paper mode whatever the config says (mode = "paper")'
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "okx-sandbox",
        help="serve OKX v5 REST and WebSocket on loopback over a simulated venue",
        description="Serve OKX's v5 REST API and WebSocket (public books, private login, "
        "orders) on 127.0.0.1, matched by the simulated venue against a recorded or synthetic "
        "market that replays in real time and loops. OKX's rules are enforced (signatures, "
        "30 s skew, rate limits, clOrdId, sizes, balances). For tests and rehearsals: it never "
        "reaches OKX. Default account: key sandbox-key, secret sandbox-secret, passphrase "
        "sandbox-pass. Sandbox-only test control, not OKX's API (loopback, no signature, no "
        "rate limit): GET/POST /sandbox/faults (fault knobs as JSON), GET /sandbox/records "
        "(orders, fills, balances). Prints one ready line with the bound URLs once serving; "
        "SIGTERM / SIGINT stop it with exit status 0.",
    )
    p.add_argument("--port", type=int, default=8443, help="TCP port (default 8443; 0: any)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--market", metavar="RECORDING", help="recording with OKX spot books")
    src.add_argument(
        "--synthetic", action="store_true", help="built-in synthetic market (the default)"
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic market (default 7)")
    p.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="length of the synthetic market before it loops (default 60)",
    )
    p.add_argument("--speed", type=float, default=1.0, help="replay speed factor (default 1)")
    p.add_argument("--accounts", metavar="FILE", help="TOML file of [[accounts]] (keys, balances)")
    p.add_argument(
        "--skew-bps",
        type=float,
        default=0.0,
        help="skew windows: shift every price by this many bps of the mid during each window, "
        "alternating +/- per window (a twin of an unskewed sandbox of the same seed)",
    )
    p.add_argument(
        "--skew-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="a skew window starts every SECONDS of the market (the first at SECONDS)",
    )
    p.add_argument(
        "--skew-for",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="each skew window lasts SECONDS (less than --skew-every)",
    )
    p.add_argument(
        "--faults",
        metavar="JSON",
        help="initial fault knobs as a JSON object, e.g. '{\"reject_next\": 1}' (see also "
        "GET/POST /sandbox/faults)",
    )
    p.set_defaults(func=_cmd_okx_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ArbError as e:
        print(f"arb: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
