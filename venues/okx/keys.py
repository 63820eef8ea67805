"""Key safety: what an OKX API key may do, checked before any trading.

``judge(config)`` reads ``GET /api/v5/account/config`` (``perm``, ``ip``, ``level``): a key
that can **withdraw** is refused (an arbitrage engine never needs it, and a leaked trading key
must not be able to move funds off the exchange); a key without ``trade`` cannot trade; a key
bound to no IP address is allowed with a warning (OKX expires such keys after 14 days without
use, and anyone holding it can use it from anywhere).
"""

from __future__ import annotations

import msgspec

from venues.okx.credentials import OkxCredentials
from venues.okx.rest_schemas import OkxAccountConfigMsg

__all__ = ["KeyVerdict", "check_key", "judge"]


class KeyVerdict(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    """False: refuse to trade with this key."""
    permissions: tuple[str, ...]
    fee_tier: str
    ip_bound: bool
    problems: tuple[str, ...] = ()
    """Why the key is refused."""
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        lines = [
            f"permissions: {', '.join(self.permissions) or '(none)'}",
            f"fee tier: {self.fee_tier or '(unknown)'}",
            f"IP whitelist: {'bound' if self.ip_bound else 'NONE'}",
        ]
        lines += [f"REFUSED: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def judge(config: OkxAccountConfigMsg) -> KeyVerdict:
    """The verdict on a key from its account config (pure)."""
    perms = tuple(p.strip() for p in config.perm.split(",") if p.strip())
    problems: list[str] = []
    warnings: list[str] = []
    if "withdraw" in perms:
        problems.append(
            "the key has the 'withdraw' permission; create a key with read and trade only"
        )
    if "trade" not in perms:
        problems.append("the key has no 'trade' permission")
    ip_bound = bool(config.ip.strip())
    if not ip_bound:
        warnings.append(
            "the key is bound to no IP address: bind it to this server's address "
            "(OKX also expires unbound trading keys after 14 days without use)"
        )
    return KeyVerdict(
        ok=not problems,
        permissions=perms,
        fee_tier=config.level,
        ip_bound=ip_bound,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


async def check_key(credentials: OkxCredentials, base_url: str) -> KeyVerdict:
    """Ask OKX (at ``base_url``) for the key's account config and judge it."""
    from venues.okx.rest import OkxRestClient

    async with OkxRestClient(credentials, base_url=base_url) as client:
        await client.sync_clock()
        return judge(await client.account_config())
