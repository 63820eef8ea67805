"""run_import: formats, output directory handling, report."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from arb.core.errors import RecordingError
from arb.importers import FORMATS
from arb.importers import ImportReport
from arb.importers import run_import
from arb.recording import open_recording

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "import"


def test_formats_are_the_documented_ones():
    assert FORMATS == ("hftbacktest", "cryptofeed", "tardis", "topn-csv")


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(RecordingError, match="unknown import format 'parquet'"):
        run_import("parquet", [DATA / "OKX.rest.handmade"], tmp_path / "out")


def test_no_inputs_or_missing_input_is_refused(tmp_path):
    with pytest.raises(RecordingError, match="no input files"):
        run_import("tardis", [], tmp_path / "out")
    with pytest.raises(RecordingError, match=r"nope\.csv: no such input file"):
        run_import("tardis", [tmp_path / "nope.csv"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_out_holding_a_recording_is_refused(tmp_path):
    run_import("cryptofeed", [DATA / "OKX.rest.handmade"], tmp_path / "out")
    with pytest.raises(RecordingError, match="already holds a recording"):
        run_import("cryptofeed", [DATA / "OKX.rest.handmade"], tmp_path / "out")
    assert open_recording(tmp_path / "out").manifest.frames == 1


def test_failed_import_into_existing_directory_leaves_it_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README").write_text("mine")
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,symbol,b1,bv1,a1,av1\n2024-01-02 00:00:00,X.XX,1,1,2,1\n")
    with pytest.raises(RecordingError):
        run_import("topn-csv", [DATA / "orderbook_aa.csv", bad], out)
    assert sorted(p.name for p in out.iterdir()) == ["README"]


def test_report_is_json_and_matches_manifest(tmp_path):
    report = run_import("topn-csv", [DATA / "orderbook_aa.csv"], tmp_path / "out")
    assert isinstance(report, ImportReport)
    data = msgspec.json.decode(msgspec.json.encode(report))
    assert data["format"] == "topn-csv"
    assert data["out"] == str(tmp_path / "out")
    m = open_recording(tmp_path / "out").manifest
    assert (m.source, m.frames, m.start_ns, m.end_ns) == (
        "import:topn-csv",
        report.frames,
        report.start_ns,
        report.end_ns,
    )
    assert m.notes["import_format"] == "topn-csv"
    assert m.notes["inputs"] == "orderbook_aa.csv (3 lines)"
