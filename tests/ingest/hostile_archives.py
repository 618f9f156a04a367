"""Hostile corpus, continued: compressed data inside compressed data. A gzipped ZIP member
(`export.csv.gz`, as some tools zip a folder of gzipped exports) is unpacked within the same
limits as a gzip file, the ratio taken against the member's bytes in the archive; a ZIP in a
ZIP, a gzip in a gzip, another compression (xz...) or a tar archive fails that stream, saying
what it is."""

from __future__ import annotations

import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

from tests.ingest.hostile_corpus import (
    HEADER,
    Accepted,
    Case,
    Failed,
    _write,
    csv_bytes,
    line,
    rows,
)


def _csv(n: int, tag: int) -> bytes:
    return csv_bytes([line(r) for r in rows(n, tag)])


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _gzip_bomb_member(d: Path) -> Path:
    """A ZIP member that is a gzip of 100 MB of newlines (100 KB in the archive)."""
    with gzip.GzipFile(fileobj=(raw := io.BytesIO()), mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(line(HEADER))
        block = b"\n" * (1024 * 1024)
        for _ in range(100):
            gz.write(block)
    (d / "bomb_member.zip").write_bytes(
        _zip({"bomb.csv.gz": raw.getvalue(), "good.csv": _csv(4, 53)}, zipfile.ZIP_STORED)
    )
    return d / "bomb_member.zip"


def archive_cases() -> list[Case]:
    return [
        Case(
            "zip_with_gzipped_members",
            _write(
                "gz_members.zip",
                _zip(
                    {
                        "export.csv.gz": _gz(_csv(12, 51)),
                        "plain.csv": _csv(3, 52),
                        "cut.csv.gz": _gz(_csv(9, 54))[:-40],  # truncated download
                    }
                ),
            ),
            {
                "export.csv.gz": Accepted(12),
                "plain.csv": Accepted(3),
                "cut.csv.gz": Failed("compressed data ends early"),
            },
        ),
        Case(
            "zip_gzipped_member_bomb",
            _gzip_bomb_member,
            {"bomb.csv.gz": Failed("max_unpacked_ratio"), "good.csv": Accepted(4)},
        ),
        Case(
            "zip_inside_zip",
            _write(
                "outer.zip",
                _zip({"inner.zip": _zip({"export.csv": _csv(5, 55)}), "good.csv": _csv(2, 56)}),
            ),
            {
                "inner.zip": Failed("ZIP data inside a ZIP is not read"),
                "good.csv": Accepted(2),
            },
        ),
        Case(
            "gzip_inside_gzip",
            _write("twice.csv.gz.gz", _gz(_gz(_csv(5, 57)))),
            {"": Failed("gzip data inside a gzip file is not read")},
        ),
        Case(
            "zip_inside_gzipped_member",
            _write("deep.zip", _zip({"x.zip.gz": _gz(_zip({"e.csv": _csv(2, 58)}))})),
            {"x.zip.gz": Failed("ZIP data inside a gzip stream inside a ZIP is not read")},
        ),
        Case(
            "xz_file",
            _write("export.csv.xz", lzma.compress(_csv(5, 59))),
            {"": Failed("xz-compressed data is not read")},
        ),
        # the other compressors' data failed as a header of NUL bytes, saying to export the
        # report again as UTF-8 (lz4, lzma's own format) or as not UTF-8 (lzip, compress)
        Case(
            "packed_lzma_alone_file",
            _write("export.csv.lzma", lzma.compress(_csv(5, 64), format=lzma.FORMAT_ALONE)),
            {"": Failed("lzma-compressed data is not read")},
        ),
        Case(
            "packed_lz4_file",
            _write("export.csv", b"\x04\x22\x4d\x18\x64\x40\xa7" + _csv(5, 65)[:40]),
            {"": Failed("lz4-compressed data is not read")},
        ),
        Case(
            "packed_lzip_file",
            _write("export.csv.lz", b"LZIP\x01\x0c\x00" + bytes(range(200))),
            {"": Failed("lzip-compressed data is not read")},
        ),
        Case(
            "packed_compress_file",
            _write("export.csv.Z", b"\x1f\x9d\x90" + _csv(5, 66)[:40]),
            {"": Failed("LZW-compressed data is not read")},
        ),
        # a tar archive (a month's exports bundled with tar) was read as text and failed as
        # 'the header holds NUL bytes: UTF-16 without a byte-order mark', hint: export the
        # report again as UTF-8
        Case(
            "tar_file",
            _write("exports.tar", _tar({"export.csv": _csv(5, 60)})),
            {"": Failed("a tar archive is not read")},
        ),
        Case(
            "gzipped_tar_file",
            _write("exports.tar.gz", _gz(_tar({"export.csv": _csv(5, 61)}))),
            {"": Failed("a tar archive inside a gzip file is not read")},
        ),
        Case(
            "tar_inside_zip",
            _write(
                "outer.zip", _zip({"x.tar": _tar({"e.csv": _csv(2, 62)}), "ok.csv": _csv(2, 63)})
            ),
            {"x.tar": Failed("a tar archive inside a ZIP is not read"), "ok.csv": Accepted(2)},
        ),
    ]
