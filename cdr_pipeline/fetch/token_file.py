"""Reading a secret from a file, as ssh reads a private key: refused while anyone but the
owner may read or change it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cdr_pipeline.errors import ConfigError


def read_secret_file(path: Path, what: str = "[fetch] token_file") -> str:
    """The stripped text of `path`. A file group or others can access is refused (exit 3)
    with the chmod that fixes it; the mode is read from the open file, not the name."""
    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if os.name == "posix" and mode & 0o077:
                raise ConfigError(
                    f"{what} {path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); the token is not used",
                    hint=f"chmod 600 {path}  (only its owner may read it)",
                )
            data = fh.read()
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read ({exc.strerror})") from exc
    try:
        # a BOM (Windows Notepad's "UTF-8 with BOM") is no part of the secret: kept, it made
        # the token "characters other than printable ASCII", invisible in any editor
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from exc
