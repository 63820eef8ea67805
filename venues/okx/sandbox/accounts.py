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
from typing import Annotated

import msgspec

from arb.core.errors import ConfigError

__all__ = ["DEFAULT_ACCOUNT", "Faults", "SandboxAccount", "load_accounts", "update_faults"]

NonNegInt = Annotated[int, msgspec.Meta(ge=0)]


class SandboxAccount(msgspec.Struct, forbid_unknown_fields=True):
    """One API key of the sandbox and the spot balances of its account."""

    api_key: str
    secret: str
    passphrase: str
    balances: dict[str, str]
    perm: str = "read_only,trade"
    ip: str = ""


class Faults(msgspec.Struct, kw_only=True):
    """Fault injection knobs; mutable while the sandbox runs (tests change them in place, a
    parent process through ``POST /sandbox/faults``, see ``venues.okx.sandbox.control``).

    - ``drop_ws_after_msgs``: close each WebSocket after it has pushed this many messages;
    - ``ack_delay_ms``: delay every trading answer (place, cancel, amend) by this much;
    - ``partial_fill_fraction``: at most this fraction of each order fills as a taker;
    - ``partial_fill_next``: one-shot: the next N placed orders that would take liquidity
      fill at most ``partial_fill_fraction`` as a taker (0.5 while that is 1.0), then orders
      fill as before; an order that would not take liquidity (it rests, or is a refused
      ``post_only``) does not count;
    - ``reject_next``: refuse the next N placed orders (``sCode`` 50013, system busy);
    - ``rate_limit_burst``: answer the next N REST requests with 50011 / HTTP 429;
    - ``notice_before_disconnect``: send the ``notice`` event (64008) before a dropped socket;
    - ``books_seq_gap_after``: on each ``books`` subscription, lose one update after every N
      updates (the next push's ``prevSeqId`` is not the last ``seqId`` the client saw).
    """

    drop_ws_after_msgs: NonNegInt = 0
    ack_delay_ms: Annotated[float, msgspec.Meta(ge=0)] = 0
    partial_fill_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0
    partial_fill_next: NonNegInt = 0
    reject_next: NonNegInt = 0
    rate_limit_burst: NonNegInt = 0
    notice_before_disconnect: bool = False
    books_seq_gap_after: NonNegInt = 0


def update_faults(faults: Faults, changes: object) -> None:
    """Set the knobs named in ``changes`` (a mapping knob -> value) on ``faults`` in place.

    Values are checked as a decoded ``Faults`` would be (types, bounds); nothing changes
    unless every knob is known and valid. Raises ``ConfigError`` naming the first unknown
    knob, or the invalid value.
    """
    if not isinstance(changes, dict):
        raise ConfigError("faults: expected a JSON object of knob values")
    for name in changes:
        if name not in Faults.__struct_fields__:
            known = ", ".join(Faults.__struct_fields__)
            raise ConfigError(f"faults: unknown knob {name!r} (knobs: {known})")
    try:
        checked = msgspec.convert({**msgspec.structs.asdict(faults), **changes}, Faults)
    except msgspec.ValidationError as e:
        raise ConfigError(f"faults: {e}") from e
    for name in changes:
        setattr(faults, name, getattr(checked, name))


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
