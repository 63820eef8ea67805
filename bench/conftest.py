"""Collect ``bench_*.py`` under ``bench/`` and mark every item in them ``bench``.

The project's pytest defaults (pyproject.toml) run ``tests/`` only, with
``-m 'not live and not bench' --benchmark-disable``. Run the benchmarks with::

    .venv/bin/pytest bench -m bench --benchmark-enable -p no:cacheprovider
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bench.streams import BookStream
from bench.streams import stream

BENCH_DIR = Path(__file__).resolve().parent


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # ``python_files`` is ``test_*.py``; files named on the command line are collected anyway.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(BENCH_DIR):
            item.add_marker(pytest.mark.bench)


@pytest.fixture(scope="session")
def book_stream() -> BookStream:
    """The shared deterministic stream: 400-level snapshot + 20,000 updates (~200k rows)."""
    s = stream()
    gc.collect()
    gc.freeze()  # the stream's millions of objects are the harness's, not the engine's
    return s
