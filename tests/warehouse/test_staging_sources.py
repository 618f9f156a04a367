"""`stg_<table>` over files that hold different columns (written before and after the schema
grew): each file's rows once, a column a file lacks as NULL, and a query of one partition
binding without reading every file's footer (no `union_by_name`)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.errors import WarehouseDamaged
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.warehouse.damage import naming_damage
from cdr_pipeline.warehouse.staging import staging_view


def _file(root: Path, day: str, columns: dict[str, list[object]]) -> Path:
    path = root / f"call_date={day}" / f"part-{day}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def _snapshot(root: Path, files: dict[str, list[Path]]) -> Snapshot:
    return Snapshot("call_legs", root, 3, "call_date", files)


def test_files_with_different_columns_read_whole_with_nulls(tmp_path: Path) -> None:
    old = _file(tmp_path, "2026-10-01", {"report_id": ["a", "b"], "duration_seconds": [5, 6]})
    new = _file(
        tmp_path,
        "2026-10-02",
        {"report_id": ["c"], "duration_seconds": [7], "user_name": ["Ana Ruiz"]},
    )
    same = _file(tmp_path, "2026-10-03", {"duration_seconds": [8], "report_id": ["d"]})
    snap = _snapshot(tmp_path, {"2026-10-01": [old], "2026-10-02": [new], "2026-10-03": [same]})
    con = duckdb.connect()
    spec, exists = staging_view(con, schemas_by_table()["call_legs"], snap)
    assert exists
    assert "union_by_name" not in spec.sql
    assert spec.sql.count("read_parquet(") == 2  # one read per set of columns
    con.execute(f"create view stg as {spec.sql}")
    rows = con.execute(
        "select report_id, duration_seconds, user_name, call_date::varchar, correlation_id "
        "from stg order by report_id"
    ).fetchall()
    assert rows == [
        ("a", 5, None, "2026-10-01", None),
        ("b", 6, None, "2026-10-01", None),
        ("c", 7, "Ana Ruiz", "2026-10-02", None),
        ("d", 8, None, "2026-10-03", None),
    ]
    # a filter on the partition prunes the other files in each read
    plan = con.execute(
        "explain analyze select count(*) from stg where call_date = date '2026-10-02'"
    ).fetchall()[0][1]
    assert str(new) in plan
    assert str(old) not in plan and str(same) not in plan


def test_a_damaged_file_is_named(tmp_path: Path) -> None:
    good = _file(tmp_path, "2026-10-01", {"report_id": ["a"]})
    bad = tmp_path / "call_date=2026-10-02" / "part-x.parquet"
    bad.parent.mkdir()
    bad.write_bytes(b"not parquet at all" * 10)
    snap = _snapshot(tmp_path, {"2026-10-01": [good], "2026-10-02": [bad]})
    with pytest.raises(WarehouseDamaged, match=r"part-x\.parquet"):
        staging_view(duckdb.connect(), schemas_by_table()["call_legs"], snap)


def test_a_column_whose_type_differs_between_files_reads_every_value(tmp_path: Path) -> None:
    # one file holds duration_seconds as int32 (as a writer of another release may have),
    # another as int64 beyond int32's range, a third as text: DuckDB's read_parquet of
    # several files takes the first file's types and failed on the others' values
    small = _file(
        tmp_path,
        "2026-10-01",
        {"report_id": ["a"], "duration_seconds": pa.array([5], pa.int32())},
    )
    big = _file(
        tmp_path,
        "2026-10-02",
        {"report_id": ["b"], "duration_seconds": pa.array([2**40], pa.int64())},
    )
    text = _file(tmp_path, "2026-10-03", {"report_id": ["c"], "duration_seconds": ["7"]})
    snap = _snapshot(tmp_path, {"2026-10-01": [small], "2026-10-02": [big], "2026-10-03": [text]})
    con = duckdb.connect()
    spec, _ = staging_view(con, schemas_by_table()["call_legs"], snap)
    con.execute(f"create view stg as {spec.sql}")
    rows = con.execute("select report_id, duration_seconds from stg order by 1").fetchall()
    assert rows == [("a", 5), ("b", 2**40), ("c", 7)]


def test_a_value_another_type_cannot_take_is_damage_naming_the_file(tmp_path: Path) -> None:
    # a file another writer put in the table, with text in a numeric column: DuckDB's
    # ConversionException ended the build as a bug (exit 1, "report it")
    good = _file(tmp_path, "2026-10-01", {"report_id": ["a"], "duration_seconds": [5]})
    bad = _file(tmp_path, "2026-10-02", {"report_id": ["b"], "duration_seconds": ["n/a"]})
    snap = _snapshot(tmp_path, {"2026-10-01": [good], "2026-10-02": [bad]})
    con = duckdb.connect()
    spec, _ = staging_view(con, schemas_by_table()["call_legs"], snap)
    named = r"part-2026-10-02\.parquet holds duration_seconds"
    with pytest.raises(WarehouseDamaged, match=named), naming_damage(lambda: [snap]):
        con.execute(f"select sum(duration_seconds) from ({spec.sql})").fetchall()
