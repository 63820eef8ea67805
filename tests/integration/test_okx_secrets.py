"""Key safety over a whole session: the secret and the passphrase never appear in any log
record (any logger, any level, aiohttp's included), in any repr, or in any error raised."""

from __future__ import annotations

import logging
import time

import pytest

from tests.integration._okx_helpers import run
from venues.okx.credentials import OkxCredentials
from venues.okx.errors import OkxAuthError
from venues.okx.rest import OkxRestClient
from venues.okx.sandbox import SandboxAccount
from venues.okx.sandbox import start_sandbox
from venues.okx.signer import build_request

SECRET = "Sx9-very-secret-value-4711"  # noqa: S105 - a test value, searched for in the logs
PASSPHRASE = "Pp-do-not-print-0815"  # noqa: S105
ACCOUNT = SandboxAccount(
    api_key="session-key",
    secret=SECRET,
    passphrase=PASSPHRASE,
    balances={"USDT": "10000", "BTC": "1"},
)


def test_a_full_session_never_logs_or_shows_the_secret_or_passphrase(caplog):
    creds = OkxCredentials(ACCOUNT.api_key, SECRET, PASSPHRASE)
    shown: list[str] = [repr(creds), str(creds), f"{creds}"]

    async def session() -> None:
        sb = await start_sandbox(accounts=[ACCOUNT])
        try:
            async with OkxRestClient(creds, base_url=sb.base_url) as c:
                shown.append(repr(c))
                await c.sync_clock()
                await c.balance()
                await c.account_config()
                ask = (await c.books("BTC-USDT", 5)).asks[0][0]
                ack = await c.place_order(
                    {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                     "sz": "0.001", "px": "1000", "clOrdId": "logTest1"}
                )  # fmt: skip
                await c.cancel_order("BTC-USDT", ord_id=ack.ordId)
                await c.place_order(
                    {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "ioc",
                     "sz": "0.001", "px": ask, "clOrdId": "logTest2"}
                )  # fmt: skip
                await c.fills()
                req = build_request(creds, "GET", "/api/v5/account/balance", None, None,
                                    time.time_ns(), demo=False)  # fmt: skip
                shown.extend([repr(req), str(req)])
            bad = OkxCredentials(ACCOUNT.api_key, SECRET + "x", PASSPHRASE)
            async with OkxRestClient(bad, base_url=sb.base_url) as c:
                with pytest.raises(OkxAuthError) as e:
                    await c.balance()
                shown.extend([str(e.value), repr(e.value)])
        finally:
            await sb.close()

    with caplog.at_level(logging.DEBUG):
        logging.getLogger().setLevel(logging.DEBUG)
        run(session())
    logged = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    everything = logged + "\n".join(shown)
    assert shown
    for value in (SECRET, PASSPHRASE):
        assert value not in everything
