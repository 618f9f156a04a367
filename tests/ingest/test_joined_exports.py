"""Exports joined into one file (`cat a.csv b.csv > all.csv`): the second export's header,
BOM and all, lies in the body. It is no record: quarantined as `repeated_header`, the rows on
both sides load, also when the second header is spelled another way. The same header with its
columns in another order fails the file, since the rows after it would be read into the wrong
columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, rows

BOM = b"\xef\xbb\xbf"


def test_a_second_header_with_its_bom_is_quarantined_and_both_exports_load(
    tmp_path: Path,
) -> None:
    first = BOM + csv_bytes([line(r) for r in rows(150, 71)])
    second = BOM + csv_bytes([line(r) for r in rows(150, 72)])
    path = tmp_path / "joined.csv"
    path.write_bytes(first + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 301, 300, 1)
    assert table(tmp_path / "wh").height == 300
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (152, "repeated_header")
    assert bad["raw_text"].lstrip("\ufeff").startswith(HEADER[0])


def test_a_second_header_in_another_column_order_fails_the_file(tmp_path: Path) -> None:
    order = list(reversed(range(len(HEADER))))

    def reordered(row: list[str]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow([row[i] for i in order])
        return buf.getvalue().encode()

    first = csv_bytes([line(r) for r in rows(150, 73)])
    second = b"".join([reordered(HEADER), *(reordered(r) for r in rows(150, 74))])
    path = tmp_path / "joined.csv"
    path.write_bytes(first + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 152" in f.message and "another order" in f.message
    assert table(tmp_path / "wh").height == 0


def _snake(h: str) -> str:
    return "_".join(h.lower().split())


def _camel(h: str) -> str:
    first, *rest = h.split()
    return first[0].lower() + first[1:] + "".join(w[0].upper() + w[1:] for w in rest)


@pytest.mark.parametrize(
    "spell",
    [_snake, _camel, lambda h: h.replace(" ", "  "), lambda h: f" {h.title()} "],
    ids=["snake_case", "camelCase", "double blanks", "Title Case, padded"],
)
def test_a_second_header_spelled_another_way_is_quarantined_as_a_header(
    tmp_path: Path, spell: Callable[[str], str]
) -> None:
    """The second export came from another release or tool, its header drifted: it was
    quarantined as a record (`bad_timestamp`: `cannot parse 'report_time'`), the detail
    hiding what it was."""
    first = csv_bytes([line(r) for r in rows(150, 75)])
    second = BOM + line([spell(h) for h in HEADER]) + b"".join(line(r) for r in rows(150, 76))
    path = tmp_path / "joined.csv"
    path.write_bytes(first + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 301, 300, 1)
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (152, "repeated_header")
    assert "the header line again, spelled another way" in bad["detail"]
    assert f"'{HEADER[0]}'" in bad["detail"]


def test_a_second_header_spelled_and_ordered_another_way_fails_the_file(tmp_path: Path) -> None:
    order = list(reversed(range(len(HEADER))))
    first = csv_bytes([line(r) for r in rows(150, 77)])
    second = line([_snake(HEADER[i]) for i in order])
    second += b"".join(line([r[i] for i in order]) for r in rows(150, 78))
    path = tmp_path / "joined.csv"
    path.write_bytes(first + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 152" in f.message and "another order" in f.message


def test_a_device_list_joined_with_a_drifted_header(tmp_path: Path) -> None:
    header = "event_time,org_uuid,device_id,event_type,actor\n"
    again = "Event Time,orgId,deviceId,Event Type,Actor\n"
    body = [
        f"2026-10-01T00:{i // 60:02d}:{i % 60:02d}Z,0f000000-0000-4000-8000-000000000001,"
        f"D{i},PROVISIONED,admin@example.com\n"
        for i in range(200)
    ]
    path = tmp_path / "events.csv"
    path.write_text(header + "".join(body[:100]) + again + "".join(body[100:]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 200, 1), f.message
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (102, "repeated_header")


def test_a_second_header_with_other_columns_of_the_same_count_fails_the_file(
    tmp_path: Path,
) -> None:
    """A newer export (`ELIN` where the older one had `Releasing party`) joined to an older
    one: its header line was quarantined as a bad timestamp, the file `loaded`, and every
    ELIN of the second export sat in `releasing_party`."""
    last = HEADER.index("Releasing party")
    newer = [*HEADER[:last], "ELIN", *HEADER[last + 1 :]]
    second = [[*r[:last], "+15550100999", *r[last + 1 :]] for r in rows(150, 79)]
    first = csv_bytes([line(r) for r in rows(150, 80)])
    path = tmp_path / "joined.csv"
    path.write_bytes(first + line(newer) + b"".join(line(r) for r in second))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert "line 152: a header of another export appears here" in f.message
    assert "(ELIN not in the first header; Releasing party missing)" in f.message
    assert "load each export as a file of its own" in f.message
    assert table(tmp_path / "wh").height == 0


def test_a_small_second_export_with_a_column_added_fails_the_file(tmp_path: Path) -> None:
    """A newer export with one column more joined to a large older one: its header and each
    of its records were quarantined as `ragged_row`, few enough to stay under
    `max_reject_rate`, and the file `loaded` without them, exit 0. The header of another
    layout now fails the file, naming its line and the column that differs."""
    first = csv_bytes([line(r) for r in rows(400, 81)])
    second = line([*HEADER, "ELIN"]) + b"".join(line([*r, "+15550100999"]) for r in rows(2, 82))
    path = tmp_path / "joined.csv"
    path.write_bytes(first + BOM + second)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded) == ("failed", 3, 0)
    assert f"line 402: a header of another export appears here, with {len(HEADER) + 1} " in (
        f.message
    )
    assert "(ELIN not in the first header)" in f.message
    assert "load each export as a file of its own" in f.message
    assert table(tmp_path / "wh").height == 0


def test_a_ragged_row_that_is_no_header_is_still_quarantined(tmp_path: Path) -> None:
    """A record cut short (a few of its first fields, as a hand edit leaves it) is a
    `ragged_row`, whatever its first value: only most of the header's names make a header."""
    cut = HEADER[:2] + ["x"] * 3
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes([line(r) for r in rows(200, 83)] + [line(cut)]))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 200, 1)
    assert rejects(tmp_path / "wh")["reason"].to_list() == ["ragged_row"]


def test_daily_exports_of_a_small_site_joined_load(tmp_path: Path) -> None:
    """Seven daily exports of 40 legs joined with `cat`: six header lines of 286 (2.1 %)
    failed the reject-rate gate, and none of the 280 records loaded. A header line again is
    no record: it stays quarantined and counted, but the gate counts records only."""
    days = [BOM + csv_bytes([line(r) for r in rows(40, 90 + d)]) for d in range(7)]
    path = tmp_path / "week.csv"
    path.write_bytes(b"".join(days))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("loaded", 0), f.message
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (286, 280, 6)
    assert set(rejects(tmp_path / "wh")["reason"]) == {"repeated_header"}
    assert table(tmp_path / "wh").height == 280


def test_daily_exports_made_for_excel_joined_load(tmp_path: Path) -> None:
    """Exports that a tool made for Excel start with a `sep=;` line before the header. Seven
    of them joined with `cat`: the six `sep=;` lines in the body were `ragged_row` records
    ('expected 28 fields, found 2'), 6 of 292 (2.1 %), and none of the 280 records loaded.
    Such a line starts an export again, as its header line does: no record either."""

    def export(day: int) -> bytes:
        text = io.StringIO()
        csv.writer(text, delimiter=";", lineterminator="\r\n").writerows(
            [HEADER, *rows(40, 110 + day)]
        )
        return b"sep=;\r\n" + text.getvalue().encode()

    path = tmp_path / "week.csv"
    path.write_bytes(b"".join(export(d) for d in range(7)))
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("loaded", 0), f.message
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (292, 280, 12)
    bad = rejects(tmp_path / "wh")
    assert set(bad["reason"]) == {"repeated_header"}
    assert bad["source_row"].to_list()[:2] == [43, 44]
    assert bad["detail"][0].startswith("the 'sep=' line that starts an export again")
    assert table(tmp_path / "wh").height == 280


def test_a_bad_record_beside_repeated_headers_is_gated_on_the_records(tmp_path: Path) -> None:
    """Header lines do not dilute the share either: one ragged record in 60 (1.7 %) fails
    the 1 % gate, and the message counts records."""
    days = [BOM + csv_bytes([line(r) for r in rows(20, 100 + d)]) for d in range(3)]
    path = tmp_path / "joined.csv"
    path.write_bytes(b"".join(days) + b"cut,short\r\n")
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_rejected) == ("failed", 3, 3)
    assert "1 of 61 rows rejected" in f.message


def test_header_only_exports_joined_are_an_empty_file(tmp_path: Path) -> None:
    """Three header-only exports (days without calls) joined: no record, the two header
    lines after the first quarantined; the file is empty, as one header-only export is."""
    path = tmp_path / "quiet_days.csv"
    path.write_bytes((BOM + line(HEADER)) * 3)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_read, f.rows_rejected) == ("empty", 0, 2, 2)
    assert f.message == "header lines only, no rows"


@pytest.mark.parametrize(
    "footer",
    [
        b"Total rows: 60\r\n",
        b'"Total rows: 1,060"\r\n',
        b"Record count = 60" + b"," * (len(HEADER) - 1) + b"\r\n",
    ],
    ids=["plain", "quoted", "padded"],
)
def test_a_summary_line_under_the_records_is_no_record(tmp_path: Path, footer: bytes) -> None:
    """A day's export of 60 legs with a count under them (a report tool's footer, or one a
    person typed; padded to the header's width by a spreadsheet saving a wider selection):
    the line was a `ragged_row` or, padded, a record missing its required values, 1 of 61
    (1.6 %) over the 1 % gate, and none of the 60 records loaded. It is quarantined as a
    `summary_line` and, like a header line again, not counted by the gate."""
    path = tmp_path / "day.csv"
    path.write_bytes(BOM + csv_bytes([line(r) for r in rows(60, 130)]) + footer)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("loaded", 0), f.message
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (61, 60, 1)
    (bad,) = rejects(tmp_path / "wh").to_dicts()
    assert (bad["source_row"], bad["reason"]) == (62, "summary_line")
    assert table(tmp_path / "wh").height == 60


@pytest.mark.parametrize("filler", [b"Total rows: 60\r\n", line(HEADER)], ids=["sums", "headers"])
def test_lines_that_are_no_record_by_the_thousand_fail_the_gate(
    tmp_path: Path, filler: bytes
) -> None:
    """Lines that are no record are left out of the gate as far as one per record and 1,000
    more: 20 records under 3,000 summary lines (or the header line again 3,000 times) are no
    export. Each such line was left out: a file of millions of them was read to its end and
    loaded, exit 0. Past that allowance each counts as a record rejected."""
    path = tmp_path / "filler.csv"
    path.write_bytes(BOM + csv_bytes([line(r) for r in rows(20, 132)]) + filler * 3_000)
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code, f.rows_loaded, f.rows_rejected) == ("failed", 3, 0, 3_000)
    assert "1980 of 2000 rows rejected" in f.message and "no export" in f.message
    # within the allowance (a summary or header line per record) the records load
    path.write_bytes(BOM + csv_bytes([line(r) for r in rows(20, 133)]) + filler * 1_000)
    (g,) = load(tmp_path / "wh", path).files
    assert (g.status, g.rows_loaded, g.rows_rejected) == ("loaded", 20, 1_000)


def test_a_record_starting_like_a_summary_is_still_a_record(tmp_path: Path) -> None:
    """Only a count alone on its line is a summary: a short line whose first field is a
    summary word followed by other fields is a ragged record, gated as one."""
    path = tmp_path / "day.csv"
    path.write_bytes(BOM + csv_bytes([line(r) for r in rows(60, 131)]) + b"Total,60,legs\r\n")
    (f,) = load(tmp_path / "wh", path).files
    assert (f.status, f.exit_code) == ("failed", 3)
    assert rejects(tmp_path / "wh")["reason"].to_list() == ["ragged_row"]
