"""Operations layer of ``arb run``: JSON logs, the Prometheus endpoint and alerts.

- ``logs``: ``setup_json_logging`` (JSON lines on the root logger) and ``register_secret``;
- ``metrics``: ``MetricsServer`` serving ``/metrics`` and ``/healthz`` from a ``MetricsSnapshot``
  callable read at scrape time;
- ``alerts``: ``Alerter`` (webhook / command, cool-down) and ``Watchdog`` (edge-triggered
  conditions).
"""

from __future__ import annotations

from arb.ops.alerts import Alert
from arb.ops.alerts import Alerter
from arb.ops.alerts import AlertSink
from arb.ops.alerts import Watchdog
from arb.ops.logs import redact
from arb.ops.logs import register_secret
from arb.ops.logs import setup_json_logging
from arb.ops.metrics import MetricsServer
from arb.ops.metrics import MetricsSnapshot

__all__ = [
    "Alert",
    "AlertSink",
    "Alerter",
    "MetricsServer",
    "MetricsSnapshot",
    "Watchdog",
    "redact",
    "register_secret",
    "setup_json_logging",
]
