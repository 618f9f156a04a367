"""What a build asks DuckDB to do: binding a view binds the whole chain of views it reads,
so the build binds each chain once per tier where it can, and every view of the file it
leaves is bound (its columns in the catalog, for `duckdb_columns()`, DBeaver, the duckdb CLI).
Counted on a small SQL folder over the samples, never timed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import binding, create_views
from cdr_pipeline.warehouse.analyst import BASE_SCHEMA, MAP_VIEW
from cdr_pipeline.warehouse.snapshots import table_snapshots

_CREATED_VIEW = re.compile(rf'^create or replace view {BASE_SCHEMA}\."?(\w+)"?', re.I)


class _Binds:
    """A connection that notes, for each `analyst_base` view a statement creates, whether
    DuckDB bound it then (`duckdb_views().is_bound`, which binds nothing)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.bound_when_created: dict[str, bool] = {}

    def execute(self, sql: Any, *args: Any) -> duckdb.DuckDBPyConnection:
        out = self.con.execute(sql, *args)
        created = _CREATED_VIEW.match(sql) if isinstance(sql, str) else None
        if created:
            (bound,) = self.con.execute(
                "select is_bound from duckdb_views() where schema_name = ? and view_name = ?",
                [BASE_SCHEMA, created.group(1)],
            ).fetchall()[0]
            self.bound_when_created[created.group(1)] = bool(bound)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def _write(folder: Path, name: str, body: str, key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(f"-- grain: one row\n-- key: {key}\n{body}\n")


def test_the_analyst_tier_binds_each_base_view_once_by_its_analyst_view(
    sample_wh: Settings, tmp_path: Path
) -> None:
    """A base view (`analyst_base`) is created unbound and bound by the analyst view over it:
    bound at its creation as well, each chain of the tier was bound twice (a third of a
    whole build of the samples went to binding the base views). Every view ends bound."""
    sql = tmp_path / "sql"
    _write(
        sql,
        "int_callers",
        "select calling_number, count(*) as n from stg_call_legs group by 1",
        "calling_number",
    )
    _write(
        sql,
        "rpt_callers",
        "select calling_number, n from int_callers where n > 1",
        "calling_number",
    )
    con = duckdb.connect()
    try:
        watched = _Binds(con)
        snapshots = table_snapshots(sample_wh)
        create_views(watched, sample_wh, sql, snapshots, analyst="memory")  # type: ignore[arg-type]
        views = {name for name in watched.bound_when_created if f"{BASE_SCHEMA}.{name}" != MAP_VIEW}
        assert {"stg_call_legs", "int_callers", "rpt_callers"} <= views
        assert [v for v in sorted(views) if watched.bound_when_created[v]] == []
        unbound = con.execute(
            "select schema_name || '.' || view_name from duckdb_views() "
            "where not internal and not is_bound order by 1"
        ).fetchall()
        assert unbound == []
        # and the analyst tier reads what the full one does, pseudonymised
        full = con.execute("select sum(n), count(*) from main.rpt_callers").fetchall()
        assert con.execute("select sum(n), count(*) from analyst.rpt_callers").fetchall() == full
        assert full[0][1] > 0
    finally:
        con.close()


def test_a_duckdb_without_deferred_binding_binds_the_views_when_it_creates_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clause is asked of the parser, never by a statement that could fail: a failed
    statement ends the build's one transaction."""
    con = duckdb.connect()
    try:
        con.execute("begin transaction")
        assert binding.deferred(con) == binding.DEFERRED
        monkeypatch.setattr(binding, "DEFERRED", "with (no_such_option)")
        assert binding.deferred(con) == ""
        assert con.execute("select 42").fetchall() == [(42,)]  # the transaction goes on
    finally:
        con.close()
