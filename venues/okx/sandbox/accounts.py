"""Sandbox accounts and fault knobs.

Accounts come from a small TOML file (``arb okx-sandbox --accounts FILE``)::

    [[accounts]]
    api_key = "sandbox-key"
    secret = "sandbox-secret"
    passphrase = "sandbox-pass"
    balances = {USDT = "100000", BTC = "2"}
    perm = "read_only,trade"          # optional; "read_only,withdraw,trade" to test key checks
    ip = ""                           # optional; comma-separated whitelist (50110 otherwise)

The file holds throw-away sandbox keys only: it never sees a real exchange.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import msgspec

from arb.core.errors import ConfigError

__all__ = ["DEFAULT_ACCOUNT", "Faults", "SandboxAccount", "load_accounts"]


class SandboxAccount(msgspec.Struct, forbid_unknown_fields=True):
    """One API key of the sandbox and the spot balances of its account."""

    api_key: str
    secret: str
    passphrase: str
    balances: dict[str, str]
    perm: str = "read_only,trade"
    ip: str = ""


class Faults(msgspec.Struct, kw_only=True):
    """Fault injection knobs; mutable while the sandbox runs (tests change them in place).

    - ``drop_ws_after_msgs``: close each WebSocket after it has pushed this many messages;
    - ``ack_delay_ms``: delay every trading answer (place, cancel, amend) by this much;
    - ``partial_fill_fraction``: at most this fraction of each order fills as a taker;
    - ``reject_next``: refuse the next N placed orders (``sCode`` 50013, system busy);
    - ``rate_limit_burst``: answer the next N REST requests with 50011 / HTTP 429;
    - ``notice_before_disconnect``: send the ``notice`` event (64008) before a dropped socket;
    - ``books_seq_gap_after``: on each ``books`` subscription, lose one update after every N
      updates (the next push's ``prevSeqId`` is not the last ``seqId`` the client saw).
    """

    drop_ws_after_msgs: int = 0
    ack_delay_ms: float = 0
    partial_fill_fraction: float = 1.0
    reject_next: int = 0
    rate_limit_burst: int = 0
    notice_before_disconnect: bool = False
    books_seq_gap_after: int = 0


DEFAULT_ACCOUNT = SandboxAccount(
    api_key="sandbox-key",
    secret="sandbox-secret",  # noqa: S106 - a sandbox-only credential, documented
    passphrase="sandbox-pass",  # noqa: S106
    balances={"USDT": "100000", "BTC": "2", "ETH": "20"},
)


class _AccountsFile(msgspec.Struct, forbid_unknown_fields=True):
    accounts: list[SandboxAccount]


def load_accounts(path: str | os.PathLike[str]) -> list[SandboxAccount]:
    """Read ``[[accounts]]`` from a TOML file. Raises ``ConfigError`` naming file and problem."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
        accounts = msgspec.convert(raw, _AccountsFile).accounts
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as e:
        raise ConfigError(f"{p}: {e}") from e
    keys = [a.api_key for a in accounts]
    if not accounts or len(set(keys)) != len(keys):
        raise ConfigError(f"{p}: accounts: need at least one, with distinct api_key")
    return accounts
