"""A run of many files touching the same days (the pages of a fetch, a folder of small
exports): a file of new records only goes beside the day's content and each such day is
gathered into one file once, before the commit (`merge.compact_appended`). The result must
be the one a run per file gives, record for record and count for count, whatever the files
do to the records held beside them (update, re-send, move across midnight, repeat)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row
from tests.ingest.helpers import load, partition_files, run_cdr, table, unlisted_files

BOM = b"\xef\xbb\xbf"


def _leg(i: int, day: int, report: str = "2026-10-05T00:00:00.000Z", **over: str) -> list[str]:
    start = f"2026-10-0{day}T1{i % 10}:00:0{i % 10}.{100 + i}Z"
    return row(i, **{"Start time": start, "Report time": report, **over})


def _pages(folder: Path) -> list[Path]:
    """Six pages, in the order a run reads them."""
    folder.mkdir()
    later = "2026-10-06T00:00:00.000Z"
    pages = [
        # 1: a new table, two days
        [_leg(i, 1 + i % 2) for i in range(1, 7)],
        # 2: new records on both days: beside them
        [_leg(i, 1 + i % 2) for i in range(7, 13)],
        # 3: a record of page 2 updated, one of page 1 sent again as it was, one new
        [
            _leg(7, 2, later, **{"Call outcome": "Failure"}),
            _leg(1, 2),
            _leg(13, 2),
        ],
        # 4: a record of page 2 moved across midnight to a new day, reported later
        [_leg(8, 3, later)],
        # 5: new records beside a day rewritten in this run, one of them twice
        [_leg(14, 1), _leg(15, 1), _leg(15, 1, later)],
        # 6: new records on every day: beside them, gathered at the end of the run
        [_leg(i, 1 + i % 3) for i in range(16, 20)],
    ]
    paths = []
    for n, rows in enumerate(pages, 1):
        path = folder / f"page-{n:03d}.csv"
        path.write_bytes(BOM + csv_text(HEADERS, rows).encode())
        paths.append(path)
    return paths


def _counts(result: object) -> list[tuple[int, ...]]:
    return [
        (f.rows_read, f.rows_loaded, f.rows_updated, f.rows_duplicate, f.webex_go_rows)
        for f in result.files  # type: ignore[attr-defined]
    ]


def test_pages_in_one_run_equal_a_run_per_page(tmp_path: Path) -> None:
    pages = _pages(tmp_path / "pages")
    one_run = tmp_path / "one"
    together = load(one_run, *pages)
    assert together.exit_code == 0, together.files
    apart = tmp_path / "apart"
    counts = []
    for page in pages:
        result = load(apart, page)
        assert result.exit_code == 0, result.files
        counts += _counts(result)
    assert _counts(together) == counts
    assert [c[:4] for c in counts] == [
        (6, 6, 0, 0),
        (6, 6, 0, 0),
        (3, 2, 1, 1),  # the update, the new record; the one sent again
        (1, 1, 1, 0),  # moved: an update, not an insert
        (3, 2, 0, 1),  # record 15's earlier line lost to its later one
        (4, 4, 0, 0),
    ]
    assert table(one_run).equals(table(apart))
    got = table(one_run)
    assert got.height == 19 and got["report_id"].is_unique().all()
    moved = got.filter(pl.col("report_id").str.ends_with("000000000008"))
    assert moved["call_date"].cast(pl.Utf8).to_list() == ["2026-10-03"]
    updated = got.filter(pl.col("report_id").str.ends_with("000000000007"))
    assert updated["call_outcome"].to_list() == ["Failure"]
    # one file a day, as a run per page leaves it, and nothing left beside the version
    files = partition_files(one_run)
    assert sorted(files) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert all(len(f) == 1 for f in files.values()), files
    assert unlisted_files(one_run) == []
    # one commit for the whole run
    runs = Ledger(Layout(one_run)).runs()
    assert runs["table_versions"].to_list() == ["call_legs=0"]


def test_kill_9_while_days_are_gathered_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    """Killed after the first gathered day, before any commit: readers see nothing of the
    run, and the rerun (in this process) cleans up after it and loads every page."""
    pages = _pages(tmp_path / "pages")
    killed = tmp_path / "killed"
    proc = run_cdr(
        "--warehouse", str(killed), "ingest", str(tmp_path / "pages"),
        env={"CDR_FAULT_KILL_AT": "compact"},
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    assert table(killed).height == 0
    assert unlisted_files(killed)  # written, never committed
    rerun = load(killed, *pages)
    assert rerun.exit_code == 0, rerun.files
    clean = tmp_path / "clean"
    load(clean, *pages)
    assert table(killed).equals(table(clean))
    assert unlisted_files(killed) == []
    runs = Ledger(Layout(killed)).runs()
    assert runs["status"].to_list() == ["interrupted", "ok"]
