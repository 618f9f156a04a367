"""JSON records no column may hold, screened out of a chunk into quarantine: half a
character (a lone `\\ud800` escape: `invalid_utf8`) and a NUL character (`\\u0000`:
`nul_bytes`, as a CSV record holding NUL bytes is). Walking every record cost 3 s per
million, so each screen runs only when it may find something: a chunk that fails to build
(half a character), or a stream that holds the text `\\u0000` (`NulWatch`)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, BinaryIO

from cdr_pipeline.ingest.chunk import RawReject

NUL_ESCAPE = b"\\u0000"

HALF_CHARACTER = "a \\u escape that is half a character (a lone surrogate): not text"
NUL_CHARACTER = (
    "a NUL character (a \\u0000 escape) in a key or text value: no Webex record holds one "
    "(the value was damaged, or a tool that wrote the file padded it with zeros); a CSV "
    "record with NUL bytes is quarantined alike. Fetch or export the file again"
)


def half_character(value: Any) -> bool:
    """A lone surrogate (`"\\ud800"` without its pair) in a key or text value: JSON lets the
    escape through, but it is half a character, which no column can store."""
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(half_character(k) or half_character(v) for k, v in value.items())
    if isinstance(value, list):
        return any(half_character(v) for v in value)
    return False


def holds_nul(value: Any) -> bool:
    """A NUL character in a key or text value, at any depth."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


Batch = list[tuple[int, dict[str, Any]]]


def screened(
    batch: Batch, rejects: list[RawReject], bad: Callable[[Any], bool], reason: str, detail: str
) -> Batch:
    """The records of `batch` that are not `bad`; each bad one is added to `rejects` (kept
    in line order) with its text as JSON, every escape an escape."""
    good = []
    for n, record in batch:
        if bad(record):
            rejects.append(RawReject(n, reason, detail, json.dumps(record, default=str)))
        else:
            good.append((n, record))
    if len(good) < len(batch):
        rejects.sort(key=lambda r: r.source_row)
    return good


class NulWatch(io.RawIOBase):
    """`stream`, counting the bytes read from it (a chunk ends by bytes as well as records)
    and noting once they hold the text `\\u0000` (an escaped backslash before `u0000` too:
    the screen then finds nothing)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream, self.count = stream, 0
        self.nul_seen = False
        self._tail = b""  # an escape cut between two blocks

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        if n and not self.nul_seen:
            with memoryview(buffer) as view:
                block = self._tail + view[:n].tobytes()
            self.nul_seen = NUL_ESCAPE in block
            self._tail = block[-(len(NUL_ESCAPE) - 1) :]
        self.count += n or 0
        return n
