"""What a two-sandbox end-to-end test drives: the sandbox-only control endpoints under
``/sandbox/`` (faults, records), the one-shot ``partial_fill_next`` fault, skewed twin markets
and the ``arb okx-sandbox`` process (ready line, ``--faults``, SIGTERM).

Servers run on ephemeral loopback ports, most on a clock the test moves (``now``), so that the
market is where the test says; every scenario is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from arb.core.instruments import Instrument
from tests.integration._okx_helpers import run
from tests.integration._okx_helpers import signed_headers
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Faults
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import start_sandbox
from venues.okx.sandbox.market import MarketFeed
from venues.okx.sandbox.market import PublicBooks
from venues.okx.sandbox.market import load_market
from venues.okx.sandbox.market import synthetic_market
from venues.okx.sandbox.skew import skew_timeline
from venues.okx.sandbox.skew import window_of

pytestmark = pytest.mark.integration

A = DEFAULT_ACCOUNT
FROZEN_NS = 1_800_000_000_000_000_000
FROZEN_TS = "2027-01-15T08:00:00.000Z"  # FROZEN_NS; the sandbox allows 30 s of skew
NS = 1_000_000_000
MS = 1_000_000
SKEW: dict[str, Any] = {"skew_bps": 30.0, "skew_every_s": 1.0, "skew_for_s": 0.5}
Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]


class _Client:
    """Signed REST (test-side signer) and the control endpoints of one sandbox."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession) -> None:
        self.url = sandbox.base_url
        self.s = session

    async def control(self, method: str, what: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        async with self.s.request(method, f"{self.url}/sandbox/{what}", data=data) as r:
            return r.status, json.loads(await r.text())

    async def public(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.s.get(self.url + path) as r:
            return r.status, json.loads(await r.text())

    async def order(self, **kw: str) -> dict[str, Any]:
        o = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "ioc", "sz": "0.01"}
        o.update(kw)
        path, text = "/api/v5/trade/order", json.dumps(o)
        h = signed_headers(
            A.api_key, A.secret, A.passphrase, "POST", path, text, timestamp=FROZEN_TS
        )
        async with self.s.post(self.url + path, data=text, headers=h) as r:
            body = json.loads(await r.text())
        assert body["data"][0]["sCode"] == "0", body
        return dict(body["data"][0])

    async def book(self, inst: str = "BTC-USDT") -> Book:
        st, r = await self.public(f"/api/v5/market/books?instId={inst}&sz=400")
        assert st == 200, r
        d = r["data"][0]
        return _levels(d["bids"]), _levels(d["asks"])


def _levels(rows: list[list[str]]) -> dict[Decimal, Decimal]:
    return {Decimal(r[0]): Decimal(r[1]) for r in rows}


def _best(book: Book) -> tuple[Decimal, Decimal]:
    return max(book[0]), min(book[1])


async def _scenario(fn: Any, *, count: int = 1, **kw: Any) -> Any:
    # `count` sandboxes of the same seed on one clock (`now`, moved by the scenario).
    now = [FROZEN_NS]
    kws = kw.pop("each", [{}] * count)
    sandboxes = [await start_sandbox(clock=lambda: now[0], **kw, **k) for k in kws]
    try:
        async with aiohttp.ClientSession() as s:
            clients = [_Client(sb, s) for sb in sandboxes]
            return await fn(now, sandboxes, clients)
    finally:
        for sb in sandboxes:
            await sb.close()


# -- control: faults ------------------------------------------------------------------------


def test_control_faults_get_post_and_unknown_knob_400():
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> dict[str, Any]:
        c, sb = cs[0], sbs[0]
        out: dict[str, Any] = {"get": await c.control("GET", "faults")}
        out["post"] = await c.control("POST", "faults", {"reject_next": 2, "ack_delay_ms": 5})
        out["live"] = (sb.faults.reject_next, sb.faults.ack_delay_ms)
        out["unknown"] = await c.control("POST", "faults", {"reject_next": 7, "nope": 1})
        out["bad_value"] = await c.control("POST", "faults", {"reject_next": -1})
        out["bad_type"] = await c.control("POST", "faults", {"notice_before_disconnect": "x"})
        out["not_object"] = await c.control("POST", "faults", [1])
        out["after"] = await c.control("GET", "faults")
        out["missing"] = await c.control("GET", "nothing-here")
        return out

    out = run(_scenario(fn))
    assert out["get"] == (200, msgspec.to_builtins(Faults()))
    st, body = out["post"]
    assert st == 200
    assert (body["reject_next"], body["ack_delay_ms"], body["partial_fill_next"]) == (2, 5, 0)
    assert out["live"] == (2, 5)
    st, body = out["unknown"]
    assert st == 400
    assert "'nope'" in body["error"]
    assert out["bad_value"][0] == out["bad_type"][0] == out["not_object"][0] == 400
    assert out["after"][1]["reject_next"] == 2  # nothing changed by a refused request
    assert out["missing"][0] == 404


def test_control_requests_skip_rate_limit_burst_and_the_request_log():
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> dict[str, Any]:
        c, sb = cs[0], sbs[0]
        seen = len(sb.requests)
        st, _ = await c.control("POST", "faults", {"rate_limit_burst": 2})
        statuses = [st]
        for _ in range(5):
            statuses.append((await c.control("GET", "faults"))[0])
            statuses.append((await c.control("GET", "records"))[0])
        left = sb.faults.rate_limit_burst
        logged = sb.requests[seen:]
        okx = [(await c.public("/api/v5/public/time"))[0] for _ in range(3)]
        return {"statuses": statuses, "left": left, "logged": logged, "okx": okx}

    out = run(_scenario(fn))
    assert out["statuses"] == [200] * 11
    assert out["left"] == 2
    assert out["logged"] == []
    assert out["okx"] == [429, 429, 200]  # the burst is there for OKX requests


# -- control: records -----------------------------------------------------------------------


def test_records_show_orders_fills_and_exact_balances_without_secrets():
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> dict[str, Any]:
        c, sb = cs[0], sbs[0]
        _, ask = _best(await c.book())
        taken = await c.order(clOrdId="take1", px=str(ask))
        rest = await c.order(clOrdId="rest1", ordType="limit", px="50000")
        async with c.s.get(f"{c.url}/sandbox/records") as r:
            text = await r.text()
        return {"ask": ask, "taken": taken, "rest": rest, "text": text, "direct": sb.records()}

    out = run(_scenario(fn))
    text = out["text"]
    assert A.secret not in text
    assert A.passphrase not in text
    rec = json.loads(text)
    assert rec == json.loads(msgspec.json.encode(out["direct"]))
    orders = {o["clOrdId"]: o for o in rec["orders"]}
    assert list(orders) == ["take1", "rest1"]
    take, rest = orders["take1"], orders["rest1"]
    assert take["ordId"] == out["taken"]["ordId"]
    assert rest["ordId"] == out["rest"]["ordId"]
    want = ("BTC-USDT", "buy", "ioc", str(out["ask"]), "0.01", "0.01", "filled", A.api_key)
    keys = ("instId", "side", "ordType", "px", "sz", "accFillSz", "state", "apiKey")
    assert tuple(take[k] for k in keys) == want
    assert (rest["ordType"], rest["px"], rest["accFillSz"], rest["state"]) == (
        "limit",
        "50000",
        "0",
        "live",
    )
    [fill] = rec["fills"]
    assert (fill["instId"], fill["clOrdId"], fill["ordId"], fill["side"]) == (
        "BTC-USDT",
        "take1",
        take["ordId"],
        "buy",
    )
    assert fill["tradeId"]
    assert (Decimal(fill["fillPx"]), fill["fillSz"], fill["feeCcy"]) == (out["ask"], "0.01", "USDT")
    notional = out["ask"] * Decimal("0.01")
    assert Decimal(fill["fee"]) == -notional * Decimal("0.001")  # 10 bps taker, OKX's sign
    bal, avail = rec["balances"][A.api_key], rec["available"][A.api_key]
    assert Decimal(bal["USDT"]) == Decimal("100000") - notional + Decimal(fill["fee"])
    assert (bal["BTC"], bal["ETH"]) == ("2.01", "20")
    assert Decimal(avail["USDT"]) <= Decimal(bal["USDT"]) - Decimal("500")  # rest1 reserved
    assert avail["BTC"] == bal["BTC"]


# -- partial_fill_next ----------------------------------------------------------------------


@pytest.mark.parametrize(("fraction", "first"), [(1.0, "0.01"), (0.25, "0.005")])
def test_partial_fill_next_caps_the_next_taker_orders_only(fraction, first):
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> dict[str, Any]:
        c, sb = cs[0], sbs[0]
        knobs = {"partial_fill_next": 1, "partial_fill_fraction": fraction}
        await c.control("POST", "faults", knobs)
        await c.order(clOrdId="rest1", ordType="limit", px="50000", sz="0.02")  # takes nothing
        left_after_rest = sb.faults.partial_fill_next
        _, ask = _best(await c.book())
        await c.order(clOrdId="p1", px=str(ask), sz="0.02")
        await c.control("POST", "faults", {"partial_fill_fraction": 1.0})
        await c.order(clOrdId="p2", px=str(ask), sz="0.02")
        _, faults = await c.control("GET", "faults")
        _, rec = await c.control("GET", "records")
        return {"left_after_rest": left_after_rest, "faults": faults, "rec": rec}

    out = run(_scenario(fn))
    assert out["left_after_rest"] == 1
    assert out["faults"]["partial_fill_next"] == 0
    orders = {o["clOrdId"]: o for o in out["rec"]["orders"]}
    assert (orders["p1"]["accFillSz"], orders["p1"]["state"]) == (first, "canceled")
    assert (orders["p2"]["accFillSz"], orders["p2"]["state"]) == ("0.02", "filled")
    assert (orders["rest1"]["accFillSz"], orders["rest1"]["state"]) == ("0", "live")


def test_partial_fill_next_with_fraction_one_leaves_the_other_orders_whole():
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> list[str]:
        c = cs[0]
        await c.control("POST", "faults", {"partial_fill_next": 2})
        _, ask = _best(await c.book())
        # Refused (51008): not placed, so it does not use up the one-shot knob.
        o = {"instId": "BTC-USDT", "tdMode": "cash", "clOrdId": "big", "side": "buy"}
        o |= {"ordType": "ioc", "px": str(ask), "sz": "3"}
        path, text = "/api/v5/trade/order", json.dumps(o)
        h = signed_headers(
            A.api_key, A.secret, A.passphrase, "POST", path, text, timestamp=FROZEN_TS
        )
        async with c.s.post(c.url + path, data=text, headers=h) as r:
            assert (await r.json())["data"][0]["sCode"] == "51008"
        for i in range(3):
            await c.order(clOrdId=f"q{i}", px=str(ask), sz="0.02")
        _, rec = await c.control("GET", "records")
        return [o["accFillSz"] for o in rec["orders"]]

    assert run(_scenario(fn)) == ["0.01", "0.01", "0.02"]


# -- skewed twin markets (pure) -------------------------------------------------------------


def test_synthetic_market_without_skew_is_unchanged():
    # The hash of synthetic_market(6, 7) before the skew existed.
    pinned = "910ee5da51fbed4e632e78e3dbc938aeb7ff2d4f9899779eae56e371bb2751ee"
    plain = synthetic_market(6, 7)
    assert hashlib.sha256(msgspec.json.encode(plain[1])).hexdigest() == pinned
    assert synthetic_market(6, 7, skew_bps=30, skew_every_s=0, skew_for_s=1) == plain
    assert synthetic_market(6, 7, skew_bps=0, skew_every_s=1, skew_for_s=0.5) == plain


def test_skew_with_an_impossible_window_is_refused():
    from arb.core.errors import ConfigError

    with pytest.raises(ConfigError, match="skew_for_s"):
        synthetic_market(6, 7, skew_bps=30, skew_every_s=1, skew_for_s=1)


def _apply(book: Book, rows_bids: list[list[str]], rows_asks: list[list[str]]) -> None:
    for side, rows in ((book[0], rows_bids), (book[1], rows_asks)):
        for r in rows:
            px, q = Decimal(r[0]), Decimal(r[1])
            if q:
                side[px] = q
            else:
                side.pop(px, None)


def _compare_to_twin(plain: Book, skewed: Book, window: int, tick: Decimal, bps: int = 30) -> int:
    """0 outside windows (equal books); inside, the sign of the (constant) shift."""
    if not window:
        assert skewed == plain
        return 0
    s = max(skewed[0]) - max(plain[0])
    assert skewed[0] == {px + s: q for px, q in plain[0].items()}
    assert skewed[1] == {px + s: q for px, q in plain[1].items()}
    mid = (max(plain[0]) + min(plain[1])) / 2
    assert abs(abs(s) - mid * abs(bps) / 10_000) <= tick  # the skew, to the tick
    assert (s > 0) == ((window % 2 == 1) == (bps > 0))  # +, -, +, ... (for bps > 0)
    return 1 if s > 0 else -1


def _follow_twins(
    insts: list[Instrument], plain_tl: Any, skew_tl: Any, poll_ms: int, until_ms: int, bps: int
) -> set[int]:
    # Both markets through MarketFeed + PublicBooks as the server ticks them; a client
    # follows the skewed one's updates (prevSeqId continuity) and must see, after every
    # flush, exactly the published book: never crossed, the twin's outside windows and the
    # twin's shifted by one amount inside. Returns the signs seen (0: outside a window).
    tick = Decimal(insts[0].tick_size)
    symbol = insts[0].venue_symbol
    feeds = [MarketFeed(tl, start_ns=0) for tl in (plain_tl, skew_tl)]
    last = plain_tl[-1][0]
    duration = max(last + 100 * MS, NS)  # MarketFeed's loop
    books = [PublicBooks(insts, 5) for _ in range(2)]
    client: Book = ({}, {})
    seq = None
    signs = set()
    for t in range(0, until_ms * MS, poll_ms * MS):
        for feed, pb in zip(feeds, books, strict=True):
            for ev in feed.poll(t):
                pb.apply(ev)
        books[0].flush()
        for u in books[1].flush():
            if u.inst_id != symbol:
                continue
            assert seq is None or u.prev_seq == seq
            seq = u.seq
            _apply(client, u.bids, u.asks)
        published = [pb.snapshot(symbol, 400) for pb in books]
        assert client == (_levels(published[1][0]), _levels(published[1][1]))
        assert max(client[0]) < min(client[1])
        plain = (_levels(published[0][0]), _levels(published[0][1]))
        # Where the replay is (it loops); from its last event on, the books are unshifted.
        offset = t % duration
        window = window_of(offset, NS, NS // 2) if offset < last else 0
        signs.add(_compare_to_twin(plain, client, window, tick, bps))
    return signs


@pytest.mark.parametrize("poll_ms", [100, 130, 370])
def test_published_skewed_books_follow_continuously_and_match_the_twin(poll_ms):
    insts, plain_tl = synthetic_market(8, 5)
    _, skew_tl = synthetic_market(8, 5, **SKEW)
    assert _follow_twins(insts, plain_tl, skew_tl, poll_ms, 7_500, 30) == {-1, 0, 1}


def test_a_replay_looping_in_a_window_restarts_from_consistent_books():
    # 7.3 s: the last events (7.2 s) fall in window 7; the replay loops twice.
    insts, plain_tl = synthetic_market(7.3, 5)
    _, skew_tl = synthetic_market(7.3, 5, **SKEW)
    assert window_of(plain_tl[-1][0], NS, NS // 2) == 7
    assert _follow_twins(insts, plain_tl, skew_tl, 100, 16_000, 30) == {-1, 0, 1}


def test_skew_applies_to_a_recorded_market(tmp_path):
    from arb.synth import generate

    generate(tmp_path / "okx", seconds=6, seed=3, venues=["okx"], symbols=["BTC-USDT"])
    insts, plain_tl = load_market(tmp_path / "okx")
    skew_tl = skew_timeline(insts, plain_tl, skew_bps=-25, skew_every_s=1, skew_for_s=0.5)
    assert _follow_twins(insts, plain_tl, skew_tl, 100, 5_500, -25) == {-1, 0, 1}


# -- skewed twin markets (servers) ----------------------------------------------------------


def test_twin_sandboxes_differ_by_the_skew_in_windows_and_match_the_skewed_book():
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> dict[str, Any]:
        start = now[0]
        seen: list[tuple[int, Book, Book]] = []
        arb: dict[str, Decimal] = {}
        for t_ms in (500, 1_200, 1_450, 1_600, 2_200, 2_600, 3_100, 3_700, 4_300):
            now[0] = start + t_ms * MS
            for sb in sbs:
                sb.tick()
            plain, skewed = await cs[0].book(), await cs[1].book()
            seen.append((t_ms, plain, skewed))
            if t_ms == 2_200:
                # In the `-` window 2 the skewed venue's ask is below the plain venue's bid:
                # buy there, sell here.
                arb["plain_bid"], arb["skew_ask"] = _best(plain)[0], _best(skewed)[1]
                await cs[1].order(clOrdId="buycheap", px=str(arb["skew_ask"]))
                await cs[0].order(clOrdId="selldear", side="sell", px=str(arb["plain_bid"]))
        fills = [(await c.control("GET", "records"))[1]["fills"] for c in cs]
        return {"seen": seen, "fills": fills, **arb}

    out = run(_scenario(fn, count=2, each=[{}, SKEW], seed=9, synthetic_seconds=6))
    tick = Decimal("0.1")
    signs = [
        _compare_to_twin(plain, skewed, window_of(t_ms * MS, NS, NS // 2), tick)
        for t_ms, plain, skewed in out["seen"]
    ]
    assert signs == [0, 1, 1, 0, -1, 0, 1, 0, -1]
    for _, _, skewed in out["seen"]:
        assert max(skewed[0]) < min(skewed[1])
    # The sandbox matches against the book it publishes: the skewed prices.
    assert out["skew_ask"] < out["plain_bid"]
    [buy], [sell] = out["fills"][1], out["fills"][0]
    assert (Decimal(buy["fillPx"]), buy["fillSz"]) == (out["skew_ask"], "0.01")
    assert (Decimal(sell["fillPx"]), sell["fillSz"]) == (out["plain_bid"], "0.01")


def test_ws_books_client_stays_consistent_across_skew_switches():
    async def fn(now: list[int], sbs: list[Sandbox], cs: list[_Client]) -> dict[str, Any]:
        sb, c = sbs[0], cs[0]
        start = now[0]
        checked = 0
        async with c.s.ws_connect(sb.ws_public_url) as ws:
            sub = {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}
            await ws.send_str(json.dumps(sub))
            ack = json.loads((await ws.receive(timeout=5)).data)
            snap = json.loads((await ws.receive(timeout=5)).data)["data"][0]
            book: Book = (_levels(snap["bids"]), _levels(snap["asks"]))
            seq = snap["seqId"]
            for step in range(1, 36):  # 0.1 s .. 3.5 s: three windows, six switches
                now[0] = start + step * 100 * MS
                sb.tick()
                msg = json.loads((await ws.receive(timeout=5)).data)
                assert msg["action"] == "update"
                d = msg["data"][0]
                assert d["prevSeqId"] == seq
                seq = d["seqId"]
                _apply(book, d["bids"], d["asks"])
                assert max(book[0]) < min(book[1])
                assert book == await c.book()
                checked += 1
        return {"ack": ack, "checked": checked}

    out = run(_scenario(fn, seed=4, synthetic_seconds=6, **SKEW))
    assert out["ack"]["event"] == "subscribe"
    assert out["checked"] == 35


# -- the CLI --------------------------------------------------------------------------------


def test_cli_parses_the_twin_and_fault_flags():
    from arb.cli import build_parser

    args = build_parser().parse_args(
        ["okx-sandbox", "--port", "0", "--seconds", "20", "--skew-bps", "30", "--skew-every",
         "4", "--skew-for", "1.5", "--faults", '{"reject_next": 1}']
    )  # fmt: skip
    assert (args.seconds, args.skew_bps, args.skew_every, args.skew_for) == (20, 30, 4, 1.5)
    assert args.faults == '{"reject_next": 1}'


def test_cli_refuses_an_unknown_fault_knob(capsys):
    from arb.cli import main

    assert main(["okx-sandbox", "--port", "0", "--faults", '{"nope": 1}']) == 2
    assert "unknown knob 'nope'" in capsys.readouterr().err


async def _cli_process() -> dict[str, Any]:
    arb = Path(sys.executable).with_name("arb")
    proc = await asyncio.create_subprocess_exec(
        str(arb), "okx-sandbox", "--port", "0", "--seconds", "5", "--skew-bps", "30",
        "--skew-every", "2", "--skew-for", "0.5", "--faults", '{"reject_next": 1}',
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        m = re.search(r"REST (http://127\.0\.0\.1:(\d+)),", line)
        assert m, line
        url = m.group(1)
        async with aiohttp.ClientSession() as s:
            async with s.get(url + "/sandbox/faults") as r:
                faults = await r.json()
            async with s.get(url + "/api/v5/market/books?instId=BTC-USDT&sz=5") as r:
                books = await r.json()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
        _, err = await proc.communicate()
        return {"line": line, "port": int(m.group(2)), "faults": faults, "books": books,
                "code": code, "err": err.decode()}  # fmt: skip
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_cli_process_prints_ready_line_serves_control_and_exits_0_on_sigterm():
    out = run(_cli_process(), timeout=40)
    assert out["port"] > 0
    assert f"ws://127.0.0.1:{out['port']}/ws/v5/public" in out["line"]
    assert out["faults"]["reject_next"] == 1
    assert out["books"]["code"] == "0"
    assert out["code"] == 0, out["err"]
