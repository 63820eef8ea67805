"""Shared fixtures. Real recorded data is read from ../shared/data, never copied here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ARB_SHARED_DATA", ROOT.parent / "shared" / "data"))
REQUIRE_SHARED = os.environ.get("ARB_REQUIRE_SHARED_DATA") == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data. Skips when absent, fails when ARB_REQUIRE_SHARED_DATA=1 (CI)."""
    if not SHARED_DATA.is_dir():
        msg = f"recorded data not found at {SHARED_DATA} (set ARB_SHARED_DATA)"
        if REQUIRE_SHARED:
            pytest.fail(f"ARB_REQUIRE_SHARED_DATA=1 but {msg}")
        pytest.skip(msg)
    return SHARED_DATA
