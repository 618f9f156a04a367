"""One Report ID across the whole table: a record replaces its earlier version wherever it
lives, also when its start time moved across UTC midnight to another day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl

from cdr_pipeline.ingest import ingest_paths
from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row
from tests.ingest.helpers import load, partition_files, settings, table

BOM = b"\xef\xbb\xbf"


def _csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_bytes(BOM + csv_text(HEADERS, rows).encode())
    return path


def _leg(i: int, start: str, report_time: str, outcome: str = "Success") -> list[str]:
    return row(i, **{"Start time": start, "Report time": report_time, "Call outcome": outcome})


def test_a_redelivery_across_midnight_replaces_the_earlier_day(wh: Path, tmp_path: Path) -> None:
    # day 1: record 1 starts just before midnight; record 2 stays put
    first = _csv(
        tmp_path / "first.csv",
        [
            _leg(1, "2026-10-01T23:59:59.900Z", "2026-10-02T00:05:00.000Z"),
            _leg(2, "2026-10-01T10:00:00.000Z", "2026-10-01T10:05:00.000Z"),
        ],
    )
    load(wh, first)
    # the corrected record 1: its start time moved past midnight, reported later
    again = _csv(
        tmp_path / "again.csv",
        [_leg(1, "2026-10-02T00:00:00.100Z", "2026-10-02T06:00:00.000Z", "Failure")],
    )
    (f,) = load(wh, again).files
    assert (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate) == (1, 1, 1, 0)
    got = table(wh)
    assert got["report_id"].is_unique().all() and got.height == 2
    moved = got.filter(pl.col("report_id").str.ends_with("000000000001"))
    assert moved["call_date"].to_list() == [date(2026, 10, 2)]
    assert moved["call_outcome"].to_list() == ["Failure"]
    # day 1 was rewritten without it (one commit for both days)
    assert sorted(partition_files(wh)) == ["2026-10-01", "2026-10-02"]
    # the same as a warehouse that only ever saw the untouched record and the correction
    clean = tmp_path / "clean"
    load(
        clean,
        _csv(
            tmp_path / "c1.csv", [_leg(2, "2026-10-01T10:00:00.000Z", "2026-10-01T10:05:00.000Z")]
        ),
    )
    load(clean, again)
    assert table(clean).equals(got)


def test_an_older_version_on_another_day_loses_to_the_one_held(wh: Path, tmp_path: Path) -> None:
    newer = _csv(
        tmp_path / "newer.csv",
        [_leg(1, "2026-10-02T00:00:00.100Z", "2026-10-02T06:00:00.000Z", "Failure")],
    )
    load(wh, newer)
    older = _csv(
        tmp_path / "older.csv",
        [_leg(1, "2026-10-01T23:59:59.900Z", "2026-10-02T00:05:00.000Z")],
    )
    (f,) = load(wh, older).files
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate) == (1, 0, 1)
    got = table(wh)
    assert got.height == 1 and got["call_outcome"].to_list() == ["Failure"]
    assert got["call_date"].to_list() == [date(2026, 10, 2)]


def test_one_file_with_both_versions_keeps_the_later(wh: Path, tmp_path: Path) -> None:
    both = _csv(
        tmp_path / "both.csv",
        [
            _leg(1, "2026-10-01T23:59:59.900Z", "2026-10-02T00:05:00.000Z"),
            _leg(1, "2026-10-02T00:00:00.100Z", "2026-10-02T06:00:00.000Z", "Failure"),
            _leg(3, "2026-10-03T08:00:00.000Z", "2026-10-03T08:05:00.000Z"),
        ],
    )
    (f,) = load(wh, both).files
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate) == (3, 2, 1)
    got = table(wh)
    assert got.height == 2 and got["report_id"].is_unique().all()
    assert sorted(partition_files(wh)) == ["2026-10-02", "2026-10-03"]
    # a later run moving it back again: still one record, in the day it moved to
    back = _csv(
        tmp_path / "back.csv",
        [_leg(1, "2026-10-01T23:59:59.950Z", "2026-10-02T07:00:00.000Z", "Refusal")],
    )
    load(wh, back)
    got = table(wh)
    assert got.height == 2
    rec = got.filter(pl.col("report_id").str.ends_with("000000000001"))
    assert rec.select("call_date", "call_outcome").rows() == [(date(2026, 10, 1), "Refusal")]
    assert sorted(partition_files(wh)) == ["2026-10-01", "2026-10-03"]


def test_a_same_version_with_other_content_counts_as_loaded(wh: Path, tmp_path: Path) -> None:
    """The later load wins a tie of report times; when that changes what the table holds
    (a re-export edited in a spreadsheet), the ledger must say so, not call it a duplicate."""
    rows = [_leg(i, f"2026-10-01T1{i}:00:00.000Z", "2026-10-01T20:00:00.000Z") for i in (1, 2, 3)]
    load(wh, _csv(tmp_path / "first.csv", rows))
    edited = [list(r) for r in rows]
    edited[1][HEADERS.index("Duration")] = "555"
    (f,) = load(wh, _csv(tmp_path / "edited.csv", edited)).files
    assert (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate) == (3, 1, 1, 2)
    got = table(wh).sort("report_id")
    assert got["duration_seconds"].to_list()[1] == 555
    # the same content again, from another file: duplicates only
    (g,) = load(wh, _csv(tmp_path / "again.csv", edited[::-1])).files
    assert (g.rows_read, g.rows_loaded, g.rows_duplicate) == (3, 0, 3)
    assert table(wh).sort("report_id").equals(got)


def test_an_entitlement_amendment_counts_as_an_update(wh: Path, tmp_path: Path) -> None:
    """Entitlements have no version column: a later row of the same key replaces the held
    one (an amendment) and is an update; only the same row again is a duplicate."""
    head = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
    first = tmp_path / "entitlements.csv"
    first.write_text(head + "S30,BYOD,1,2026-01-01,,10,EUR\nS31,BYOD,2,2026-01-01,,10,EUR\n")
    load(wh, first)
    amend = tmp_path / "amendment.csv"
    amend.write_text(head + "S30,BYOD,4,2026-01-01,,10,EUR\nS31,BYOD,2,2026-01-01,,10,EUR\n")
    (f,) = load(wh, amend).files
    assert (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate) == (2, 1, 1, 1)
    units = table(wh, "entitlements").sort("subscription_id")["units"].to_list()
    assert units == [4, 2]


def test_an_export_with_its_columns_moved_holds_the_same_records(wh: Path, tmp_path: Path) -> None:
    """Columns the schema does not know are kept in `extra`, which is part of a record's
    content: an export of the same records whose columns only moved around (unknown ones
    included) is duplicates, not updates."""
    rows = [_leg(i, f"2026-10-01T1{i}:00:00.000Z", "2026-10-01T20:00:00.000Z") for i in (1, 2, 3)]
    headers = [*HEADERS, "Zeta note", "Alpha note"]
    table_rows = [[*r, f"z{i}", f"a{i}"] for i, r in enumerate(rows)]
    first = tmp_path / "first.csv"
    first.write_bytes(BOM + csv_text(headers, table_rows).encode())
    load(wh, first)
    held = table(wh).sort("report_id")
    order = list(reversed(range(len(headers))))
    moved = tmp_path / "moved.csv"
    moved.write_bytes(
        BOM
        + csv_text(
            [headers[k] for k in order], [[r[k] for k in order] for r in table_rows]
        ).encode()
    )
    (f,) = load(wh, moved).files
    assert (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate) == (3, 0, 0, 3)
    assert table(wh).sort("report_id")["extra"].to_list() == held["extra"].to_list()
    assert held["extra"].to_list()[0] == '{"Alpha note":"a0","Zeta note":"z0"}'


def test_the_stream_copy_wins_a_tie_of_report_times(wh: Path, tmp_path: Path) -> None:
    """docs/webex-dch.md#dedup-key: of two versions with one Report time the cdr_stream copy
    is kept, whichever came first, also when the other copy lies on another day."""
    when = "2026-10-02T06:00:00.000Z"
    stream = _csv(
        tmp_path / "stream.csv",
        [
            _leg(1, "2026-10-01T23:59:59.900Z", when, "Failure"),
            _leg(2, "2026-10-01T10:00:00.000Z", when, "Failure"),
        ],
    )
    feed = _csv(
        tmp_path / "feed.csv",
        [
            _leg(1, "2026-10-02T00:00:00.100Z", when, "Success"),
            _leg(2, "2026-10-01T10:00:00.000Z", when, "Success"),
        ],
    )
    ingest_paths(settings(wh), [stream], source_kind="api_stream")
    (f,) = ingest_paths(settings(wh), [feed]).files
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate) == (2, 0, 2)
    got = table(wh, lineage=True)
    assert got["call_outcome"].to_list() == ["Failure", "Failure"]
    assert set(got["source_kind"]) == {"api_stream"}
    assert sorted(partition_files(wh)) == ["2026-10-01"]
    # the other order: the stream copies replace the feed's (one moved back a day)
    other = tmp_path / "other"
    ingest_paths(settings(other), [feed])
    (g,) = ingest_paths(settings(other), [stream], source_kind="api_stream").files
    assert (g.rows_read, g.rows_loaded, g.rows_updated, g.rows_duplicate) == (2, 2, 2, 0)
    assert sorted(partition_files(other)) == ["2026-10-01"]
    assert table(other).equals(table(wh))


def test_a_resent_copy_leaves_the_held_row_as_it_was_loaded(wh: Path, tmp_path: Path) -> None:
    """A duplicate changes nothing: not the held row's file, line or load order (an event's
    load order is what OUT_OF_ORDER_EVENT judges; a re-sent copy must not re-date it)."""
    rows = [_leg(i, f"2026-10-01T1{i}:00:00.000Z", "2026-10-01T20:00:00.000Z") for i in (1, 2, 3)]
    load(wh, _csv(tmp_path / "first.csv", rows))
    before = table(wh, lineage=True).sort("report_id")
    # the same records in another order (another file's content, so not skipped whole),
    # with one of them edited: that one is an update, the others are duplicates
    again = [list(r) for r in rows[::-1]]
    again[0][HEADERS.index("Duration")] = "555"
    (f,) = load(wh, _csv(tmp_path / "again.csv", again)).files
    assert (f.rows_loaded, f.rows_updated, f.rows_duplicate) == (1, 1, 2)
    after = table(wh, lineage=True).sort("report_id")
    kept = ["source_file", "source_row", "load_seq", "run_id"]
    assert after.select(kept)[:2].equals(before.select(kept)[:2])
    assert after["source_file"][2].endswith("again.csv") and after["duration_seconds"][2] == 555


def test_an_unknown_column_without_a_value_is_not_part_of_a_record(
    wh: Path, tmp_path: Path
) -> None:
    """An API page's items need not carry the same keys, and a JSON chunk's columns are the
    keys of its items: a record whose item lacks a key another item has, or holds it empty,
    has no value there. `extra` holds only the unknown columns with a value, so the record
    does not depend on its neighbours or the chunk size, and its re-delivery alone on a page
    is a duplicate, not an update."""

    def item(i: int) -> dict[str, str]:
        leg = _leg(i, "2026-10-01T10:00:00.000Z", "2026-10-01T10:05:00.000Z")
        return dict(zip(HEADERS, leg, strict=True))

    page = tmp_path / "page.json"
    page.write_text(
        json.dumps({"items": [{**item(1), "Alpha note": "a1"}, {**item(2), "Zeta note": None}]})
    )
    (f,) = load(wh, page).files
    assert (f.rows_read, f.rows_loaded) == (2, 2)
    assert table(wh).sort("report_id")["extra"].to_list() == ['{"Alpha note":"a1"}', None]
    one_by_one = tmp_path / "one_by_one"
    load(one_by_one, page, chunk_rows=1)
    assert table(one_by_one).equals(table(wh))
    alone = tmp_path / "alone.json"
    alone.write_text(json.dumps({"items": [item(2)]}))
    (f,) = load(wh, alone).files
    assert (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate) == (1, 0, 0, 1)
    # a CSV export whose unknown column is NA there holds the same record
    na = _csv(tmp_path / "na.csv", [])
    na.write_bytes(
        BOM
        + csv_text(
            [*HEADERS, "Alpha note"],
            [[*_leg(2, "2026-10-01T10:00:00.000Z", "2026-10-01T10:05:00.000Z"), "NA"]],
        ).encode()
    )
    (f,) = load(wh, na).files
    assert (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate) == (1, 0, 0, 1)


def test_a_later_zip_member_wins_a_tie_of_report_times(wh: Path, tmp_path: Path) -> None:
    """Members of one ZIP are loads in their order, as separate files are: on a tie of report
    times the later member's version is kept, whatever line it is on in its member (the
    members shared one load order, so the line numbers of two files decided)."""
    import zipfile

    rows = [_leg(i, f"2026-10-01T1{i}:00:00.000Z", "2026-10-01T20:00:00.000Z") for i in (1, 2)]
    edited = list(rows[1])
    edited[HEADERS.index("Duration")] = "555"
    archive = tmp_path / "report"  # as the Reports API serves it: no extension
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("part1.csv", BOM + csv_text(HEADERS, rows).encode())  # leg 2 on line 3
        zf.writestr("part2.csv", BOM + csv_text(HEADERS, [edited]).encode())  # on line 2
    first, second = load(wh, archive).files
    assert (first.rows_loaded, second.rows_loaded, second.rows_duplicate) == (2, 1, 0)
    got = table(wh, lineage=True).sort("report_id")
    assert got["duration_seconds"].to_list()[1] == 555
    assert got["source_file"].to_list()[1].endswith("!part2.csv")


def test_the_webex_go_count_is_of_the_legs_loaded(wh: Path, tmp_path: Path) -> None:
    """`go` (webex_go_rows) sits beside `loaded` in the summary: it counts the Webex Go legs
    the file loaded, not those it repeated or whose version lost. It counted every Webex Go
    row read, so a re-sent export of 3 Webex Go legs and 1 new leg said loaded 1, go 3."""
    go = {"Client type": "SIP", "Sub client type": "Mobile_Network"}
    legs = [row(i, **go) for i in (1, 2, 3)]
    # and a Webex Go line that a later line of the same version replaces
    (first,) = load(wh, _csv(tmp_path / "day.csv", [*legs, row(5, **go), row(5)])).files
    assert (first.rows_loaded, first.rows_duplicate, first.webex_go_rows) == (4, 1, 3)
    (again,) = load(wh, _csv(tmp_path / "again.csv", [*legs, row(4)])).files
    assert (again.rows_loaded, again.rows_duplicate, again.webex_go_rows) == (1, 3, 0)


def test_an_api_copy_wins_a_tie_over_a_csv_lacking_its_columns(wh: Path, tmp_path: Path) -> None:
    """A Control Hub CSV whose template lacks fields the API carries (Sub client type, Hold
    Duration), loaded after the cdr_feed JSON of the same records (one Report time), won the
    tie as the later load: the legs lost their Webex Go tag and hold times without a word.
    The API copy is kept, whichever came first; the CSV's copies are duplicates."""
    when = "2026-10-01T20:00:00.000Z"
    legs = [_leg(i, f"2026-10-01T1{i}:00:00.000Z", when) for i in (1, 2)]
    items = [dict(zip(HEADERS, leg, strict=True)) for leg in legs]
    for item in items:
        item |= {"Client type": "SIP", "Sub client type": "MOBILE_NETWORK", "Hold Duration": 7}
    page = tmp_path / "feed.json"
    page.write_text(json.dumps({"items": items}))
    drop = [HEADERS.index("Sub client type")]
    header = [h for i, h in enumerate(HEADERS) if i not in drop]
    cut = [[v for i, v in enumerate(leg) if i not in drop] for leg in legs]
    for leg in cut:
        leg[header.index("Client type")] = "SIP"
    report = tmp_path / "report.csv"
    report.write_bytes(BOM + csv_text(header, cut).encode())
    load(wh, page)
    (f,) = load(wh, report).files
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate) == (2, 0, 2)
    got = table(wh, lineage=True)
    assert got["is_webex_go"].to_list() == [True, True]
    assert got["hold_duration_seconds"].to_list() == [7, 7]
    # the other order: the API copies replace the CSV's
    other = tmp_path / "other"
    load(other, report)
    (g,) = load(other, page).files
    assert (g.rows_loaded, g.rows_updated) == (2, 2)
    assert table(other).equals(table(wh))
    # the API's copy of what a whole CSV held is a re-delivery, but takes its place: the
    # trimmed CSV loaded after it still loses
    whole = tmp_path / "whole.csv"
    full = [*HEADERS, "Hold Duration"]
    whole.write_bytes(BOM + csv_text(full, [[str(it[h]) for h in full] for it in items]).encode())
    third = tmp_path / "third"
    load(third, whole)
    (h,) = load(third, page).files
    assert (h.rows_loaded, h.rows_duplicate, h.webex_go_rows) == (0, 2, 0)
    assert set(table(third, lineage=True)["source_kind"]) == {"api_json"}
    (k,) = load(third, report).files
    assert (k.rows_loaded, k.rows_duplicate) == (0, 2)
    assert table(third).equals(table(wh))
