"""Shared machinery of the importers: reading inputs, bad-line accounting, precision inference.

Every importer turns one input file into an iterator of ``Out`` tuples (one recorded frame
each, in the file's order); ``run_import`` merges the files by receive time and writes them.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Generator
from collections.abc import Iterable
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO
from typing import NamedTuple
from typing import Protocol

from arb.core.errors import RecordingError
from arb.core.instruments import Instrument
from venues.normalized.schemas import encode_delta
from venues.normalized.schemas import encode_snap

__all__ = [
    "BookMsg",
    "ImportContext",
    "Importer",
    "Out",
    "Precisions",
    "is_decimal",
    "max_decimals",
    "read_csv",
    "read_lines",
    "step_of",
]


class BookMsg(NamedTuple):
    """A normalized ``snap`` or ``delta`` still waiting for its sequence number.

    Numbers are assigned per (venue, venue symbol) by ``run_import`` in the order the merged
    frames are written, so that they stay contiguous when several files feed one symbol.
    """

    venue_symbol: str
    ts_event: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    snapshot: bool
    partial: bool = False

    def encode(self, seq: int) -> bytes:
        """Return the message's JSON with sequence number ``seq``."""
        if self.snapshot:
            return encode_snap(
                self.venue_symbol, seq, self.ts_event, self.bids, self.asks, partial=self.partial
            )
        return encode_delta(self.venue_symbol, seq, self.ts_event, self.bids, self.asks)


Out = tuple[int, str, str, str, bytes | BookMsg]
"""One frame to record: ``(ts_recv_ns, venue, conn, kind, payload)``."""

_GZIP_MAGIC = b"\x1f\x8b"
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
# The fraction of a decimal up to its last non-zero digit.
_SIGNIFICANT = re.compile(r"\.([0-9]*[1-9])")
_first = itemgetter(0)
_second = itemgetter(1)


class Importer(Protocol):
    """One input format: frames per file, then what was learnt for the manifest."""

    def frames(self, path: Path) -> Generator[Out, None, None]: ...

    def instruments(self) -> list[Instrument]: ...

    def notes(self) -> dict[str, str]: ...


class ImportContext:
    """Bad-line policy and counters of one import.

    ``bad`` raises ``RecordingError`` naming the file and line, or (``skip_bad``) counts the
    line in ``bad_lines`` and returns so that the caller skips it. ``skipped`` counts input
    lines that were read on purpose without becoming a frame (blank lines, headers, cryptofeed
    ``configuration`` lines, instrument lists folded into the manifest).
    """

    def __init__(self, *, skip_bad: bool) -> None:
        self.skip_bad = skip_bad
        self.bad_lines: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self.skipped = 0

    def bad(self, path: Path, lineno: int, message: str) -> None:
        if not self.skip_bad:
            raise RecordingError(f"{path}:{lineno}: {message}")
        key = str(path)
        self.bad_lines[key] = self.bad_lines.get(key, 0) + 1

    @staticmethod
    def fail(path: Path, lineno: int, message: str) -> RecordingError:
        """Return the error for a problem that no ``--skip-bad`` can skip (a wrong header)."""
        return RecordingError(f"{path}:{lineno}: {message}")


def _open(path: Path) -> BinaryIO:
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == _GZIP_MAGIC:
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as e:
        raise RecordingError(f"{path}: cannot read: {e}") from e


def read_lines(path: Path, ctx: ImportContext) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, line without its end-of-line)`` of a plain or gzip file.

    A truncated or corrupt gzip stream is a bad line (the one that could not be read): with
    ``skip_bad`` the lines read so far are kept and the rest of the file is dropped.
    """
    fh = _open(path)
    lineno = 0
    key = str(path)
    ctx.lines[key] = 0
    try:
        with fh:
            for line in fh:
                lineno += 1
                yield lineno, line.rstrip(b"\r\n")
    except (EOFError, OSError, zlib.error) as e:
        ctx.bad(path, lineno + 1, f"truncated or corrupt gzip stream ({e})")
    finally:
        ctx.lines[key] = lineno


def read_csv(path: Path, ctx: ImportContext) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, cells)`` of a plain or gzip CSV file (UTF-8, one row per line)."""
    for lineno, raw in read_lines(path, ctx):
        if not raw:
            ctx.skipped += 1
            continue
        try:
            line = raw.decode()
        except UnicodeDecodeError as e:
            ctx.bad(path, lineno, f"not UTF-8 text ({e})")
            continue
        if '"' in line:
            yield lineno, next(csv.reader([line]))
        else:
            yield lineno, line.split(",")


def is_decimal(s: str) -> bool:
    """True for a plain non-negative decimal string (``"0.5"``, ``"100"``, ``"1."``)."""
    return _DECIMAL.fullmatch(s) is not None


def max_decimals(numbers: Iterable[str]) -> int:
    """Return the most significant decimals among decimal strings (``decimals_of`` of many).

    One regular-expression pass over the joined strings: ``["1.50", "2.125"]`` -> 3.
    """
    return max(map(len, _SIGNIFICANT.findall(",".join(numbers))), default=0)


def step_of(precision: int) -> str:
    """Return the step of a precision as a decimal string: 0 -> ``"1"``, 2 -> ``"0.01"``."""
    return "1" if precision <= 0 else "0." + "0" * (precision - 1) + "1"


class Precisions:
    """Largest number of significant decimals seen per (venue, venue symbol), prices and sizes."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], list[int]] = {}

    def add(self, key: tuple[str, str], px_decimals: int, qty_decimals: int) -> None:
        cur = self.seen.get(key)
        if cur is None:
            self.seen[key] = [px_decimals, qty_decimals]
            return
        if px_decimals > cur[0]:
            cur[0] = px_decimals
        if qty_decimals > cur[1]:
            cur[1] = qty_decimals

    def add_levels(self, key: tuple[str, str], levels: list[tuple[str, str]]) -> None:
        if levels:
            self.add(key, max_decimals(map(_first, levels)), max_decimals(map(_second, levels)))

    def get(self, key: tuple[str, str]) -> tuple[int, int]:
        cur = self.seen.get(key, [0, 0])
        return cur[0], cur[1]
