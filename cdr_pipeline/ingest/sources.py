"""Sniff an input path: container (plain, gzip, ZIP with or without extension, by magic bytes),
format (CSV or JSON) and encoding; open each data stream inside it; and tell the input kind
from a header.

A `Source` is one logical data stream: a plain or gzipped file, or one member of a ZIP.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.chunk import CSV, JSON

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Source:
    path: Path
    member: str | None
    container: str  # plain | gzip | zip
    fmt: str  # csv | json

    @property
    def name(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @contextmanager
    def open(self, tee: Callable[[memoryview], object] | None = None) -> Iterator[BinaryIO]:
        """Binary stream of the data, decompressed, with any UTF-8 BOM removed. `tee` (a
        plain file only) is given every byte read from the file, in order."""
        if tee is not None and self.container == "plain":
            with open(self.path, "rb", buffering=0) as raw:
                yield _skip_bom(_Tee(raw, tee))  # type: ignore[arg-type]
        elif self.container == "zip":
            with zipfile.ZipFile(self.path) as zf, zf.open(self.member or "") as raw:
                yield _skip_bom(raw)  # type: ignore[arg-type]
        elif self.container == "gzip":
            with gzip.open(self.path, "rb") as raw:
                yield _skip_bom(raw)  # type: ignore[arg-type]
        else:
            with open(self.path, "rb") as raw:
                yield _skip_bom(raw)


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


def _skip_bom(stream: BinaryIO) -> BinaryIO:
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    head = buffered.peek(3)[:3]
    if head == UTF8_BOM:
        buffered.read(3)
    return buffered


def _detect_format(head: bytes, name: str) -> str:
    text = head.removeprefix(UTF8_BOM).lstrip()
    if text[:2] in UTF16_BOMS or head[:2] in UTF16_BOMS:
        raise InputError(
            "file is UTF-16 encoded",
            path=name,
            hint="export the report as UTF-8 CSV (Control Hub's default) and load that",
        )
    if text[:1] in (b"{", b"["):
        return JSON
    return CSV


def sources_of(path: Path) -> list[Source]:
    """The data streams inside `path`, sniffed by content, never by file extension."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path=name) from exc
    if magic.startswith(ZIP_MAGIC) or magic.startswith(EMPTY_ZIP_MAGIC):
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise InputError(
                f"looks like a ZIP archive but cannot be opened ({exc})",
                path=name,
                hint="the download may be incomplete; fetch the report again",
            ) from exc
        with zf:
            members = [
                m
                for m in zf.infolist()
                if not m.is_dir()
                and not m.filename.startswith(("__MACOSX/", "."))
                and "/." not in m.filename
            ]
            out = []
            for m in members:
                with zf.open(m) as fh:
                    head = fh.read(64)
                out.append(
                    Source(path, m.filename, "zip", _detect_format(head, f"{name}!{m.filename}"))
                )
        if not out:
            raise InputError("ZIP archive holds no data files", path=name)
        return out
    if magic.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(64)
        except (OSError, EOFError) as exc:
            raise InputError(f"gzip stream is corrupt ({exc})", path=name) from exc
        return [Source(path, None, "gzip", _detect_format(head, name))]
    with open(path, "rb") as fh:
        head = fh.read(64)
    return [Source(path, None, "plain", _detect_format(head, name))]
