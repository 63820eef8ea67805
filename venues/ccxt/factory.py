"""Build the ccxt exchange of a ``kind = "ccxt"`` venue: class, credentials, sandbox, URLs.

Credentials (``load_ccxt_credentials``), from the environment with the venue's prefix
(``VenueConfig.env_prefix``, e.g. ``ARB_BINANCE_``), one source or the other, never both:

- ``<prefix>API_KEY`` and ``<prefix>SECRET_KEY`` (and ``<prefix>PASSPHRASE`` where the
  exchange has one: OKX, KuCoin, ...);
- ``<prefix>CREDENTIALS_FILE``: an owner-only (``chmod 600``) TOML file with ``api_key``,
  ``secret_key`` and optionally ``passphrase``.

None of them set: no credentials (public market data only). Anything wrong raises
``ConfigError`` naming the variable or the file's key, never a value.

URL overrides (``make_exchange``), for loopback sandboxes and proxies: ccxt keeps an exchange's
endpoints in ``exchange.urls["api"]`` (one string, or a nested dict of them) and appends its own
paths to them. With ``rest_url`` set, every ``http(s)://`` entry keeps its path and query and has
its scheme and host replaced by ``rest_url`` (whose own path, if any, becomes a prefix):
``https://api.binance.com/api/v3`` with ``rest_url = "http://127.0.0.1:8080"`` becomes
``http://127.0.0.1:8080/api/v3``. With ``ws_url`` set, every ``ws(s)://`` entry keeps its path
and takes the scheme and host of ``ws_url``; the path of ``ws_url`` is **not** used, since ccxt
builds its own: the OKX-style public URL ``ws://127.0.0.1:8443/ws/v5/public`` turns ccxt okx's
``wss://ws.okx.com:443/ws/v5`` into ``ws://127.0.0.1:8443/ws/v5`` (to which ccxt appends
``/public``, ``/business`` or ``/private``). Each override touches its own kind of URL only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from arb.core.errors import ConfigError
from venues.private_file import read_private_toml

__all__ = ["CcxtVenueSpec", "load_ccxt_credentials", "make_exchange", "override_urls"]

_FILE_KEYS = {"api_key": "apiKey", "secret_key": "secret", "passphrase": "password"}
_ENV_KEYS = {"API_KEY": "apiKey", "SECRET_KEY": "secret", "PASSPHRASE": "password"}
_HTTP = ("http://", "https://")
_WS = ("ws://", "wss://")


def load_ccxt_credentials(prefix: str, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Return the ccxt constructor keys (``apiKey``, ``secret``, ``password``) of a venue.

    Parameters
    ----------
    prefix
        The venue's variable prefix (``VenueConfig.env_prefix``), e.g. ``"ARB_BINANCE_"``.
    env
        Where to read the variables (default ``os.environ``).

    Returns
    -------
    dict[str, str]
        ``{}`` when no variable is set (public data only).

    Raises
    ------
    ConfigError
        A key without its secret (or the reverse), a passphrase alone, both the file and the
        variables given, or a credentials file that is missing, not owner-only, not valid TOML,
        lacks a key or has an unknown one. The message names variables and keys, never values.
    """
    file_var = f"{prefix}CREDENTIALS_FILE"
    names = {f"{prefix}{suffix}": key for suffix, key in _ENV_KEYS.items()}
    path = env.get(file_var, "")
    given = [n for n in names if env.get(n)]
    if path:
        if given:
            raise ConfigError(
                f"{file_var} is set and so is {', '.join(given)}: give the credentials either "
                "in the environment or in the file, not both"
            )
        return _read_file(path, file_var)
    if not given:
        return {}
    key_var, secret_var = f"{prefix}API_KEY", f"{prefix}SECRET_KEY"
    missing = [n for n in (key_var, secret_var) if not env.get(n)]
    if missing:
        raise ConfigError(
            f"ccxt credentials: {', '.join(missing)} not set (or empty) while "
            f"{', '.join(given)} is set; set {key_var} and {secret_var} (and {prefix}PASSPHRASE "
            f"where the exchange has one), or {file_var} to an owner-only TOML file"
        )
    return {key: env[n] for n, key in names.items() if env.get(n)}


def _read_file(path: str, var: str) -> dict[str, str]:
    where = f"{var}={path}"
    doc = read_private_toml(path, var)
    unknown = sorted(set(doc) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; expected api_key, secret_key and "
            "optionally passphrase"
        )
    out: dict[str, str] = {}
    for name, key in _FILE_KEYS.items():
        value = doc.get(name)
        if name == "passphrase" and value is None:
            continue
        if not isinstance(value, str) or not value:
            what = "is missing" if name not in doc else "must be a non-empty string"
            raise ConfigError(f"{where}: {name} {what}")
        out[key] = value
    return out


class CcxtVenueSpec(Protocol):
    """The fields of ``arb.config.VenueConfig`` that build an exchange (venues do not import
    the config module: any object with these attributes will do)."""

    @property
    def id(self) -> str: ...
    @property
    def exchange(self) -> str: ...
    @property
    def demo(self) -> bool: ...
    @property
    def rest_url(self) -> str: ...
    @property
    def ws_url(self) -> str: ...


def make_exchange(
    v: CcxtVenueSpec,
    *,
    credentials: Mapping[str, str] | None = None,
    session: aiohttp.ClientSession | None = None,
    pro: bool = True,
) -> Any:
    """Build (without any request) the ccxt exchange of venue ``v``.

    Parameters
    ----------
    v
        The venue (an ``arb.config.VenueConfig``): ``exchange`` is the ccxt id; ``demo``
        turns on ccxt's sandbox mode (the exchange's testnet); ``rest_url`` / ``ws_url``
        override its URLs (module docstring).
    credentials
        ccxt constructor keys (``load_ccxt_credentials``); ``None`` or ``{}``: public only.
    session
        The aiohttp session for REST and WebSocket (ccxt does not close it); ``None``: ccxt's.
    pro
        ``ccxt.pro`` (WebSocket ``watch_*``) when the exchange has it; ``False``:
        ``ccxt.async_support`` (REST only).

    Returns
    -------
    Any
        The ccxt exchange; the caller awaits its ``close()``.

    Raises
    ------
    ConfigError
        ``v.exchange`` is not a ccxt exchange id, ``demo`` is set for an exchange without a
        sandbox, or an override is not an http(s) / ws(s) URL.
    """
    where = f"venues[{v.id}]"
    ex_id = v.exchange
    use_pro = pro and ex_id in ccxt_pro.exchanges
    if not use_pro and ex_id not in ccxt_async.exchanges:
        raise ConfigError(
            f"{where}.exchange: {ex_id!r} is not a ccxt exchange id (ccxt {ccxt.__version__})"
        )
    rest = _base(v.rest_url, _HTTP, f"{where}.rest_url")
    ws = _base(v.ws_url, _WS, f"{where}.ws_url", origin_only=True)
    config: dict[str, Any] = {"enableRateLimit": True, **(credentials or {})}
    if session is not None:
        config["session"] = session
    ex = getattr(ccxt_pro if use_pro else ccxt_async, ex_id)(config)
    if v.demo:
        try:
            ex.set_sandbox_mode(True)
        except (ccxt.NotSupported, TypeError):  # ccxt 4.5 fails on urls["test"] = None
            raise ConfigError(f"{where}.demo: ccxt {ex_id} has no sandbox (testnet)") from None
    if rest or ws:
        ex.urls["api"] = override_urls(ex.urls["api"], rest_base=rest, ws_base=ws)
    return ex


def override_urls(api: Any, *, rest_base: str, ws_base: str) -> Any:
    """Return ``api`` (ccxt's ``urls["api"]``: a string or nested dicts) with the scheme and
    host of every http(s) URL replaced by ``rest_base`` and of every ws(s) URL by ``ws_base``
    (an empty base leaves its URLs alone); paths and queries are kept."""
    if isinstance(api, Mapping):
        return {k: override_urls(x, rest_base=rest_base, ws_base=ws_base) for k, x in api.items()}
    if isinstance(api, str):
        if rest_base and api.startswith(_HTTP):
            return rest_base + _tail(api)
        if ws_base and api.startswith(_WS):
            return ws_base + _tail(api)
    return api


def _tail(url: str) -> str:
    # Everything after scheme://host[:port]; urlsplit copes with ccxt's "{hostname}" hosts.
    u = urlsplit(url)
    return u.path + (f"?{u.query}" if u.query else "")


def _base(url: str, schemes: tuple[str, ...], what: str, *, origin_only: bool = False) -> str:
    # scheme://host[:port] (plus the path of a REST base, as a prefix); "" when unset.
    if not url:
        return ""
    u = urlsplit(url)
    if not url.startswith(schemes) or not u.netloc:
        raise ConfigError(f"{what}: {url!r} is not a {' or '.join(schemes)} URL")
    path = "" if origin_only else u.path.rstrip("/")
    return f"{u.scheme}://{u.netloc}{path}"
