"""A corrupted input line gives a RecordingError naming file and line, or is skipped with
--skip-bad: never a traceback. Hand-made fixtures with one line replaced by hypothesis."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from arb.core.errors import RecordingError
from arb.importers import run_import

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
CASES = [
    ("topn-csv", ["orderbook_aa.csv"]),
    ("tardis", ["tardis_incremental_book_L2.csv"]),
    ("cryptofeed", ["OKX.ws.handmade", "OKX.rest.handmade"]),
]
garbage = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", ",,,,", "1652459225.5: {", "x <- 1: {}", "2021-08-20 00:00:00,,", "\x00"]),
)


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(CASES), data=st.data(), line=garbage, skip_bad=st.booleans())
def test_one_corrupted_line_is_named_or_skipped(case, data, line, skip_bad):
    fmt, names = case
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        for name in names:
            dst = Path(tmp) / name
            shutil.copy(DATA / name, dst)
            inputs.append(dst)
        target = inputs[0]
        lines = target.read_text().split("\n")
        i = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        lines[i] = line.replace("\n", " ").replace("\r", " ")
        target.write_text("\n".join(lines))
        try:
            run_import(fmt, inputs, Path(tmp) / "out", skip_bad=skip_bad)
        except RecordingError as e:
            assert target.name in str(e)  # noqa: PT017 - either outcome is allowed here
