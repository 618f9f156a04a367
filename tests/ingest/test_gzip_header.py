"""A gzip header may carry a file name and a comment of any length. Python's gzip module
reads them a byte at a time: a 50 MB name took 12 s to get past in a gzip file (sniffed,
then opened) and 35 s in a gzipped ZIP member, so a file under 1 GB could stall an ingest
for many minutes. The header is now read by zlib, at the speed of memory."""

from __future__ import annotations

import gzip
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from cdr_pipeline.ingest.sources import sources_of
from tests.ingest.hostile_corpus import csv_bytes, line, rows

NAME_BYTES = 48 * 1024 * 1024


def _gzip_with_field(data: bytes, flag: int) -> bytes:
    """`data` gzipped, its header holding a NUL-terminated field (0x08 name, 0x10 comment)
    of NAME_BYTES bytes."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    head = b"\x1f\x8b\x08" + bytes([flag]) + b"\x00" * 5 + b"\x03"
    trailer = struct.pack("<II", zlib.crc32(data), len(data))
    return head + b"n" * NAME_BYTES + b"\x00" + body + trailer


@pytest.mark.parametrize("layout", ["gzip_name", "gzip_comment", "zip_member"])
def test_a_long_gzip_header_field_is_passed_at_memory_speed(tmp_path: Path, layout: str) -> None:
    data = csv_bytes([line(r) for r in rows(20, 97)])
    packed = _gzip_with_field(data, 0x10 if layout == "gzip_comment" else 0x08)
    if layout == "zip_member":
        path = tmp_path / "export.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("export.csv.gz", packed)
    else:
        path = tmp_path / "export.csv.gz"
        path.write_bytes(packed)
    t0 = time.monotonic()
    (source,) = sources_of(path)
    with source.open() as fh:
        assert fh.read() == data
    assert time.monotonic() - t0 < 5, "the header was read a byte at a time"


def test_concatenated_members_and_zero_padding_read_as_before(tmp_path: Path) -> None:
    one, two = b"first,line\n" * 50_000, b"second,line\n" * 70_000  # past a read buffer
    path = tmp_path / "two.csv.gz"
    path.write_bytes(gzip.compress(one) + gzip.compress(two) + b"\x00" * 100)
    (source,) = sources_of(path)
    with source.open() as fh:
        assert fh.read() == one + two
    for bad in (b"garbage", gzip.compress(two)[:-6]):  # trailing garbage, a member cut short
        path.write_bytes(gzip.compress(one) + bad)
        (source,) = sources_of(path)
        with pytest.raises(Exception) as err, source.open() as fh:
            fh.read()
        assert "corrupt" in str(err.value) or "truncated" in str(err.value), err.value


def test_a_gzip_of_a_million_empty_members_is_refused_at_once(tmp_path: Path) -> None:
    """Empty members (20 bytes each) yield nothing for the input limits to count: a 20 MB
    file of a million of them between two halves of an export took 18 s to read, 1 GB
    minutes. More than EMPTY_MEMBERS in a row of under a KiB each fail the file, naming what
    it holds; an empty member at the end (bgzip's end-of-file block) and a few between
    members still read."""
    from cdr_pipeline.ingest.gunzip import EMPTY_MEMBERS
    from tests.ingest.helpers import load

    data = csv_bytes([line(r) for r in rows(20, 98)])
    head, tail = data[: len(data) // 2], data[len(data) // 2 :]
    empty = gzip.compress(b"", mtime=0)
    fine = tmp_path / "fine.csv.gz"
    fine.write_bytes(gzip.compress(head) + empty * EMPTY_MEMBERS + gzip.compress(tail) + empty)
    bomb = tmp_path / "empty.csv.gz"
    bomb.write_bytes(gzip.compress(head) + empty * 1_000_000 + gzip.compress(tail))
    t0 = time.monotonic()
    result = load(tmp_path / "wh", bomb, fine)
    assert time.monotonic() - t0 < 10
    bad, good = result.files
    assert (good.status, good.rows_loaded) == ("loaded", 20), good.message
    assert bad.status == "failed" and result.exit_code == 3
    assert "over 1,000 gzip members in a row hold (nearly) no data" in bad.message, bad.message
    # members of a byte each are as slow to read (each costs a copy of the read buffer)
    bytewise = tmp_path / "bytes.csv.gz"
    bytewise.write_bytes(
        b"".join(gzip.compress(data[i : i + 1], mtime=0) for i in range(len(data)))
    )
    (f,) = load(tmp_path / "wh2", bytewise).files
    assert f.status == "failed" and "in a row hold (nearly) no data" in f.message, f.message
    # a member of 1 KiB after every 999 empty ones breaks each run: past AVERAGED_MEMBERS
    # members, their average counts
    one_k = gzip.compress(b"\n" * 1024, mtime=0)
    mixed = tmp_path / "mixed.csv.gz"
    cut = data.index(b"\n", len(data) // 2) + 1  # blank lines between whole rows
    groups = (empty * 999 + one_k) * 20
    mixed.write_bytes(gzip.compress(data[:cut]) + groups + gzip.compress(data[cut:]))
    (f,) = load(tmp_path / "wh3", mixed).files
    assert f.status == "failed" and "gzip members hold (nearly) no data" in f.message, f.message


def test_zero_bytes_past_a_megabyte_after_the_gzip_data_fail_the_file(tmp_path: Path) -> None:
    """A tape pads a gzip file with kilobytes of zeros; a file preallocated and never filled
    (a sparse one of 100 GB takes no disk) was skipped through at 57 MB/s: half an hour,
    deaf to a stop. Past ZERO_PADDING zero bytes the file fails at once, naming them."""
    from cdr_pipeline.ingest.gunzip import ZERO_PADDING
    from tests.ingest.helpers import load

    data = gzip.compress(csv_bytes([line(r) for r in rows(20, 99)]))
    padded = tmp_path / "padded.csv.gz"
    padded.write_bytes(data + b"\x00" * ZERO_PADDING)
    sparse = tmp_path / "sparse.csv.gz"
    sparse.write_bytes(data)
    os.truncate(sparse, 4 << 30)
    t0 = time.monotonic()
    result = load(tmp_path / "wh", sparse, padded)
    assert time.monotonic() - t0 < 10
    bad, good = result.files
    assert (good.status, good.rows_loaded) == ("loaded", 20), good.message
    assert bad.status == "failed" and result.exit_code == 3
    assert "over 1,048,576 zero bytes after the data of gzip member 1" in bad.message
    assert "gunzip -c FILE" in bad.message
