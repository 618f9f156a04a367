"""The text encodings of an export. UTF-8 is read as it is; UTF-16 behind its byte order mark
(Excel's "Unicode Text", PowerShell 5.1's `>`) is read through `Utf16Text`, a streaming
transcoder to UTF-8 that keeps every line where it was. UTF-32 and UTF-8 read as
Windows-1252 and saved again (its byte order mark became text) are refused with what to do,
named by the tool that most likely wrote it."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from typing import Any, BinaryIO

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.offsets import Marks

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF32_LE_BOM = b"\xff\xfe\x00\x00"
MISREAD_BOM = "\ufeff".encode().decode("cp1252").encode()
"""The UTF-8 BOM read as Windows-1252 (`ï»¿`) and written again as UTF-8 text."""


def refuse_encoding(head: bytes, name: str) -> None:
    """Raise `InputError` (exit 3) when the stream `name`, starting `head` (a UTF-16 one
    already as `utf8_head` gives it), is UTF-32, UTF-16 after a UTF-8 byte order mark, or
    UTF-8 whose byte order mark was misread and saved again as text."""
    text = head.removeprefix(UTF8_BOM).lstrip()
    if text.startswith(MISREAD_BOM):
        raise InputError(
            "the file's text was read in the wrong encoding and saved again: its byte order "
            "mark became the text 'ï»¿' before the first column's name (and Müller became "
            "MÃ¼ller)",
            path=name,
            line=1,
            hint="load the file as downloaded or exported (a Control Hub report as "
            "downloaded), or read it as UTF-8 in the tool that saved it",
        )
    if text[:2] in UTF16_BOMS or head[:2] in UTF16_BOMS:
        enc = "UTF-32" if head[:4] == UTF32_LE_BOM else "UTF-16"  # its BOM: 2 NULs more
        raise InputError(f"file is {enc} encoded", path=name, hint=_utf16_hint(head))


def _utf16_hint(head: bytes) -> str:
    """What to do with a UTF-16 file: a CSV is exported again; JSON (an API answer saved by
    Windows PowerShell 5.1, whose `>` and `Out-File` write UTF-16) is saved again as UTF-8;
    a tab-separated first line is Excel's "Unicode Text", saved again as CSV UTF-8."""
    start = head if head[:2] in UTF16_BOMS else head.removeprefix(UTF8_BOM).lstrip()
    text = start.decode("utf-16", "ignore")  # its byte-order mark tells the byte order
    if text.lstrip()[:1] in ("{", "["):
        return (
            "save the JSON as UTF-8 and load that (PowerShell: Out-File -Encoding utf8, "
            "or Invoke-RestMethod -OutFile)"
        )
    if "\t" in text.split("\n", 1)[0]:  # Excel's Save As "Unicode Text": UTF-16, tabs
        return (
            "this is Excel's 'Unicode Text' (UTF-16, tab-separated): load the export as "
            "downloaded, or in Excel use Save As > 'CSV UTF-8 (Comma delimited)'"
        )
    return "export the report as UTF-8 CSV (Control Hub's default) and load that"


MARKS = 64
"""Blocks of `Utf16Text` whose ends it keeps (`Utf16Text.file_offset`)."""
READ_BYTES = 64 * 1024
"""UTF-16 bytes decoded at a time: memory stays bounded whatever the file's size."""
NOT_TEXT = "cdr.not-utf16"
"""The decoding error handler of `Utf16Text`: what is not UTF-16 (a lone surrogate, an odd
byte at the end) becomes U+DCFF, written out as bytes that are not UTF-8, so the record
holding it is quarantined as `invalid_utf8` (never silently replaced, never a crash)."""


def _not_text(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\udcff", exc.end


codecs.register_error(NOT_TEXT, _not_text)


def is_utf16(head: bytes) -> bool:
    """Whether a stream starting `head` is UTF-16 with its byte order mark (either byte
    order); UTF-32's little-endian mark starts like it and is not."""
    return head[:2] in UTF16_BOMS and head[:4] != UTF32_LE_BOM


def utf8_head(head: bytes) -> bytes:
    """The first bytes of a stream as the reader sees them: a UTF-16 one transcoded to
    UTF-8 (its byte order mark dropped, a character cut at the end left out); any other
    as it is."""
    if not is_utf16(head):
        return head
    text = codecs.getincrementaldecoder("utf-16")(NOT_TEXT).decode(head)
    return text.encode("utf-8", "surrogatepass")


class Utf16Text(io.RawIOBase):
    """The UTF-16 stream `raw` (byte order mark first) as UTF-8, decoded a block at a time.
    Line ends are the same characters in both, so every line number a reader reports is the
    file's; a spreadsheet's UTF-16 is also tab-separated, which the CSV header sniffs."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-16")(NOT_TEXT)
        self._out = memoryview(b"")
        self._done = False
        self._marks = Marks(MARKS)
        """(UTF-8 bytes made, file bytes read) after each block: where the reader is in the
        file (its progress), the UTF-8 bytes it counts being about half of them."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out and not self._done:
            data = self._raw.read(READ_BYTES) or b""
            self._done = not data
            text = self._decoder.decode(data, final=self._done)
            self._out = memoryview(text.encode("utf-8", "surrogatepass"))
            made, read = self._marks.last  # the prefetch thread reads while this one decodes
            self._marks.add(made + len(self._out), read + len(data))
        with memoryview(buffer) as view, view.cast("B") as out:
            n = min(out.nbytes, self._out.nbytes)
            out[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def file_offset(self, made: int) -> int:
        """About how far into the UTF-16 file its first `made` UTF-8 bytes reach (within the
        block that holds them, in proportion)."""
        return self._marks.offset(made)


def text_stream(stream: BinaryIO) -> BinaryIO:
    """`stream` as UTF-8 without a byte order mark: UTF-16 (behind its mark) transcoded,
    UTF-8 read as it is (one peek: the UTF-8 read path is unchanged)."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    head = buffered.peek(4)[:4]
    if head[:3] == UTF8_BOM:
        buffered.read(3)
    elif is_utf16(head):
        return io.BufferedReader(Utf16Text(buffered))
    return buffered


def file_offsets(stream: BinaryIO) -> Callable[[int], int]:
    """How far into the file behind `stream` (one `text_stream` gave) its first n bytes
    reach: a UTF-16 file's are about twice as many, so its progress, counted in UTF-8 bytes,
    stopped near 50 %; any other file's are the same. A compressed one's are its packed
    bytes (`limits.Unpacked.packed_offset`): counted unpacked, a gzip or ZIP export's
    progress reached 100 % at a fraction of its rows."""
    raw = getattr(stream, "raw", None)
    text = raw.file_offset if isinstance(raw, Utf16Text) else int
    below = getattr(raw._raw, "raw", None) if isinstance(raw, Utf16Text) else raw
    packed = getattr(below, "packed_offset", None)
    return text if packed is None else lambda n: packed(text(n))


def stream_encoding(stream: BinaryIO) -> str:
    """The encoding of the file behind a stream `text_stream` gave: "UTF-16" when it is
    transcoded, "UTF-8" otherwise (what a record that is not text is told against)."""
    return "UTF-16" if isinstance(getattr(stream, "raw", None), Utf16Text) else "UTF-8"


BROKEN_UTF16 = (
    "the file is UTF-16 with bytes that are no UTF-16 (a character cut in half: the file was "
    "damaged, or cut and joined, after it was saved): save or export it again, as CSV UTF-8 "
    "(Excel: Save As > 'CSV UTF-8 (Comma delimited)'), and load that; "
)
"""What to do with a UTF-16 file holding records that are not text: converting it from
Windows-1252, the advice for a UTF-8 one, would garble every one of its characters."""


def not_text_note(rows: int, encoding: str) -> str:
    """The note of a CSV that loaded with `rows` that are not text in its `encoding`: the few
    rows of a UTF-8 export saved as Windows-1252 that hold an accented name (`Müller`), the
    rest ASCII. They stay under the reject rate, so the file loads, but its encoding is wrong,
    not those rows: without a word, the people in them were missing from every report."""
    told = f"{rows} row(s) are not {encoding} (quarantined as invalid_utf8): "
    if encoding == "UTF-16":
        return told + (
            "the file was damaged (a character cut in half), and those rows are missing from "
            "the tables; save or export it again as CSV UTF-8 and load that: its other rows "
            "are duplicates, the quarantined ones load"
        )
    return told + (
        "the file was most likely saved as Windows-1252 or Latin-1, and those rows are "
        "missing from the tables; convert it (iconv -f WINDOWS-1252 -t UTF-8 FILE > "
        "FILE-utf8.csv) and load that: its other rows are duplicates, the quarantined ones load"
    )


HALF_CHARACTER = "\udcff".encode("utf-8", "surrogatepass")
"""What `Utf16Text` writes for bytes of a UTF-16 file that are no UTF-16."""


def not_text_detail(raw: bytes, at: int) -> str:
    """The detail of a line that is not UTF-8 at byte `at`: a UTF-16 file's half character
    (a lone surrogate) is told as one, its advice no longer a UTF-8 export's."""
    if raw[at : at + 3] == HALF_CHARACTER:
        return (
            f"byte {at}: half a character (a lone UTF-16 surrogate), not text (the file was "
            "damaged: save or export it again as CSV UTF-8)"
        )
    return f"byte {at}: not UTF-8 (re-export the report as UTF-8)"
