"""Bounds on the work one input may cause, and the decompressing stream that enforces the
byte bounds. Every limit is a setting (docs/limits.md says what each guards and how to raise
it); crossing one fails the file or ZIP member with exit 3, never the run (but for
`max_value_bytes`, which quarantines the row: `derive.base.long_values`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.gunzip import EmptyMembers, ZeroPadding
from cdr_pipeline.ingest.offsets import Marks
from cdr_pipeline.ingest.unpacking import DECOMPRESS_ERRORS
from cdr_pipeline.ingest.unreadable import cannot_read

RATIO_FLOOR = 64 * 1024 * 1024
"""Below this many decompressed bytes the ratio limit does not apply: a small, very regular
file (a header and a few rows) compresses far better than a real export."""


@dataclass(frozen=True)
class Limits:
    unpacked_bytes: int = Settings.max_unpacked_bytes
    unpacked_ratio: int = Settings.max_unpacked_ratio
    header_bytes: int = Settings.max_header_bytes
    columns: int = Settings.max_columns
    record_bytes: int = Settings.max_record_bytes
    json_depth: int = Settings.max_json_depth
    json_number_digits: int = Settings.max_json_number_digits
    zip_members: int = Settings.max_zip_members
    file_days: int = Settings.max_file_days

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_unpacked_bytes,
            settings.max_unpacked_ratio,
            settings.max_header_bytes,
            settings.max_columns,
            settings.max_record_bytes,
            settings.max_json_depth,
            settings.max_json_number_digits,
            settings.max_zip_members,
            settings.max_file_days,
        )


def unreadable(exc: BaseException, name: str) -> InputError:
    """A decompression or read error as an exit-3 error naming the stream and what to try."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        what, hint = "compressed data ends early (truncated)", "download or copy it again"
    elif isinstance(exc, RuntimeError) and "encrypted" in text:
        what, hint = "the ZIP member is encrypted", "extract it with its password and load that"
    elif isinstance(exc, NotImplementedError):
        what = f"the ZIP member uses a compression method that cannot be read ({text})"
        hint = "re-create the archive with standard (deflate) compression"
    elif isinstance(exc, EmptyMembers):
        what = f"not an export: {text} (a gzip tool writes its data in one member or a few)"
        hint = "compress the export again with gzip, or load it unpacked"
    elif isinstance(exc, ZeroPadding):
        what = f"not an export as written: {text}"
        hint = (
            "download or copy it again; or unpack it (gunzip -c FILE > export.csv: gzip "
            "warns of the trailing zeros) and load the result"
        )
    elif isinstance(exc, OSError) and exc.strerror:
        return cannot_read(exc, name)
    else:
        what = f"compressed data is corrupt ({text})"
        hint = "the file was damaged in transfer; download or copy it again"
    return InputError(what, path=name, hint=hint)


def most_bytes(container: str, compressed: int, size: int, limits: Limits) -> int:
    """The most bytes a stream of `container` can yield: a plain file's `size`, or what
    `Unpacked` lets out of `compressed` bytes (each layer of a gzipped ZIP member alike)."""
    if container == "plain":
        return size
    return min(limits.unpacked_bytes, max(RATIO_FLOOR, compressed * limits.unpacked_ratio))


NOT_RECORDS = ("repeated_header", "summary_line")
"""Reasons of quarantined lines that are known to be no record: the header line again,
exports joined with `cat`, and a summary line under the records (`Total rows: 1234`). They
are kept under rejects/ and counted as rejected (every line is accounted for), but the
reject-rate gate counts records: seven daily exports of 40 legs joined failed it (6 header
lines of 286, 2.1 %), and none of the 280 records loaded; a day's export of 60 legs with a
total under them failed it as well (1 of 61, 1.6 %)."""


NOT_RECORDS_FREE = 1000
"""Lines of `NOT_RECORDS` the gate leaves out beyond one per record: exports joined have a
header each, and a summary line each at most. A file of millions of them (100 MB of the
header line again, 50 MB of `Total rows: 1234` under 20 records) was read to its end (28 s
for the 50 MB) and loaded, exit 0, however few its records; past this many, each counts as
a record rejected, and such a file fails the gate, early."""


def gated(reasons: Mapping[str, int], read: int) -> tuple[int, int]:
    """The rejected and read counts the reject-rate gate compares: without `NOT_RECORDS`,
    up to as many as the records and `NOT_RECORDS_FREE` more."""
    lines = sum(reasons.get(r, 0) for r in NOT_RECORDS)
    lines = min(lines, read - lines + NOT_RECORDS_FREE)
    return sum(reasons.values()) - lines, read - lines


def rate_out_of_reach(
    rejected: int, read: int, bytes_left: int, max_rate: float, record_bytes: int = 2
) -> bool:
    """Whether a stream with `rejected` of `read` records quarantined so far is bound to
    fail `max_reject_rate` however its last `bytes_left` bytes read: each record takes at
    least `record_bytes` of them (`bound_to_fail`), so at most `bytes_left // record_bytes
    + 1` records follow, and even if all of them loaded the share rejected would stay too
    high. A file of a million tiny bad lines then fails within its first percent instead of
    quarantining every line (about 30 µs each: a 300 MB file took over five minutes)."""
    return rejected > max_rate * (read + max(bytes_left, 0) // max(record_bytes, 1) + 1)


MOSTLY_BAD_RECORDS = 10_000
"""Records a stream must have given before its records' length counts (`bound_to_fail`)."""


def bound_to_fail(
    reasons: Mapping[str, int],
    rows_read: int,
    bytes_read: int,
    most: int,
    max_rate: float,
    columns: int = 0,
) -> bool:
    """Whether a stream that quarantined `reasons` of `rows_read` records in its first
    `bytes_read` bytes (of at most `most`) is bound to fail the reject-rate gate: the early
    stop (`rate_out_of_reach`), each record still to come taking at least two bytes (a
    character and a line break); in a CSV of `columns` columns, that many (a record that
    loads has all its fields: a separator between each two, and a line break). And once
    more than half of at least `MOSTLY_BAD_RECORDS` records are quarantined, as many as
    those read took on average: a file of mostly bad records is no export whose records
    will turn short and good. A gzip of 1 GB of ragged rows of 950 bytes, just under
    `max_unpacked_ratio`, was given room for 500 million more records, and read to its end
    to fail the gate after a million quarantined rows (107 s)."""
    rejected, read = gated(reasons, rows_read)
    floor = max(columns, 2)
    if read >= MOSTLY_BAD_RECORDS and 2 * rejected > read:
        floor = max(floor, bytes_read // max(rows_read, 1))
    return rate_out_of_reach(rejected, read, most - bytes_read, max_rate, floor)


class ArchiveBudget:
    """What the data members of one ZIP archive unpacked, together. The ratio limit applies
    to each member once `RATIO_FLOOR` came out of it, and to the archive as a whole once that
    much came out of all its members: a ZIP of 100 members, each 60 MiB of separator lines
    packed a thousandfold (12 MB in all), stayed under each member's floor and was read to
    the end, 6 GB in two minutes. A member read twice counts once (its most bytes)."""

    def __init__(self) -> None:
        self.unpacked = self.compressed = 0
        self._members: dict[int, tuple[int, int]] = {}

    def note(self, member: int, compressed: int, count: int) -> bool:
        """Record that `member` (of `compressed` bytes) has yielded `count` bytes; whether
        the archive's members together are past the ratio limit now."""
        seen, packed = self._members.get(member, (0, 0))
        if count > seen or compressed != packed:
            self.unpacked += max(count - seen, 0)
            self.compressed += compressed - packed
            self._members[member] = (max(count, seen), compressed)
        return self.unpacked > RATIO_FLOOR

    def over(self, ratio: int) -> bool:
        return self.unpacked > RATIO_FLOOR and self.unpacked > self.compressed * ratio


MARK_BYTES = 64 * 1024
"""Unpacked bytes between two of `Unpacked`'s marks of where it is in the packed bytes."""
MARKS = 4096
"""Marks `Unpacked` keeps: 256 MiB behind the bytes read, more than a chunk."""


class Unpacked(io.RawIOBase):
    """A decompressing stream that counts what it yields and fails past the limits, and that
    turns decompression errors into `InputError` (exit 3) naming the source. A ZIP member's
    also counts toward its archive's `budget`, as member number `member`."""

    def __init__(
        self,
        raw: BinaryIO,
        compressed: int,
        limits: Limits,
        name: str,
        budget: tuple[ArchiveBudget, int] | None = None,
        packed: Callable[[], int] | int = 0,
    ) -> None:
        self._raw, self._name = raw, name
        self._max = min(limits.unpacked_bytes, max(RATIO_FLOOR, compressed * limits.unpacked_ratio))
        self._ratio_bound = self._max < limits.unpacked_bytes
        self._limits, self._compressed = limits, compressed
        self._budget = budget
        self.count = 0
        self._packed = packed
        """How far into the packed bytes the stream is: a callable giving the packed bytes
        read so far (a gzip stream), or the unpacked size a ZIP directory states (read in
        proportion); 0, not known."""
        self._marks = Marks(MARKS)
        """(unpacked bytes, packed bytes read) every `MARK_BYTES` (`packed_offset`)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        except InputError:
            raise
        except DECOMPRESS_ERRORS as exc:
            raise unreadable(exc, self._name) from exc
        self.count += n or 0
        if callable(self._packed) and self.count - self._marks.last[0] >= MARK_BYTES:
            self._marks.add(self.count, self._packed())  # the stage asks where a chunk ends
        if self.count > self._max:
            raise self._too_big()
        if self._budget is not None:
            budget, member = self._budget
            if budget.note(member, self._compressed, self.count) and budget.over(
                self._limits.unpacked_ratio
            ):
                raise self._archive_too_big(budget)
        return n or 0

    def packed_offset(self, unpacked: int) -> int:
        """About how many packed bytes the first `unpacked` bytes took: what progress counts
        against the file's size. Counted unpacked, a gzip or ZIP export reached 100 % at a
        fraction of its rows (a CSV packs 10 to 20 times)."""
        if not callable(self._packed):
            return unpacked * self._compressed // self._packed if self._packed else unpacked
        return self._marks.offset(unpacked, (self.count, self._packed()))

    def _archive_too_big(self, budget: ArchiveBudget) -> InputError:
        return InputError(
            f"the members of its ZIP read so far decompress to {budget.unpacked:,} bytes, more "
            f"than {self._limits.unpacked_ratio} times their compressed size "
            f"({budget.compressed:,} bytes); a compression bomb spread over many members",
            path=self._name,
            hint="if the archive is genuine, raise max_unpacked_ratio in cdr.toml "
            "(or CDR_MAX_UNPACKED_RATIO), or unzip it and load its files",
        )

    def _too_big(self) -> InputError:
        if self._ratio_bound:
            return InputError(
                f"decompresses to more than {self._limits.unpacked_ratio} times its compressed "
                f"size ({self._compressed:,} bytes); a compression bomb or a damaged archive",
                path=self._name,
                hint="if the file is genuine, raise max_unpacked_ratio in cdr.toml "
                "(or CDR_MAX_UNPACKED_RATIO)",
            )
        return InputError(
            f"decompresses to more than {self._limits.unpacked_bytes:,} bytes",
            path=self._name,
            hint="split the export, or raise max_unpacked_bytes in cdr.toml "
            "(or CDR_MAX_UNPACKED_BYTES)",
        )
