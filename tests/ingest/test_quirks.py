"""One test per quirk of docs/webex-dch.md#quirks-checklist and per bad-input case, on named
fixtures. Expected values are written out by hand from the fixture files."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.ingest.normalize import parse_timestamp
from tests.ingest.helpers import FIXTURES, fixture, load, rejects, table

GOOD_FILES = {
    "bom_crlf.csv": 6,
    "zip_without_extension": 6,
    "gzipped.csv.gz": 6,
    "header_variants.csv": 6,
    "null_markers.csv": 2,
    "boolean_casing.csv": 4,
    "timestamp_forms.csv": 3,
    "webex_go_casing.csv": 4,
    "enum_typos.csv": 2,
    "drift_columns.csv": 3,
    "quoted_fields.csv": 3,
    "missing_report_id.csv": 2,
    "api_page.json": 3,
    "api_lines.jsonl": 3,
    "overlap_a.csv": 5,
    "semicolon_excel.csv": 3,
}


@pytest.mark.parametrize(("name", "rows"), sorted(GOOD_FILES.items()))
def test_clean_fixture_loads_every_row(wh: Path, name: str, rows: int) -> None:
    result = load(wh, fixture(name))
    (f,) = result.files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", rows, rows, 0)
    assert table(wh).height == rows
    assert result.exit_code == 0


@pytest.mark.parametrize("path", sorted(FIXTURES.iterdir()), ids=lambda p: p.name)
def test_conservation_holds_for_every_fixture(wh: Path, path: Path) -> None:
    result = load(wh, path, max_reject_rate=1.0)
    assert result.files, "no file result: the loop below would check nothing"
    for f in result.files:
        if f.status == "loaded":
            assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_rejected
        else:
            assert f.rows_loaded == 0
        # whatever the status, the counters add up
        assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_rejected
    # and they describe what was stored, not just each other: a fresh warehouse holds one row
    # per inserted record, and the quarantine one row per rejected record
    inserted = sum(f.rows_loaded - f.rows_updated for f in result.files)
    assert table(wh).height == inserted
    assert rejects(wh).height == sum(f.rows_rejected for f in result.files)
    if path.name in GOOD_FILES:  # the record counts written out by hand above
        assert sum(f.rows_read for f in result.files) == GOOD_FILES[path.name]


def _fixture_rows(name: str) -> list[list[str]]:
    """The rows of the fixture export `name`, its header first."""
    return list(csv.reader(fixture(name).read_text(encoding="utf-8-sig").splitlines()))


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


def test_bom_is_not_part_of_the_first_header(wh: Path) -> None:
    load(wh, fixture("bom_crlf.csv"))
    df = table(wh)
    assert df["start_time"].null_count() == 0
    assert df.filter(pl.col("report_id") == "a1b2c3d4-0000-4000-8000-000000000000")[
        "start_time"
    ].item() == datetime(2026, 10, 1, 10, 0, 0, 100000, tzinfo=UTC)


def test_zip_and_gzip_are_sniffed_by_content(wh: Path, tmp_path: Path) -> None:
    result = load(wh, fixture("zip_without_extension"), fixture("gzipped.csv.gz"))
    zipped, gzipped = result.files
    assert zipped.source.endswith("zip_without_extension!Calling_Detailed_Call_History.csv")
    # the same six records arrive twice: the second copy counts as duplicates and changes
    # nothing, not even where the table says the records came from
    assert (zipped.rows_loaded, gzipped.rows_loaded, gzipped.rows_duplicate) == (6, 0, 6)
    df = table(wh, lineage=True)
    assert df.height == 6
    assert df["source_file"].str.ends_with("!Calling_Detailed_Call_History.csv").all()


def test_header_spellings_map_to_one_schema(wh: Path) -> None:
    load(wh, fixture("header_variants.csv"))
    other = wh.parent / "other"
    load(other, fixture("bom_crlf.csv"))
    assert table(wh).equals(table(other))
    assert table(wh)["device_mac"].to_list()[0] == "6C710D8ABC10"


def test_null_markers_become_null(wh: Path) -> None:
    load(wh, fixture("null_markers.csv"))
    df = table(wh)
    first, second = df.row(0, named=True), df.row(1, named=True)
    assert first["answer_time"] is None and first["sub_client_type"] is None
    assert first["user_name"] is None and first["device_mac"] is None
    assert second["answer_time"] is None and second["ring_duration_seconds"] is None
    assert second["answered"] is False


def test_booleans_in_any_case(wh: Path) -> None:
    load(wh, fixture("boolean_casing.csv"))
    assert table(wh)["answered"].to_list() == [True, False, True, False]


def test_booleans_as_excel_writes_them_in_other_languages(wh: Path, tmp_path: Path) -> None:
    """Excel re-saving an export in a German locale writes `Answered` as `WAHR` / `FALSCH`
    (with `;` and decimal commas, which load): every leg was a `bad_boolean` and the file
    failed the reject rate. French, Polish and Russian words too, in any case."""
    rows = _fixture_rows("boolean_casing.csv")
    at = rows[0].index("Answered")
    for row, word in zip(rows[1:], ["WAHR", "FALSCH", "vrai", "Fałsz"], strict=True):
        row[at] = word
    path = tmp_path / "excel_de.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        csv.writer(out, delimiter=";").writerows(rows)
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.rows_rejected) == (4, 0), f.message
    assert table(wh)["answered"].to_list() == [True, False, True, False]


def test_timestamp_forms_and_site_offset(wh: Path) -> None:
    load(wh, fixture("timestamp_forms.csv"))
    df = table(wh)
    assert df["release_time"].to_list() == [
        datetime(2026, 10, 1, 10, 1, 0, 621000, tzinfo=UTC),
        datetime(2026, 10, 2, 11, 2, 32, tzinfo=UTC),
        datetime(2026, 10, 3, 12, 1, 0, tzinfo=UTC),
    ]
    assert df["start_time"][1] == datetime(2026, 10, 2, 11, 0, 0, tzinfo=UTC)
    assert df["site_timezone_offset_minutes"].to_list() == [-300, -300, 330]
    assert df["call_date"].cast(pl.String).to_list() == ["2026-10-01", "2026-10-02", "2026-10-03"]


def test_a_fraction_finer_than_milliseconds_is_kept_to_the_microsecond() -> None:
    """Control Hub writes milliseconds; another tool's finer fraction is kept to the
    microsecond, digits past it dropped (docs/webex-dch.md#canonical-columns)."""
    written = ["2026-10-01T14:03:27.412Z", "2026-10-01T14:03:27.412345Z"]
    written += ["2026-10-01T14:03:27.4123456Z", "2026-10-01 14:03:27.412345678+00:00"]
    parsed = pl.DataFrame({"t": written}).select(parse_timestamp(pl.col("t")))["t"]
    assert [t.microsecond for t in parsed] == [412000, 412345, 412345, 412345]


def test_a_time_whose_zone_is_written_utc_is_that_instant(wh: Path, tmp_path: Path) -> None:
    """A database's export writes the zone as `UTC` after the time (BigQuery's CSV:
    `2026-10-01 14:05:02.118000 UTC`; Go's `... +0000 UTC`): every record was a
    bad_timestamp and the file failed. It is the instant in UTC; `UTC` after another
    offset (`+02:00 UTC`) contradicts it and stays a bad timestamp."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [
        row(1, **{"Start time": "2026-10-01 14:05:02.118000 UTC"}),
        row(2, **{"Start time": "2026-10-01 14:05:03.5 +0000 UTC"}),
        row(3, **{"Start time": "2026-10-01T14:05:04.118+02:00 UTC"}),
    ]
    path = _write(tmp_path / "bigquery.csv", csv_text(HEADERS, legs))
    (f,) = load(wh, path, max_reject_rate=0.5).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 1)
    assert rejects(wh)["reason"].to_list() == ["bad_timestamp"]
    starts = sorted(t.isoformat() for t in table(wh)["start_time"])
    assert starts == ["2026-10-01T14:05:02.118000+00:00", "2026-10-01T14:05:03.500000+00:00"]


def test_a_time_whose_zone_is_written_gmt_is_that_instant(wh: Path, tmp_path: Path) -> None:
    """`GMT` after the time is the zone `UTC` names (`... GMT`, `... GMT+00:00`): every such
    record was a bad_timestamp while `UTC` loaded. `GMT+05:30` (Java's `z` for an offset zone)
    is that offset; `GMT` after another offset (`+02:00 GMT`) contradicts it and stays bad."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [
        row(1, **{"Start time": "2026-09-01T06:00:00 GMT"}),
        row(2, **{"Start time": "2026-09-01T06:00:01 GMT+00:00"}),
        row(3, **{"Start time": "2026-09-01 06:00:02.5 +0000 GMT"}),
        row(4, **{"Start time": "2026-09-01T06:00:03 GMT+05:30"}),
        row(5, **{"Start time": "2026-09-01T06:00:04+02:00 GMT"}),
    ]
    path = _write(tmp_path / "gmt.csv", csv_text(HEADERS, legs))
    (f,) = load(wh, path, max_reject_rate=0.5).files
    assert (f.rows_loaded, f.rows_rejected) == (4, 1), f.message
    assert rejects(wh)["reason"].to_list() == ["bad_timestamp"]
    starts = sorted(t.isoformat() for t in table(wh)["start_time"])
    assert starts == [
        "2026-09-01T00:30:03+00:00",
        "2026-09-01T06:00:00+00:00",
        "2026-09-01T06:00:01+00:00",
        "2026-09-01T06:00:02.500000+00:00",
    ]


def test_a_fraction_of_a_second_after_a_comma_is_read(wh: Path, tmp_path: Path) -> None:
    """ISO 8601 allows a comma before the fraction of a second (`14:05:02,118`, as log4j's
    ISO8601 layout writes it): every such record was a bad_timestamp and the file failed.
    A fraction of a minute (`14:05,5`) stays a bad timestamp."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [
        row(1, **{"Start time": "2026-10-01T14:05:02,118Z"}),
        row(2, **{"Start time": "2026-10-01 14:05:03,5+02:00"}),
        row(3, **{"Start time": "2026-10-01 14:05,5Z"}),
    ]
    path = _write(tmp_path / "comma.csv", csv_text(HEADERS, legs))
    (f,) = load(wh, path, max_reject_rate=0.5).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 1)
    assert rejects(wh)["reason"].to_list() == ["bad_timestamp"]
    starts = sorted(t.isoformat() for t in table(wh)["start_time"])
    assert starts == ["2026-10-01T12:05:03.500000+00:00", "2026-10-01T14:05:02.118000+00:00"]


def test_a_site_timezone_in_hours_is_quarantined_not_read_as_minutes(
    wh: Path, tmp_path: Path
) -> None:
    """`Site timezone` is minutes from UTC (-300). A file giving hours (-5, 5.5 is refused
    already) loaded -5 as five minutes: every local time of the site off by 4 h 55 min,
    and cdr validate's range (-720..840) passed it. Every zone's offset is a multiple of 15
    minutes (+5:45, -9:30 included); anything else is quarantined."""
    rows = _fixture_rows("timestamp_forms.csv")
    at = rows[0].index("Site timezone")
    rows[1][at], rows[2][at], rows[3][at] = "-5", "345", "-570"
    path = _write_rows(tmp_path / "hours.csv", rows)
    (f,) = load(wh, path, max_reject_rate=0.5).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 1)
    (bad,) = rejects(wh).to_dicts()
    assert (bad["source_row"], bad["reason"]) == (2, "bad_timezone_offset")
    assert "Site timezone: -5 is no offset in minutes" in bad["detail"]
    assert sorted(table(wh)["site_timezone_offset_minutes"].to_list()) == [-570, 345]


def test_a_site_timezone_in_seconds_is_quarantined_not_read_as_minutes(
    wh: Path, tmp_path: Path
) -> None:
    """A `Site timezone` in seconds is a multiple of 15 too: -14400 (UTC-4) loaded as minutes
    put a call at 10:00Z on 10-01 on the site's 2026-09-21 10:00 (-240 h), its local day,
    month and hour wrong in every report, with only a `cdr validate` warning. The world's
    zones run from -12:00 to +14:00: -720 and 840 minutes load (the ends), -14400, 19800
    (+5:30 in seconds) and -900 (15 hours) are quarantined."""
    rows = _fixture_rows("timestamp_forms.csv")
    at = rows[0].index("Site timezone")
    rows[1][at], rows[2][at], rows[3][at] = "-14400", "-720", "840"
    rows += [rows[1][:], rows[1][:]]
    rid = rows[0].index("Report ID")
    rows[4][at], rows[4][rid] = "19800", "r-seconds-2"
    rows[5][at], rows[5][rid] = "-900", "r-fifteen-hours"
    path = _write_rows(tmp_path / "seconds.csv", rows)
    (f,) = load(wh, path, max_reject_rate=0.9).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 3)
    bad = rejects(wh).sort("source_row").to_dicts()
    assert [(b["source_row"], b["reason"]) for b in bad] == [
        (2, "bad_timezone_offset"),
        (5, "bad_timezone_offset"),
        (6, "bad_timezone_offset"),
    ]
    assert "Site timezone: -14400 is no offset in minutes" in bad[0]["detail"]
    assert sorted(table(wh)["site_timezone_offset_minutes"].to_list()) == [-720, 840]


def test_timestamps_in_lower_case_rfc3339(wh: Path, tmp_path: Path) -> None:
    """RFC 3339 allows `t` and `z` in lower case; the `z` was read, the `t` was not."""
    text = fixture("timestamp_forms.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "lower.csv"
    path.write_text(text.replace("2026-10-01T10:00:00.100Z", "2026-10-01t10:00:00.100z"))
    assert "t10:00:00.100z" in path.read_text()
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 0)
    assert table(wh)["start_time"][0] == datetime(2026, 10, 1, 10, 0, 0, 100000, tzinfo=UTC)


def test_wxc_sdk_field_names_load_like_the_export_headers(wh: Path, tmp_path: Path) -> None:
    """wxc_sdk (docs/webex-dch.md#sources) dumps a record under its model's field names:
    snake case of the header, except `wx_cc_consult_merge_status` for `WxCC consult merge
    status`, which was kept in `extra` and its column left NULL."""
    header = {"WxCC consult merge status": "wx_cc_consult_merge_status", "User": "user"}
    with fixture("bom_crlf.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))[:1]
    rows[0]["WxCC consult merge status"] = "Yes"
    export = tmp_path / "export.csv"
    with export.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sdk = tmp_path / "sdk.json"
    renamed = {header.get(k, "_".join(k.split()).lower()): v for k, v in rows[0].items()}
    sdk.write_text(json.dumps({"items": [renamed]}), encoding="utf-8")
    load(wh, sdk)
    other = wh.parent / "export"
    load(other, export)
    assert table(wh)["wxcc_consult_merge_status"].to_list() == ["Yes"]
    assert table(wh).equals(table(other))


def test_webex_go_tag_ignores_case_and_spaces(wh: Path) -> None:
    result = load(wh, fixture("webex_go_casing.csv"))
    df = table(wh)
    assert df["is_webex_go"].to_list() == [True, True, True, False]
    assert df["sub_client_type"].to_list()[:2] == ["MOBILE_NETWORK", "Mobile_Network"]
    assert df["device_mac"].to_list()[:3] == [None, None, None]
    assert result.files[0].webex_go_rows == 3
    assert "does not document" not in (result.files[0].message or "")


def test_an_undocumented_sub_client_type_is_named_at_ingest(wh: Path, tmp_path: Path) -> None:
    """`Mobile Network` (a space, not an underscore) is no documented spelling: its legs load
    untagged, outside every Webex Go view. Only `cdr validate` said so; an ingest (or a
    fetch) said nothing. The file's note names the values and their rows."""
    rows = _fixture_rows("webex_go_casing.csv")
    at = rows[0].index("Sub client type")
    rows[1][at], rows[2][at], rows[4][at] = "Mobile Network", "Mobile Network", "MOBILE-NET"
    path = _write_rows(tmp_path / "spelled.csv", rows)
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.webex_go_rows) == (4, 1)
    assert (
        "Sub client type has values the Control Hub reference does not document: "
        "'Mobile Network' (2 rows), 'MOBILE-NET' (1 row); a leg is Webex Go"
    ) in (f.message or "")


def test_an_undocumented_value_of_thousands_of_characters_is_cut_in_the_note(
    wh: Path, tmp_path: Path
) -> None:
    """Five values of 60,000 characters each (within `max_value_bytes`) made a note of
    300 KB, printed and kept as the file's message in the ledger."""
    rows = _fixture_rows("webex_go_casing.csv")
    at = rows[0].index("Sub client type")
    rows[1][at] = "A" * 60_000
    path = _write_rows(tmp_path / "long.csv", rows)
    (f,) = load(wh, path).files
    assert f.rows_loaded == 4
    assert f"document: '{'A' * 40}…{'A' * 40}' (60,000 characters) (1 row);" in f.message
    assert len(f.message) < 1_000


def test_enum_typos_are_kept_as_data(wh: Path) -> None:
    load(wh, fixture("enum_typos.csv"))
    df = table(wh)
    assert df["user_type"][0] == "VirtuaLline"
    assert df["client_type"][1] == "SIP_TOLLFREE"


def test_a_direction_in_lower_case_is_the_direction(wh: Path, tmp_path: Path) -> None:
    """`originating` (a database or BI tool's export of the records) was stored as given:
    every call-level view, which reads ORIGINATING and TERMINATING, missed the leg, and only
    `cdr validate` failed (exit 4). The closed list's words are upper-case."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [row(1, Direction="originating"), row(2, Direction="Terminating")]
    (f,) = load(wh, _write(tmp_path / "bi.csv", csv_text(HEADERS, legs))).files
    assert f.rows_loaded == 2
    assert sorted(table(wh)["direction"].to_list()) == ["ORIGINATING", "TERMINATING"]


def test_empty_values_written_as_null_are_named_with_an_example(wh: Path, tmp_path: Path) -> None:
    """A database or BI tool's export writes an empty value as `NULL` (`N/A`, `null`): every
    unanswered leg was a bad_timestamp and the file failed with the reason's count and the
    general hint, nothing saying why. The detail names the word as an empty value, and the
    failure quotes the first such row; `NULL` stays data in a text column."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [row(i, **{"Answer time": "NULL", "Calling line ID": "NULL"}) for i in (1, 2, 3)]
    legs.append(row(4, **{"Answer time": "12:00"}))
    (f,) = load(wh, _write(tmp_path / "db.csv", csv_text(HEADERS, legs))).files
    assert f.status == "failed" and f.rows_rejected == 4
    empty = "'NULL' is an empty value written as a word: only an empty field, NA or na reads"
    assert f"Top reasons: bad_timestamp (4), for example line 2: Answer time: {empty}" in (
        f.message
    )
    details = rejects(wh).sort("source_row")["detail"].to_list()
    assert details[-1].startswith("Answer time: cannot parse '12:00' as a timestamp")
    ok = [row(5, **{"Calling line ID": "NULL"})]
    (g,) = load(wh, _write(tmp_path / "text.csv", csv_text(HEADERS, ok))).files
    assert g.rows_loaded == 1
    assert table(wh)["calling_line_id"].to_list() == ["NULL"]


def test_keys_written_as_null_are_quarantined_not_merged(wh: Path, tmp_path: Path) -> None:
    """A database's export with Report ID `NULL` on five legs loaded one of them and counted
    four as duplicates of it (exit 0): the word was kept as text, one Report ID for all. A
    key or required text value written as an empty word is missing; the legs with real ids
    load, and the word stays data in a column that is neither."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [row(i, **{"Report ID": word}) for i, word in enumerate(("NULL", "null", "N/A"), 1)]
    legs.append(row(4, **{"Correlation ID": "(null)"}))
    legs.append(row(5, **{"Direction": "None"}))
    legs += [row(i, **{"Calling line ID": "NULL"}) for i in range(6, 600)]
    (f,) = load(wh, _write(tmp_path / "db.csv", csv_text(HEADERS, legs))).files
    assert (f.rows_loaded, f.rows_duplicate, f.rows_rejected) == (594, 0, 5)
    quarantined = rejects(wh).sort("source_row")
    assert quarantined["reason"].unique().to_list() == ["missing_required"]
    assert quarantined["detail"].to_list() == [
        "Report ID: 'NULL' is an empty value written as a word: only an empty field, NA or na "
        "reads as empty",
        "Report ID: 'null' is an empty value written as a word: only an empty field, NA or na "
        "reads as empty",
        "Report ID: 'N/A' is an empty value written as a word: only an empty field, NA or na "
        "reads as empty",
        "Correlation ID: '(null)' is an empty value written as a word: only an empty field, NA "
        "or na reads as empty",
        "Direction: 'None' is an empty value written as a word: only an empty field, NA or na "
        "reads as empty",
    ]
    assert set(table(wh)["calling_line_id"].to_list()) == {"NULL"}


def test_documented_enum_values_in_another_case_are_stored_as_documented(
    wh: Path, tmp_path: Path
) -> None:
    """The export that lower-cases `Direction` (a database or BI tool's) lower-cases every
    value: `sip_inbound` and `user` were stored as given, so fct_calls, which compares the
    documented spellings, read each inbound call as outbound and every call unanswered with
    no talk time (exit 0, validate only warning). A documented value in any case is stored
    as documented; other values of the open enums stay as delivered."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [
        row(1, **{"Call type": "sip_inbound", "User type": "user", "Call outcome": "SUCCESS"}),
        row(2, **{"Client type": "wxc_client", "User type": "virtualline"}),
        row(3, **{"User type": "VirtuaLline", "Releasing party": "remote"}),
        row(4, **{"Call type": "sip_new_kind", "User type": "NewService"}),
    ]
    (f,) = load(wh, _write(tmp_path / "bi.csv", csv_text(HEADERS, legs))).files
    assert f.rows_loaded == 4
    df = table(wh).sort("correlation_id")
    assert df["call_type"].to_list() == [
        "SIP_INBOUND",
        "SIP_ENTERPRISE",
        "SIP_ENTERPRISE",
        "sip_new_kind",
    ]
    assert df["user_type"].to_list() == ["User", "VirtualLine", "VirtuaLline", "NewService"]
    assert df["client_type"].to_list()[:2] == ["WXC_DEVICE", "WXC_CLIENT"]
    assert df["call_outcome"].to_list()[0] == "Success"
    assert df["releasing_party"].to_list()[2] == "Remote"


def test_the_same_records_with_upper_case_uuids_are_the_same_records(
    wh: Path, tmp_path: Path
) -> None:
    """A database's export of the records (SQL Server writes a uniqueidentifier in upper
    case) loaded after Control Hub's: each Report ID in upper case was another record, so
    every leg counted twice and every call split in two (exit 0). The UUIDs that key, group
    or join a leg are stored lower case; an id that is no UUID keeps its case."""
    from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

    legs = [row(1), row(2), row(3, **{"Report ID": "Hand-Made-3"})]
    first = _write(tmp_path / "control_hub.csv", csv_text(HEADERS, legs))
    ids = {HEADERS.index(h) for h in ("Report ID", "Correlation ID", "User UUID", "Org UUID")}
    shouted = [[v.upper() if i in ids else v for i, v in enumerate(leg)] for leg in legs]
    second = _write(tmp_path / "database.csv", csv_text(HEADERS, shouted))
    a, b = load(wh, first, second).files
    assert (a.rows_loaded, b.rows_loaded, b.rows_duplicate) == (3, 1, 2)
    df = table(wh)
    uuids = [leg[HEADERS.index("Report ID")] for leg in legs[:2]]
    assert sorted(df["report_id"].to_list()) == sorted([*uuids, "Hand-Made-3", "HAND-MADE-3"])
    assert df["correlation_id"].n_unique() == 3
    assert set(df["org_uuid"]) == {legs[0][HEADERS.index("Org UUID")]}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _without_column(path: Path, header: str) -> tuple[Path, list[list[str]]]:
    """The clean export `bom_crlf.csv` written to `path` without the column `header`, and
    its rows as read."""
    rows = _fixture_rows("bom_crlf.csv")
    at = rows[0].index(header)
    return _write_rows(path, [r[:at] + r[at + 1 :] for r in rows]), rows


def test_an_export_without_sub_client_type_says_its_webex_go_legs_cannot_be_told(
    wh: Path, tmp_path: Path
) -> None:
    """Without the column every leg loads as not Webex Go: the file loaded with exit 0 and
    no word (the missing columns went to the log at info level only), its Webex Go legs
    absent from fct_webex_go_calls and the licence reports."""
    path, rows = _without_column(tmp_path / "trimmed.csv", "Sub client type")
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded) == ("loaded", len(rows) - 1)
    assert "no 'Sub client type' column: Webex Go legs cannot be told" in f.message
    (g,) = load(wh, fixture("bom_crlf.csv")).files  # a whole export: no such note
    assert "Sub client type" not in (g.message or "")


def test_an_export_without_answered_or_duration_says_what_its_calls_lose(
    wh: Path, tmp_path: Path
) -> None:
    """A header without `Answered` (a column deleted in a spreadsheet) loaded with exit 0 and
    no word: every call unanswered, every one that rang a person missed; without `Duration`
    every call without talk time. Each absence is told in the file's message."""
    path, rows = _without_column(tmp_path / "no_answered.csv", "Answered")
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded) == ("loaded", len(rows) - 1)
    assert "no 'Answered' column: every leg of this file loads as not answered" in f.message
    assert "Duration" not in f.message
    path, _ = _without_column(tmp_path / "no_duration.csv", "Duration")
    (g,) = load(wh, path).files
    assert "no 'Duration' column: every leg of this file loads without its duration" in g.message
    assert "Answered" not in g.message


def test_an_export_without_report_id_says_its_legs_count_twice_beside_one_with_it(
    wh: Path, tmp_path: Path
) -> None:
    """A CSV a script wrote with chosen columns, no `Report ID`: its legs get `synth-` ids,
    and the Control Hub report of the same days, loaded after it, added every leg again
    (two rows per leg, each call's legs and minutes doubled), both files exit 0 without a
    word."""
    path, rows = _without_column(tmp_path / "script.csv", "Report ID")
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded) == ("loaded", len(rows) - 1)
    assert "no 'Report ID' column: each leg of this file gets a stand-in id" in f.message
    assert "count twice" in f.message
    (g,) = load(wh, fixture("bom_crlf.csv")).files  # what the note warns of
    assert (g.rows_loaded, g.rows_duplicate) == (len(rows) - 1, 0)
    assert "Report ID" not in (g.message or "")


@pytest.mark.parametrize(
    ("spelled", "shown"),
    [
        ("\u200bStart time", "'\\u200bStart time'"),
        ("Start time (UTC)", "'Start time (UTC)'"),
        # a Cyrillic S, which reads as the Latin one: the name quoted alone looked right
        (
            "\u0405tart time",
            "'\u0405tart time' (not ASCII: U+0405 CYRILLIC CAPITAL LETTER DZE, character 1)",
        ),
        # a name of 300,000 characters (within max_header_bytes) was quoted whole
        ("Start time" + "x" * 300_000, f"'Start time{'x' * 30}…{'x' * 40}' (300,010 characters)"),
    ],
)
def test_a_header_without_a_required_column_fails_the_file_naming_it(
    wh: Path, tmp_path: Path, spelled: str, shown: str
) -> None:
    """`Start time` behind a zero-width space (copied from a web page) or with a suffix is
    another column: every record was quarantined as `missing_required`, the whole export
    under rejects/, with 'fix the export' and no word of the header."""
    text = fixture("bom_crlf.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "renamed.csv"
    path.write_text(text.replace("Start time", spelled, 1), encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 0)
    assert "the header has no 'Start time' column, which every record needs" in f.message
    assert f"columns it does not know: {shown}" in f.message
    assert not (wh / "rejects").exists() or rejects(wh).height == 0


def test_the_note_of_new_columns_cuts_a_long_name(wh: Path, tmp_path: Path) -> None:
    """Header names of 300,000 characters, within `max_header_bytes`, were printed whole by
    the note `cdr ingest` and `cdr fetch` print (600 KB for two); one of 10,000
    loads (its values fit `max_value_bytes`), its note cut in the middle."""
    text = fixture("drift_columns.csv").read_text(encoding="utf-8")
    path = tmp_path / "long.csv"
    path.write_text(text.replace("Future column", "F" * 10_000, 1), encoding="utf-8")
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.unknown_columns == ["F" * 10_000]
    note = f"new columns kept in 'extra': {'F' * 40}…{'F' * 40} (10,000 characters)"
    assert f.new_columns_note() == note


@pytest.mark.parametrize(
    ("column", "spelled", "named"),
    [
        ("Duration", "\uff24uration", "U+FF24 FULLWIDTH LATIN CAPITAL LETTER D, character 1"),
        ("Location", "Loc\u0430tion", "U+0430 CYRILLIC SMALL LETTER A, character 4"),
    ],
)
def test_the_note_of_new_columns_names_a_lookalike_letter(
    wh: Path, tmp_path: Path, column: str, spelled: str, named: str
) -> None:
    """A column that is not required, its name spelt with a lookalike letter (a fullwidth D,
    a Cyrillic a), went to `extra` with a note quoting a name that read as the familiar
    one (`new columns kept in 'extra': Ｄuration`, beside `no 'Duration' column`): the
    user could not see why. The letter is named, with its place, as for a required one."""
    text = fixture("bom_crlf.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "lookalike.csv"
    path.write_text(text.replace(column, spelled, 1), encoding="utf-8")
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.unknown_columns == [spelled]
    assert f.new_columns_note() == f"new columns kept in 'extra': {spelled} (not ASCII: {named})"


def test_drift_keeps_unknown_columns_and_nulls_missing(wh: Path) -> None:
    result = load(wh, fixture("drift_columns.csv"))
    f = result.files[0]
    assert f.unknown_columns == ["Future column"]
    assert "ring_duration_seconds" in f.missing_columns and "user_type" in f.missing_columns
    df = table(wh)
    assert df["extra"].to_list() == [
        '{"Future column":"v0"}',
        '{"Future column":"v1"}',
        '{"Future column":"v2"}',
    ]
    assert df["transfer_type"].to_list() == ["AI", "AI", "AI"]
    assert df["ring_duration_seconds"].null_count() == 3


def test_quoted_commas_quotes_and_newlines(wh: Path) -> None:
    load(wh, fixture("quoted_fields.csv"))
    df = table(wh, lineage=True)
    assert df["user_name"][0] == 'Smith, "Jo"'
    assert df["calling_line_id"][1] == "line one\r\nline two"
    # the record after the embedded newline keeps its physical line number
    assert df["source_row"].to_list() == [2, 3, 5]


def test_missing_report_id_gets_a_stable_synthetic_id(wh: Path, tmp_path: Path) -> None:
    load(wh, fixture("missing_report_id.csv"))
    ids = table(wh)["report_id"].to_list()
    assert all(i.startswith("synth-") for i in ids) and len(set(ids)) == 2
    again = tmp_path / "again"
    load(again, fixture("missing_report_id.csv"))
    assert table(again)["report_id"].to_list() == ids


def test_api_json_numbers_and_lines_match_csv(wh: Path) -> None:
    load(wh, fixture("api_page.json"))
    other = wh.parent / "lines"
    load(other, fixture("api_lines.jsonl"))
    page, lines = table(wh), table(other)
    assert page.equals(lines)
    assert page["duration_seconds"].to_list() == [30, 31, 32]
    assert table(wh, lineage=True)["source_kind"].unique().to_list() == ["api_json"]
    # as the name says: the same three records from the CSV export give the same rows
    csv = wh.parent / "csv"
    load(csv, fixture("bom_crlf.csv"))
    assert page.equals(table(csv).head(3))
    assert page["site_timezone_offset_minutes"].to_list() == [-300, -300, -300]


def test_bad_rows_are_quarantined_with_line_reason_and_text(wh: Path) -> None:
    result = load(wh, fixture("bad_rows.csv"), max_reject_rate=1.0)
    f = result.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (7, 3, 4)
    rj = rejects(wh)
    assert rj["source_row"].to_list() == [4, 5, 6, 7]
    assert rj["reason"].to_list() == [
        "ragged_row",
        "bad_timestamp",
        "negative_duration",
        "missing_required",
    ]
    assert "cannot parse 'x7'" in rj["detail"][1] and "Start time" in rj["detail"][1]
    assert rj["raw_text"][2].startswith("2026-10-02T14:00:04.104Z,")
    assert set(rj["source_file"].to_list()) == {str(fixture("bad_rows.csv"))}
    assert table(wh).height == 3


def test_reject_rate_above_threshold_publishes_nothing(wh: Path) -> None:
    result = load(wh, fixture("bad_rows.csv"))  # default 1 %
    f = result.files[0]
    assert f.status == "failed" and result.exit_code == 3
    assert "bad_rows.csv" in f.message and "ragged_row (1)" in f.message
    assert table(wh).is_empty()
    assert rejects(wh).height == 4  # quarantined rows stay visible for diagnosis
    # the file is not marked loaded: after raising the threshold it loads
    again = load(wh, fixture("bad_rows.csv"), max_reject_rate=0.6)
    assert again.files[0].status == "loaded" and table(wh).height == 3


def test_truncated_last_line_fails_the_file(wh: Path, tmp_path: Path) -> None:
    """The file ends inside a quoted field of its last record, with no line break: it was
    cut short, and the records after the cut are missing, so it fails whatever the reject
    rate, as a cut gzip does. Its last line deleted, as the hint says, the rest loads."""
    result = load(wh, fixture("truncated_last_line.csv"), max_reject_rate=1.0)
    f = result.files[0]
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 4: the file ends inside a record" in f.message
    lines = fixture("truncated_last_line.csv").read_bytes().splitlines(keepends=True)
    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(b"".join(lines[:3]))
    (g,) = load(wh, fixed).files
    assert (g.status, g.rows_loaded, g.rows_rejected) == ("loaded", 2, 0)


def test_ragged_row_fixture(wh: Path) -> None:
    result = load(wh, fixture("ragged_row.csv"), max_reject_rate=1.0)
    # 25 values written unquoted; the display name "Müller, Hans" splits in two -> 26 fields
    assert rejects(wh)["detail"].to_list() == ["expected 28 fields, found 26"]
    assert result.files[0].rows_loaded == 1


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("empty.csv", "empty", "empty file"),
        ("header_only.csv", "empty", "header only"),
    ],
)
def test_empty_inputs_have_a_clear_outcome(wh: Path, name: str, status: str, message: str) -> None:
    result = load(wh, fixture(name))
    assert result.files[0].status == status and message in result.files[0].message
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not_dch.csv", "not a recognised export"),
    ],
)
def test_unusable_file_fails_with_exit_3_and_others_still_load(
    wh: Path, name: str, message: str
) -> None:
    result = load(wh, fixture(name), fixture("bom_crlf.csv"))
    bad, good = result.files
    assert bad.status == "failed" and message in bad.message and name in bad.message
    assert good.status == "loaded" and good.rows_loaded == 6
    assert result.exit_code == 3


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'Reception "5 inch', "stray_quote"),
        (b'"Reception 5 inch', "unbalanced_quote"),
        # a spreadsheet's text formula (to keep a leading zero or +): the detail names it
        (b'="2101"', "stray_quote"),
    ],
)
def test_unbalanced_quote_mid_file_is_quarantined_and_memory_stays_bounded(
    wh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: bytes, reason: str
) -> None:
    import cdr_pipeline.ingest.csv_split as splitter

    # a stray quote on line 3 would make every later byte "inside quotes"
    monkeypatch.setattr(splitter, "READ_BYTES", 4096)
    lines = fixture("bom_crlf.csv").read_bytes().split(b"\r\n")
    header, rows = lines[0], [r for r in lines[1:] if r]
    stray = rows[1].replace(b"Reception", bad)
    # no other quote after it: an opened field is then only found out at the end of the file
    # (or max_record_bytes later), not by a later quote that cannot close it
    plain = [r for r in rows if b'"' not in r]
    body = [rows[0], stray] + [plain[i % len(plain)] for i in range(2, 200)]
    src = tmp_path / "stray_quote.csv"
    src.write_bytes(b"\r\n".join([header, *body]) + b"\r\n")
    result = load(wh, src, max_reject_rate=1.0, max_record_bytes=16384)
    f = result.files[0]
    # 200 lines: only the stray one is quarantined; reading resumed right after it
    assert (f.rows_read, f.rows_rejected) == (200, 1)
    assert f.rows_loaded + f.rows_duplicate == 199
    report_ids = {next(csv.reader([r.decode()]))[16] for r in [rows[0], *plain]}
    assert f.rows_loaded == len(report_ids)
    rj = rejects(wh)
    assert rj["reason"].to_list() == [reason]
    assert rj["source_row"].to_list() == [3]
    assert rj["raw_text"][0].endswith(stray.decode().split(",")[-1])
    formula = "spreadsheet's text formula" in rj["detail"][0]
    assert formula == bad.startswith(b"=")


def test_semicolon_separated_export_loads_like_the_comma_one(wh: Path, tmp_path: Path) -> None:
    load(wh, fixture("semicolon_excel.csv"))
    other = tmp_path / "commas"
    load(other, fixture("bom_crlf.csv"))
    semi, comma = table(wh), table(other).head(3)
    assert semi.equals(comma)
    assert semi["user_name"][1] == "Müller, Hans"


def test_a_row_with_256_separators_too_many_is_ragged(wh: Path, tmp_path: Path) -> None:
    # the splitter counts separators modulo 256 (csv_split._split_records): a row whose
    # count agrees only modulo 256 must still be quarantined, by the record-by-record screen
    lines = fixture("bom_crlf.csv").read_bytes().splitlines(keepends=True)
    wide = lines[2].rstrip(b"\r\n") + b"," * 256 + b"\r\n"
    path = tmp_path / "wide_row.csv"
    path.write_bytes(b"".join([*lines[:2], wide, *lines[3:]]))
    result = load(wh, path, max_reject_rate=1.0)
    assert (result.files[0].rows_loaded, result.files[0].rows_rejected) == (len(lines) - 2, 1)
    found = rejects(wh)
    assert found["reason"].to_list() == ["ragged_row"] and found["source_row"].to_list() == [3]


def test_an_export_saved_as_windows_1252_fails_saying_how_to_convert_it(
    wh: Path, tmp_path: Path
) -> None:
    """Accented names in Windows-1252 are not UTF-8: every row with one is quarantined, the
    file fails on the reject rate, and its message says the file is not UTF-8 and how to
    convert it. Converted as it says, the same rows load whole, names intact."""
    rows = _fixture_rows("bom_crlf.csv")
    user = rows[0].index("User")
    for row in rows[1:]:
        row[user] = "Lefèvre, Zoë"
    lines = "".join(",".join(f'"{v}"' for v in row) + "\r\n" for row in rows)
    latin = tmp_path / "export.csv"
    latin.write_bytes(lines.encode("cp1252"))
    (f,) = load(wh, latin).files
    assert (f.status, f.rows_rejected, f.exit_code) == ("failed", len(rows) - 1, 3)
    assert "invalid_utf8" in f.message and "not UTF-8" in f.message
    assert "iconv -f WINDOWS-1252 -t UTF-8" in f.message
    converted = tmp_path / "export-utf8.csv"
    converted.write_text(latin.read_bytes().decode("cp1252"), encoding="utf-8")
    (g,) = load(wh, converted).files
    assert (g.status, g.rows_loaded) == ("loaded", len(rows) - 1)
    assert set(table(wh)["user_name"].to_list()) == {"Lefèvre, Zoë"}


def test_a_semicolon_file_reads_decimal_commas(wh: Path, tmp_path: Path) -> None:
    """A spreadsheet that writes `;` between fields writes `12,50` for 12.5: in such a file a
    number column reads it. `1,234.50` (a comma grouping thousands, in a file whose commas are
    decimal) is quarantined; in a comma file `12,50` cannot be a decimal comma at all."""
    header = "subscription_id;licence_type;units;valid_from;valid_to;unit_price;currency\n"
    body = "".join(
        f"Sub-{i};Webex Go (Bring Your Own Device);5;2026-01-01;;{price};EUR\n"
        for i, price in enumerate(["12,50", "12.50", "-0,5", "1,234.50", "7"])
    )
    path = tmp_path / "entitlements_de.csv"
    path.write_text(header + body, encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.kind, f.rows_loaded, f.rows_rejected) == ("entitlements", 4, 1)
    prices = table(wh, "entitlements").sort("subscription_id")["unit_price"].to_list()
    assert prices == [12.5, 12.5, -0.5, 7.0]
    assert rejects(wh)["detail"].to_list() == ["unit_price: cannot parse '1,234.50' as a number"]


def test_a_tab_file_reads_the_numbers_its_marks_leave_beyond_doubt(
    wh: Path, tmp_path: Path
) -> None:
    """Excel's "Unicode Text" (UTF-16, tabs) separates by tabs in every locale, so the tab
    tells no decimal mark: a German sheet's `12,50` was quarantined as no number (every
    price of the sheet), where its `;` twin loads. Each value's marks are read where they
    leave no doubt (`12,50`, `0,125`, `1.234,50`, `1,234.50`, `12.50`); one mark grouping
    thousands (`1.250`, `1,250`: a thousand apart) stays no number, and a count `1.000`."""
    prices = ["12,50", "0,125", "1.234,50", "1,234.50", "12.50", "1.250", "1,250", "7"]
    units = ["5", "5", "5", "5", "5", "5", "5", "1.000"]
    rows = ["subscription_id\tlicence_type\tunits\tvalid_from\tunit_price\tcurrency"] + [
        f"Sub-{i}\tWebex Go (Bring Your Own Device)\t{n}\t01.02.2026\t{p}\tEUR"
        for i, (p, n) in enumerate(zip(prices, units, strict=True))
    ]
    path = tmp_path / "entitlements.txt"
    path.write_bytes("\r\n".join(rows).encode("utf-16") + "\r\n".encode("utf-16-le"))
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.kind, f.rows_loaded, f.rows_rejected) == ("entitlements", 5, 3), f.message
    got = table(wh, "entitlements").sort("subscription_id")["unit_price"].to_list()
    assert got == [12.5, 0.125, 1234.5, 1234.5, 12.5]
    assert rejects(wh)["detail"].to_list() == [
        "unit_price: cannot parse '1.250' as a number",
        "unit_price: cannot parse '1,250' as a number",
        "units: cannot parse '1.000' as an integer",
    ]


def test_cr_cr_lf_line_ends_load_like_crlf(wh: Path, tmp_path: Path) -> None:
    """CR CR LF: CRLF converted once more, as a CSV written in text mode on Windows comes out
    (Python's csv without newline=''). It was refused as "old Mac (CR only) line endings"."""
    data = fixture("bom_crlf.csv").read_bytes()
    assert data.count(b"\r\n") > 3
    path = tmp_path / "crcrlf.csv"
    path.write_bytes(data.replace(b"\r\n", b"\r\r\n"))
    (f,) = load(wh, path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 6, 6, 0)
    other = tmp_path / "crlf"
    load(other, fixture("bom_crlf.csv"))
    assert table(wh).equals(table(other))


def test_a_semicolon_file_reads_grouped_thousands_in_whole_numbers(
    wh: Path, tmp_path: Path
) -> None:
    """There a dot groups thousands: 1.000 licences are a thousand, never one (it read as
    1.0, an integer); `1.5` is no whole number and is quarantined."""
    header = "subscription_id;licence_type;units;valid_from;valid_to;unit_price;currency\n"
    body = "".join(
        f"Sub-{i};Webex Go Mobile (Mobile Operator);{units};2026-01-01;;20;EUR\n"
        for i, units in enumerate(["1.000", "12.500", "250", "36,0", "1.5"])
    )
    path = tmp_path / "entitlements_de.csv"
    path.write_text(header + body, encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (4, 1)
    units = table(wh, "entitlements").sort("subscription_id")["units"].to_list()
    assert units == [1000, 12500, 250, 36]
    assert rejects(wh)["reason"].to_list() == ["bad_integer"]


def test_a_semicolon_file_quarantines_a_price_whose_dot_may_group_thousands(
    wh: Path, tmp_path: Path
) -> None:
    """`1.000` in a price of a semicolon file is a thousand in the locale that writes decimal
    commas, and 1.0 in a file that writes decimal dots (both come with `;`): a 1000x error
    either way, so it is quarantined, not read as 1.0. `12.50` and `0.125` stay readable, and
    so does `1.234,50`: its comma leaves no doubt that its dot groups thousands."""
    header = "subscription_id;licence_type;units;valid_from;valid_to;unit_price;currency\n"
    body = "".join(
        f"Sub-{i};Webex Go (Bring Your Own Device);5;2026-01-01;;{price};EUR\n"
        for i, price in enumerate(["1.000", "12.50", "0.125", "2.500.000", "1.234,50"])
    )
    path = tmp_path / "entitlements_de.csv"
    path.write_text(header + body, encoding="utf-8")
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 2)
    prices = table(wh, "entitlements").sort("subscription_id")["unit_price"].to_list()
    assert prices == [12.5, 0.125, 1234.5]
    assert sorted(rejects(wh)["detail"].to_list()) == [
        "unit_price: cannot parse '1.000' as a number",
        "unit_price: cannot parse '2.500.000' as a number",
    ]


def test_a_blank_required_text_value_is_missing(wh: Path, tmp_path: Path) -> None:
    """An empty Correlation ID was quarantined as missing but one of blanks loaded: every leg
    with `"   "` was one call of the views, and the validation's not-null check passed it.
    Blanks (a spreadsheet's round trip, a hand edit) are no value of a required column."""
    with fixture("bom_crlf.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    rows[1][rows[0].index("Correlation ID")] = "   "
    rows[2][rows[0].index("Direction")] = " \t"
    path = tmp_path / "blank_required.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (len(rows) - 3, 2)
    assert rejects(wh)["detail"].to_list() == [
        "Correlation ID: required value is missing",
        "Direction: required value is missing",
    ]


def _unicode_text(rows: list[list[str]], codec: str = "utf-16") -> bytes:
    """`rows` as Excel's "Unicode Text" writes them: UTF-16 (its byte order mark first),
    tab-separated, CRLF line ends, a field quoted when it holds a tab, quote or line end."""
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\r\n").writerows(rows)
    return (out.getvalue() if codec == "utf-16" else "\ufeff" + out.getvalue()).encode(codec)


def _packed(kind: str, name: str, data: bytes) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "zip":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
        return out.getvalue()
    return data


@pytest.mark.parametrize(
    ("codec", "kind"),
    [("utf-16", "plain"), ("utf-16-be", "gzip"), ("utf-16", "zip")],
)
def test_utf16_csv_loads_as_its_utf8_twin(wh: Path, tmp_path: Path, codec: str, kind: str) -> None:
    """Excel's "Unicode Text" (UTF-16 behind its byte order mark, tabs) was refused (exit 3)
    though nothing was lost in it. It is transcoded while read: every row loads with its
    values (a comma and an umlaut in a quoted name), and a bad record is quarantined under
    its line number in the file, as in UTF-8. Both byte orders; gzipped and zipped too."""
    rows = list(csv.reader(io.StringIO(fixture("bom_crlf.csv").read_text("utf-8-sig"))))
    bad = [*rows[3][:2], "x7", *rows[3][3:]]  # line 4: a Duration that is no number
    src = tmp_path / "calls_unicode.txt"
    src.write_bytes(_packed(kind, "calls.txt", _unicode_text([*rows[:3], bad, *rows[4:]], codec)))
    (f,) = load(wh, src, max_reject_rate=1.0).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 5, 1), f.message
    assert "Müller, Hans" in table(wh)["user_name"].to_list()
    (reject,) = rejects(wh).iter_rows(named=True)
    assert reject["source_row"] == 4


def test_utf16_progress_counts_the_files_bytes(wh: Path, tmp_path: Path) -> None:
    """Progress counted the UTF-8 bytes a UTF-16 file is transcoded to, about half of its
    own: the last chunk of a file read to its end stood near 50 %. It counts the file's."""
    from cdr_pipeline.ingest import ProgressEvent, ingest_paths
    from tests.ingest.helpers import settings

    rows = list(csv.reader(io.StringIO(fixture("bom_crlf.csv").read_text("utf-8-sig"))))
    src = tmp_path / "calls_unicode.txt"
    src.write_bytes(_unicode_text(rows))
    events: list[ProgressEvent] = []
    ingest_paths(settings(wh, chunk_rows=2), [src], progress=events.append)
    read = [e.bytes_read for e in events if not e.done]
    size = src.stat().st_size
    assert len(read) == 3 and read == sorted(read)
    header = len(("\t".join(rows[0]) + "\r\n").encode("utf-16-le")) + 2  # and its BOM
    assert size - header - 8 <= read[-1] <= size, (read, size)


def test_utf16_file_offset_over_many_blocks() -> None:
    """Past the blocks it keeps, each UTF-8 offset still maps to its place in the file: a
    character of 1 UTF-8 byte is 2 of UTF-16, one of 3 (€) is 2 too."""
    from cdr_pipeline.ingest.encoding import MARKS, READ_BYTES, Utf16Text, file_offsets

    line = "a" * 99 + "\n"  # 100 UTF-8 bytes, 200 of UTF-16
    n = (MARKS + 8) * READ_BYTES // 200
    data = ("a€\n" + line * n).encode("utf-16")
    stream = io.BufferedReader(Utf16Text(io.BytesIO(data)))
    to_file = file_offsets(stream)
    assert len(stream.read()) == 5 + 100 * n
    assert to_file(5 + 100 * n) == len(data)
    assert to_file(5 + 100 * (n - 10)) == len(data) - 200 * 10
    assert file_offsets(io.BufferedReader(io.BytesIO(b"x")))(7) == 7  # UTF-8: as it is


def test_utf16_json_page_loads(wh: Path, tmp_path: Path) -> None:
    """Windows PowerShell 5.1 saves an API answer (`... | ConvertTo-Json > page.json`) as
    UTF-16: it was refused, telling the user to save it again. It loads as its UTF-8 twin."""
    page = json.loads(fixture("api_page.json").read_text("utf-8"))
    src = tmp_path / "page.json"
    src.write_bytes(json.dumps(page, indent=4, ensure_ascii=False).encode("utf-16"))
    (f,) = load(wh, src).files
    assert (f.status, f.rows_loaded) == ("loaded", 3), f.message


def test_utf16_json_string_is_told_as_in_utf8(tmp_path: Path) -> None:
    """Transcoded, a UTF-16 head is about half its bytes: the head of a long JSON string was
    taken for the whole file, which then parsed as no JSON and failed as a CSV header that
    matches no kind. It is told as its UTF-8 twin is: a JSON document holding a string."""
    from cdr_pipeline.errors import InputError
    from cdr_pipeline.ingest.sources import sources_of

    src = tmp_path / "answer.json"
    src.write_bytes(('"' + "x" * 600 + '"').encode("utf-16"))
    with pytest.raises(InputError, match="a JSON document holding a string"):
        sources_of(src)


def test_utf16_that_is_not_utf16_is_quarantined_not_replaced(wh: Path, tmp_path: Path) -> None:
    """A lone surrogate in a UTF-16 file (a character cut in half) is no text: its record is
    quarantined as not UTF-8, never loaded with a replacement character, never a crash."""
    rows = list(csv.reader(io.StringIO(fixture("bom_crlf.csv").read_text("utf-8-sig"))))
    data = _unicode_text(rows).replace(
        "Ann".encode("utf-16-le"), b"\x00\xd8nn".replace(b"n", b"n\x00"), 1
    )
    src = tmp_path / "calls.txt"
    src.write_bytes(data)
    (f,) = load(wh, src, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (5, 1), f.message
    (bad,) = rejects(wh).iter_rows(named=True)
    assert bad["reason"] == "invalid_utf8" and "a lone UTF-16 surrogate" in bad["detail"]
    # its note told to convert it from Windows-1252, which garbles every UTF-16 character
    assert "1 row(s) are not UTF-16" in f.message and "CSV UTF-8" in f.message
    assert "WINDOWS-1252" not in f.message


def test_utf16_file_failing_on_broken_characters_is_told_as_utf16(wh: Path, tmp_path: Path) -> None:
    """Past the reject rate, a UTF-16 file whose records are no UTF-16 failed advising
    `iconv -f WINDOWS-1252`: its hint says it is UTF-16, damaged, to be saved again."""
    from cdr_pipeline.ingest.encoding import BROKEN_UTF16

    rows = list(csv.reader(io.StringIO(fixture("bom_crlf.csv").read_text("utf-8-sig"))))
    data = _unicode_text(rows).replace("Ann".encode("utf-16-le"), b"\x00\xd8n\x00n\x00")
    src = tmp_path / "calls.txt"
    src.write_bytes(data)
    (f,) = load(wh, src).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert BROKEN_UTF16 in f.message and "WINDOWS-1252" not in f.message


def test_a_utf32_file_is_named_utf32(wh: Path) -> None:
    """Its byte order mark (FF FE 00 00) starts like UTF-16's: it was called UTF-16."""
    path = wh.parent / "utf32.csv"
    path.write_bytes(fixture("bom_crlf.csv").read_text(encoding="utf-8-sig").encode("utf-32"))
    (f,) = load(wh, path).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert "file is UTF-32 encoded" in f.message, f.message
