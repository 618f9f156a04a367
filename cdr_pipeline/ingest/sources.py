"""Sniff an input path: container (plain, gzip, ZIP with or without extension, by magic bytes),
format (CSV or JSON) and encoding; open each data stream inside it; and tell the input kind
from a header.

A `Source` is one logical data stream: a plain or gzipped file, or one member of a ZIP."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.archive import check_members, member_spans, zip_directory
from cdr_pipeline.ingest.chunk import CSV, JSON
from cdr_pipeline.ingest.encoding import UTF8_BOM, refuse_encoding, text_stream, utf8_head
from cdr_pipeline.ingest.gunzip import consumed, gunzip
from cdr_pipeline.ingest.json_scalar import refuse_json_scalar
from cdr_pipeline.ingest.limits import (
    ArchiveBudget,
    Limits,
    Unpacked,
    unreadable,
)
from cdr_pipeline.ingest.packed import (
    EMPTY_ZIP_MAGIC,
    GZIP_MAGIC,
    HEAD_BYTES,
    ZIP_MAGIC,
    apple_double,
    refuse_packed,
)
from cdr_pipeline.ingest.unpacking import DECOMPRESS_ERRORS
from cdr_pipeline.ingest.unreadable import cannot_read
from cdr_pipeline.ingest.zipmember import open_member
from cdr_pipeline.render import os_text


@dataclass(frozen=True)
class Source:
    path: Path
    member: str | None
    container: str  # plain | gzip | zip | zip-gzip (a gzipped ZIP member: `export.csv.gz`)
    fmt: str  # csv | json
    compressed: int = 0
    """Compressed size of a gzip stream or ZIP member (for the ratio limit)."""
    error: InputError | None = field(default=None, compare=False)
    """Why this stream cannot be loaded (found while sniffing): it fails on its own, the
    other members of its ZIP still load."""
    entry: int = -1
    """A ZIP member's position in the archive's directory: two members may have one name
    (opened by name, zipfile would give the last one twice and lose the first)."""
    budget: ArchiveBudget | None = field(default=None, compare=False)
    """What the archive's members unpacked together (one object for all of them)."""
    span: tuple[int, int, int] | None = field(default=None, compare=False)
    """A ZIP member's share of the file, for progress (`shares.member_spans`)."""

    @property
    def name(self) -> str:
        """The stream as it is written and shown (`archive.zip!member`): a byte of the file
        name that is not UTF-8 as an escape (`lat\\xe9n.csv`), never a lone surrogate that no
        Parquet, JSON or log writer takes."""
        return os_text(f"{self.path}!{self.member}" if self.member else str(self.path))

    @contextmanager
    def open(
        self, tee: Callable[[memoryview], object] | None = None, limits: Limits | None = None
    ) -> Iterator[BinaryIO]:
        """Binary stream of the data, decompressed (within `limits`), with any UTF-8 BOM
        removed. `tee` (a plain file only) is given every byte read from the file, in order."""
        limits = limits or Limits()
        if tee is not None and self.container == "plain":
            with open(self.path, "rb", buffering=0) as raw:
                yield text_stream(_Tee(_Capped(raw), tee))  # type: ignore[arg-type]
        elif self.container == "zip":
            with (
                zipfile.ZipFile(self.path) as zf,
                _opened(zf, info := self._info(zf), self.name) as raw,
            ):
                size = info.file_size if isinstance(info, zipfile.ZipInfo) else 0
                unpacked = Unpacked(raw, self.compressed, limits, self.name, self._share(), size)
                yield text_stream(unpacked)  # type: ignore[arg-type]
        elif self.container == "zip-gzip":
            with self._gunzipped_member(limits) as gz:
                yield text_stream(gz)
        elif self.container == "gzip":
            with open(self.path, "rb", buffering=0) as packed:
                gz = gunzip(io.BufferedReader(_Capped(packed)))
                unpacked = Unpacked(gz, self.compressed, limits, self.name, packed=consumed(gz))
                yield text_stream(unpacked)  # type: ignore[arg-type]
        else:
            with open(self.path, "rb", buffering=0) as raw:
                yield text_stream(_Capped(raw))  # type: ignore[arg-type]

    def _info(self, zf: zipfile.ZipFile) -> zipfile.ZipInfo | str:
        """The member's directory entry (by position, checked against its name)."""
        entries = zf.infolist()
        if 0 <= self.entry < len(entries) and entries[self.entry].filename == self.member:
            return entries[self.entry]
        return self.member or ""

    @contextmanager
    def _gunzipped_member(self, limits: Limits) -> Iterator[BinaryIO]:
        """A gzipped ZIP member, unpacked: both layers within the limits, each measured
        against the member's bytes in the archive (as a gzip file's are against its size)."""
        with (
            zipfile.ZipFile(self.path) as zf,
            _opened(zf, info := self._info(zf), self.name) as raw,
        ):
            size = info.file_size if isinstance(info, zipfile.ZipInfo) else 0
            member = Unpacked(raw, self.compressed, limits, self.name, packed=size)
            gz = gunzip(member)
            taken = consumed(gz)

            def read() -> int:  # the member's gzip bytes taken in, as its packed bytes
                return member.packed_offset(taken())

            yield Unpacked(gz, self.compressed, limits, self.name, self._share(), read)  # type: ignore[misc]

    def _share(self) -> tuple[ArchiveBudget, int] | None:
        return None if self.budget is None else (self.budget, self.entry)


class _Capped(io.RawIOBase):
    """A file read no further than the size it had when opened. One still being written
    grows as it is read: the reader followed it to its end, and a file appended to without
    end (a log, `yes >> inbox/x.csv`) was never done (3 GB in 170 s, 1 GB of memory, before
    it failed as changed). Cut at its size, it fails as changed once read (`FileStage`)."""

    def __init__(self, raw: io.RawIOBase) -> None:
        self._raw, self._left = raw, os.fstat(raw.fileno()).st_size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if self._left <= 0:
            return 0
        with memoryview(buffer) as view:
            n = self._raw.readinto(view[: self._left])
        self._left -= n or 0
        return n


class _Tee(io.RawIOBase):
    """A raw file that hands every byte it reads to `sink` (a digest fed while parsing)."""

    def __init__(self, raw: io.RawIOBase, sink: Callable[[memoryview], object]) -> None:
        self._raw, self._sink = raw, sink

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        n = self._raw.readinto(buffer)
        if n:
            with memoryview(buffer) as view:
                self._sink(view[:n])
        return n


@contextmanager
def _opened(zf: zipfile.ZipFile, member: zipfile.ZipInfo | str, name: str) -> Iterator[BinaryIO]:
    """A ZIP member's stream; an encrypted or unreadable member is an InputError."""
    try:
        raw = open_member(zf, member)
    except DECOMPRESS_ERRORS as exc:
        raise unreadable(exc, name) from exc
    with raw:
        yield raw  # type: ignore[misc]


def _detect_format(head: bytes, name: str, inside: str = "") -> str:
    """CSV or JSON from a stream's first bytes. Compressed data that is not unpacked (bzip2,
    xz...; or any inside `inside`, what was already unpacked: "a ZIP", "a gzip stream")
    fails here, saying so: read as text it would fail as NUL bytes or a ragged header."""
    refuse_packed(head, name, inside)
    whole = len(head) < HEAD_BYTES
    head = utf8_head(head)  # UTF-16 as the reader will see it (fewer bytes: not its length)
    refuse_encoding(head, name)
    if head.removeprefix(UTF8_BOM).lstrip()[:1] in (b"{", b"["):
        return JSON
    refuse_json_scalar(head, name, HEAD_BYTES if whole else len(head))
    return CSV


SKIPPED_MEMBERS = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
"""Folders and files archivers add on their own (never data): skipped without a word."""


def _member_problem(m: zipfile.ZipInfo) -> tuple[str, str] | None:
    """Why a ZIP member is not loaded (a name that would escape a folder, is hidden, or a
    symbolic link) and what to do, or None. It fails on its own: never skipped silently."""
    name = m.filename.replace("\\", "/")
    parts = name.split("/")
    hint = "rename the member or extract it and load the file"
    if name.startswith("/") or ".." in parts or (len(name) > 1 and name[1] == ":"):
        return "unsafe member name (absolute or with '..'): not loaded", hint
    if any(p.startswith(".") for p in parts):
        return "hidden member (a name starting with a dot): not loaded", hint
    if m.create_system == 3 and stat.S_ISLNK(m.external_attr >> 16):  # `zip -y` kept a link
        return (
            "a symbolic link, not a file: the archive holds its target's name, not its "
            "data; not loaded",
            "load the file it points to, or zip again without -y (--symlinks)",
        )
    return None


def _sniff_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> tuple[str, str]:
    """The container and format of a ZIP member: a gzipped member (`export.csv.gz`) is
    unpacked like a gzip file; a ZIP in the ZIP is not (it fails, saying so)."""
    with _opened(zf, member, name) as fh:
        head = fh.read(HEAD_BYTES)
    if not head.startswith(GZIP_MAGIC):
        return "zip", _detect_format(head, name, "a ZIP")
    with _opened(zf, member, name) as fh:
        inner = gunzip(fh).read(HEAD_BYTES)
    return "zip-gzip", _detect_format(inner, name, "a gzip stream inside a ZIP")


def _zip_sources(path: Path, zf: zipfile.ZipFile) -> list[Source]:
    out, members = [], []
    budget = ArchiveBudget()
    for entry, m in enumerate(zf.infolist()):
        if m.is_dir() or m.filename.startswith(SKIPPED_MEMBERS[0]):
            continue
        if m.filename.rsplit("/", 1)[-1] in SKIPPED_MEMBERS[1:] or apple_double(zf, m):
            continue
        name = f"{path}!{m.filename}"
        problem = _member_problem(m)
        error = None
        container, fmt = "zip", CSV
        if problem is not None:
            error = InputError(problem[0], path=name, hint=problem[1])
        else:
            try:
                container, fmt = _sniff_member(zf, m, name)
            except DECOMPRESS_ERRORS as exc:
                error = unreadable(exc, name)
            except InputError as exc:
                error = exc
        out.append(Source(path, m.filename, container, fmt, m.compress_size, error, entry, budget))
        members.append(m)
    spans = member_spans(members, path.stat().st_size)
    return [replace(source, span=span) for source, span in zip(out, spans, strict=True)]


def _refuse_workbook(zf: zipfile.ZipFile, name: str) -> None:
    """A spreadsheet's own file is a ZIP of XML parts: it fails once, saying what it is,
    rather than once per part as 'not a recognised export'."""
    names = set(zf.namelist())
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        what = "an Excel workbook (.xlsx)"
    elif "mimetype" in names and zf.read("mimetype")[:80].startswith(b"application/vnd.oasis"):
        what = "an OpenDocument file (.ods)"
    else:
        return
    raise InputError(
        f"{what}, not a CSV export",
        path=name,
        hint="load the export as downloaded from Control Hub; or save the sheet as CSV UTF-8, "
        "its number, id and time columns imported as text",
    )


def _overlapping(zf: zipfile.ZipFile) -> bool:
    """Whether two entries of the directory share bytes of the archive: each member's local
    header (30 bytes at least) and data end before the next member begins, in a ZIP any
    archiver writes. Entries pointing into one another are how a small file unpacks to a
    thousand copies of one member (a ZIP bomb that keeps each entry under the limits)."""
    entries = sorted(zf.infolist(), key=lambda m: m.header_offset)
    return any(
        b.header_offset < a.header_offset + 30 + a.compress_size for a, b in pairwise(entries)
    )


ZIP_SLACK = 16 * 1024 * 1024
"""Bytes of a ZIP that may belong to no member: before its first (a self-extractor's
program), between two, or before its directory. Nothing reads them but the digest, which
hashes the whole file: a ZIP of two small members around a sparse hole of 3 GB took 26 s
to load them (100 GB, a quarter of an hour)."""


def _unclaimed(zf: zipfile.ZipFile) -> int:
    """The most bytes in one stretch that no member's header, data or descriptor holds."""
    entries = sorted(zf.infolist(), key=lambda m: m.header_offset)
    ends = [
        m.header_offset + 30 + len(m.filename.encode()) + len(m.extra) + m.compress_size + 24
        for m in entries
    ]
    starts = [m.header_offset for m in entries] + [getattr(zf, "start_dir", 0)]
    gaps = [b - a for a, b in zip([0, *ends], starts, strict=True)]
    return max(gaps, default=0)


def sources_of(path: Path, limits: Limits | None = None) -> list[Source]:
    """The data streams inside `path`, sniffed by content, never by file extension. A ZIP
    member that cannot be used comes back with its `error` set (the others still load); a
    ZIP of more than `limits.zip_members` entries fails whole, before it is opened."""
    name = str(path)
    max_members = (limits or Limits()).zip_members
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise cannot_read(exc, name) from exc
    if magic.startswith(ZIP_MAGIC) or magic.startswith(EMPTY_ZIP_MAGIC):
        check_members(path, zip_directory(path), max_members)
        try:
            with zipfile.ZipFile(path) as zf:
                # the end record may understate the entries: zipfile reads the directory
                # by its size
                check_members(path, (len(zf.infolist()), 0), max_members)
                if _overlapping(zf):
                    raise InputError(
                        "the ZIP archive's members overlap (entries that share their bytes, "
                        "as ZIP bombs build them); nothing in it is loaded",
                        path=name,
                        hint="no archiver writes this: get the export from Control Hub again",
                    )
                if (gap := _unclaimed(zf)) > ZIP_SLACK:
                    raise InputError(
                        f"the ZIP archive holds {gap:,} bytes in a row that belong to no "
                        "member (a hole between its members or before its directory); "
                        "nothing in it is loaded",
                        path=name,
                        hint="no archiver writes this: get the export again, or extract "
                        "its files and load them",
                    )
                _refuse_workbook(zf, name)
                out = _zip_sources(path, zf)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, UnicodeError) as exc:
            bad_name = isinstance(exc, UnicodeError)  # zipfile reads a name flagged UTF-8 strictly
            raise InputError(
                "looks like a ZIP archive but cannot be opened "
                f"({'a member name marked UTF-8 is not UTF-8' if bad_name else exc})",
                path=name,
                hint="the download may be incomplete; fetch the report again",
            ) from exc
        if not out:
            raise InputError(
                "the ZIP archive holds no data files (it is empty, or holds only folders "
                "and archiver metadata such as __MACOSX/)",
                path=name,
                hint="download the report again, or load the CSV it should hold; an "
                "archive zipped by hand: zip the export file, not its folder",
            )
        return out
    if magic.startswith(GZIP_MAGIC):
        try:
            with open(path, "rb") as fh:
                head = gunzip(fh).read(HEAD_BYTES)
        except DECOMPRESS_ERRORS as exc:
            raise unreadable(exc, name) from exc
        size = path.stat().st_size
        return [Source(path, None, "gzip", _detect_format(head, name, "a gzip file"), size)]
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    return [Source(path, None, "plain", _detect_format(head, name))]
