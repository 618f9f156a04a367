"""Packed data a stream may start with and that is not read as an export: compressed data
other than one level of ZIP or gzip, tar archives, and binary files taken for exports (an
`.xls` workbook, a Parquet file). Each is refused by its magic bytes,
naming what it is and the command that unpacks it; read as text it failed as a header of
NUL bytes with the advice to export the report again as UTF-8."""

from __future__ import annotations

import zipfile

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.unpacking import DECOMPRESS_ERRORS
from cdr_pipeline.ingest.zipmember import open_member

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
GZIP_MAGIC = b"\x1f\x8b"

HEAD_BYTES = 512
"""Bytes a stream's kind is told from: a tar header's first block, whose magic is at 257."""

COMPRESSED = (
    (GZIP_MAGIC, "gzip", "gunzip FILE"),
    (ZIP_MAGIC, "ZIP", "unzip FILE"),
    (EMPTY_ZIP_MAGIC, "ZIP", "unzip FILE"),
    (b"\xfd7zXZ\x00", "xz", "unxz FILE"),
    (b"\x28\xb5\x2f\xfd", "zstd", "unzstd FILE"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip", "7z x FILE"),
    (b"\x04\x22\x4d\x18", "lz4", "unlz4 FILE"),
    (b"LZIP", "lzip", "lzip -d FILE"),
    (b"\x1f\x9d", "LZW", "uncompress FILE"),  # Unix compress, .Z files
    # xz's predecessor (`lzma`, `xz --format=lzma`): properties 0x5D, then a dictionary
    # size whose low bytes are zero; no text starts with NUL bytes
    (b"\x5d\x00\x00", "lzma", "unlzma FILE"),
)
"""Magic bytes of compressed data, its name, and the command that unpacks it."""


def _compressed(head: bytes) -> tuple[str, str] | None:
    """(name, command) when `head` starts compressed data; bzip2 by its block magic too."""
    if head[:3] == b"BZh" and head[4:10] == b"1AY&SY":
        return "bzip2", "bunzip2 FILE"
    for magic, what, command in COMPRESSED:
        if head.startswith(magic):
            return what, command
    return None


def _tar_header(head: bytes) -> bool:
    """Whether `head` starts with a tar header block: its magic (POSIX and GNU) at 257 and a
    checksum that adds up, so a text that holds `ustar` there by chance is still read."""
    if len(head) < 512 or head[257:262] != b"ustar":
        return False
    try:
        stored = int(head[148:156].replace(b"\0", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 8 * ord(" ") + sum(head[156:512])


def refuse_packed(head: bytes, name: str, inside: str = "") -> None:
    """Raise when `head` (a stream's first `HEAD_BYTES`) starts data that is not read:
    compressed data not unpacked (bzip2, xz...; or any inside `inside`, what was already
    unpacked: "a ZIP", "a gzip stream"), or a tar archive (`tar cf`, `tar czf`: its members'
    headers hold NUL bytes), or a binary file that is no export (`refuse_binary`)."""
    packed = _compressed(head)
    if packed is not None:
        what, command = packed
        if inside:
            then = (
                f"load the {what} file it holds"
                if what in ("ZIP", "gzip")
                else f"decompress the {what} file it holds ({command}) and load the result"
            )
            raise InputError(
                f"{what} data inside {inside} is not read: one level of compression is "
                "unpacked (a ZIP, a gzip file, or a gzipped member of a ZIP)",
                path=name,
                hint=f"unpack the outer archive first, then {then}",
            )
        raise InputError(
            f"{what}-compressed data is not read (ZIP and gzip are)",
            path=name,
            hint=f"decompress it ({command}) and load the result",
        )
    if _tar_header(head):
        if inside in ("", "a gzip file"):
            where, command = ("", "tar xf") if not inside else (" inside a gzip file", "tar xzf")
            what, hint = f"a tar archive{where}", f"unpack it ({command} FILE) and load its files"
        else:
            what = f"a tar archive inside {inside}"
            hint = (
                "unpack the outer archive first, then the tar file (tar xf FILE), "
                "and load its files"
            )
        raise InputError(f"{what} is not read (ZIP and gzip files are)", path=name, hint=hint)
    refuse_binary(head, name)


OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""An OLE2 compound file: Excel 97-2003's `.xls` (and Word's `.doc`, Outlook's `.msg`)."""

PARQUET_MAGIC = b"PAR1"

EXE_MAGIC = b"MZ"
"""A Windows program (`.exe`): among others a self-extracting ZIP, whose program runs before
the archive."""


def refuse_binary(head: bytes, name: str) -> None:
    """Raise when `head` starts a binary file someone may take for an export: an `.xls`
    workbook (an export saved in Excel 97-2003 format), a Windows program (a self-extracting
    ZIP) or a Parquet file (a table's, a rejects or a report file of a warehouse). Read as
    text, each failed as a header of NUL bytes, "UTF-16 without a byte-order mark"."""
    if head.startswith(OLE2_MAGIC):
        raise InputError(
            "an Excel 97-2003 workbook (.xls) or another Office file of that format, "
            "not a CSV export",
            path=name,
            hint="load the export as downloaded from Control Hub; or save the sheet as CSV "
            "UTF-8, its number, id and time columns imported as text",
        )
    if head.startswith(EXE_MAGIC) and b"\0" in head:  # binary, never a CSV header
        raise InputError(
            "a Windows program (.exe), not an export: a self-extracting archive, or a "
            "file saved under the wrong name",
            path=name,
            hint="do not run it to find out; unpack an archive with `7z x FILE` or "
            "`unzip FILE` and load the CSV it holds, or download the report again",
        )
    if head.startswith(PARQUET_MAGIC) and b"\0" in head:  # binary, never a CSV header
        raise InputError(
            "a Parquet file, not an export: cdr writes its tables, quarantined rows and "
            "reports as Parquet, and loads exports",
            path=name,
            hint="load the export the rows came from (a Control Hub CSV, the cdr_feed JSON, "
            "or a device, activation, entitlement or directory file)",
        )


APPLE_DOUBLE = b"\x00\x05\x16\x07"
"""Magic bytes of an AppleDouble file: the Finder metadata macOS writes as `._name` beside
`name` on a volume that cannot hold it (exFAT, FAT, a network share)."""


def apple_double(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    """Whether a ZIP member is macOS's `._name` metadata file (never data): zipped from a
    USB drive or a share, an export came with `._Calling_Detailed_Call_History.csv`, which
    failed as a hidden member (exit 3 every run, the hint saying to rename it). Only a `._`
    name holding AppleDouble's magic is one: any other hidden member still fails."""
    if not member.filename.rsplit("/", 1)[-1].startswith("._"):
        return False
    try:
        with open_member(zf, member) as fh:
            return fh.read(len(APPLE_DOUBLE)) == APPLE_DOUBLE
    except (*DECOMPRESS_ERRORS, ValueError):  # ValueError: zipfile's, of a member it cannot open
        return False  # judged as any other member (`sources._member_problem`)
