"""A report of one month reads that month's call legs only (issue 17): the `--month` of
`cdr report` reaches every scan of the legs, as a filter DuckDB folds into the plan, and
the answer equals the month's rows of the report over all months."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports import REPORTS
from cdr_pipeline.reports.run import (
    CALL_DAYS_VARIABLES,
    REPORT_MONTH_VARIABLE,
    month_scope,
    query_report,
    report_statement,
)
from cdr_pipeline.schema import SCHEMAS
from cdr_pipeline.warehouse import build_warehouse, connect

MONTHLY = [name for name, r in REPORTS.items() if r.monthly]
MATERIALIZED = ("fct_calls", "fct_webex_go_leg_devices")
"""The call-level tables kept in cdr.duckdb (warehouse/materialize.py)."""


def _nodes(plan: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in plan:
        yield node
        yield from _nodes(node.get("children", []))


def _leg_columns() -> set[str]:
    """Columns only the call legs have: a Parquet scan projecting one reads leg files."""
    by_table = {s.name: {c.name for c in s.stored_columns} for s in SCHEMAS.values()}
    legs = by_table.pop("call_legs")
    return legs - set().union(*by_table.values())


def _leg_days(settings: Settings) -> list[date]:
    root = settings.layout.tables / "call_legs"
    return sorted(date.fromisoformat(p.name.split("=")[1]) for p in root.glob("call_date=*"))


@pytest.fixture(scope="module", params=["full", "analyst"])
def tier_con(request: pytest.FixtureRequest, sample_wh: Settings) -> Iterator[tuple[str, Any]]:
    con = connect(sample_wh, read_only=True, tier=request.param)
    yield request.param, con
    con.close()


@pytest.mark.parametrize("name", MONTHLY)
def test_a_month_reads_the_legs_of_its_days_only(
    tier_con: tuple[str, duckdb.DuckDBPyConnection], sample_wh: Settings, name: str
) -> None:
    tier, con = tier_con
    first = date(2026, 9, 1)
    last = date(2026, 9, 30)
    sql, params = report_statement(REPORTS[name], first, tier)
    with month_scope(con, first, call_days=True):
        plan = json.loads(con.execute(f"explain (format json) {sql}", params).fetchall()[0][1])
    days = _leg_days(sample_wh)
    near = [d for d in days if first - timedelta(days=1) <= d <= last + timedelta(days=1)]
    assert len(days) > len(near) + 20  # the other month is there to be skipped
    leg_columns = _leg_columns()
    reads = 0
    for node in _nodes(plan):
        info = node.get("extra_info", {})
        if node["name"] == "READ_PARQUET" and leg_columns & set(info.get("Projections", [])):
            # the plan says which of the table's files it scans: the month's and a day
            # either side (a reporting time zone may be 14 hours from UTC)
            scanning = info.get("Scanning Files")
            assert scanning, f"{name}: a scan of every leg file: {info}"
            read, total = map(int, scanning.split("/"))
            assert total == len(days) and 0 < read <= len(near), (name, scanning)
            assert "call_date" in info.get("File Filters", ""), info
            reads += 1
        elif node["name"] == "SEQ_SCAN" and info.get("Table", "").endswith(MATERIALIZED):
            # a table in cdr.duckdb: the month's filter at the scan skips the row groups
            # of other days by their statistics
            filters = info.get("Filters", "")  # one text, or a list of conjuncts
            filters = " ".join(filters) if isinstance(filters, list) else filters
            assert re.search(r"\b(report_month|call_date)\b", filters), (name, info)
            reads += 1
    assert reads, f"{name} read no call legs at all?"


def test_a_month_of_the_call_marts_reads_the_month(
    tier_con: tuple[str, duckdb.DuckDBPyConnection], sample_wh: Settings
) -> None:
    """The issue's other month queries: `fct_calls` (a table: its filter sits on the scan)
    and `fct_webex_go_calls` (its legs' files, with the month's variable set)."""
    _, con = tier_con
    first = date(2026, 9, 1)
    plan = con.execute(
        "explain (format json) select * from fct_calls where report_month = $m", {"m": first}
    ).fetchall()[0][1]
    nodes = [n["extra_info"] for n in _nodes(json.loads(plan))]
    # the analyst tier also reads its pseudonym map; no tier reads a leg file
    calls = [
        i for i in nodes if i.get("Table", "").replace('"', "").endswith(".materialized.fct_calls")
    ]
    assert len(calls) == 1 and "report_month" in str(calls[0]["Filters"])
    assert not any(_leg_columns() & set(i.get("Projections", [])) for i in nodes if "Function" in i)
    days = _leg_days(sample_wh)
    sql = "select * from fct_webex_go_calls where report_month = $m"
    with month_scope(con, first):
        plan = con.execute(f"explain (format json) {sql}", {"m": first}).fetchall()[0][1]
        scoped = con.execute(sql, {"m": first}).fetchall()
    legs = [
        n["extra_info"]
        for n in _nodes(json.loads(plan))
        if n["name"] == "READ_PARQUET" and _leg_columns() & set(n["extra_info"]["Projections"])
    ]
    assert legs and all(0 < int(i["Scanning Files"].split("/")[0]) <= 32 for i in legs), legs
    assert all(int(i["Scanning Files"].split("/")[1]) == len(days) for i in legs)
    assert sorted(scoped) == sorted(con.execute(sql, {"m": first}).fetchall())


@pytest.mark.parametrize("name", MONTHLY)
def test_a_month_equals_its_rows_of_every_month(
    tier_con: tuple[str, duckdb.DuckDBPyConnection], name: str
) -> None:
    tier, con = tier_con
    report = REPORTS[name]
    whole = query_report(con, report, None, tier).to_pylist()
    assert {r["month"] for r in whole} >= {date(2026, 9, 1), date(2026, 10, 1)}
    for first in (date(2026, 9, 1), date(2026, 10, 1), date(2026, 12, 1)):
        one = query_report(con, report, first, tier).to_pylist()
        assert one == [r for r in whole if r["month"] == first], (name, first)
        # the variable does not outlive the report
        for variable in (REPORT_MONTH_VARIABLE, *CALL_DAYS_VARIABLES):
            value = con.execute(f"select getvariable('{variable}')").fetchall()
            assert value == [(None,)], variable


@pytest.fixture(scope="module", params=["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def far_zone_con(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample_wh: Settings
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The samples with a reporting time zone 14 hours ahead of UTC, or 11 behind: a
    month's legs then start on the UTC day before it, or end on the day after. The tables
    are the session's samples' (an ingest does not depend on the reporting time zone),
    copied and built in that zone."""
    root = tmp_path_factory.mktemp("far_zone")
    settings = Settings(warehouse=root / "wh", reporting_timezone=request.param)
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    build_warehouse(settings)
    con = connect(settings, read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("name", ["licence-usage", "anomalies", "webex-go-adoption"])
def test_a_month_at_the_ends_of_the_time_zones(
    far_zone_con: duckdb.DuckDBPyConnection, name: str
) -> None:
    report = REPORTS[name]
    whole = query_report(far_zone_con, report, None).to_pylist()
    for first in (date(2026, 9, 1), date(2026, 10, 1)):
        one = query_report(far_zone_con, report, first).to_pylist()
        assert one and one == [r for r in whole if r["month"] == first], (name, first)
