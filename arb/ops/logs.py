"""JSON-lines logging for ``arb run``, with secrets redacted before anything is written.

One object per record::

    {"ts":"2024-05-01T12:00:00.123Z","level":"WARNING","logger":"arb.alerts","msg":"...",
     "venue":"okx","exc":"Traceback ..."}

``ts`` is UTC with milliseconds, ``msg`` the formatted message, then every ``extra=`` field of
the call (values orjson cannot encode are written as ``str(value)``), and ``exc`` (the formatted
traceback) when the call had ``exc_info``. An ``extra`` key equal to one of the four fixed keys is
written with an ``x_`` prefix.

Secrets registered with ``register_secret`` are replaced by ``<redacted>`` in the message, in
extra values (keys and strings, nested in dicts and lists too) and in the traceback text.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any
from typing import TextIO

import orjson

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "redact",
    "register_secret",
    "setup_json_logging",
]

REDACTED = "<redacted>"
_MIN_SECRET_LEN = 4
_SECRETS: set[str] = set()
_FIXED = ("ts", "level", "logger", "msg")
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_installed: logging.Handler | None = None


def register_secret(value: str) -> None:
    """Redact ``value`` from every log line written from now on.

    Values shorter than 4 characters are ignored (they would redact ordinary words).
    """
    if len(value) >= _MIN_SECRET_LEN:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``<redacted>``."""
    if not _SECRETS:
        return text
    # Longest first, so a secret containing another is replaced whole.
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _clean(value: Any) -> Any:
    # JSON-ready copy of an extra value with secrets redacted from every string in it.
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {redact(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return redact(str(value))


def _iso_utc(created: float) -> str:
    whole = int(created)
    ms = int((created - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (no newline), secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line of ``record``."""
        out: dict[str, Any] = {
            "ts": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _RESERVED or key.startswith("_"):
                continue
            out[f"x_{key}" if key in _FIXED else redact(key)] = _clean(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return orjson.dumps(out, default=str).decode()


def setup_json_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Install one JSON-lines handler on the root logger and return it.

    Parameters
    ----------
    level
        Root logger level name (``DEBUG``, ``INFO``, ...).
    stream
        Where the lines go; ``sys.stderr`` when None.

    Returns
    -------
    logging.Handler
        The installed handler (tests remove it with ``logging.getLogger().removeHandler``).

    Notes
    -----
    Idempotent: a handler installed by an earlier call is removed first; handlers installed by
    anyone else are left alone.
    """
    global _installed
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    _installed = handler
    return handler
