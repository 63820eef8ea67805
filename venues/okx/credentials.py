"""OKX API credentials: loaded from the environment or an owner-only file, never shown.

Sources (``prefix`` defaults to ``ARB_OKX_``), one or the other, never both:

- environment: ``ARB_OKX_API_KEY``, ``ARB_OKX_SECRET_KEY``, ``ARB_OKX_PASSPHRASE`` (all three),
  and optionally ``ARB_OKX_DEMO=1`` for OKX Demo Trading;
- a file named by ``ARB_OKX_CREDENTIALS_FILE``: TOML with ``api_key``, ``secret_key``,
  ``passphrase`` (strings) and optionally ``demo`` (bool). It must be a regular file that only
  its owner can read or write (``chmod 600``: ``mode & 0o077 == 0``).

``ARB_OKX_DEMO``, when set, decides demo mode in both cases. Anything wrong raises
``arb.core.errors.ConfigError`` naming the variable or the file and the key, never a value of
the secret or the passphrase. ``repr``/``str`` of ``OkxCredentials`` show the first four
characters of the API key only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arb.core.errors import ConfigError
from venues.private_file import read_private_toml

__all__ = ["OkxCredentials", "load_credentials"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_FILE_KEYS = ("api_key", "secret_key", "passphrase")


@dataclass(frozen=True, slots=True, repr=False)
class OkxCredentials:
    """An OKX API key, its secret and passphrase, and whether it is a Demo Trading key.

    Demo keys and live keys are distinct (a key used in the wrong environment gets 50101).
    """

    api_key: str
    secret: str
    passphrase: str
    demo: bool = False

    def __repr__(self) -> str:
        return f"OkxCredentials(api_key={self.api_key[:4]}…, demo={self.demo})"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return format(repr(self), format_spec)


def load_credentials(
    env: Mapping[str, str] = os.environ, *, prefix: str = "ARB_OKX_"
) -> OkxCredentials:
    """Load the credentials from ``env`` (default ``os.environ``) or the file it names.

    Raises ``ConfigError`` when a variable is missing or empty, both sources are given, the
    file is missing, not a regular file, readable or writable by group or others, not valid
    TOML, or lacks a key or has an unknown one.
    """
    file_var = f"{prefix}CREDENTIALS_FILE"
    names = {k: f"{prefix}{k.upper()}" for k in _FILE_KEYS}
    demo = _demo_flag(env, f"{prefix}DEMO")
    path = env.get(file_var, "")
    if path:
        also = [n for n in names.values() if n in env]
        if also:
            raise ConfigError(
                f"{file_var} is set and so is {', '.join(also)}: give the credentials either "
                "in the environment or in the file, not both"
            )
        values, file_demo = _read_file(path, file_var)
        return OkxCredentials(*values, demo=bool(file_demo if demo is None else demo))
    missing = [n for n in names.values() if not env.get(n)]
    if missing:
        raise ConfigError(
            f"OKX credentials: {', '.join(missing)} not set (or empty); set "
            f"{', '.join(names.values())}, or {file_var} to an owner-only TOML file"
        )
    api_key, secret, passphrase = (env[n] for n in names.values())
    return OkxCredentials(api_key, secret, passphrase, demo=bool(demo))


def _demo_flag(env: Mapping[str, str], var: str) -> bool | None:
    # None when unset, so that a file's own ``demo`` applies.
    if var not in env:
        return None
    value = env[var].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{var} is not a boolean: set it to 1 or 0")


def _read_file(path: str, var: str) -> tuple[tuple[str, str, str], bool | None]:
    return _file_values(read_private_toml(path, var), f"{var}={path}")


def _file_values(doc: dict[str, Any], where: str) -> tuple[tuple[str, str, str], bool | None]:
    unknown = sorted(set(doc) - {*_FILE_KEYS, "demo"})
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(_FILE_KEYS)}"
            " and optionally demo"
        )
    values: list[str] = []
    for key in _FILE_KEYS:
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            what = "is missing" if key not in doc else "must be a non-empty string"
            raise ConfigError(f"{where}: {key} {what}")
        values.append(value)
    demo = doc.get("demo")
    if demo is not None and not isinstance(demo, bool):
        raise ConfigError(f"{where}: demo must be true or false")
    api_key, secret, passphrase = values
    return (api_key, secret, passphrase), demo
