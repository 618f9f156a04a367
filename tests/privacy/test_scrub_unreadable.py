"""ZIP files outside the tables that `cdr forget` edits: a Control Hub report `cdr fetch`
saved as downloaded (a ZIP without extension under state/fetched/report/), and workbooks a
report wrote. A member that is text but not UTF-8 cannot be searched: the file is named,
never passed over as holding nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from cdr_pipeline.privacy.scrub import scrub_files
from cdr_pipeline.privacy.spellings import text_pattern
from cdr_pipeline.state.layout import Layout

NUMBER = "+14155550177"


def _zip(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            z.writestr(name, body)
    path.write_bytes(out.getvalue())


def _member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def test_a_saved_report_with_a_line_not_utf8_is_named(tmp_path: Path) -> None:
    """The report's CSV has the person's record and another whose name is Windows-1252
    (the ingest quarantines that line and loads the rest): the member did not decode as
    UTF-8, so it was written back as it was and the file was neither changed nor named,
    the person's number still in it after a forget that reported nothing about it."""
    layout = Layout(tmp_path / "wh")
    report = layout.fetched / "report" / "org" / "Y2lz" / "report-Y2lz"
    csv = (
        f"\ufeffStart time,Calling number,User\n2026-10-01T09:00:00Z,{NUMBER},Walter Zip\n".encode()
        + "2026-10-01T09:01:00Z,+13125550100,J\xfcrgen M\xfcller\n".encode("cp1252")
    )
    _zip(report, {"calling_detailed_call_history.csv": csv})
    before = report.read_bytes()
    done = scrub_files(layout, {NUMBER: "number_x"}, False, text_pattern([NUMBER]))
    rel = "state/fetched/report/org/Y2lz/report-Y2lz"
    assert done.unreadable == [rel]
    assert report.read_bytes() == before  # left for the hand that deletes it


def test_a_utf16_member_is_named(tmp_path: Path) -> None:
    """A CSV saved as UTF-16 (a spreadsheet's 'Unicode text') holds NUL bytes like binary
    data, but its byte-order mark says it is text."""
    layout = Layout(tmp_path / "wh")
    book = layout.root / "reports" / "people.zip"
    _zip(book, {"people.csv": f"who\n{NUMBER}\n".encode("utf-16")})
    done = scrub_files(layout, {NUMBER: "number_x"}, False, text_pattern([NUMBER]))
    assert done.unreadable == ["reports/people.zip"]


def test_a_workbook_with_a_binary_part_is_still_edited(tmp_path: Path) -> None:
    """Binary parts of a workbook (an image, Excel's printer settings) hold no text: its
    XML is edited as before and the file is not named."""
    layout = Layout(tmp_path / "wh")
    book = layout.root / "reports" / "people.xlsx"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\xff\xfe"
    xml = f"<sst><si><t>{NUMBER}</t></si></sst>".encode()
    _zip(book, {"xl/sharedStrings.xml": xml, "xl/media/image1.png": png})
    done = scrub_files(layout, {NUMBER: "number_x"}, False, text_pattern([NUMBER]))
    assert done.files == ["reports/people.xlsx"] and not done.unreadable
    assert _member(book, "xl/sharedStrings.xml") == b"<sst><si><t>number_x</t></si></sst>"
    assert _member(book, "xl/media/image1.png") == png


def test_a_rejects_file_cut_short_is_named(tmp_path: Path) -> None:
    """A run's rejects are written under state/staging/ (`RejectWriter`), footer last, and
    moved into rejects/ whole: an ingest killed after its first 10,000 rejects leaves the
    staged copy without a footer, raw lines and all, until the next run. The forget
    committed its table rewrites, then stopped at that file with `unexpected ArrowInvalid`
    (exit 1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cdr_pipeline.ingest.rejects import REJECT_SCHEMA

    layout = Layout(tmp_path / "wh")
    path = layout.staging_run("20261018T020000000Z-0a1b2c") / "0" / "rejects.parquet"
    path.parent.mkdir(parents=True)
    row = dict.fromkeys(REJECT_SCHEMA.names) | {"raw_text": f"x,{NUMBER},Walter Cut"}
    with pq.ParquetWriter(path, REJECT_SCHEMA) as writer:
        writer.write_table(pa.Table.from_pylist([row], schema=REJECT_SCHEMA))
    whole = path.read_bytes()
    footer = int.from_bytes(whole[-8:-4], "little") + 8  # metadata, its length, PAR1
    path.write_bytes(whole[:-footer])  # what the killed ingest left
    done = scrub_files(layout, {NUMBER: "number_x"}, False, text_pattern([NUMBER]))
    assert done.unreadable == ["state/staging/20261018T020000000Z-0a1b2c/0/rejects.parquet"]


def test_a_parquet_export_with_categorical_text_is_edited(tmp_path: Path) -> None:
    """An export written from polars or pandas stores a categorical column as a dictionary
    of strings: its values were not looked at, and the file was passed over as holding
    none, the person's name still in it. A column whose text cannot be edited (a struct of
    strings) names the file instead."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    layout = Layout(tmp_path / "wh")
    export = layout.root / "reports" / "callers.parquet"
    export.parent.mkdir(parents=True)
    who = pl.Series(["Walter Cat", "Bo Smith", "Walter Cat"], dtype=pl.Categorical)
    pl.DataFrame({"who": who, "number": [NUMBER, None, NUMBER]}).write_parquet(export)
    nested = layout.root / "reports" / "nested.parquet"
    pq.write_table(pa.table({"p": [{"name": "Walter Cat"}]}), nested)
    values = {"Walter Cat": "name_x", NUMBER: "number_x"}
    done = scrub_files(layout, values, False, text_pattern(values))
    got = pl.read_parquet(export)
    assert got["who"].cast(pl.String).to_list() == ["name_x", "Bo Smith", "name_x"]
    assert got["who"].dtype == pl.Categorical
    assert got["number"].to_list() == ["number_x", None, "number_x"]
    assert done.files == ["reports/callers.parquet"]
    assert done.unreadable == ["reports/nested.parquet"]


def test_a_database_of_ones_own_is_named(tmp_path: Path) -> None:
    """Every `.duckdb` file was passed over as the views database, which the forget builds
    again: a DuckDB file of one's own under the warehouse (`reports/scratch.duckdb`, a
    copy of the full tier's calls) kept the person and was never named."""
    import duckdb

    layout = Layout(tmp_path / "wh")
    scratch = layout.root / "reports" / "scratch.duckdb"
    scratch.parent.mkdir(parents=True)
    with duckdb.connect(str(scratch)) as con:
        con.execute(f"create table calls as select '{NUMBER}' as calling_number")
    layout.duckdb.write_bytes(b"the views database: built again after the erasure")
    done = scrub_files(layout, {NUMBER: "number_x"}, False, text_pattern([NUMBER]))
    assert done.unreadable == ["reports/scratch.duckdb"]
