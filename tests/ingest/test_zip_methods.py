"""ZIP members packed with bzip2 or LZMA (WinZip's and 7-Zip's other methods) load like
deflate ones, and unpack no more per read than was asked for: zipfile unpacked such a member
a whole compressed block at a time, so the first read of a 77 KB LZMA member of 512 MiB of
blank lines unpacked all of it (1.1 GB peak) before `max_unpacked_ratio` saw a byte."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from cdr_pipeline.ingest.limits import Limits
from cdr_pipeline.ingest.sources import sources_of
from tests.ingest.helpers import cdr_in_process, fixture, load, table

GOOD_ROWS = 6


def _zip(data: bytes, method: int) -> bytes:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", method) as zf:
        zf.writestr("export.csv", data)
    return bio.getvalue()


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_bzip2_or_lzma_member_loads_as_a_deflate_one(tmp_path: Path, method: int) -> None:
    report = tmp_path / "report_0042"
    report.write_bytes(_zip(fixture("bom_crlf.csv").read_bytes(), method))
    result = load(tmp_path / "wh", report)
    assert [r.status for r in result.files] == ["loaded"]
    assert table(tmp_path / "wh").height == GOOD_ROWS


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_bzip2_or_lzma_member_with_a_bad_crc_fails_alone(tmp_path: Path, method: int) -> None:
    data = bytearray(_zip(fixture("bom_crlf.csv").read_bytes(), method))
    entry = data.rfind(b"PK\x01\x02")  # the directory entry's CRC-32, at offset 16
    data[entry + 16 : entry + 20] = b"\x00\x00\x00\x00"
    report = tmp_path / "report_0042"
    report.write_bytes(bytes(data))
    good = tmp_path / "good.csv"
    good.write_bytes(fixture("bom_crlf.csv").read_bytes())
    result = load(tmp_path / "wh", report, good)
    by_path = {r.path: r for r in result.files}
    assert by_path[str(report)].status == "failed"
    assert "CRC" in by_path[str(report)].message
    assert by_path[str(good)].status == "loaded"


def test_an_lzma_member_unpacks_no_more_than_is_read(tmp_path: Path) -> None:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_LZMA) as zf, zf.open("bomb.csv", "w") as fh:
        fh.write(fixture("bom_crlf.csv").read_bytes())
        for _ in range(32):
            fh.write(b"\r\n" * (1 << 19))  # 32 MiB in all, in some 5 KB
    bomb = tmp_path / "bomb"
    bomb.write_bytes(bio.getvalue())
    tracemalloc.start()
    try:
        (source,) = sources_of(bomb, Limits())  # sniffs the member's first bytes
        with source.open(limits=Limits()) as text:
            text.read(4096)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak:,} bytes held to read a few KiB"


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_corrupt_bzip2_or_lzma_member_fails_alone(tmp_path: Path, method: int) -> None:
    """Damaged data of an LZMA member raised LZMAError, which no handler took: the run ended
    as a bug (exit 1) and the files after it were not loaded."""
    data = bytearray(_zip(fixture("bom_crlf.csv").read_bytes(), method))
    for i in range(200, 260):  # inside the member's compressed data
        data[i] ^= 0x5A
    report = tmp_path / "report_0042"
    report.write_bytes(bytes(data))
    good = tmp_path / "good.csv"
    good.write_bytes(fixture("bom_crlf.csv").read_bytes())
    run = cdr_in_process("--warehouse", str(tmp_path / "wh"), "ingest", str(report), str(good))
    assert run.exit_code == 3, run.output
    assert f"{report}!export.csv: compressed data is corrupt" in run.output
    assert "download or copy it again" in run.output
    assert table(tmp_path / "wh").height == GOOD_ROWS
