"""Integration tests: no ``arb run`` started by a test outlives it, even when the test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration._e2e import reap


@pytest.fixture(autouse=True)
def _reap_arb_processes() -> Iterator[None]:
    yield
    reap()
