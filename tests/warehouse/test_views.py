"""Every `sql/` file: it builds, has its header comment, and its key is unique and not null
on the samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import connect
from cdr_pipeline.warehouse.catalog import read_sql_file
from tests.warehouse.sample_warehouse import SQL_DIR

SQL_FILES = sorted(p for p in SQL_DIR.glob("*.sql") if not p.name.startswith("_"))
PUBLIC_VIEWS = {
    "fct_call_legs",
    "fct_calls",
    "dim_webex_go_devices",
    "fct_device_status_history",
    "fct_activation_codes",
    "fct_webex_go_calls",
    "fct_licence_days",
    "rpt_licence_usage_monthly",
    "rpt_licence_reconciliation",
    "rpt_reclaim_candidates",
    "rpt_webex_go_anomalies",
    "ingest_runs",
    "ingest_files",
}


def test_every_public_view_of_the_design_has_a_file() -> None:
    assert {p.stem for p in SQL_FILES} >= PUBLIC_VIEWS


@pytest.mark.parametrize("path", SQL_FILES, ids=[p.stem for p in SQL_FILES])
def test_view_builds_has_header_and_unique_key(path: Path, sample_wh: Settings) -> None:
    spec = read_sql_file(path)
    assert spec.grain.startswith("one"), f"{path.name}: grain should read 'one row per ...'"
    assert spec.key
    con = connect(sample_wh)
    try:
        columns = {r[0] for r in con.execute(f"describe {spec.name}").fetchall()}
        assert set(spec.key) <= columns, f"{path.name}: key columns missing from the view"
        keys = ", ".join(spec.key)
        nulls = " or ".join(f"{k} is null" for k in spec.key)
        total, null_keys = con.execute(
            f"select count(*), count(*) filter (where {nulls}) from {spec.name}"
        ).fetchone()  # type: ignore[misc]
        dupes = con.execute(
            f"select {keys}, count(*) from {spec.name} group by all having count(*) > 1 limit 5"
        ).fetchall()
    finally:
        con.close()
    assert null_keys == 0, f"{spec.name}: {null_keys} rows with a NULL key"
    assert dupes == [], f"{spec.name}: duplicate keys {dupes}"
    if spec.name in PUBLIC_VIEWS - {"rpt_reclaim_candidates", "rpt_webex_go_anomalies"}:
        assert total > 0, f"{spec.name} is empty on the samples"


def test_call_views_on_samples(sample_wh: Settings) -> None:
    con = connect(sample_wh)
    try:
        legs, calls = con.execute(
            "select (select count(*) from fct_call_legs), (select count(*) from fct_calls)"
        ).fetchone()  # type: ignore[misc]
        # Every leg record belongs to exactly one call and the legs add up.
        leg_sum = con.execute("select sum(record_count) from fct_calls").fetchone()
        go_legs = con.execute("select count(*) from fct_call_legs where is_webex_go").fetchone()
        go_rows = con.execute("select count(*) from fct_webex_go_calls").fetchone()
        classes = dict(
            con.execute("select direction_class, count(*) from fct_calls group by 1").fetchall()
        )
    finally:
        con.close()
    assert leg_sum == (legs,)
    assert calls < legs
    assert go_legs == go_rows
    assert set(classes) == {"inbound", "outbound", "internal"}


UNIT_COLUMNS = (
    "month, licence_type, subscription_id, location_name, department_id, licences_held_peak, "
    "licences_held_month_end, licence_days, licences_used, licences_idle, "
    "licences_never_activated, covered_days, call_coverage"
)


def test_the_usage_report_and_the_unit_view_give_the_same_unit_figures(
    sample_wh: Settings,
) -> None:
    """rpt_licence_usage_monthly computes its unit figures in its own pass (its legs' devices
    read once); fct_licence_unit_usage, which the reconciliation reads, by the same SQL: the
    two must not drift apart."""
    con = connect(sample_wh)
    try:
        usage = f"select {UNIT_COLUMNS} from rpt_licence_usage_monthly"
        units = f"select {UNIT_COLUMNS} from fct_licence_unit_usage"
        rows = con.execute(f"select count(*) from ({units})").fetchall()[0][0]
        only_usage = con.execute(f"{usage} except all {units}").fetchall()
        only_units = con.execute(f"{units} except all {usage}").fetchall()
        used = con.execute("select sum(licences_used) from fct_licence_unit_usage").fetchall()
    finally:
        con.close()
    assert rows > 0 and used[0][0] > 0  # the samples hold units, some of them used
    assert only_usage == [] and only_units == []
