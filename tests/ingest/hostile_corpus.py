"""Hostile inputs, generated on the fly (nothing large is committed).

Each case writes one file and says what `cdr ingest` must make of each of its streams:
`Accepted(n)` — every one of its `n` physical records is accounted for (loaded, duplicate or
quarantined) — or `Failed(words)` — the stream fails as a whole, none of its rows published,
with a message containing `words`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import stat
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.ingest.helpers import fixture


@dataclass(frozen=True)
class Accepted:
    records: int


@dataclass(frozen=True)
class Failed:
    words: str


Expect = Accepted | Failed


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]
    expect: dict[str, Expect]
    """By member name (ZIP) or "" for the file itself."""


# ---- material -------------------------------------------------------------------------------
def _base() -> tuple[list[str], list[list[str]]]:
    text = fixture("bom_crlf.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], [r for r in rows[1:] if r]


HEADER, BASE_ROWS = _base()
REPORT_ID = HEADER.index("Report ID")
USER = HEADER.index("User")
LINE_ID = HEADER.index("Calling line ID")


def rows(n: int, tag: int = 0) -> list[list[str]]:
    """`n` well-formed rows with distinct report ids (`tag` keeps files apart)."""
    out = []
    for i in range(n):
        row = list(BASE_ROWS[i % len(BASE_ROWS)])
        row[REPORT_ID] = f"a1b2c3d4-{tag:04d}-4000-8000-{i:012d}"
        out.append(row)
    return out


def line(row: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(row)
    return buf.getvalue().encode()


def csv_bytes(body: list[bytes], header: bytes | None = None) -> bytes:
    return (header if header is not None else line(HEADER)) + b"".join(body)


def records(n: int, tag: int = 0) -> list[dict[str, object]]:
    return [dict(zip(HEADER, r, strict=True)) for r in rows(n, tag)]


# ---- CSV ------------------------------------------------------------------------------------
def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name

    return build


def _with_line(n: int, at: int, make: Callable[[list[str]], bytes], tag: int) -> bytes:
    body = [line(r) for r in rows(n, tag)]
    body[at] = make(rows(n, tag)[at])
    return csv_bytes(body)


def _stray(row: list[str]) -> bytes:  # a caller named O"Brien, written unquoted
    row[USER] = "Ann O'Brien"
    return line(row).replace(b"O'Brien", b'O"Brien')


def _open_quote(row: list[str]) -> bytes:  # a quoted field that never closes
    return line(row).replace(row[LINE_ID].encode(), b'"' + row[LINE_ID].encode(), 1)


def _quoted_after(n: int, at: int, tag: int) -> bytes:
    """An open quote on line `at`, then rows with properly quoted fields."""
    rs = rows(n, tag)
    for r in rs[at + 1 :]:
        r[USER] = "Müller, Hans"  # needs quotes
    body = [line(r) for r in rs]
    body[at] = _open_quote(rows(n, tag)[at])
    return csv_bytes(body)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _gzip_stream(name: str, head: bytes, filler: bytes, total: int) -> Callable[[Path], Path]:
    """A gzip of `head` then `filler` repeated to `total` bytes (a compression bomb)."""

    def build(d: Path) -> Path:
        with gzip.open(d / name, "wb", compresslevel=9) as fh:
            fh.write(head)
            block = filler * (1024 * 1024 // len(filler))
            for _ in range(total // len(block)):
                fh.write(block)
        return d / name

    return build


def _bad_crc_gzip() -> bytes:
    data = bytearray(_gzip(csv_bytes([line(r) for r in rows(20, 11)])))
    data[-8] ^= 0xFF  # the CRC-32 in the trailer
    return bytes(data)


# ---- ZIP ------------------------------------------------------------------------------------
def _patch_member(data: bytearray, name: str, local: int, central: int, value: bytes) -> None:
    """Overwrite bytes at offset `local` of the member's local header and `central` of its
    central directory entry."""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(name)
    data[info.header_offset + local : info.header_offset + local + len(value)] = value
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        size = struct.unpack("<H", data[pos + 28 : pos + 30])[0]
        if data[pos + 46 : pos + 46 + size] == name.encode():
            data[pos + central : pos + central + len(value)] = value
            return
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"no central entry for {name}")


def _zip_members(d: Path) -> Path:
    """Good members beside every kind of bad one; each is judged on its own."""
    buf = io.BytesIO()
    stored = zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("good.csv", csv_bytes([line(r) for r in rows(20, 21)]))
        zf.writestr("../escape.csv", csv_bytes([line(r) for r in rows(5, 22)]))
        zf.writestr(".hidden.csv", csv_bytes([line(r) for r in rows(5, 23)]))
        zf.writestr("encrypted.csv", csv_bytes([line(r) for r in rows(5, 24)]))
        zf.writestr("method.csv", csv_bytes([line(r) for r in rows(5, 25)]))
        zf.writestr("crc.csv", csv_bytes([line(r) for r in rows(30, 26)]), compress_type=stored)
        zf.writestr("also_good.jsonl", "\n".join(json.dumps(r) for r in records(7, 27)) + "\n")
        zf.writestr("__MACOSX/._good.csv", b"\x00\x05\x16\x07 resource fork")
        link = zipfile.ZipInfo("latest.csv")  # `zip -y` stores a link as its target's name
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "good.csv")
    data = bytearray(buf.getvalue())
    _patch_member(data, "encrypted.csv", 6, 8, struct.pack("<H", 0x1))
    _patch_member(data, "method.csv", 8, 10, struct.pack("<H", 97))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("crc.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x01  # one bit of the stored data
    (d / "members.zip").write_bytes(bytes(data))
    return d / "members.zip"


def _zip_bomb(d: Path) -> Path:
    with (
        zipfile.ZipFile(d / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("bomb.csv", "w", force_zip64=True) as fh,
    ):
        fh.write(line(HEADER))
        block = b"\n" * (1024 * 1024)
        for _ in range(80):
            fh.write(block)
    return d / "bomb.zip"


# ---- JSON -----------------------------------------------------------------------------------
def _jsonl(recs: list[dict[str, object]] | list[str]) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in recs) + "\n").encode()


def _number(digits: int) -> str:
    return "1" * digits


def _jsonl_broken() -> bytes:
    recs: list[dict[str, object] | str] = list(records(6, 31))
    recs.insert(3, '{"Start time": "2026-10-01T10:00:00.100Z", "Duration": 3')  # cut mid-way
    return _jsonl(recs)  # type: ignore[arg-type]


def _json_exponent() -> bytes:
    recs: list[dict[str, object]] = list(records(4, 32))
    text = _jsonl(recs).decode()
    return text.replace('"Duration": "30"', '"Duration": 1e999999999', 1).encode()


def _json_digits(digits: int, layout: str) -> bytes:
    recs = records(3, 33)
    text = json.dumps(recs).replace('"Duration": "30"', f'"Duration": {_number(digits)}', 1)
    if layout == "lines":
        return _jsonl([json.loads(json.dumps(r)) for r in recs]).replace(
            b'"Duration": "30"', f'"Duration": {_number(digits)}'.encode(), 1
        )
    return text.encode()


def _truncated_array() -> bytes:
    text = json.dumps(records(5, 34))
    return text[: len(text) * 2 // 3].encode()


CONTROL = b"\x1b[31mStart time\x07,Answer\x1b]0;pwned\x07 time,Duration\r\n1,2,3\r\n"


def cases() -> list[Case]:
    from tests.ingest.hostile_archives import archive_cases  # it builds on this module

    mb = 1024 * 1024
    return [
        Case("stray_quote", _write("stray.csv", _with_line(60, 9, _stray, 1)), {"": Accepted(60)}),
        Case(
            "open_quote_no_quote_after",
            _write("open.csv", _with_line(60, 9, _open_quote, 2)),
            {"": Accepted(60)},
        ),
        Case(
            "open_quote_then_quoted_fields",
            _write("open2.csv", _quoted_after(60, 9, 3)),
            {"": Accepted(60)},
        ),
        Case(
            "unterminated_last_record",
            _write(
                "truncated.csv",
                csv_bytes([line(r) for r in rows(30, 4)]) + line(rows(1, 5)[0])[:40] + b'"half',
            ),
            {"": Accepted(31)},
        ),
        Case(
            "bare_cr_line_ends",
            _write("cr.csv", csv_bytes([line(r) for r in rows(10, 6)]).replace(b"\r\n", b"\r")),
            {"": Failed("bare CR")},
        ),
        Case(
            "header_open_quote",
            _write("hq.csv", b'"' + csv_bytes([line(r) for r in rows(5, 7)])),
            {"": Failed("never closes")},
        ),
        Case(
            "header_100k_columns",
            _write("wide.csv", ",".join(f"c{i}" for i in range(100_000)).encode() + b"\n1\n"),
            {"": Failed("max_columns")},
        ),
        Case(
            "line_50mb_without_newline",
            _write("long.csv", line(HEADER) + b"x" * (50 * mb)),
            {"": Failed("max_record_bytes")},
        ),
        Case(
            "header_50mb_without_newline",
            _write("longhead.csv", b"y" * (50 * mb)),
            {"": Failed("no header line")},
        ),
        Case(
            "utf16_without_bom",
            _write(
                "utf16.csv",
                csv_bytes([line(r) for r in rows(5, 8)]).decode().encode("utf-16-le"),
            ),
            {"": Failed("NUL")},
        ),
        Case("control_characters", _write("ctl.csv", CONTROL), {"": Failed("")}),
        Case(
            # random bytes whose first line holds a CR: told as binary, not as CR line ends
            "binary_noise",
            _write(
                "noise.csv", b"\x89\xfe\x13\r\xc3(\x9f" * 40 + b"\n" + bytes(range(1, 256)) * 40
            ),
            {"": Failed("not text")},
        ),
        Case(
            "gzip_truncated",
            _write("cut.csv.gz", _gzip(csv_bytes([line(r) for r in rows(400, 9)]))[:-2000]),
            {"": Failed("truncated")},
        ),
        Case("gzip_bad_crc", _write("crc.csv.gz", _bad_crc_gzip()), {"": Failed("corrupt")}),
        Case(
            "gzip_zero_bomb",
            _gzip_stream("zeros.gz", b"", b"\x00", 100 * mb),
            {"": Failed("NUL")},
        ),
        Case(
            "gzip_newline_bomb",
            _gzip_stream("newlines.gz", line(HEADER), b"\n", 100 * mb),
            {"": Failed("max_unpacked_ratio")},
        ),
        Case("zip_bomb", _zip_bomb, {"bomb.csv": Failed("max_unpacked_ratio")}),
        Case(
            "zip_members",
            _zip_members,
            {
                "good.csv": Accepted(20),
                "../escape.csv": Failed("unsafe member name"),
                ".hidden.csv": Failed("hidden member"),
                "encrypted.csv": Failed("encrypted"),
                "method.csv": Failed("compression method"),
                "crc.csv": Failed("corrupt"),
                "also_good.jsonl": Accepted(7),
                "latest.csv": Failed("a symbolic link, not a file"),
            },
        ),
        Case(
            "json_nesting_100k",
            _write("deep.json", b"[" * 100_000 + b"]" * 100_000),
            {"": Failed("max_json_depth")},
        ),
        Case(
            "json_nesting_in_page",
            _write("deep_page.json", b'{"items": [{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}]}"),
            {"": Failed("max_json_depth")},
        ),
        Case(
            "json_huge_exponent",  # a Duration with an exponent: every figure of a leg is exact
            _write("exp.jsonl", _json_exponent()),
            {"": Failed("spreadsheet_number")},
        ),
        Case(
            "json_5000_digit_number",
            _write("digits.jsonl", _json_digits(5000, "lines")),
            {"": Failed("max_json_number_digits")},
        ),
        Case(
            "json_4400_digit_number_in_array",
            _write("digits.json", _json_digits(4400, "array")),
            {"": Failed("max_json_number_digits")},
        ),
        Case(
            "json_items_object",
            _write("items_obj.json", b'{"items": {"Report ID": "x"}}'),
            {"": Failed('"items" is not a list')},
        ),
        Case(
            "json_items_string",
            _write("items_str.json", b'{"items": "x"}'),
            {"": Failed('"items" is not a list')},
        ),
        Case("jsonl_broken_mid_way", _write("broken.jsonl", _jsonl_broken()), {"": Accepted(7)}),
        Case(
            "json_array_truncated",
            _write("cut.json", _truncated_array()),
            {"": Failed("JSON breaks")},
        ),
        Case(
            # what Python's json.dumps writes for a float NaN: the one-line message quotes
            # where it broke, and the hint names the cause
            "json_nan_value",
            _write("nan.json", b'{"items": [{"Report ID": "x", "Duration": NaN}]}'),
            {"": Failed('near \'Report ID": "x", "Duration": NaN}]}\'); none')},
        ),
        Case(
            "json_record_of_100k_keys",
            _write(
                "keys.jsonl",
                json.dumps({f"k{i}": i for i in range(100_000)}).encode() + b"\n",
            ),
            {"": Failed("max_columns")},
        ),
        Case(
            "json_record_of_40mb",
            _write("big.jsonl", b'{"Report ID": "' + b"z" * (40 * mb) + b'"}\n'),
            {"": Failed("max_record_bytes")},
        ),
        *archive_cases(),
    ]
