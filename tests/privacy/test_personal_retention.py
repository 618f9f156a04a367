"""Retention of personal fields: call legs older than N days keep pseudonyms, in place, in
one Delta commit; every finance report is identical before and after."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.privacy.retention import TAG, _pending, apply_personal_retention
from cdr_pipeline.privacy.rewrite import rewrite_connection, rewrite_partitions
from cdr_pipeline.reports import REPORTS, run_report
from cdr_pipeline.schema import CALL_LEGS
from cdr_pipeline.state import tables
from cdr_pipeline.warehouse import build_warehouse, connect

PSEUDONYM = r"^(number|name|email|id|mac)_[0-9a-f]{20}$"


def _finance(settings: Settings) -> dict[str, object]:
    """Every report that reads the full tier (finance and operations), and the rpt_ views."""
    out: dict[str, object] = {
        name: run_report(settings, name).table for name, r in REPORTS.items() if r.tier == "full"
    }
    con = connect(settings)
    try:
        for view in ("rpt_licence_usage_monthly", "rpt_licence_reconciliation"):
            out[view] = sorted(
                map(tuple, con.execute(f"select * from {view}").fetchall()), key=repr
            )
    finally:
        con.close()
    return out


def test_retention_pseudonymises_old_legs_and_keeps_every_finance_figure(
    sample_wh: Settings, tmp_path: Path
) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    build_warehouse(settings)  # its views list this folder's files
    before = _finance(settings)
    legs = settings.layout.table("call_legs")
    version = tables.version_at(legs)
    today = date(2026, 10, 31)
    con = connect(settings)
    try:
        old_raw = con.execute(
            "select count(*) from stg_call_legs where call_date < date '2026-10-16' "
            "and user_name is not null"
        ).fetchall()[0][0]
        recent = con.execute(
            "select report_id, user_name, calling_number from stg_call_legs "
            "where call_date >= date '2026-10-16' order by report_id"
        ).fetchall()
    finally:
        con.close()
    assert old_raw > 0
    analyst_sql = (
        "select report_id, calling_number_pseudonym, user_name, called_line_id "
        "from analyst.fct_call_legs order by report_id"
    )
    con = connect(settings)
    try:
        analyst_before = con.execute(analyst_sql).fetchall()
    finally:
        con.close()

    dry = apply_personal_retention(settings, 15, "test-run-dry", today, dry_run=True)
    assert dry.partitions and tables.version_at(legs) == version
    result = apply_personal_retention(settings, 15, "test-run", today)
    assert result.cutoff == date(2026, 10, 16)
    assert tables.version_at(legs) == version + 1  # one commit for every partition
    assert result.rows == dry.rows

    con = connect(settings)
    try:
        left = con.execute(
            "select count(*) from stg_call_legs where call_date < date '2026-10-16' and ("
            f"not regexp_matches(user_name, '{PSEUDONYM}') "
            f"or not regexp_matches(calling_number, '{PSEUDONYM}') "
            f"or not regexp_matches(device_mac, '{PSEUDONYM}') "
            "or public_calling_ip is not null or extra is not null)"
        ).fetchall()[0][0]
        kept = con.execute(
            "select report_id, user_name, calling_number from stg_call_legs "
            "where call_date >= date '2026-10-16' order by report_id"
        ).fetchall()
        analyst_after = con.execute(analyst_sql).fetchall()
    finally:
        con.close()
    assert left == 0
    # the analyst tier shows the same pseudonyms: a value replaced in place is not hashed again
    assert analyst_after == analyst_before
    assert kept == recent  # newer legs untouched
    assert _finance(settings) == before
    # a second pass finds nothing to do; vacuum removes the replaced files
    again = apply_personal_retention(settings, 15, "test-run-2", today)
    assert again.partitions == [] and tables.version_at(legs) == version + 1
    assert vacuum_tables(settings, grace_hours=0).deleted["call_legs"]


def test_privacy_table_of_cdr_toml(tmp_path: Path) -> None:
    from cdr_pipeline.config import load_settings
    from cdr_pipeline.errors import ConfigError

    cfg = tmp_path / "cdr.toml"
    cfg.write_text("[privacy]\npersonal_days = 90\nprefix_digits = 2\n")
    settings = load_settings(cfg, env={})
    assert (settings.privacy_personal_days, settings.privacy_prefix_digits) == (90, 2)
    assert load_settings(None, env={}).privacy_personal_days is None  # default: off
    for text in ("[privacy]\nkeep_days = 1\n", "privacy_personal_days = 5\n"):
        cfg.write_text(text)
        try:
            load_settings(cfg, env={})
        except ConfigError as exc:
            assert "unknown key" in exc.message
        else:
            raise AssertionError(f"accepted {text!r}")


def test_a_forget_leaves_partitions_retention_did_done(sample_wh: Settings, tmp_path: Path) -> None:
    # a forget rewrote every old partition holding the person (one a day, in a year of
    # data) into files without retention's mark; the next nightly's retention pass read and
    # rewrote them all again and counted their rows as newly pseudonymised, though the
    # forget's tokens leave no raw value in them (1M legs: 25 partitions redone, not 15)
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    root = settings.layout.table("call_legs")
    done, late = sorted(tables.snapshot(root, "call_legs", "call_date").files)[:2]
    empty = pa.table({"kind": [""], "value": [""], "pseudonym": [""]})
    con = rewrite_connection(settings, empty)
    try:
        snap = tables.snapshot(root, "call_legs", "call_date")
        rewrite_partitions(
            con, settings, CALL_LEGS, snap, [done], "r1", null_dropped="true", tag=TAG
        )
        snap = tables.snapshot(root, "call_legs", "call_date")
        rewrite_partitions(  # a forget: the partition retention did, and one it did not
            con, settings, CALL_LEGS, snap, [done, late], "r2",
            null_dropped="touched", tag="erasure",
        )  # fmt: skip
    finally:
        con.close()
    snap = tables.snapshot(root, "call_legs", "call_date")
    assert _pending(snap, date(2030, 1, 1))[:1] == [late]
