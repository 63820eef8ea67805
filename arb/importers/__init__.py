"""``arb import``: convert recordings of other tools into arb recordings.

Formats (one module each):

- ``hftbacktest``: gzip lines ``<ns> <raw json>`` of Binance combined streams plus a bare REST
  depth snapshot; raw frames kept byte for byte (kinds ``<`` and ``r``);
- ``cryptofeed``: cryptofeed raw-data files (``OKX.ws.1.0``, ``OKX.0``): connects, sent and
  received WebSocket messages and REST responses, byte for byte;
- ``tardis``: tardis.dev CSVs (incremental_book_L2, book_snapshot_N, quotes, trades), stored
  in arb's normalized L2 encoding (kind ``n``, see ``venues.normalized``);
- ``topn-csv``: top-N book snapshot CSVs (``timestamp,symbol,b1..bN,bv1..bvN,a1..aN,av1..avN``),
  normalized too.

Several inputs are merged by receive time. On any error nothing is left in ``out`` (the
frames written so far are removed, and ``out`` itself if the import created it).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path

import msgspec

from arb.core.errors import RecordingError
from arb.importers._base import BookMsg
from arb.importers._base import ImportContext
from arb.importers._base import Importer
from arb.importers.cryptofeed import CryptofeedImporter
from arb.importers.hftbacktest import HftbacktestImporter
from arb.importers.tardis import TardisImporter
from arb.importers.topn_csv import TopNCsvImporter
from arb.recording import MANIFEST
from arb.recording import RecordingWriter

__all__ = ["FORMATS", "ImportReport", "run_import"]

FORMATS: tuple[str, ...] = ("hftbacktest", "cryptofeed", "tardis", "topn-csv")

_IMPORTERS: dict[str, Callable[[ImportContext, str | None], Importer]] = {
    "hftbacktest": HftbacktestImporter,
    "cryptofeed": CryptofeedImporter,
    "tardis": TardisImporter,
    "topn-csv": TopNCsvImporter,
}


class ImportReport(msgspec.Struct, kw_only=True):
    """What ``run_import`` wrote.

    Attributes
    ----------
    format, out
        The input format and the recording directory.
    frames
        Frames written.
    instruments
        Instruments listed in the manifest.
    bad_lines
        Per input file, lines skipped as bad (only with ``skip_bad``; a truncated gzip
        stream counts as one).
    skipped
        Input lines read on purpose without becoming a frame (blank lines, CSV headers,
        cryptofeed ``configuration`` lines, OKX instrument lists folded into the manifest).
    start_ns, end_ns
        Receive time of the first and last frame, ns.
    """

    format: str
    out: str
    frames: int
    instruments: int
    bad_lines: dict[str, int]
    skipped: int
    start_ns: int
    end_ns: int


def run_import(
    fmt: str,
    inputs: list[Path],
    out: Path,
    *,
    skip_bad: bool = False,
    venue: str | None = None,
) -> ImportReport:
    """Import ``inputs`` of format ``fmt`` into a new recording at ``out``.

    Parameters
    ----------
    fmt
        One of ``FORMATS``.
    inputs
        Input files; their frames are merged by receive time (files that continue each
        other come out in order).
    out
        Recording directory to create; it must not hold a recording.
    skip_bad
        Count and skip bad lines (report ``bad_lines``) instead of stopping at the first.
    venue
        Venue id for inputs that do not tell it (hftbacktest: instead of inferring it from
        the payloads; cryptofeed: instead of the file name prefix; topn-csv: for symbols
        without a venue suffix; tardis: replaces the venue id derived from ``exchange``).

    Returns
    -------
    ImportReport

    Raises
    ------
    RecordingError
        Unknown format, unreadable input, or a bad line (naming file and line) when not
        ``skip_bad``. Nothing is left in ``out``.
    """
    factory = _IMPORTERS.get(fmt)
    if factory is None:
        raise RecordingError(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not inputs:
        raise RecordingError(f"import {fmt}: no input files given")
    for p in inputs:
        if not p.is_file():
            raise RecordingError(f"{p}: no such input file")
    ctx = ImportContext(skip_bad=skip_bad)
    importer = factory(ctx, venue)
    created = not out.exists()
    writer = RecordingWriter(out, source=f"import:{fmt}")
    streams = [importer.frames(p) for p in inputs]
    try:
        write = writer.write
        seqs: dict[tuple[str, str], int] = {}
        for ts, v, conn, kind, payload in heapq.merge(*streams, key=itemgetter(0)):
            if isinstance(payload, BookMsg):
                key = (v, payload.venue_symbol)
                seq = seqs[key] = seqs.get(key, 0) + 1
                payload = payload.encode(seq)
            write(ts, v, conn, kind, payload)
        instruments = importer.instruments()
        for inst in instruments:
            writer.add_instrument(inst)
        writer.notes.update(_notes(fmt, inputs, ctx))
        writer.notes.update(importer.notes())
    except BaseException:
        for stream in streams:
            stream.close()
        _discard(writer, created=created)
        raise
    manifest = writer.close()
    return ImportReport(
        format=fmt,
        out=str(out),
        frames=manifest.frames,
        instruments=len(manifest.instruments),
        bad_lines=dict(ctx.bad_lines),
        skipped=ctx.skipped,
        start_ns=manifest.start_ns,
        end_ns=manifest.end_ns,
    )


def _notes(fmt: str, inputs: list[Path], ctx: ImportContext) -> dict[str, str]:
    notes = {
        "import_format": fmt,
        "inputs": ", ".join(f"{p.name} ({ctx.lines.get(str(p), 0)} lines)" for p in inputs),
    }
    if ctx.bad_lines:
        notes["bad_lines"] = ", ".join(f"{Path(k).name}: {n}" for k, n in ctx.bad_lines.items())
    return notes


def _discard(writer: RecordingWriter, *, created: bool) -> None:
    # close() is the writer's only public way to release its files; remove what it wrote.
    manifest = writer.close()
    for name in [*manifest.files, MANIFEST]:
        (writer.dir / name).unlink(missing_ok=True)
    if created and not any(writer.dir.iterdir()):
        writer.dir.rmdir()
