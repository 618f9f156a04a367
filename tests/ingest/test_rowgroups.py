"""Webex Go legs live in row groups of their own, however a file was written (the stager, a
merge's rewrite, a query copied out), so that DuckDB skips the other legs' row groups when a
view filters on `is_webex_go`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.ingest import merge
from cdr_pipeline.ingest.rowgroups import ClusteredWriter, by_value, copy_query, gathered
from cdr_pipeline.samples import write_call_export
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.text import lit
from tests.ingest.helpers import load, partition_files, table

SCHEMA = SCHEMAS["calls"]


def _flags_of_row_groups(path: Path) -> list[bool]:
    """The `is_webex_go` value of each row group; fails when a row group holds both."""
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("is_webex_go")
    flags = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        assert stats is not None and stats.has_min_max, (path, g)
        assert stats.min == stats.max, f"{path.name}: row group {g} mixes Webex Go legs"
        flags.append(stats.min)
    return flags


def _assert_every_file_clustered(wh: Path) -> list[bool]:
    flags: list[bool] = []
    for files in partition_files(wh).values():
        for f in files:
            flags += _flags_of_row_groups(f)
    return flags


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("rowgroups") / "export.csv"
    write_call_export(src, legs=2_000, seed=5, start=date(2026, 9, 1), days=5)
    return src


def test_staged_merged_and_redelivered_files_keep_webex_go_legs_apart(
    tmp_path: Path, export: Path
) -> None:
    wh = tmp_path / "wh"
    # small chunks: interleaved cuts and ordered pieces both happen
    load(wh, export, chunk_rows=150)
    flags = _assert_every_file_clustered(wh)
    assert set(flags) == {True, False}
    before = table(wh)
    # every record again with a later report time: each day is merged and rewritten
    again = pl.read_csv(export, infer_schema=False)
    again = again.with_columns(pl.col("Report time").str.replace(r"^2026", "2027"))
    redelivery = tmp_path / "again.csv"
    again.write_csv(redelivery)
    (f,) = load(wh, redelivery).files
    assert f.rows_updated == before.height
    after = table(wh)
    assert after.height == before.height
    assert after["is_webex_go"].sum() == before["is_webex_go"].sum()
    assert set(_assert_every_file_clustered(wh)) == {True, False}
    # and DuckDB skips the row groups of the other legs when it filters on the flag
    files = [str(p) for fs in partition_files(wh).values() for p in fs]
    con = duckdb.connect()
    plan = con.execute(
        f"explain analyze select count(*) from read_parquet([{', '.join(map(lit, files))}]) "
        "where is_webex_go"
    ).fetchall()[0][1]
    scanned, total = (
        int(x) for x in plan.split("Row Groups Scanned:")[1].split("\n")[0].strip(" │").split("/")
    )
    assert scanned < total
    assert scanned == sum(_assert_every_file_clustered(wh))


def test_by_value_parts_a_table_by_the_flag() -> None:
    t = pa.table({"is_webex_go": [False, None, True, True, False, True], "n": range(6)})
    parts = by_value(t, SCHEMA)
    assert [(v, p["n"].to_pylist()) for v, p in parts] == [
        (False, [0, 4]),
        (True, [2, 3, 5]),
        (None, [1]),
    ]
    one = t.slice(2, 2)
    assert by_value(one, SCHEMA) == [(True, one)]  # one value: the table itself


def test_a_query_copied_out_is_clustered_and_bounded_per_row_group(tmp_path: Path) -> None:
    con = duckdb.connect()
    target = tmp_path / "out.parquet"
    stored = SCHEMA.stored_arrow_schema()
    # every stored column, NULL but the flag and the key; the flag alternates row by row
    cols = ", ".join(
        "i % 3 = 0 AS is_webex_go"
        if f.name == "is_webex_go"
        else "'r' || i AS report_id"
        if f.name == "report_id"
        else f'NULL AS "{f.name}"'
        for f in stored
    )
    rows = copy_query(con, f"SELECT {cols} FROM range(70000) AS t(i)", target, SCHEMA)
    assert rows == 70_000
    got = pq.read_table(target)
    assert got.schema == stored  # the table's one Arrow schema, whatever DuckDB handed over
    assert got.num_rows == 70_000 and len(got["report_id"].unique()) == 70_000
    flags = _flags_of_row_groups(target)  # each row group one value
    assert set(flags) == {True, False}
    meta = pq.ParquetFile(target).metadata
    assert max(meta.row_group(g).num_rows for g in range(meta.num_row_groups)) <= 30_720
    assert got["is_webex_go"].to_pylist().count(True) == len(range(0, 70_000, 3))


def test_a_writer_fed_mixed_rows_never_mixes_values_in_a_row_group(tmp_path: Path) -> None:
    stored = SCHEMA.stored_arrow_schema()
    writer = ClusteredWriter(tmp_path / "w.parquet", SCHEMA, max_rows=4)
    flags = [True, False, False, True, True, True, True, True, False]
    data = {f.name: pa.nulls(len(flags), f.type) for f in stored}
    data["is_webex_go"] = pa.array(flags)
    writer.write(pa.table(data, schema=stored))
    writer.close()
    # a row group per value whenever its buffer holds 4 rows, then what is left of each
    assert _flags_of_row_groups(tmp_path / "w.parquet") == [True, False, True]
    meta = pq.ParquetFile(tmp_path / "w.parquet").metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [4, 3, 2]
    got = pq.read_table(tmp_path / "w.parquet")["is_webex_go"].to_pylist()
    assert sorted(got) == sorted(flags)


def test_a_day_of_a_small_export_is_installed_as_staged_not_written_again(
    tmp_path: Path, export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day's staged file with one row group for each flag is already what a rewrite would
    write: it is installed as it is (a rewrite of every day of a small daily export cost
    half of its ingest). A day staged in pieces (small chunks) is still gathered."""
    rewrites: list[Path] = []
    rewrite = merge._rewrite

    def counted(con, schema, target, inc, cur, dedup):  # type: ignore[no-untyped-def]
        rewrites.append(target)
        return rewrite(con, schema, target, inc, cur, dedup)

    monkeypatch.setattr(merge, "_rewrite", counted)
    load(tmp_path / "whole", export)
    days = partition_files(tmp_path / "whole")
    assert len(days) >= 5 and not rewrites
    for (f,) in days.values():
        flags = _flags_of_row_groups(f)  # one group of each flag the day holds
        assert len(flags) == len(set(flags))
        assert gathered(pq.ParquetFile(f).metadata, SCHEMA)
    load(tmp_path / "pieces", export, chunk_rows=150)
    assert len(rewrites) >= 5  # the full days came in pieces of a few legs each
    for (f,) in partition_files(tmp_path / "pieces").values():
        flags = _flags_of_row_groups(f)
        assert len(flags) == len(set(flags))
    assert (
        table(tmp_path / "pieces")
        .sort("report_id")
        .equals(table(tmp_path / "whole").sort("report_id"))
    )


def test_a_file_is_gathered_only_with_one_row_group_for_each_flag(tmp_path: Path) -> None:
    stored = SCHEMA.stored_arrow_schema()

    def written(*groups: list[bool | None]) -> pq.FileMetaData:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.parquet"
        with pq.ParquetWriter(path, stored) as w:
            for flags in groups:
                data = {f.name: pa.nulls(len(flags), f.type) for f in stored}
                data["is_webex_go"] = pa.array(flags, pa.bool_())
                w.write_table(pa.table(data, schema=stored))
        return pq.ParquetFile(path).metadata

    assert gathered(written([True, True]), SCHEMA)
    assert gathered(written([False, False], [True], [None, None]), SCHEMA)
    assert not gathered(written([False], [True], [False]), SCHEMA)  # False twice
    assert not gathered(written([False, True], [True]), SCHEMA)  # a group mixes both
