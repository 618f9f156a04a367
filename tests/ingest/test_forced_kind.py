"""`--kind` forced on a file without its header line (what the hint of an unrecognised
header suggests): the first record, a name and numbers, was taken for column names and kept
in the ledger as unknown columns, which the analyst tier's `ingest_files`, notebook 04's
column drift and the log show. Such a file now fails before any row is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"
RECORD = "2026-09-30T00:01:32Z,,0,+14155550177,+14155550178,Walter Headless,ORIGINATING\n"


def _refused_as_headerless(tmp_path: Path, record: str) -> None:
    """`record` three times, without a header line, fails as such under --kind calls."""
    settings = Settings(warehouse=tmp_path / "wh")
    part = tmp_path / "part2.csv"
    part.write_text(record * 3)
    result = ingest_paths(settings, [part], kind="calls")
    (f,) = result.files
    assert result.exit_code == 3 and f.status == "failed"
    assert f.unknown_columns == [] and f.rows_loaded == 0
    assert "without its header line" in f.message


def test_a_forced_kind_needs_a_header_that_names_one_of_its_columns(tmp_path: Path) -> None:
    _refused_as_headerless(tmp_path, RECORD)


def test_a_forced_kind_still_loads_a_file_with_its_header(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    (f,) = ingest_paths(settings, [FIXTURES / "overlap_a.csv"], kind="calls").files
    assert f.status == "loaded" and f.rows_loaded > 0


def test_a_record_is_no_header_though_its_user_type_names_a_column(tmp_path: Path) -> None:
    """Nearly every call record holds the user type `User`, which is the `User` column's
    header (user_name): such a first record named a column, passed for a header, and the
    rest of it (a time, numbers, a name, a user UUID) was kept as the ledger's unknown
    columns, shown by `cdr runs`, notebook 04's column drift and the log. A "header" holding
    a time stamp, an E.164 number or a UUID is a record."""
    uuid = "4f1c2a9e-0b1d-4c55-9d0e-2f3a4b5c6d7e"
    _refused_as_headerless(tmp_path, RECORD.replace(",ORIGINATING", f",ORIGINATING,User,{uuid}"))


def test_a_file_without_its_header_line_is_named_as_such(tmp_path: Path) -> None:
    """The second part of an export cut with `split -l` has no header line: it failed as
    'not a recognised export: the header (2026-09-30T00:01:32Z, ...)' with the hint to force
    a kind with --kind, which then failed too. It now says the first line is a record and
    how to put the header back."""
    settings = Settings(warehouse=tmp_path / "wh")
    part = tmp_path / "part2.csv"
    part.write_text(RECORD * 3)
    (f,) = ingest_paths(settings, [part]).files
    assert f.status == "failed" and f.rows_loaded == 0
    assert "line 1: not a recognised export: its first line (2026-09-30T00:01:32Z" in f.message
    assert "is a record, not a header" in f.message and "no header line" in f.message
    assert "--kind" not in f.message and "head -1 first-part.csv" in f.message


def test_a_title_line_above_the_header_is_named_as_such(tmp_path: Path) -> None:
    """An export opened in a spreadsheet, given a title in A1 and saved again: its first line
    is `Calling Detailed Call History,,,,` (the title, then the empty cells of the row). It
    failed as 'the header (Calling Detailed Call History, , , ...) matches none of the input
    kinds' with the hint to force a kind, which reads the title as the header and every
    record into unknown columns. It now says the line is a title and to delete it; a header
    of one real column name stays an unrecognised header."""
    header = (FIXTURES / "overlap_a.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    title = "Calling Detailed Call History" + "," * header.count(",")
    settings = Settings(warehouse=tmp_path / "wh")
    for name, first in (("titled.csv", title), ("bare.csv", "Calling Detailed Call History")):
        path = tmp_path / name
        path.write_text(f"{first}\r\n{header}\r\n{RECORD}", encoding="utf-8")
        (f,) = ingest_paths(settings, [path]).files
        assert f.status == "failed" and f.rows_loaded == 0
        assert (
            "line 1: not a recognised export: its first line (Calling Detailed Call History)"
            in f.message
        )
        assert "a title rather than a header line" in f.message and "--kind" not in f.message
        assert "delete the line(s) above the export's header line" in f.message
    single = tmp_path / "single.csv"
    single.write_text("Whatever\r\nx\r\n", encoding="utf-8")
    (f,) = ingest_paths(settings, [single]).files
    assert "matches none of the input kinds" in f.message


def test_a_web_page_saved_as_the_report_says_the_download_failed(tmp_path: Path) -> None:
    """A download that a web server refused saves its answer under the report's name: a
    sign-in page, or the XML error of an expired storage link. It failed as an unknown kind
    of export, 'the header (<!DOCTYPE html>) matches none of the input kinds', with the hint
    to force a kind, which reads the page's markup as records."""
    pages = {
        "calling_detailed_call_history": "<!DOCTYPE html>\n<html><head><title>Sign in</title>"
        "</head><body>Sign in to continue</body></html>\n",
        "report.csv": '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied'
        "</Code><Message>Request has expired</Message></Error>\n",
    }
    settings = Settings(warehouse=tmp_path / "wh")
    for name, page in pages.items():
        path = tmp_path / name
        path.write_text(page, encoding="utf-8")
        (f,) = ingest_paths(settings, [path]).files
        assert f.status == "failed" and f.rows_loaded == 0
        assert "line 1: not a recognised export: it is an HTML page or XML document" in f.message
        assert "download the report again" in f.message and "--kind" not in f.message


@pytest.mark.parametrize(
    ("status", "said"),
    [("HTTP/1.1 200 OK", "(HTTP/1.1 200), as curl -i"), ("HTTP/2 401 ", "HTTP 401: the request")],
)
def test_an_api_answer_saved_with_its_headers_says_so(
    tmp_path: Path, status: str, said: str
) -> None:
    """The feed names its next page in the `Link` header, which `curl -i` shows by writing
    the status line and headers before the page. Saved so, the file failed as 'one field of
    words, a title rather than a header line', with the hint to delete a spreadsheet's
    caption: it now says what it is and how to save the body alone."""
    path = tmp_path / "page.json"
    head = f'{status}\r\nLink: <https://example.invalid/v1/cdr_feed?max=500>; rel="next"\r\n\r\n'
    path.write_text(head + (FIXTURES / "api_page.json").read_text("utf-8"), encoding="utf-8")
    (f,) = ingest_paths(Settings(warehouse=tmp_path / "wh"), [path]).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "line 1: not a recognised export: it is an HTTP answer saved with its status" in (
        f.message or ""
    )
    assert said in (f.message or "") and "curl -o page.json" in (f.message or "")


def test_json_records_of_no_known_kind_are_not_told_to_delete_a_line(tmp_path: Path) -> None:
    """A JSON file's kind is told from its records' keys, which went through the CSV line
    diagnoses: a record keyed `Call notes` was 'its first line (Call notes) is one field of
    words, a title' with the hint to delete the lines above the header, one keyed by a UUID
    (an id-to-record map) 'a record, not a header' with a `head -1` recipe. A JSON file has
    no such line: the message names its records' keys and what a known kind's look like."""
    settings = Settings(warehouse=tmp_path / "wh")
    pages = {
        "notes.json": '{"items": [{"Call notes": "rang twice"}]}',
        "by_id.jsonl": '{"9a581b46-53c9-4d27-90a0-d6beadbc1da4": {"Duration": 3}}\n',
    }
    for name, page in pages.items():
        path = tmp_path / name
        path.write_text(page, encoding="utf-8")
        (f,) = ingest_paths(settings, [path]).files
        assert f.status == "failed" and f.rows_loaded == 0
        assert "not a recognised export: its records' keys (" in f.message
        assert "match none of the input kinds" in f.message and "--kind" in f.message
        assert "line" not in f.message.split("hint:")[0]
        assert "delete the line" not in f.message and "head -1" not in f.message


def test_a_forced_kind_reads_json_keys_as_keys_not_as_a_record(tmp_path: Path) -> None:
    """`cdr fetch` loads its saved pages with the kind forced to calls. A record key spelled
    like a UUID or a time (a new field the API keys by an id) was taken for a data cell of a
    headerless CSV: the page failed as 'the line read as its header names no calls column',
    though its records name dozens and the same page loads without --kind. Such a key is
    kept in `extra`; records naming no column of the kind still fail, named by their keys."""
    settings = Settings(warehouse=tmp_path / "wh")
    record = (
        '{"Start time": "2026-09-30T00:01:32.785Z", "Direction": "ORIGINATING", '
        '"Correlation ID": "a1dab002-83e4-4b61-93de-d0699d0e5e53", '
        '"Report ID": "6f714a3b-5d72-4989-8e06-f38bb8d68370", '
        '"9a581b46-53c9-4d27-90a0-d6beadbc1da4": "x", "2026-10-29T02:44:44Z": "y"}'
    )
    page = tmp_path / "page.json"
    page.write_text(f'{{"items": [{record}]}}', encoding="utf-8")
    (f,) = ingest_paths(settings, [page], kind="calls").files
    assert (f.status, f.rows_loaded) == ("loaded", 1), f.message
    other = tmp_path / "other.json"
    other.write_text('{"items": [{"9a581b46-53c9-4d27-90a0-d6beadbc1da4": 1}]}', "utf-8")
    (f,) = ingest_paths(settings, [other], kind="calls").files
    assert f.status == "failed" and "its records' keys (9a581b46-" in f.message
    assert "name no calls column" in f.message and "header line" not in f.message


def test_a_readme_in_a_zip_of_exports_is_told_to_be_left_out(tmp_path: Path) -> None:
    """A readme among the exports of a ZIP failed as a title line, with the hint to delete
    the lines above the export's header: it has none. The hint says such a file is no
    export, to be left out; the export beside it loads."""
    import zipfile

    path = tmp_path / "exports.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(FIXTURES / "overlap_a.csv", "calls.csv")
        zf.writestr(
            "README.txt", "Exports of October\r\nPulled from Control Hub by the IT team\r\n"
        )
    files = {
        f.source.rsplit("!", 1)[-1]: f
        for f in ingest_paths(Settings(warehouse=tmp_path / "wh"), [path]).files
    }
    assert files["calls.csv"].status == "loaded"
    readme = files["README.txt"]
    assert (readme.status, readme.exit_code) == ("failed", 3)
    assert "line 1: not a recognised export: its first line (Exports of October)" in (
        readme.message or ""
    )
    assert "is no export: leave it out" in (readme.message or "")
