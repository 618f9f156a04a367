"""cdr_pipeline.notebook: parameters, warehouse discovery, queries and chart helpers, on a
real warehouse and real matplotlib figures (Agg)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import matplotlib
import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.notebook import (
    NotebookParameterError,
    StaleNotebookError,
    count_axis,
    find_warehouse,
    grouped_bars,
    open_notebook,
    parse_month,
)
from cdr_pipeline.warehouse import build_warehouse
from tests.ingest.helpers import fixture, load, run_cdr
from tests.notebooks.conftest import NB_DIR, REPO

matplotlib.use("Agg", force=True)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_month_means_every_month(value: str | None) -> None:
    assert parse_month(value) is None


@pytest.mark.parametrize("value", ["2026-10", "1999-01", " 2026-12 "])
def test_a_good_month_is_kept(value: str) -> None:
    assert parse_month(value) == value.strip()


@pytest.mark.parametrize(
    "value", ["2026-13", "2026-00", "Oct", "2026-1", "26-10", "2026-10-01", "0000-05"]
)
def test_a_bad_month_names_the_form_and_an_example(value: str) -> None:
    with pytest.raises(NotebookParameterError) as failed:
        parse_month(value)
    message = str(failed.value)
    assert "YYYY-MM" in message and "e.g. 2026-10" in message and repr(value) in message
    assert isinstance(failed.value, ConfigError) and failed.value.exit_code == 3
    assert failed.value.hint and "CDR_NOTEBOOK_MONTH" in failed.value.hint


def test_open_notebook_checks_the_month_before_opening_anything(tmp_path: Path) -> None:
    with pytest.raises(NotebookParameterError):
        open_notebook(month="Oct", warehouse=tmp_path / "nowhere")


def test_a_folder_that_is_not_a_warehouse_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo_wh: Path
) -> None:
    """A typo in CDR_WAREHOUSE, a folder of exports or the `cdr.duckdb` file itself said
    "<path>/cdr.duckdb does not exist; run `cdr build`", which `cdr build` then refuses
    (not a warehouse) and which named `.../cdr.duckdb/cdr.duckdb` for the file."""
    exports = tmp_path / "exports"
    exports.mkdir()
    monkeypatch.setenv("CDR_WAREHOUSE", str(tmp_path / "warehuose"))
    cases = {
        None: "(from CDR_WAREHOUSE)",
        exports: "(from warehouse=)",
        demo_wh / "cdr.duckdb": f"the warehouse is the folder holding it, {demo_wh}",
    }
    for given, said in cases.items():
        with pytest.raises(ConfigError) as failed:
            open_notebook(warehouse=given)
        text = f"{failed.value} {failed.value.hint}"
        assert "is not a warehouse" in text and said in text, text
        assert "run `cdr build`" not in text and "cdr.duckdb/cdr.duckdb" not in text, text


def test_default_warehouse_is_the_checkouts_from_any_start_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CDR_WAREHOUSE", raising=False)
    for start in (NB_DIR, REPO, REPO / "sql"):
        monkeypatch.chdir(start)
        assert find_warehouse() == REPO.resolve() / "warehouse", start


def test_cdr_warehouse_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CDR_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.chdir(NB_DIR)
    assert find_warehouse() == (tmp_path / "wh").resolve()


def test_query_binds_the_parameters_the_sql_names(demo_wh: Path) -> None:
    nb = open_notebook(month="2026-10", location="Chicago HQ", warehouse=demo_wh)
    try:
        assert nb.month_start == date(2026, 10, 1)
        assert nb.scope == "month 2026-10, location Chicago HQ"
        # a query naming no parameter runs (DuckDB refuses unused named parameters)
        assert nb.query("select 1 as x")["x"].to_list() == [1]
        where = nb.where(month="report_month", location="location_name", department="department_id")
        legs = nb.query(f"select count(*) as n from fct_call_legs where {where}")["n"][0]
        expected = nb.con.execute(
            "select count(*) from fct_call_legs "
            "where report_month = date '2026-10-01' and location_name = 'Chicago HQ'"
        ).fetchall()
        assert legs == expected[0][0] > 0
        everything = nb.con.execute("select count(*) from fct_call_legs").fetchall()
        assert legs < everything[0][0]
        assert nb.query("select $month as m")["m"][0] == date(2026, 10, 1)
        assert nb.query("select $top as t", top=3)["t"][0] == 3
    finally:
        nb.close()


def test_no_data_names_what_and_the_scope(demo_wh: Path) -> None:
    nb = open_notebook(month="2020-01", department="d1", warehouse=demo_wh)
    try:
        note = nb.no_data("licence usage").data
        assert "**No data** for licence usage (month 2020-01, department d1)" in note
        assert str(demo_wh) in note
        assert "(" not in nb.no_data("runs", monthly=False).data.split("`")[0]
    finally:
        nb.close()


def _tick_values(labels: list[str]) -> list[float]:
    return [float(t.replace("\u2212", "-")) for t in labels if t]


def test_count_axis_has_whole_ticks_from_zero_even_for_a_flat_zero_line() -> None:
    import matplotlib.pyplot as plt

    fig, (flat, small) = plt.subplots(1, 2)
    flat.plot([1, 2, 3], [0, 0, 0])
    small.bar(["a", "b"], [2, 3])
    # without help: a flat zero line gets negative, fractional ticks
    fig.canvas.draw()
    before = _tick_values([t.get_text() for t in flat.get_yticklabels()])
    assert min(before) < 0 and any(v != int(v) for v in before)
    for ax in (flat, small):
        count_axis(ax)
    fig.canvas.draw()
    for ax in (flat, small):
        values = _tick_values([t.get_text() for t in ax.get_yticklabels()])
        low, high = ax.get_ylim()
        visible = [v for v in values if low <= v <= high]
        assert visible and all(v == int(v) for v in visible), visible
        assert low == 0
    plt.close(fig)


def test_grouped_bars_keep_the_legend_off_the_bars() -> None:
    import matplotlib.pyplot as plt

    table = pl.DataFrame(
        {"place": ["a", "a", "b", "b"], "month": ["m1", "m2", "m1", "m2"], "n": [9, 10, 10, 9]}
    )
    fig, ax = plt.subplots()
    grouped_bars(ax, table, "place", "month", "n", counts=True)
    fig.canvas.draw()
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    assert not any(box.overlaps(bar.get_window_extent()) for bar in ax.patches)
    plt.close(fig)


def test_importing_the_module_needs_neither_ipython_nor_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, cdr_pipeline.notebook; "
        "print(sorted(m for m in ('IPython', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


def test_a_notebook_left_open_past_a_vacuum_is_told_to_reopen(tmp_path: Path) -> None:
    """A notebook keeps reading the build it opened while ingests and builds replace
    `cdr.duckdb`; once `cdr vacuum` deletes the files that build read (after
    vacuum_grace_hours), its next query failed with DuckDB's bare 'IO Error: No files found
    that match the pattern .../part-....parquet', which reads as damage."""
    wh = tmp_path / "wh"
    load(wh, fixture("overlap_a.csv"))
    assert run_cdr("--warehouse", str(wh), "-q", "build").returncode == 0
    nb = open_notebook(warehouse=wh)
    try:
        before = nb.query("select count(*) as n from fct_call_legs")
        for args in (("ingest", str(fixture("overlap_b.csv"))), ("vacuum", "--grace-hours", "0")):
            proc = run_cdr("--warehouse", str(wh), "-q", *args)
            assert proc.returncode == 0, proc.stderr
        with pytest.raises(StaleNotebookError) as failed:
            nb.query("select count(*) as n from fct_call_legs")
        text = f"{failed.value} {failed.value.hint}"
        assert "call_legs=0" in text and "cdr vacuum" in text, text
        assert "open_notebook" in text and "vacuum_grace_hours" in text, text
        # a file of one's own that is not there stays DuckDB's error, even after a rebuild
        with pytest.raises(duckdb.IOException):
            nb.query(f"select * from read_parquet('{tmp_path / 'mine.parquet'}')")
    finally:
        nb.close()
    again = open_notebook(warehouse=wh)  # what the message says to do
    try:
        assert again.query("select count(*) as n from fct_call_legs")["n"][0] > before["n"][0]
    finally:
        again.close()


def test_parameters_papermill_gives_as_numbers_are_read_as_text(demo_wh: Path) -> None:
    """`papermill ... -p DEPARTMENT 42` passes the int 42 (papermill types numeric values),
    and open_notebook failed with "'int' object has no attribute 'strip'"; a month given
    as a number stopped the same way instead of naming the form YYYY-MM."""
    nb = open_notebook(department=42, location=7, warehouse=demo_wh)  # type: ignore[arg-type]
    try:
        assert (nb.department, nb.location) == ("42", "7")
        assert nb.query("select $department as d")["d"][0] == "42"
    finally:
        nb.close()
    for month in (202610, 2026.10):
        with pytest.raises(NotebookParameterError, match="YYYY-MM"):
            open_notebook(month=month, warehouse=demo_wh)  # type: ignore[arg-type]


def test_a_department_uuid_in_upper_case_selects_its_department(demo_wh: Path) -> None:
    """`cdr ingest` stores a Department ID that is a UUID in lower case; DEPARTMENT copied
    from an HR or database export in upper case (D2BA37C1-...) matched no row, and every
    section of the notebook said **No data** for a department that has calls."""
    nb = open_notebook(warehouse=demo_wh)
    try:
        department = nb.query(
            "select department_id from fct_call_legs where department_id is not null "
            "group by all order by count(*) desc limit 1"
        )["department_id"][0]
        where = nb.where(department="department_id")
        sql = f"select count(*) as n from fct_call_legs where {where}"
        legs = nb.query(sql, department=department)["n"][0]
    finally:
        nb.close()
    assert legs > 0
    for spelled in (department.upper(), f" {department.upper()} "):
        upper = open_notebook(department=spelled, warehouse=demo_wh)
        try:
            assert upper.department == department
            assert upper.query(sql)["n"][0] == legs
        finally:
            upper.close()
    other = open_notebook(department="Dept-A7", warehouse=demo_wh)  # no UUID: as given
    try:
        assert other.department == "Dept-A7"
    finally:
        other.close()


def test_a_parameter_in_a_comment_or_a_literal_is_not_bound(demo_wh: Path) -> None:
    """A filter commented out (`-- and report_month = $month`) or a text holding `$location`
    made nb.query bind a parameter the statement does not contain, and DuckDB refused it:
    'Parameter/argument count mismatch for prepared statement. Expected 0, got 1'."""
    nb = open_notebook(month="2026-10", location="Chicago HQ", warehouse=demo_wh)
    try:
        every = nb.query("select count(*) as n from fct_calls")["n"][0]
        commented = nb.query("select count(*) as n from fct_calls -- where report_month = $month")
        assert commented["n"][0] == every
        block = nb.query("select count(*) as n from fct_calls /* and location = $location */")
        assert block["n"][0] == every
        assert nb.query("select '$location' as t")["t"][0] == "$location"
        mixed = nb.query("select $month as m -- , $location")  # the one it holds is bound
        assert mixed["m"][0] == date(2026, 10, 1)
    finally:
        nb.close()


def test_a_notebook_reads_the_settings_the_views_were_built_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """open_notebook compared the views' build signature with default settings, not the
    cdr.toml the CLI reads: every notebook of a warehouse with a setting of its own (a
    reporting_timezone, idle_days) was told the views were built 'with other settings' and
    to run cdr build, which changed nothing."""
    from cdr_pipeline.config import Settings
    from cdr_pipeline.warehouse import build_warehouse

    wh = tmp_path / "wh"
    build_warehouse(Settings(warehouse=wh, idle_days=45))  # the views alone are the point
    (tmp_path / "cdr.toml").write_text("idle_days = 45\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CDR_CONFIG", raising=False)
    caplog.set_level("WARNING")
    open_notebook(warehouse=wh).close()
    assert not [r for r in caplog.records if "other settings" in r.getMessage()]


PERSON_HEADER = (
    "Report ID,Report time,Start time,Duration,Answered,Direction,Correlation ID,"
    "Local call ID,Remote call ID,Location,Site timezone,User type,Call type,Client type,"
    "User UUID,User,Ring duration,Call outcome"
)
WHEN = "2026-10-05T10:05:00.000Z,2026-10-05T10:00:00.000Z"


@pytest.mark.slow  # two notebooks run in this process
def test_a_virtual_line_in_the_docs_spelling_is_a_person_in_the_notebooks(
    tmp_path: Path, run_script: Any
) -> None:
    """Cisco's docs spell the virtual line's user type `VirtuaLline` and ingest keeps it as
    delivered; fct_calls took such a leg for a party, but notebook 01's call outcomes and
    notebook 03's ring times listed their own person-like types without it and left the
    virtual line's legs out: one warehouse, two answers to "who was rung"."""
    legs = [
        f"o,{WHEN},60,true,ORIGINATING,C1,1:0,2:0,Paris,60,User,SIP_ENTERPRISE,WXC_DEVICE,"
        "ua,Alice,0,Success",
        f"t,{WHEN},60,true,TERMINATING,C1,2:0,1:0,Paris,60,VirtuaLline,SIP_ENTERPRISE,"
        "WXC_DEVICE,ub,Front desk,7,Success",
        f"h,{WHEN},0,false,TERMINATING,C2,3:0,4:0,Paris,60,HuntGroup,SIP_ENTERPRISE,"
        "WXC_DEVICE,uh,Sales,5,Success",
    ]
    export = tmp_path / "dch_2026-10-05_2026-10-06.csv"
    export.write_text("\n".join([PERSON_HEADER, *legs]) + "\n", encoding="utf-8")
    wh = tmp_path / "wh"
    assert load(wh, export).exit_code == 0
    build_warehouse(Settings(warehouse=wh))
    nb = open_notebook(warehouse=wh)
    try:  # fct_calls: the virtual line answered, so C1 is an answered call
        assert nb.query("select is_answered from fct_calls where correlation_id = 'C1'").item()
    finally:
        nb.close()
    outcomes = run_script("01_webex_go_adoption", wh).namespace["outcomes"]
    assert outcomes["legs"].sum() == 2  # Alice and the virtual line, not the hunt group
    assert outcomes["answered_legs"].sum() == 2
    rings = run_script("03_call_flows", wh).namespace["rings"]
    assert rings["ring_duration_seconds"].to_list() == [7]  # the virtual line rang 7 s
