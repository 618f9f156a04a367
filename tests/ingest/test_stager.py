"""Stager: one staging Parquet per partition value, whether the input comes ordered by time
(pieces written at once) or with partitions interleaved (sorted, held, one row group per cut)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from cdr_pipeline.ingest.stager import ORDERED_CHUNK_PARTITIONS, Stager
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.schema import SCHEMAS

SCHEMA = SCHEMAS["calls"]
PART = "call_date"
LEGS = 600


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Real stored rows (every stored column plus call_date) of a generated 6-day export."""
    from tests.ingest.helpers import load

    base = tmp_path_factory.mktemp("stager_rows")
    src = base / "export.csv"
    write_call_export(src, legs=LEGS, seed=3, start=date(2026, 9, 1), days=6)
    wh = base / "wh"
    assert load(wh, src).files[0].rows_loaded == LEGS
    glob = str(wh / "tables" / SCHEMA.name / "*" / "*.parquet")
    df = pl.read_parquet(glob, hive_partitioning=True)
    assert df.height == LEGS and df[PART].n_unique() > ORDERED_CHUNK_PARTITIONS
    return df


def _chunks(df: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    return [df.slice(i, size) for i in range(0, df.height, size)]


def _stage(tmp_path: Path, frames: list[pl.DataFrame], max_pending: int) -> dict[str, Path]:
    stager = Stager(tmp_path / "rows", SCHEMA, max_pending_rows=max_pending)
    for frame in frames:
        stager.add(frame)
    return stager.close()


def _groups_by_flag(path: Path) -> dict[bool, int]:
    """Row groups of a call_legs file by their `is_webex_go` value; each must hold one value
    only (its statistics min = max), so that a filter on it skips the others."""
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("is_webex_go")
    counts: dict[bool, int] = {}
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        assert stats is not None and stats.has_min_max and stats.min == stats.max, (path, g)
        counts[stats.min] = counts.get(stats.min, 0) + 1
    return counts


def _assert_staged_equals_input(staged: dict[str, Path], rows: pl.DataFrame) -> None:
    assert set(staged) == {str(d) for d in rows[PART].unique()}
    for value, path in staged.items():
        assert path.is_file()
        got = pl.read_parquet(path)
        assert PART not in got.columns
        want = rows.filter(pl.col(PART) == date.fromisoformat(value)).drop(PART)
        assert_frame_equal(got.sort("report_id"), want.sort("report_id"))


def test_interleaved_chunks_land_in_their_partition_in_few_row_groups(
    tmp_path: Path, rows: pl.DataFrame
) -> None:
    shuffled = rows.sample(fraction=1.0, shuffle=True, seed=7)
    chunks = _chunks(shuffled, 50)
    assert all(c[PART].n_unique() > ORDERED_CHUNK_PARTITIONS for c in chunks)  # interleaved
    max_pending = 200
    staged = _stage(tmp_path, chunks, max_pending)
    _assert_staged_equals_input(staged, rows)
    assert SCHEMA.cluster_by == "is_webex_go" and rows["is_webex_go"].n_unique() == 2
    for path in staged.values():
        # for each value of is_webex_go: one row group per cut of max_pending rows, not one
        # per chunk
        for groups in _groups_by_flag(path).values():
            assert groups <= math.ceil(rows.height / max_pending)
            assert groups < len(chunks)


def test_ordered_chunks_are_written_as_they_come(tmp_path: Path, rows: pl.DataFrame) -> None:
    ordered = rows.sort("start_time")
    chunks = _chunks(ordered, 40)
    assert all(c[PART].n_unique() <= ORDERED_CHUNK_PARTITIONS for c in chunks)
    staged = _stage(tmp_path, chunks, 10_000)
    _assert_staged_equals_input(staged, rows)
    for value, path in staged.items():
        # nothing held back for a cut (max_pending_rows exceeds the input): each chunk's piece
        # of the partition is its own row group, one for each value of is_webex_go
        day = date.fromisoformat(value)
        touching = [c.filter(pl.col(PART) == day)["is_webex_go"].n_unique() for c in chunks]
        assert sum(_groups_by_flag(path).values()) == sum(touching)
        assert pq.ParquetFile(path).metadata.num_row_groups == sum(touching)


def test_an_ordered_chunk_then_interleaved_chunks_keep_every_row(
    tmp_path: Path, rows: pl.DataFrame
) -> None:
    first_date = rows[PART].min()
    day = rows.filter(pl.col(PART) == first_date).sort("report_id")
    head = day.head(day.height // 2)  # one partition only: written at once (string views)
    rest = rows.join(head.select("report_id"), on="report_id", how="anti")
    rest = rest.sample(fraction=1.0, shuffle=True, seed=11)
    chunks = _chunks(rest, 60)
    assert all(c[PART].n_unique() > ORDERED_CHUNK_PARTITIONS for c in chunks)
    assert all((c[PART] == first_date).any() for c in chunks[:3])
    # the rest is sorted and compacted (large strings) into the same file of first_date
    staged = _stage(tmp_path, [head, *chunks], 150)
    _assert_staged_equals_input(staged, rows)
    assert pq.ParquetFile(staged[str(first_date)]).metadata.num_rows == day.height


def test_interleaved_chunks_then_a_one_partition_chunk_keep_every_row(
    tmp_path: Path, rows: pl.DataFrame
) -> None:
    last_date = rows[PART].max()
    day = rows.filter(pl.col(PART) == last_date).sort("report_id")
    tail = day.tail(day.height // 2)
    rest = rows.join(tail.select("report_id"), on="report_id", how="anti")
    rest = rest.sample(fraction=1.0, shuffle=True, seed=13)
    # exactly max_pending rows: cut and written before `tail` comes
    # the last frame covers one partition only, into a file already open
    staged = _stage(tmp_path, [*_chunks(rest, 100), tail], rest.height)
    _assert_staged_equals_input(staged, rows)
    assert pq.ParquetFile(staged[str(last_date)]).metadata.num_rows == day.height


def test_staged_files_are_zstd_with_dictionaries_and_statistics_where_they_pay(
    tmp_path: Path, rows: pl.DataFrame
) -> None:
    staged = _stage(tmp_path, _chunks(rows.sample(fraction=1.0, shuffle=True, seed=5), 100), 300)
    assert {"report_id", "correlation_id"} <= set(SCHEMA.per_row)
    for path in staged.values():
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            cols = {
                group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)
            }
            assert {c.compression for c in cols.values()} == {"ZSTD"}
            for name in SCHEMA.per_row:
                assert not cols[name].has_dictionary_page, name
            assert cols["direction"].has_dictionary_page
            assert cols["start_time"].is_stats_set
            assert cols["report_id"].is_stats_set  # the key keeps its statistics
            assert not cols["location_name"].is_stats_set
            assert not cols["user_name"].is_stats_set


def test_discard_removes_the_staging_folder(tmp_path: Path, rows: pl.DataFrame) -> None:
    root = tmp_path / "staging" / "rows"
    stager = Stager(root, SCHEMA, max_pending_rows=100)
    ordered = rows.sort("start_time")
    stager.add(ordered.head(30))  # written at once: a file is open
    for chunk in _chunks(rows.sample(fraction=1.0, shuffle=True, seed=3), 80):
        stager.add(chunk)  # some cut and written, the last held
    assert list(root.glob("*.parquet"))
    stager.discard()
    assert not root.exists()
