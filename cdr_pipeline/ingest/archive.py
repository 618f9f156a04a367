"""A ZIP archive's layout: its directory as the end record states it, read before `zipfile`
builds an object per entry (`zip_directory`, `check_members`), and where each member lies in
the file, so that progress counts the file's bytes: the members one after the other, each
with the bytes around it (headers, the directory), their shares adding up to the file."""

from __future__ import annotations

import zipfile
from pathlib import Path

from cdr_pipeline.errors import InputError

EOCD = b"PK\x05\x06"
"""The end-of-central-directory record's signature: the last record of every ZIP."""
ENTRY_BYTES = 4096
"""Central-directory bytes allowed per permitted member: an entry is 46 bytes and its name,
extra fields and comment (a few hundred in real archives). zipfile reads the whole
directory, building an object per entry, before anything can be counted."""


def check_members(path: Path, directory: tuple[int, int] | None, max_members: int) -> None:
    """Fail the archive when its directory (`zip_directory`) lists more than `max_members`
    entries or is larger than that many entries can be."""
    if directory is None:
        return
    entries, size = directory
    if entries > max_members or size > max_members * ENTRY_BYTES:
        listed = f"{entries:,} entries" if entries > max_members else f"a {size:,}-byte directory"
        raise InputError(
            f"the ZIP archive lists {listed}, more than max_zip_members ({max_members:,}) allows",
            path=str(path),
            hint="a Control Hub export holds one CSV: extract the archive and load its "
            "files (or a folder of them), or raise max_zip_members in cdr.toml if this "
            "archive is genuine",
        )


def zip_directory(path: Path) -> tuple[int, int] | None:
    """The entries and the central directory's size that a ZIP archive's end record states
    (ZIP64 too), read from its last 64 KiB before `zipfile` builds an object per entry;
    None without an end record (then the archive does not open, and says so). The record
    is the last signature whose comment ends the file; failing that, the last signature,
    as zipfile takes it (bytes appended to a download)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (0xFFFF + 22)))  # the record, then a comment of up to 64 KiB
        tail = fh.read()
        at = last = tail.rfind(EOCD, 0, len(tail) - 18)  # a whole 22-byte record fits
        while at >= 0 and at + 22 + int.from_bytes(tail[at + 20 : at + 22], "little") != len(tail):
            at = tail.rfind(EOCD, 0, at)
        at = at if at >= 0 else last
        if at < 0:
            return None
        entries = int.from_bytes(tail[at + 10 : at + 12], "little")
        directory = int.from_bytes(tail[at + 12 : at + 16], "little")
        locator = tail[at - 20 : at] if at >= 20 else b""
        if locator.startswith(b"PK\x06\x07"):  # ZIP64: the counts are in a record of its own
            fh.seek(int.from_bytes(locator[8:16], "little"))
            record = fh.read(56)
            if record.startswith(b"PK\x06\x06"):
                entries = int.from_bytes(record[32:40], "little")
                directory = int.from_bytes(record[40:48], "little")
    return entries, directory


def member_spans(members: list[zipfile.ZipInfo], size: int) -> list[tuple[int, int, int]]:
    """Each member's (start, header offset, end) in a ZIP of `size` bytes: from the end of
    the member before it in the file (the first from 0) to the start of the next (the last
    to the file's end); none for an archive without data members (an empty ZIP, or one of
    folders and archiver metadata only), which the caller refuses by name."""
    if not members:  # `[*starts[1:], size]` would have one end too many: exit 1, a bug
        return []
    starts = sorted({m.header_offset for m in members})
    ends = dict(zip(starts, [*starts[1:], size], strict=True))
    firsts = dict(zip(starts, [0, *starts[1:]], strict=True))
    return [(firsts[m.header_offset], m.header_offset, ends[m.header_offset]) for m in members]


def share(span: tuple[int, int, int] | None, packed: int, size: int) -> tuple[int, int]:
    """(bytes done, bytes in all) of a stream `packed` bytes into its data, for progress: a
    whole file's are its own; a ZIP member's count from its span's start."""
    if span is None:
        return min(packed, size), size
    start, at, end = span
    return min(at + packed, end) - start, end - start
