"""`cdr sql`: one file per view in dependency order, each one CREATE OR REPLACE TEMPORARY VIEW
statement, and the DuckDB form builds the same views as `cdr build`."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
import sqlglot
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.spark.rewrite import RewriteError
from cdr_pipeline.spark.tables import register_duckdb_tables, table_files
from cdr_pipeline.spark.views import base_tables, emit_views
from cdr_pipeline.warehouse import create_views
from cdr_pipeline.warehouse.catalog import strip_sql_noise

_FILE = re.compile(r"^(\d\d)_([a-z0-9_]+)\.sql$")


@pytest.mark.parametrize("dialect", ["spark", "duckdb"])
def test_one_statement_per_view_in_dependency_order(
    sample_wh: Settings, tmp_path: Path, dialect: str
) -> None:
    out = tmp_path / dialect
    (out).mkdir()
    (out / "99_stale_view.sql").write_text("-- from an earlier run\n")
    result = CliRunner().invoke(
        cli,
        ["--warehouse", str(sample_wh.warehouse), "sql", "--dialect", dialect, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.glob("*.sql"))
    assert "99_stale_view.sql" not in files
    names = []
    for seq, name in enumerate(files):
        match = _FILE.match(name)
        assert match and int(match.group(1)) == seq, name
        names.append(match.group(2))
    assert {"cfg_settings", "stg_call_legs", "stg_device_events", "stg_entitlements"} <= set(names)
    assert {"fct_call_legs", "rpt_licence_usage_monthly", "rpt_webex_go_anomalies"} <= set(names)
    for seq, (file, view) in enumerate(zip(files, names, strict=True)):
        text = (out / file).read_text()
        statements = sqlglot.parse(text, read=dialect)
        assert len([s for s in statements if s is not None]) == 1, file
        assert text.startswith(f"CREATE OR REPLACE TEMPORARY VIEW {view} AS\n")
        body = strip_sql_noise(text.split("\n", 1)[1]).lower()
        later = set(names[seq:])
        used = {n for n in later if re.search(rf"\b{n}\b", body)}
        assert used == set(), f"{file} reads views defined after it: {used}"
    stg = (out / f"{files[names.index('stg_call_legs')]}").read_text().lower()
    assert re.search(r"\bfrom\s+call_legs\b", stg)
    assert not any(t in stg for t in ("read_parquet", "parquet.", "/tables/"))


def _freeze(con: duckdb.DuckDBPyConnection, view: str) -> None:
    """`view` replaced by a table of its rows under its name: the views after it read it
    (DuckDB binds a view's names at each query) instead of computing the chain it reads
    again, three to five times per view on the samples (70 s -> a few)."""
    (temporary,) = con.execute(
        "select temporary from duckdb_views() where view_name = ? and not internal", [view]
    ).fetchall()
    kind = "temp table" if temporary[0] else "table"
    con.execute(f"create {kind} frozen_view as select * from {view}")
    con.execute(f"drop view {view}")
    con.execute(f"alter table frozen_view rename to {view}")


def test_duckdb_form_builds_the_views_cdr_build_builds(sample_wh: Settings) -> None:
    """Each emitted view equals `cdr build`'s over the same inputs: once compared, the view
    is kept as a table on both sides (equal rows), which the next views read."""
    ref = duckdb.connect()
    ref.execute("set TimeZone = 'UTC'")
    create_views(ref, sample_wh)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    register_duckdb_tables(con, table_files(sample_wh))
    assert {t.name for t in table_files(sample_wh)} == set(base_tables())
    for view in emit_views(sample_wh, "duckdb"):
        con.execute(view.statement())
        ours = sorted(map(repr, con.execute(f"select * from {view.name}").fetchall()))
        theirs = sorted(map(repr, ref.execute(f"select * from {view.name}").fetchall()))
        assert ours == theirs, view.name
        _freeze(con, view.name)
        _freeze(ref, view.name)
        assert (
            ours
            or view.name.startswith(("stg_ledger", "ingest_"))
            or view.name in {"fct_device_violations"}
        ), f"{view.name} is empty on the samples: the comparison proves little"


def test_a_table_is_exactly_the_files_listed(sample_wh: Settings) -> None:
    """`table_files` decides what a table is (a snapshot's file list can replace it): files
    not listed are not read, and a column no listed file holds reads as NULL."""
    tables = {t.name: t for t in table_files(sample_wh)}
    legs = tables["call_legs"]
    assert len(legs.files) > 1
    one = replace(legs, files=legs.files[:1])
    con = duckdb.connect()
    register_duckdb_tables(con, [one])
    expected = con.execute(f"select count(*) from read_parquet('{legs.files[0]}')").fetchone()
    assert con.execute("select count(*) from call_legs").fetchone() == expected
    call_date = con.execute("select count(distinct call_date) from call_legs").fetchone()
    assert call_date == (1,)
    grown = replace(one, columns=[*one.columns, ("added_later", "VARCHAR")])
    register_duckdb_tables(con, [grown])
    assert (
        con.execute("select count(*) from call_legs where added_later is null").fetchone()
        == expected
    )


def test_a_construct_without_spark_form_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "rpt_months.sql").write_text(
        "-- grain: one row\n-- key: months\n"
        "select datediff('month', min(start_time), max(start_time)) as months from stg_call_legs\n"
    )
    settings = Settings(warehouse=tmp_path / "wh")
    assert [v.name for v in emit_views(settings, "duckdb", tmp_path)][-1] == "rpt_months"
    with pytest.raises(RewriteError, match=r"sql/rpt_months\.sql: datediff\('month'") as info:
        emit_views(settings, "spark", tmp_path)
    assert info.value.exit_code == 3
