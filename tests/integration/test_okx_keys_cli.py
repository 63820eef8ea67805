"""``arb keys check CONFIG`` against the OKX sandbox: permissions, IP binding, fee tier."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from arb.cli import main
from venues.okx.sandbox import DEFAULT_ACCOUNT
from venues.okx.sandbox import Sandbox
from venues.okx.sandbox import SandboxAccount
from venues.okx.sandbox import start_sandbox


@contextmanager
def sandbox_in_thread(account: SandboxAccount) -> Iterator[Sandbox]:
    """The sandbox on its own event loop in a thread, so a synchronous CLI can call it."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Sandbox] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        box["sb"] = loop.run_until_complete(start_sandbox(accounts=[account]))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(20), "sandbox did not start"
    try:
        yield box["sb"]
    finally:
        asyncio.run_coroutine_threadsafe(box["sb"].close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _config(tmp_path: Path, url: str) -> Path:
    p = tmp_path / "live.toml"
    p.write_text(
        f'[[venues]]\nid = "okx"\nkind = "okx"\nrest_url = "{url}"\n'
        '[[pairs]]\nsymbol = "BTC-USDT"\nvenues = ["okx"]\n'
    )
    return p


@pytest.fixture
def key_env(monkeypatch):
    for k in ("ARB_OKX_CREDENTIALS_FILE", "ARB_OKX_DEMO"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ARB_OKX_API_KEY", DEFAULT_ACCOUNT.api_key)
    monkeypatch.setenv("ARB_OKX_SECRET_KEY", DEFAULT_ACCOUNT.secret)
    monkeypatch.setenv("ARB_OKX_PASSPHRASE", DEFAULT_ACCOUNT.passphrase)


def test_a_trade_only_key_passes_and_reports_its_permissions(tmp_path, capsys, key_env):
    with sandbox_in_thread(DEFAULT_ACCOUNT) as sb:
        assert main(["keys", "check", str(_config(tmp_path, sb.base_url))]) == 0
    out = capsys.readouterr()
    assert "permissions: read_only, trade" in out.out
    assert "fee tier: Lv1" in out.out
    assert "IP whitelist: NONE" in out.out  # a warning, not a refusal
    for secret in (DEFAULT_ACCOUNT.secret, DEFAULT_ACCOUNT.passphrase):
        assert secret not in out.out + out.err


def test_a_key_that_can_withdraw_is_refused_with_a_clear_message(tmp_path, capsys, key_env):
    risky = SandboxAccount(
        api_key=DEFAULT_ACCOUNT.api_key,
        secret=DEFAULT_ACCOUNT.secret,
        passphrase=DEFAULT_ACCOUNT.passphrase,
        balances=DEFAULT_ACCOUNT.balances,
        perm="read_only,withdraw,trade",
        ip="127.0.0.1",  # the sandbox enforces the whitelist like OKX
    )
    with sandbox_in_thread(risky) as sb:
        assert main(["keys", "check", str(_config(tmp_path, sb.base_url))]) == 1
    out = capsys.readouterr()
    assert "REFUSED: the key has the 'withdraw' permission" in out.out
    assert "refusing to trade with this key" in out.err


def test_missing_credentials_stop_with_the_variable_named(tmp_path, capsys, monkeypatch):
    for k in ("ARB_OKX_API_KEY", "ARB_OKX_SECRET_KEY", "ARB_OKX_PASSPHRASE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("ARB_OKX_CREDENTIALS_FILE", raising=False)
    assert main(["keys", "check", str(_config(tmp_path, "http://127.0.0.1:9"))]) == 2
    assert "ARB_OKX_API_KEY" in capsys.readouterr().err
