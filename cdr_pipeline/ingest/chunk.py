"""The unit every reader yields and normalize consumes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

CSV = "csv"
JSON = "json"
"""Source formats (what `Source.fmt` says)."""


@dataclass(frozen=True)
class RawReject:
    """A record that never became a row (it could not be split into fields). `raw_text` is
    the whole record: nothing is clipped (the rejects file is compressed). Bytes that are not
    UTF-8 are in it as `raw_str` decodes them, so the rejects file keeps them exactly."""

    source_row: int
    reason: str
    detail: str
    raw_text: str


EOF_MARK = b"\x1a"
"""Ctrl-Z, the end of a text file to DOS: Windows `copy` appends it to files it joins as
text (`copy a.csv+b.csv all.csv`), after their last line break. No record."""


def raw_str(raw: bytes) -> str:
    """The text of a record's bytes for quarantine, losing none: a byte that is not UTF-8
    becomes a lone surrogate (`surrogateescape`, 0xFC -> U+DCFC), which the rejects writer
    turns back into the byte (`raw_bytes`) and shows as U+FFFD in `raw_text`."""
    return raw.decode("utf-8", "surrogateescape")


CHUNK_BYTES = 32 * 1024 * 1024
"""A chunk ends at `chunk_rows` records or once its records hold this many bytes, whichever
comes first (a record is always taken whole). Real records are about 1 KB, so chunks end by
count (25,000 rows: ~21 MB of CSV); a file of records of megabytes each, within
`max_record_bytes`, would otherwise hold thousands of them at once: memory would follow
what the file holds, not the chunk size. A JSON chunk counts the bytes read from the file."""

CHUNK_FIELDS = 2_000_000
"""A CSV chunk also ends once its records hold this many fields (records x header columns).
A DCH export (about 70 columns) ends by count or bytes long before; a header of 2,000 columns
(`max_columns`) with values of a byte or two fit 7,000 records, 14 million fields, in 32 MiB,
and the parse and the `extra` JSON of the unknown columns took the process to 2.1 GB."""


NO_KEYS = "__empty__"
"""The one column of a chunk of JSON records that have no keys (empty objects `{}`): a frame
needs a column to hold its rows. No file has it; it is never named to the user."""
NOT_AN_OBJECT = "item is not a JSON object"
"""The detail of a JSON record that is no object (a number, text, an array)."""


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
    """Bytes of the source consumed up to the end of this chunk, at most (progress, and the
    records that can still follow: `limits.rate_out_of_reach`)."""
    delimiter: str = ","
    """Field separator of a CSV source (for re-splitting raw text)."""
    nulls_marked: bool = False
    """The reader already turned the null markers into NULL (normalize skips that pass)."""
    unended_line: int | None = None
    """Line of a CSV's whole last record with no line break after it (the last chunk only)."""
    json_numbers: dict[int, int] = field(default_factory=dict)
    """JSON: column index -> values written as JSON integers, not strings (`Drift.typed`)."""
    secrets_doubled: int = 0
    """JSON: records that gave a secret no table stores two values (`json_lines.Record`)."""

    @property
    def decimal_comma(self) -> bool | None:
        """The numbers' decimal mark as the separator tells it: a comma among semicolons, a
        dot among commas (and in JSON), either among tabs (None), as Excel's "Unicode Text"
        separates by tabs in every locale (`numerals.ungroup`)."""
        return {";": True, "\t": None}.get(self.delimiter, False)

    @property
    def rows_read(self) -> int:
        return self.frame.height + len(self.rejects)


JOINED = "the file joins exports of different layouts: load each export as a file of its own"
"""The hint of a header of another export found inside a file (exports joined with `cat`)."""


def columns_differ(added: list[str], gone: list[str]) -> str:
    """How a second header's columns differ from the first's: `ELIN not in the first
    header; PSTN Provider ID missing` (five of each at most)."""
    parts = [
        f"{', '.join(added[:5])} not in the first header" if added else "",
        f"{', '.join(gone[:5])} missing" if gone else "",
    ]
    return "; ".join(p for p in parts if p)


class BadInput(Exception):
    """A reader cannot go on with this stream (a limit crossed, structure broken past
    re-synchronising): the whole file or member fails. The loader adds the source's name."""

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.line, self.hint = message, line, hint


WHOLE_FILE_KINDS = frozenset(
    {"entitlements", "org_directory", "device_snapshots", "activation_events"}
)
"""Kinds whose lines are compared with each other across the file (`conflicting_lines`: two
lines of one key with other terms are quarantined together): read as one chunk, so the
comparison never depends on `chunk_rows`. Such files are short (purchase lines, locations
and departments, a device list or an activation log of an org's Webex Go devices), and
`WHOLE_FILE_ROWS` bounds them all the same."""

WHOLE_FILE_ROWS = 250_000
"""The most rows a whole-file chunk joins (memory stays bounded past it)."""


def whole_files(chunks: Iterable[Chunk], kind: str) -> Iterator[Chunk]:
    """`chunks` as they come, or, for a kind of `WHOLE_FILE_KINDS`, joined into chunks of up
    to `WHOLE_FILE_ROWS` rows (consecutive chunks of one header: a JSON chunk's keys are its
    records')."""
    if kind not in WHOLE_FILE_KINDS:
        yield from chunks
        return
    held: list[Chunk] = []
    for chunk in chunks:
        if held and not _joinable(held, chunk):
            yield _joined(held)
            held = []
        held.append(chunk)
    if held:
        yield _joined(held)


def _joinable(held: list[Chunk], chunk: Chunk) -> bool:
    first = held[0]
    same = (first.headers, first.frame.columns, first.delimiter, first.nulls_marked) == (
        chunk.headers, chunk.frame.columns, chunk.delimiter, chunk.nulls_marked,
    )  # fmt: skip
    return same and sum(c.frame.height for c in held) + chunk.frame.height <= WHOLE_FILE_ROWS


def _joined(parts: list[Chunk]) -> Chunk:
    if len(parts) == 1:
        return parts[0]
    starts = np.cumsum([0] + [c.frame.height for c in parts[:-1]])

    def raw_text(i: int) -> str:
        k = int(np.searchsorted(starts, i, side="right")) - 1
        return parts[k].raw_text(i - int(starts[k]))

    return Chunk(
        headers=parts[0].headers,
        frame=pl.concat([c.frame for c in parts], how="vertical"),
        source_rows=np.concatenate([c.source_rows for c in parts]),
        raw_text=raw_text,
        rejects=[r for c in parts for r in c.rejects],
        bytes_read=parts[-1].bytes_read,
        delimiter=parts[0].delimiter,
        nulls_marked=parts[0].nulls_marked,
        unended_line=parts[-1].unended_line,
        json_numbers={
            i: sum(c.json_numbers.get(i, 0) for c in parts)
            for i in {i for c in parts for i in c.json_numbers}
        },
        secrets_doubled=sum(c.secrets_doubled for c in parts),
    )
