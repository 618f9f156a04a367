"""What the by-call refresh of `fct_calls` costs (`warehouse/by_call.py`): the shapes that
made the refresh at the end of a 1M-leg ingest slower than its SQL, checked on the samples."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.samples.bulk import write_call_export
from cdr_pipeline.warehouse import build_warehouse, by_call, materialize


class _Watched:
    """A connection that notes each delete from `table` of a row the steps appended since
    the last commit."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self.con, self.table = con, table
        self.appended = False
        self.deleted_appended: list[int] = []
        self.deletes = 0
        self.leg_reads = 0

    def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
        self.leg_reads += sql.count(f"from main.{by_call.LEG_VIEW}")
        if sql.startswith(f"delete from {self.table}"):
            self.deletes += 1
            if self.appended:
                (n,) = self.con.execute(
                    f"select count(*) from {self.table} semi join __calls using (correlation_id)"
                ).fetchall()[0]
                self.deleted_appended.append(int(n))
        elif sql.startswith(f"insert into {self.table}"):
            self.appended = True
        return self.con.execute(sql, *args)

    def commit(self) -> None:
        self.con.commit()
        self.appended = False

    def begin(self) -> None:
        self.con.begin()


def _across_midnight(export: Path) -> None:
    """Move the last record of a call of several to 00:30 UTC the next day."""
    legs = pl.read_csv(export, infer_schema=False).with_row_index("row")
    several = legs.group_by("Correlation ID").len().filter(pl.col("len") >= 2)
    mine = legs.filter(pl.col("Correlation ID") == several["Correlation ID"].sort()[0])
    last = mine.sort("Start time").tail(1)
    day = date.fromisoformat(last["Start time"][0][:10]) + timedelta(days=1)
    moved = pl.when(pl.col("row") == last["row"][0])
    legs.with_columns(
        moved.then(pl.lit(f"{day.isoformat()}T00:30:00.000Z"))
        .otherwise(pl.col("Start time"))
        .alias("Start time")
    ).drop("row").write_csv(export)


def _built_by_small_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Watched:
    """A whole build of six days of generated calls (one across midnight), a day or two a
    step, its by-call steps watched."""
    settings = Settings(warehouse=tmp_path / "wh")
    export = tmp_path / "dch.csv"
    write_call_export(export, legs=3000, seed=5, start=date(2026, 9, 1), days=6)
    _across_midnight(export)
    assert ingest_paths(settings, [export]).exit_code == 0
    watched: list[_Watched] = []

    def refresh(
        con: duckdb.DuckDBPyConnection,
        table: str,
        sql: str,
        changed: Sequence[date],
        rows: Mapping[date, int],
    ) -> int:
        watched.append(_Watched(con, table))
        return by_call.refresh_calls_by_steps(watched[-1], table, sql, changed, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(by_call, "LEGS_PER_STEP", 150)  # a day or two a step
    monkeypatch.setattr(materialize, "refresh_calls_by_steps", refresh)
    build_warehouse(settings)  # computed whole, by steps
    (watch,) = watched
    return watch


def test_no_step_deletes_a_call_appended_since_the_last_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps of new days delete the calls crossing in from the step before, which that step
    appended. A delete of a row appended in the same transaction makes DuckDB's commit write
    every row of the transaction again: at 1M legs the closing commit took 1 s of CPU for
    0.05. The step commits before such a delete."""
    watch = _built_by_small_steps(tmp_path, monkeypatch)
    assert watch.deletes > 5  # many steps
    assert watch.deleted_appended  # calls across midnight, between steps
    assert watch.deleted_appended == [0] * len(watch.deleted_appended)


def test_a_step_reads_the_legs_view_three_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step reads the legs of its days and a day either side (`__near`), the few legs of
    the other days (`__others`) and the legs the SQL recomputes from: what the calls' legs
    name comes from `__near` when the calls span no further (the samples' do)."""
    watch = _built_by_small_steps(tmp_path, monkeypatch)
    assert watch.leg_reads == 3 * watch.deletes  # a delete a step


def test_fct_calls_reads_the_legs_once() -> None:
    """The by-call refresh computes `fct_calls` over the legs in scope, which read the
    Parquet files of the changed days: the records without both call IDs and their other
    sides come from the `legs` CTE, not from second and third reads of every column they
    need (a tenth of the refresh of `fct_calls` at 1M legs)."""
    text = (sql_dir() / "fct_calls.sql").read_text(encoding="utf-8")
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    assert len(re.findall(r"\bfct_call_legs\b", code)) == 1
