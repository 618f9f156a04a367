"""The text encodings an export must not be in: UTF-16 and UTF-32 (spreadsheets' and
PowerShell's "Unicode"), and UTF-8 read as Windows-1252 and saved again (its byte order mark
became text). Each is refused with what to do, named by the tool that most likely wrote it."""

from __future__ import annotations

from cdr_pipeline.errors import InputError

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MISREAD_BOM = "\ufeff".encode().decode("cp1252").encode()
"""The UTF-8 BOM read as Windows-1252 (`ï»¿`) and written again as UTF-8 text."""


def refuse_encoding(head: bytes, name: str) -> None:
    """Raise `InputError` (exit 3) when the stream `name`, starting `head`, is UTF-16 or
    UTF-32, or UTF-8 whose byte order mark was misread and saved again as text."""
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
        enc = "UTF-32" if head[:4] == b"\xff\xfe\x00\x00" else "UTF-16"  # its BOM: 2 NULs more
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
