"""The unit every reader yields and normalize consumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

CSV = "csv"
JSON = "json"
"""Source formats (what `Source.fmt` says)."""


@dataclass(frozen=True)
class RawReject:
    """A record that never became a row (it could not be split into fields)."""

    source_row: int
    reason: str
    detail: str
    raw_text: str


@dataclass
class Chunk:
    headers: list[str]
    """Source header of each column of `table`, as spelled in the file."""
    frame: pl.DataFrame
    """All-string columns, positional names c0..cN."""
    source_rows: np.ndarray
    """Line (CSV) or item number (JSON) of each table row."""
    raw_text: Callable[[int], str]
    """Raw text of table row i, for quarantine."""
    rejects: list[RawReject] = field(default_factory=list)
    bytes_read: int = 0
    """Bytes of the source consumed up to the end of this chunk (progress)."""
    delimiter: str = ","
    """Field separator of a CSV source (for re-splitting raw text)."""
    nulls_marked: bool = False
    """The reader already turned the null markers into NULL (normalize skips that pass)."""

    @property
    def rows_read(self) -> int:
        return self.frame.height + len(self.rejects)


MAX_RAW_TEXT = 65_536
"""Raw text kept per rejected row; longer text (an unterminated quote) is cut with a marker."""


def clip(text: str) -> str:
    if len(text) <= MAX_RAW_TEXT:
        return text
    return text[:MAX_RAW_TEXT] + f"... [{len(text) - MAX_RAW_TEXT} more characters]"
