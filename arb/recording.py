"""The arb recording format (``arb-rec``, version 1): raw venue frames, losslessly, compressed.

A recording is a directory::

    OUT/
      manifest.json          written last (atomically): format, version, venues, instruments
                             with their metadata, time range, frame count, file list
      frames-000000.arb.gz   gzip text, one frame per line, in receive order
      frames-000001.arb.gz   (rotation by size or time for long recordings)

Each frames file starts with the header line ``#arb-rec<TAB>1``; then one line per frame::

    <ts_recv_ns> TAB <venue> TAB <conn> TAB <kind> TAB <payload>

- ``ts_recv_ns``: local receive time, integer nanoseconds since the epoch;
- ``venue``: venue id (``okx``, ``binance``, ``binance-usdm``, ``binance-coinm``, ...);
- ``conn``: the connection or stream id for WebSocket frames (``ws0``), or the REST request
  path with its query for REST responses (``/api/v3/depth?symbol=BTCUSDT``);
- ``kind``: ``<`` received from the venue, ``>`` sent to it, ``+`` connection opened (payload:
  URL), ``-`` connection closed (payload: reason), ``r`` REST response body, ``n`` arb's
  normalized L2 encoding (for sources that are not a venue's wire format, such as CSV); a
  trailing ``~`` means the payload is base64 (frames holding newlines or binary data);
- ``payload``: the bytes exactly as received, so venue checksums verify on replay.

Readers refuse unknown versions. Errors name the file and the line.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import msgspec

from arb.core.errors import RecordingError
from arb.core.instruments import Instrument

__all__ = [
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "Frame",
    "Kind",
    "Manifest",
    "Recording",
    "RecordingWriter",
    "open_recording",
]

FORMAT = "arb-rec"
VERSION = 1
MANIFEST = "manifest.json"
HEADER = b"#arb-rec\t1\n"


class Kind:
    RECV = "<"
    SENT = ">"
    OPEN = "+"
    CLOSE = "-"
    REST = "r"
    NORMALIZED = "n"
    B64 = "~"
    ALL = frozenset("<>+-rn")


class Frame(NamedTuple):
    ts_recv: int
    venue: str
    conn: str
    kind: str
    payload: bytes


class Manifest(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    version: int = VERSION
    source: str
    created_by: str = "arb"
    venues: list[str]
    instruments: list[Instrument]
    files: list[str]
    frames: int
    start_ns: int
    end_ns: int
    notes: dict[str, str] = {}


_manifest_decoder = msgspec.json.Decoder(Manifest)


class RecordingWriter:
    """Write frames to a new recording directory; ``close()`` writes the manifest.

    ``rotate_bytes`` starts a new frames file once the current one holds that many
    uncompressed bytes; ``rotate_s`` (0: never) once a frame is received that many seconds
    after the current file's first frame. Files rotate between frames only (a file holds at
    least one). With ``checkpoint``, every rotation also writes ``manifest.json`` for the
    files closed so far (note ``checkpoint``), so a recorder killed later leaves a readable
    recording; ``close()`` replaces it with the full manifest. Instruments are added with
    ``add_instrument`` (the first one given for a (venue, symbol) wins).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        source: str,
        rotate_bytes: int = 512 * 1024 * 1024,
        rotate_s: float = 0.0,
        checkpoint: bool = False,
        compresslevel: int = 6,
    ) -> None:
        if rotate_bytes <= 0 or rotate_s < 0:
            raise ValueError(
                f"rotate_bytes must be > 0 and rotate_s >= 0; received {rotate_bytes}, {rotate_s}"
            )
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        if (self.dir / MANIFEST).exists() or any(self.dir.glob("frames-*.arb.gz")):
            raise RecordingError(f"{self.dir}: already holds a recording; choose another --out")
        self.source = source
        self.rotate_bytes = rotate_bytes
        self.rotate_ns = int(rotate_s * 1e9)
        self.checkpoint = checkpoint
        self.compresslevel = compresslevel
        self.notes: dict[str, str] = {}
        self._instruments: dict[tuple[str, str], Instrument] = {}
        self._venues: dict[str, None] = {}
        self._files: list[str] = []
        self._fh: gzip.GzipFile | None = None
        self._bytes = 0
        self._file_start_ns = 0
        self.frames = 0
        self.start_ns = 0
        self.end_ns = 0
        self._open_next()

    def _open_next(self) -> None:
        self._close_file()
        name = f"frames-{len(self._files):06d}.arb.gz"
        self._files.append(name)
        # mtime=0: the same frames give the same bytes (deterministic synth and replays).
        self._raw_fh = open(self.dir / name, "wb")  # noqa: SIM115 - closed in _open_next/close
        self._fh = gzip.GzipFile(
            filename=name,
            mode="wb",
            compresslevel=self.compresslevel,
            fileobj=self._raw_fh,
            mtime=0,
        )
        self._fh.write(HEADER)
        self._bytes = len(HEADER)

    def _close_file(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._raw_fh.close()
            self._fh = None

    def add_instrument(self, inst: Instrument) -> None:
        self._instruments.setdefault(inst.key, inst)
        self._venues.setdefault(inst.venue)

    def has_instrument(self, venue: str, symbol: str) -> bool:
        return (venue, symbol) in self._instruments

    def write(self, ts_recv: int, venue: str, conn: str, kind: str, payload: bytes) -> None:
        """Append one frame. ``payload`` is stored unchanged (base64 if it holds newlines)."""
        if kind not in Kind.ALL:
            raise ValueError(f"frame kind {kind!r} is not one of {sorted(Kind.ALL)}")
        if "\t" in venue or "\n" in venue or "\t" in conn or "\n" in conn:
            raise ValueError(f"venue {venue!r} / conn {conn!r} must not hold tabs or newlines")
        if b"\n" in payload or b"\r" in payload:
            payload = base64.b64encode(payload)
            kind += Kind.B64
        line = b"%d\t%s\t%s\t%s\t%s\n" % (
            ts_recv,
            venue.encode(),
            conn.encode(),
            kind.encode(),
            payload,
        )
        if self._bytes > len(HEADER) and (
            self._bytes + len(line) > self.rotate_bytes
            or (self.rotate_ns and ts_recv - self._file_start_ns >= self.rotate_ns)
        ):
            self._rotate()
        if self._bytes == len(HEADER):
            self._file_start_ns = ts_recv
        assert self._fh is not None  # noqa: S101 - opened in __init__
        self._fh.write(line)
        self._bytes += len(line)
        if self.frames == 0 or ts_recv < self.start_ns:
            self.start_ns = ts_recv
        self.end_ns = max(self.end_ns, ts_recv)
        self.frames += 1
        self._venues.setdefault(venue)

    @property
    def files(self) -> list[str]:
        """The frames files so far, in order (the last one is being written)."""
        return list(self._files)

    def _rotate(self) -> None:
        self._close_file()
        if self.checkpoint:
            note = "written at a rotation; the recording was still running"
            self._write_manifest(self._manifest({**self.notes, "checkpoint": note}))
        self._open_next()

    def _manifest(self, notes: dict[str, str]) -> Manifest:
        return Manifest(
            source=self.source,
            venues=list(self._venues),
            instruments=sorted(self._instruments.values(), key=lambda i: (i.venue, i.symbol)),
            files=list(self._files),
            frames=self.frames,
            start_ns=self.start_ns,
            end_ns=self.end_ns,
            notes=notes,
        )

    def _write_manifest(self, manifest: Manifest) -> None:
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n")
        tmp.replace(self.dir / MANIFEST)

    def close(self) -> Manifest:
        """Finish the frames file and write ``manifest.json`` atomically."""
        self._close_file()
        manifest = self._manifest(self.notes)
        self._write_manifest(manifest)
        return manifest

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Recording:
    """A recording opened for reading. ``frames()`` streams them in order."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest

    def instruments(self, venue: str | None = None) -> list[Instrument]:
        return [i for i in self.manifest.instruments if venue is None or i.venue == venue]

    def frames(self) -> Iterator[Frame]:
        """Yield every frame. Raises ``RecordingError`` naming file and line on bad input."""
        intern: dict[bytes, str] = {}
        for name in self.manifest.files:
            yield from _read_frames(self.path / name, intern)


def _read_frames(path: Path, intern: dict[bytes, str]) -> Iterator[Frame]:
    lineno = 0
    try:
        with gzip.open(path, "rb") as fh:
            header = fh.readline()
            lineno = 1
            if header != HEADER:
                raise RecordingError(
                    f"{path}:1: not an arb-rec v{VERSION} frames file (header {header[:40]!r})"
                )
            for line in fh:
                lineno += 1
                parts = line.rstrip(b"\n").split(b"\t", 4)
                if len(parts) != 5:
                    raise RecordingError(f"{path}:{lineno}: expected 5 tab-separated fields")
                ts, venue_b, conn_b, kind_b, payload = parts
                venue = intern.get(venue_b)
                if venue is None:
                    venue = intern[venue_b] = venue_b.decode()
                conn = intern.get(conn_b)
                if conn is None:
                    conn = intern[conn_b] = conn_b.decode()
                kind = intern.get(kind_b)
                if kind is None:
                    kind = intern[kind_b] = kind_b.decode()
                if kind[-1] == Kind.B64:
                    payload = base64.b64decode(payload, validate=True)
                    kind = kind[:-1]
                if kind not in Kind.ALL:
                    raise RecordingError(f"{path}:{lineno}: unknown frame kind {kind!r}")
                yield Frame(int(ts), venue, conn, kind, payload)
    except RecordingError:
        raise
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as e:
        raise RecordingError(f"{path}:{lineno}: unreadable frames file: {e}") from e
    except (ValueError, binascii.Error) as e:
        raise RecordingError(f"{path}:{lineno}: malformed frame: {e}") from e


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Open a recording directory (or its ``manifest.json``)."""
    p = Path(path)
    if p.is_file() and p.name == MANIFEST:
        p = p.parent
    mpath = p / MANIFEST
    if not mpath.is_file():
        raise RecordingError(f"{p}: no {MANIFEST}; not an arb recording (see arb import)")
    try:
        manifest = _manifest_decoder.decode(mpath.read_bytes())
    except msgspec.DecodeError as e:
        raise RecordingError(f"{mpath}: invalid manifest: {e}") from e
    if manifest.format != FORMAT or manifest.version != VERSION:
        raise RecordingError(
            f"{mpath}: format {manifest.format!r} v{manifest.version} is not supported "
            f"(this arb reads {FORMAT} v{VERSION})"
        )
    for name in manifest.files:
        if "/" in name or name.startswith("."):
            raise RecordingError(f"{mpath}: file name {name!r} must be a plain name")
    return Recording(p, manifest)
