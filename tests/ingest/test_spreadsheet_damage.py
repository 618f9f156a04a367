"""Exports opened and saved again in a spreadsheet (Excel, LibreOffice): what it rounds away
cannot be recovered, so a record it damaged is quarantined with a reason that says so, and
the export fails with a hint to load it as downloaded (what the spreadsheet did to the other
records may not show)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from tests.ingest.helpers import load, rejects, run_cdr, table
from tests.ingest.hostile_corpus import HEADER, REPORT_ID, csv_bytes, line, rows

CALLING = HEADER.index("Calling number")
LOCAL_CALL_ID = HEADER.index("Local call ID")
MAC = HEADER.index("Device MAC")


def test_report_ids_in_scientific_notation_are_quarantined_not_merged(wh: Path) -> None:
    """Two records whose numeric Report IDs a spreadsheet saved as `2.34059E+09` share that
    text: loaded, the second counted as a duplicate of the first and was lost."""
    body = rows(200, 71)
    body[3][REPORT_ID] = "2.34059E+09"
    body[8][REPORT_ID] = "2.34059E+09"
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.status, f.rows_loaded, f.rows_duplicate, f.rows_rejected) == ("failed", 0, 0, 2)
    bad = rejects(wh)
    assert bad["source_row"].to_list() == [5, 10]
    assert set(bad["reason"]) == {"spreadsheet_number"}
    assert bad["detail"][0] == (
        "Report ID: '2.34059E+09' is a spreadsheet's scientific notation, its rounded-away "
        "digits are lost"
    )
    assert not (wh / "tables" / "call_legs").exists()


@pytest.mark.parametrize(
    ("column", "value"),
    [(CALLING, "4.42079E+11"), (CALLING, "-1.5E+10"), (LOCAL_CALL_ID, "9.56142e+08")],
)
def test_numbers_and_ids_in_scientific_notation_are_quarantined(
    wh: Path, column: int, value: str
) -> None:
    body = rows(200, 72)
    body[0][column] = value
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("failed", 0, 1)
    assert rejects(wh)["reason"].to_list() == ["spreadsheet_number"]


@pytest.mark.parametrize(
    ("column", "value", "detail"),
    [
        (CALLING, "4,42079E+11", "Calling number: '4,42079E+11' is a spreadsheet's scientific"),
        (REPORT_ID, "2,34059E+09", "Report ID: '2,34059E+09' is a spreadsheet's scientific"),
        (MAC, "1,23457E+11", "Device MAC: '1,23457E+11' is a MAC of digits a spreadsheet"),
    ],
    ids=["number", "id", "mac"],
)
def test_scientific_notation_with_a_decimal_comma_is_quarantined(
    wh: Path, column: int, value: str, detail: str
) -> None:
    """Excel in a German or French locale saves with `;` between fields and writes the
    fraction of its scientific notation after a comma: `4,42079E+11`. Only the dot's form
    was recognised, so such an export loaded the rounded number as text, exit 0."""
    body = rows(200, 85)
    body[9][column] = value
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\r\n").writerows([HEADER, *body])
    path = wh.parent / "resaved.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.getvalue().encode())
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert "1 of 200 rows rejected: spreadsheet_number" in f.message
    (bad,) = rejects(wh).to_dicts()
    assert bad["source_row"] == 11
    assert bad["detail"].startswith(detail)


def test_a_file_resaved_by_a_spreadsheet_fails_saying_to_load_the_download(wh: Path) -> None:
    body = rows(50, 73)
    for i, row in enumerate(body):
        row[REPORT_ID] = f"{2 + i / 100:.5f}E+09"
        row[CALLING] = "4.42079E+11"
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stderr
    assert "spreadsheet_number (50)" in done.stderr
    assert "re-saved by a spreadsheet" in done.stderr
    assert "as downloaded" in done.stderr


def test_values_that_only_look_numeric_still_load(wh: Path) -> None:
    """Hex session ids with one `e` and numbers are not a spreadsheet's notation."""
    body = rows(3, 74)
    body[0][CALLING] = "+442079460000"
    body[1][CALLING] = "1234e5"  # no sign after the E: what no spreadsheet writes
    body[2][CALLING] = "*73"
    path = wh.parent / "fine.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 0)
    assert sorted(table(wh)["calling_number"].to_list()) == ["*73", "+442079460000", "1234e5"]


START = HEADER.index("Start time")
RELEASE = HEADER.index("Release time")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (START, "12/01/2026 14:03"),
        (RELEASE, "1/12/2026 14:03:11"),
        (START, "01.12.2026 14:03"),
        (RELEASE, "12/1/2026 2:03 PM"),
    ],
)
def test_times_in_a_spreadsheets_local_format_are_quarantined_as_such(
    wh: Path, column: int, value: str
) -> None:
    """`12/01/2026 14:03` is 1 December or 12 January depending on the locale that saved it:
    never loaded, and the reject says what happened rather than only 'cannot parse'."""
    body = rows(200, 75)
    body[0][column] = value
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("failed", 0, 1)
    (bad,) = rejects(wh).iter_rows(named=True)
    assert bad["reason"] == "spreadsheet_date"
    assert bad["detail"] == (
        f"{HEADER[column]}: '{value}' is a spreadsheet's local date format, whose order of "
        "day and month is unknown"
    )


def test_a_file_whose_times_a_spreadsheet_rewrote_fails_saying_to_load_the_download(
    wh: Path,
) -> None:
    body = rows(50, 76)
    for row in body:
        row[START] = "10/02/2026 11:00"
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stderr
    assert "spreadsheet_date (50)" in done.stderr
    assert "re-saved by a spreadsheet" in done.stderr and "ISO-8601" in done.stderr


@pytest.mark.parametrize("quote", ["", '"'], ids=["bare", "quoted"])
@pytest.mark.parametrize("separator", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_a_sep_line_before_the_header_names_the_separator(
    wh: Path, separator: str, quote: str
) -> None:
    """`sep=;` on the first line tells a spreadsheet the separator (tools that write CSV
    for Excel add it): it was read as the header, 'the header (sep=, ) matches none of the
    input kinds'. The records keep their line numbers. `sep=` and a tab (a tab-separated
    file made for Excel) was still read as the header: the line lost its tab, as a blank
    around it, before the pattern was matched. A script that writes the line with its CSV
    writer gets it in quotes (`"sep=;"`: the field holds the separator), which was read as
    the header too."""
    body = rows(20, 77)
    body[4][HEADER.index("Direction")] = ""
    text = "".join(
        separator.join(f'"{v}"' if separator in v or '"' in v else v for v in r) + "\r\n"
        for r in [HEADER, *body]
    )
    path = wh.parent / "with_sep_line.csv"
    path.write_bytes(f"{quote}sep={separator}{quote}\r\n{text}".encode())
    (f,) = load(wh, path, max_reject_rate=0.1).files
    assert (f.status, f.kind, f.rows_loaded, f.rows_rejected) == ("loaded", "calls", 19, 1)
    assert rejects(wh)["source_row"].to_list() == [7]
    assert table(wh)["user_name"].null_count() == 0


@pytest.mark.parametrize("forced", [[], ["--kind", "calls"]], ids=["detected", "forced"])
def test_a_header_after_a_sep_line_that_names_no_kind_names_its_line(
    wh: Path, forced: list[str]
) -> None:
    """The error about the header named line 1, the `sep=` line, not the header below it."""
    path = wh.parent / "sep_then_unknown_header.csv"
    path.write_bytes(b"sep=,\r\nFoo,Bar\r\n1,2\r\n")
    done = run_cdr("--warehouse", str(wh), "ingest", *forced, str(path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "sep_then_unknown_header.csv line 2: not a" in done.stderr


def test_a_csv_of_exactly_a_spreadsheets_rows_is_refused(wh: Path) -> None:
    """Excel and LibreOffice keep 1,048,576 rows: a larger export opened and saved again
    holds its header and 1,048,575 records, the rest gone without a trace in the file. It
    loaded whole, exit 0."""
    path = wh.parent / "resaved_big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("Report ID,Start time,Direction,Correlation ID\n")
        out.writelines(
            f"r{i},2026-10-01T10:00:00.000Z,ORIGINATING,c{i}\n" for i in range(1_048_575)
        )
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "1,048,575 records" in done.stderr and "cut at that limit" in done.stderr
    assert "split it in two" in done.stderr
    assert not (wh / "tables" / "call_legs").exists() or table(wh).height == 0


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (CALLING, "4.42079E+11", "spreadsheet_number"),
        (START, "12/01/2026 14:03", "spreadsheet_date"),
    ],
)
def test_one_damaged_record_fails_the_whole_export_whatever_the_rate(
    wh: Path, column: int, value: str, reason: str
) -> None:
    """One record in a thousand with a UK number a spreadsheet rounded: the spreadsheet saved
    every record, and what it did to the others cannot be seen (`+14155550111` written
    `14155550111`, an extension's leading zero, a release time's seconds). Under the 1 %
    reject rate the other 999 loaded, exit 0."""
    body = rows(1000, 78)
    body[500][column] = value
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert f"1 of 1000 rows rejected: {reason}" in f.message
    assert "other records may have been changed" in f.message
    assert rejects(wh)["reason"].to_list() == [reason]


def test_an_excel_workbook_is_refused_once_saying_what_it_is(wh: Path) -> None:
    """An export saved as a workbook (.xlsx, a ZIP of XML parts) failed once per part, each
    'not a recognised export' quoting the part's XML as its header: 9 errors, the sheet's
    one the whole sheet."""
    book = openpyxl.Workbook()
    for row in [HEADER, *rows(20, 79)]:
        book.active.append(row)
    path = wh.parent / "Calling_Detailed_Call_History.xlsx"
    book.save(path)
    done = run_cdr("--warehouse", str(wh), "ingest", str(path))
    assert done.returncode == 3, done.stdout + done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert "an Excel workbook (.xlsx), not a CSV export" in error
    assert "CSV UTF-8" in error and len(error) < 500


def test_an_opendocument_spreadsheet_is_refused_saying_what_it_is(wh: Path) -> None:
    path = wh.parent / "export.ods"
    with zipfile.ZipFile(path, "w") as ods:  # the layout LibreOffice writes, first member first
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("content.xml", "<office:document-content/>")
        ods.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "an OpenDocument file (.ods), not a CSV export" in f.message


def test_an_xls_workbook_and_a_parquet_file_are_refused_saying_what_they_are(wh: Path) -> None:
    """An export saved in Excel 97-2003 format (.xls, an OLE2 file) and a Parquet file (a
    report written with --format parquet, a warehouse's data file) both failed as "the header
    holds NUL bytes: UTF-16 without a byte-order mark", advising a UTF-8 export."""
    xls = wh.parent / "Calling_Detailed_Call_History.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"Workbook" * 64)
    report = wh.parent / "top-callers.parquet"
    pl.DataFrame({"user_uuid": ["u1"], "calls": [3]}).write_parquet(report)
    by_name = {Path(f.path).name: f for f in load(wh, xls, report).files}
    for f in by_name.values():
        assert (f.status, f.exit_code) == ("failed", 3)
        assert "UTF-16" not in f.message
    assert "an Excel 97-2003 workbook (.xls)" in by_name[xls.name].message
    assert "CSV UTF-8" in by_name[xls.name].message
    assert "a Parquet file, not an export" in by_name[report.name].message


def test_a_self_extracting_archive_is_refused_as_a_program(wh: Path) -> None:
    """A self-extracting ZIP (a Windows program, `MZ` and its DOS header, the archive after
    it) was refused as "the header holds NUL bytes: UTF-16 without a byte-order mark",
    advising a UTF-8 export of a file that is a program."""
    sfx = wh.parent / "Calling_Detailed_Call_History.exe"
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48)
    with zipfile.ZipFile(wh.parent / "inner.zip", "w") as zf:
        zf.writestr("export.csv", "Report ID,Start time\r\n")
    sfx.write_bytes(
        stub + b"This program cannot be run in DOS mode." + (wh.parent / "inner.zip").read_bytes()
    )
    (f,) = load(wh, sfx).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "UTF-16" not in f.message
    assert "a Windows program (.exe), not an export" in f.message
    assert "7z x FILE" in f.message


def test_a_file_that_is_no_export_is_named_in_a_message_of_a_few_lines(wh: Path) -> None:
    """The header of a file that is no export is quoted, each name shortened: a line of
    XML or JSON of 30 KB was quoted whole, once per file of a nightly's inbox."""
    path = wh.parent / "sheet.xml"
    path.write_text("<worksheet>" + "<c r='A1'>x</c>" * 2000 + "</worksheet>\n", encoding="utf-8")
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "not a recognised export: the header (<worksheet><c r='A1'…" in f.message
    assert len(f.message) < 600


def test_numbers_a_dataframe_tool_saved_as_floats_fail_the_export(wh: Path) -> None:
    """pandas reads a column of numbers with empty cells as floats and writes them back as
    `2001.0`, `13343822691.0` (its '+' dropped): an export filtered in pandas and saved
    again loaded such numbers as text, exit 0."""
    body = rows(300, 79)
    body[7][CALLING] = "15550100007.0"
    path = wh.parent / "pandas.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert "1 of 300 rows rejected: spreadsheet_float" in f.message
    (bad,) = rejects(wh).to_dicts()
    assert bad["detail"].startswith("Calling number: '15550100007.0' is a number saved as a float")


def test_floats_a_dataframe_tool_saved_with_decimal_commas_fail_the_export(wh: Path) -> None:
    """pandas saving for a German or French spreadsheet (`sep=";", decimal=","`) writes a
    number column with empty cells as `13343822691,0`: only `.0` was recognised, so such an
    export loaded the number as text, its '+' gone, exit 0."""
    body = rows(300, 86)
    body[7][CALLING] = "15550100007,0"
    text = io.StringIO()
    csv.writer(text, delimiter=";", lineterminator="\n").writerows([HEADER, *body])
    path = wh.parent / "pandas.csv"
    path.write_text(text.getvalue())
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert "1 of 300 rows rejected: spreadsheet_float" in f.message
    (bad,) = rejects(wh).to_dicts()
    assert bad["detail"].startswith("Calling number: '15550100007,0' is a number saved as a float")


@pytest.mark.parametrize(
    ("saved", "shown"),
    [("1122334455", "1122334455"), ("1.23457E+11", "1.23457E+11"), ("9.12E+10", "9.12E+10")],
    ids=["zeros_dropped", "scientific", "short_scientific"],
)
def test_a_mac_of_digits_a_spreadsheet_read_as_a_number_fails_the_export(
    wh: Path, saved: str, shown: str
) -> None:
    """A MAC is 12 hex digits; one of digits only (`001122334455`, `123456789012`) is a
    number to a spreadsheet, saved with its leading zeros dropped or in scientific notation.
    Such a MAC loaded as is: `1122334455`, or `123457E+11` once its '.' was removed as a
    separator, a device no join or count could find."""
    body = rows(200, 80)
    body[5][MAC] = saved
    body[6][MAC] = "00-11-22-33-44-55"  # separators a tool may add: still a MAC
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 1)
    assert "1 of 200 rows rejected: spreadsheet_number" in f.message
    (bad,) = rejects(wh).to_dicts()
    assert bad["source_row"] == 7
    assert bad["detail"].startswith(f"Device MAC: '{shown}' is a MAC of digits a spreadsheet")


def test_macs_that_are_twelve_hex_digits_load_upper_case_without_separators(wh: Path) -> None:
    body = rows(4, 81)
    for row, mac in zip(
        body, ["001122334455", "6c:71:0d:8a:bc:10", "6C71.0D8A.BC11", ""], strict=True
    ):
        row[MAC] = mac
    path = wh.parent / "fine.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.rows_rejected) == (4, 0)
    macs = set(table(wh)["device_mac"].to_list())
    assert macs == {"001122334455", "6C710D8ABC10", "6C710D8ABC11", None}


def test_rows_whose_empty_last_columns_a_spreadsheet_dropped_say_so(wh: Path) -> None:
    """Excel drops the separators of empty last columns from some rows when it saves a
    CSV (in blocks it decides); a DCH export ends in columns most records leave empty. Those
    rows are ragged: the file failed with only the general hint, now with what to try."""
    body = [line([*r[:-2], "", ""]) for r in rows(50, 84)]  # outcome, releasing party
    short = [b.rstrip(b"\r\n").rstrip(b",") + b"\r\n" for b in body[20:]]
    path = wh.parent / "resaved.csv"
    path.write_bytes(csv_bytes(body[:20] + short))
    assert short[0].count(b",") == len(HEADER) - 3
    (f,) = load(wh, path).files
    assert (f.status, f.rows_rejected) == ("failed", 30)
    assert "a spreadsheet that saved the file drops the separators of empty last columns" in (
        f.message
    )
    assert "load the export as downloaded or exported" in f.message


def test_json_numbers_with_made_up_zeros_are_quarantined_as_in_a_csv(wh: Path) -> None:
    """An API page whose writer had the Report IDs as rounded numbers (`2.34059e9`) loaded
    each as `2340590000`, zeros that were never in the id, and the second was counted as a
    duplicate of the first (exit 0); the same ids in a CSV are quarantined and fail the
    export. A number whose digits are all given (`36.0`, `3.6e1` seconds) reads as before."""
    import json

    from tests.ingest.hostile_corpus import records

    def page_file(name: str, page: list[dict[str, object]], numbers: dict[str, str]) -> Path:
        text = json.dumps({"items": page})
        for mark, number in numbers.items():
            text = text.replace(f'"{mark}"', number)
        path = wh.parent / name
        path.write_text(text, encoding="utf-8")
        return path

    page = records(200, 73)
    page[5]["Duration"], page[6]["Duration"] = "@a@", "@b@"
    (ok,) = load(wh, page_file("ok.json", page, {"@a@": "36.0", "@b@": "3.6e1"})).files
    assert (ok.rows_loaded, ok.rows_rejected) == (200, 0)
    durations = dict(table(wh).select("report_id", "duration_seconds").iter_rows())
    assert durations[str(page[5]["Report ID"])] == durations[str(page[6]["Report ID"])] == 36

    page = records(200, 74)
    page[3]["Report ID"] = page[8]["Report ID"] = "@id@"
    (f,) = load(
        wh, page_file("rounded.json", page, {"@id@": "2.34059e9"}), max_reject_rate=0.05
    ).files
    assert (f.status, f.rows_loaded, f.rows_duplicate, f.rows_rejected) == ("failed", 0, 0, 2)
    bad = rejects(wh)
    assert set(bad["reason"]) == {"spreadsheet_number"}
    assert bad["detail"][0].startswith("Report ID: '2.34059E+9' is a spreadsheet's scientific")


def test_json_phone_numbers_written_as_floats_are_quarantined_as_in_a_csv(wh: Path) -> None:
    """A page a dataframe tool wrote (pandas reads a number column with empty cells as
    floats: `"Calling number": 13125550080.0`, its `+` dropped) loaded the number as
    `13125550080` (exit 0), where the same value in a CSV is quarantined as
    `spreadsheet_float` and fails the export. A whole number written with a fraction keeps
    it; `36.0` seconds still read as 36."""
    import json

    from tests.ingest.hostile_corpus import records

    page = records(200, 75)
    page[4]["Calling number"] = "@n@"
    page[5]["Duration"] = "@d@"
    text = json.dumps({"items": page}).replace('"@n@"', "13125550080.0")
    path = wh.parent / "floats.json"
    path.write_text(text.replace('"@d@"', "36.0"), encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=0.05).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("failed", 0, 1)
    bad = rejects(wh)
    assert bad["reason"].to_list() == ["spreadsheet_float"]
    assert bad["detail"][0].startswith("Calling number: '13125550080.0' is a number saved as")

    page[4]["Calling number"] = "+13125550080"
    page[6]["Duration"] = "@e@"
    text = json.dumps({"items": page}).replace('"@d@"', "36.0").replace('"@e@"', "2.000")
    path.write_text(text, encoding="utf-8")
    (ok,) = load(wh, path).files
    assert (ok.rows_loaded, ok.rows_rejected) == (200, 0)
    durations = dict(table(wh).select("report_id", "duration_seconds").iter_rows())
    assert durations[str(page[5]["Report ID"])] == 36
    assert durations[str(page[6]["Report ID"])] == 2  # never a thousands group: 2000


def test_json_phone_numbers_written_as_integers_are_noted(wh: Path) -> None:
    """A page a dataframe tool wrote with its number columns typed (pandas reads
    `+15550100000` as the integer 15550100000) loaded the numbers without their `+`, without
    a word. They load as written (an extension `2001` is a number too), and the file's note
    counts them per column, saying what was lost and how to load the answer as it came; a
    number written as text, or a Duration written as a number, is not counted."""
    import json

    from tests.ingest.hostile_corpus import records

    page = records(3, 76)
    page[0]["Calling number"] = "@a@"
    page[1]["Calling number"] = "@b@"
    page[2]["Called number"] = 2001
    page[0]["Duration"] = 30
    text = json.dumps({"items": page})
    for mark, number in (("a", "15550100000"), ("b", "15550100001")):
        text = text.replace(f'"@{mark}@"', number)
    path = wh.parent / "typed.json"
    path.write_text(text, encoding="utf-8")
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded) == ("loaded", 3), f.message
    assert "phone numbers written as JSON numbers, not text (2 of Calling number, 1 of " in (
        f.message
    )
    assert "Called number)" in f.message and "(pandas: dtype=str)" in f.message
    assert "15550100000" in table(wh)["calling_number"].to_list()
