"""An OKX v5 sandbox: REST and WebSocket on loopback, over the simulated venue's matching.

It enforces what OKX enforces (signatures, keys, passphrase, timestamp format and 30 s skew,
Content-Type, rate limits, clOrdId rules, sizes, balances) against any client, so that our
native client and an independent one (ccxt) can be checked without reaching OKX. Also a way to
rehearse the live engine without keys: ``arb okx-sandbox --port P``.

Usage::

    sandbox = await start_sandbox()          # ephemeral port, synthetic market, DEFAULT_ACCOUNT
    ...  # REST at sandbox.base_url, WebSocket at sandbox.ws_public_url / ws_private_url
    await sandbox.close()

Test control (sandbox-only, not OKX's API): ``GET``/``POST /sandbox/faults`` and
``GET /sandbox/records`` (see ``venues.okx.sandbox.control``). Twin markets for cross-venue
tests: ``skew_bps``/``skew_every_s``/``skew_for_s`` (see ``venues.okx.sandbox.skew``).
"""

from __future__ import annotations

from venues.okx.sandbox.accounts import DEFAULT_ACCOUNT
from venues.okx.sandbox.accounts import Faults
from venues.okx.sandbox.accounts import SandboxAccount
from venues.okx.sandbox.accounts import load_accounts
from venues.okx.sandbox.accounts import update_faults
from venues.okx.sandbox.server import Sandbox
from venues.okx.sandbox.server import start_sandbox

__all__ = [
    "DEFAULT_ACCOUNT",
    "Faults",
    "Sandbox",
    "SandboxAccount",
    "load_accounts",
    "start_sandbox",
    "update_faults",
]
