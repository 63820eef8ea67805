"""Secrets files: a TOML file that only its owner can read or write (``chmod 600``).

Shared by the venues' credential loaders. The file is opened once and checked through the
open descriptor (not the name), so a swapped file or a FIFO cannot slip through; errors name
the variable and the path, and never quote the file's text.
"""

from __future__ import annotations

import os
import stat
import tomllib
from typing import Any

from arb.core.errors import ConfigError

__all__ = ["read_private_toml"]


def read_private_toml(path: str, var: str) -> dict[str, Any]:
    """The TOML document at ``path`` (named by the environment variable ``var``).

    Raises ``ConfigError`` when the file cannot be opened, is not a regular file, can be read
    or written by group or others (``mode & 0o077``), or is not valid TOML.
    """
    where = f"{var}={path}"
    try:
        # O_NONBLOCK: opening a FIFO must not hang; the fstat below refuses it anyway.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise ConfigError(f"{where}: cannot open the credentials file: {e.strerror}") from None
    try:
        st = os.fstat(fd)  # the file that was opened, not whatever the name points to now
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{where}: the credentials file is not a regular file")
        if st.st_mode & 0o077:
            raise ConfigError(
                f"{where}: the credentials file has mode {stat.S_IMODE(st.st_mode):04o}, so "
                f"group or others can access it; run: chmod 600 {path}"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read()
    finally:
        os.close(fd)
    try:
        return tomllib.loads(raw.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        # Positions only: neither error quotes the file's text, and the cause is not chained.
        reason = e.reason if isinstance(e, UnicodeDecodeError) else str(e)
        raise ConfigError(f"{where}: not valid TOML: {reason}") from None
