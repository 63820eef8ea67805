"""JSON-lines logging: shape, extra fields, exceptions, secret redaction, idempotent setup."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from arb.ops import logs
from arb.ops.logs import REDACTED
from arb.ops.logs import register_secret
from arb.ops.logs import setup_json_logging

pytestmark = pytest.mark.unit

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CANARY = "canary-value-0123456789"


class Opaque:
    def __str__(self) -> str:
        return f"opaque({CANARY})"


@pytest.fixture
def out(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    monkeypatch.setattr(logs, "_SECRETS", set())
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = setup_json_logging("DEBUG", stream)
    yield stream
    for h in [h for h in root.handlers if isinstance(h.formatter, logs.JsonFormatter)]:
        root.removeHandler(h)
    assert handler not in root.handlers
    root.setLevel(level)
    monkeypatch.setattr(logs, "_installed", None)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_record_is_one_json_object_with_fixed_keys(out):
    logging.getLogger("arb.test").info("hello %s and %d", "world", 42)
    (rec,) = lines(out)
    assert rec["msg"] == "hello world and 42"
    assert rec["level"] == "INFO"
    assert rec["logger"] == "arb.test"
    assert TS.match(rec["ts"]), rec["ts"]
    assert "exc" not in rec


def test_multiline_message_stays_on_one_line(out):
    logging.getLogger("arb.test").warning("a\nb")
    (rec,) = lines(out)
    assert rec["msg"] == "a\nb"


def test_extra_fields_are_top_level_keys_and_opaque_values_are_strings(out):
    logging.getLogger("arb.test").info(
        "x",
        extra={"venue": "okx", "n": 3, "px": 1.5, "ok": True, "tags": ["a", 1], "o": Opaque()},
    )
    (rec,) = lines(out)
    assert rec["venue"] == "okx"
    assert rec["n"] == 3
    assert rec["px"] == 1.5
    assert rec["ok"] is True
    assert rec["tags"] == ["a", 1]
    assert rec["o"] == f"opaque({CANARY})"  # not registered in this test


def test_extra_key_colliding_with_fixed_key_is_prefixed(out):
    logging.getLogger("arb.test").info("x", extra={"level": "mine"})
    (rec,) = lines(out)
    assert rec["level"] == "INFO"
    assert rec["x_level"] == "mine"


def test_exception_is_formatted_into_exc(out):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("arb.test").exception("failed")
    (rec,) = lines(out)
    assert rec["level"] == "ERROR"
    assert rec["msg"] == "failed"
    assert "Traceback" in rec["exc"]
    assert "ValueError: boom" in rec["exc"]


def test_registered_secret_is_redacted_in_msg_extra_and_exc(out):
    register_secret(CANARY)
    log = logging.getLogger("arb.test")
    log.info("key=%s", CANARY, extra={"hdr": f"Bearer {CANARY}", "nested": {"k": [CANARY]}})
    log.info("opaque", extra={"o": Opaque()})
    try:
        raise RuntimeError(f"rejected key {CANARY}")
    except RuntimeError:
        log.exception("call failed")
    raw = out.getvalue()
    assert CANARY not in raw
    a, b, c = lines(out)
    assert a["msg"] == f"key={REDACTED}"
    assert a["hdr"] == f"Bearer {REDACTED}"
    assert a["nested"] == {"k": [REDACTED]}
    assert b["o"] == f"opaque({REDACTED})"
    assert f"rejected key {REDACTED}" in c["exc"]


def test_short_secret_is_ignored(out):
    register_secret("abc")
    logging.getLogger("arb.test").info("abc def")
    (rec,) = lines(out)
    assert rec["msg"] == "abc def"


def test_level_filters_records(out):
    setup_json_logging("WARNING", out)
    logging.getLogger("arb.test").info("dropped")
    logging.getLogger("arb.test").warning("kept")
    assert [r["msg"] for r in lines(out)] == ["kept"]


def test_setup_twice_installs_one_handler(out):
    root = logging.getLogger()
    (first,) = [h for h in root.handlers if isinstance(h.formatter, logs.JsonFormatter)]
    second_stream = io.StringIO()
    second = setup_json_logging("INFO", second_stream)
    assert first not in root.handlers
    assert sum(h is second for h in root.handlers) == 1
    assert sum(isinstance(h.formatter, logs.JsonFormatter) for h in root.handlers) == 1
    logging.getLogger("arb.test").info("once")
    assert out.getvalue() == ""
    assert [r["msg"] for r in lines(second_stream)] == ["once"]
