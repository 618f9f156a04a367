"""What a file's failure advises: the first thing to try for the reason most of its rows were
rejected for, and the messages of a file a spreadsheet cut short or saved again."""

from __future__ import annotations

from cdr_pipeline.errors import InputError
from cdr_pipeline.ingest.encoding import BROKEN_UTF16
from cdr_pipeline.ingest.results import FileResult

ADVICE = {
    "repeated_header": "far more lines are the header again than there are records: this is "
    "no export as Control Hub writes it; load each export on its own; ",
    "summary_line": "far more lines are summary lines (a count or total) than there are "
    "records: this is no export as Control Hub writes it; ",
    "invalid_utf8": "the file is not UTF-8 (saved as Windows-1252 or Latin-1?): export it again "
    "as UTF-8, or convert it (iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8.csv) and load "
    "that; ",
    "too_deep": "records nest deeper than max_json_depth (API records nest 3 or 4 levels): "
    "check the file is an export of the Webex APIs, or raise max_json_depth in cdr.toml if "
    "such records are genuine; ",
    "nul_bytes": "the file holds blocks of zeros where its data was lost (a crash, a failing "
    "disk, a copy or download that failed): copy or download it again and load that; ",
    "conflicting_lines": "lines of the file name one entry (a subscription and licence type "
    "from one day, a department, a location, a device at one snapshot time, an event id) "
    "with other values, each rejected row naming the others: write two purchases as one "
    "line, units added, or delete the line that is wrong; ",
    "spreadsheet_number": "the file was re-saved by a spreadsheet, which rounded long numbers "
    "and ids to scientific notation (2.34059E+09) and dropped the leading zeros of numbers "
    "(a MAC of digits): load the file as downloaded or exported "
    "(a Control Hub report as downloaded), or import those columns as text in the "
    "spreadsheet; ",
    "spreadsheet_encoding": "the file's text was read in the wrong encoding and saved again "
    "as UTF-8 (Müller became MÃ¼ller), as a spreadsheet does that opens a CSV without its byte "
    "order mark: load the file as downloaded or exported (a Control Hub report keeps its "
    "BOM), or import it into the spreadsheet as UTF-8 before saving; ",
    "spreadsheet_float": "the file was re-saved by a tool that read numbers as floats (2001 "
    "written 2001.0, a number's '+' dropped: pandas does this to a column with empty cells): "
    "load the file as downloaded or exported, or read and write every column as text "
    "(pandas: dtype=str, keep_default_na=False); ",
    "ragged_row": "rows have another number of fields than the header (each reject's "
    "detail says how many): a spreadsheet that saved the file drops the separators of empty "
    "last columns from some rows, and a file edited or joined by hand has rows cut short or "
    "of another layout; load the export as downloaded or exported; ",
    "spreadsheet_date": "the file was re-saved by a spreadsheet, which rewrote its times in a "
    "local date format (12/01/2026 14:03: 1 December or 12 January?), seconds dropped "
    "(2026-12-01 14:03): load the file as downloaded or exported, or write times as "
    "ISO-8601 with their seconds (2026-12-01T14:03:27.412Z); ",
}
"""What to try first when most of a file's rows are rejected for a reason, before the
general hint."""

SPREADSHEET_ROWS = 1_048_576
"""The rows Excel and LibreOffice Calc keep: a larger export saved again from one holds its
header and this many records less one, the rest gone without a trace in the file."""


def advice(reason: str, encoding: str) -> str:
    """What to do about `reason`, the top reason of a file in `encoding`."""
    if reason == "invalid_utf8" and encoding == "UTF-16":
        return BROKEN_UTF16
    return ADVICE.get(reason, "")


def spreadsheet_cut(result: FileResult) -> InputError:
    return InputError(
        f"{result.rows_read:,} records, exactly as many as a spreadsheet keeps under its "
        f"header ({SPREADSHEET_ROWS:,} rows): it was most likely cut at that limit when a "
        "spreadsheet saved it, the records after it missing; no rows of this file were "
        "published",
        path=result.source,
        hint="load the export as downloaded; a file that genuinely holds this many records "
        "loads once you split it in two",
    )


def spreadsheet_saved(result: FileResult, marks: dict[str, int]) -> InputError:
    """A call-leg source with records a spreadsheet damaged visibly: it saved every record,
    and what it did to the others may not show."""
    first = max(marks, key=lambda r: marks[r])
    return InputError(
        f"{sum(marks.values())} of {result.rows_read} rows rejected: {', '.join(sorted(marks))}, "
        "the marks of a spreadsheet (or another tool) that saved the export again; the other "
        "records may have been changed without a trace (a number's '+' or leading zeros "
        "dropped, a time's seconds cut), so no rows of this file were published",
        path=result.source,
        hint=ADVICE[first] + "see the quarantined rows under rejects/ (cdr runs shows the file)",
    )
