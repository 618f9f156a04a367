"""Writable warehouses for the finance tests: the samples loaded once, copied per test (a
close or late data changes a warehouse) and rebuilt so the views point at the copy."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import UTC
from pathlib import Path

import duckdb
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import build_warehouse, connect
from tests.warehouse.finance_world import CALL_HEADER

CLOSED_MONTH = "2026-10"
"""A month the samples cover with call data on every day."""
OPEN_MONTH = "2026-11"
"""A month the samples have no call data for."""


def copy_warehouse(template: Settings, root: Path) -> Settings:
    settings = Settings(warehouse=root / "warehouse")
    shutil.copytree(template.warehouse, settings.warehouse)
    build_warehouse(settings)
    return settings


def cdr(settings: Settings, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--warehouse", str(settings.warehouse), *args])
    return res.exit_code, res.stdout, res.stderr


def held_device_of(settings: Settings, month: str) -> dict[str, object]:
    """A device that held an activated licence to the end of `month`, with the attributes
    a call leg of it needs and a time inside the month to place the leg."""
    first = f"{month}-01"
    con = connect(settings)
    try:
        cur = con.execute(
            """
            select s.device_id, s.user_uuid, s.phone_number, s.location_name,
                s.subscription_id, s.licence_type,
                (select any_value(org_uuid) from fct_call_legs) as org_uuid,
                -- an hour after it was both held and activated, inside the month
                greatest(s.segment_from, s.first_activated_at, $first::timestamptz)
                    + interval 1 hour as call_at
            from fct_device_licence_segments as s
            where s.segment_from < $first::date + interval 1 month
              and (s.segment_to is null or s.segment_to > $first::date + interval 1 month)
              and s.first_activated_at < $first::date + interval 1 month - interval 2 hour
              and s.user_uuid is not null
            order by s.device_id
            limit 1
            """,
            {"first": first},
        )
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    assert rows, f"the samples have no device held in {month}"
    return dict(zip(names, rows[0], strict=True))


def late_call_file(folder: Path, device: dict[str, object]) -> Path:
    """A call export arriving late: one Webex Go leg of `device` at its `call_at`."""
    folder.mkdir(parents=True, exist_ok=True)
    start = device["call_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[attr-defined]
    row = [
        "late-0001", start, start, start, start, "300", "true", "ORIGINATING", "SIP_NATIONAL",
        "SIP", "MOBILE_NETWORK", device["user_uuid"], device["phone_number"] or "", "User",
        device["org_uuid"], device["location_name"] or "", "0", "late-corr-0001", "late:0",
        "late:1", "+15559999",
    ]  # fmt: skip
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    path = folder / "late_calls.csv"
    path.write_text(CALL_HEADER + "\n" + buf.getvalue(), encoding="utf-8")
    return path


def query(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


LATE_ENTITLEMENT = (
    "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
    "Sub-39015,Webex Go (Bring Your Own Device),6,2026-01-01,,12.50,USD\n"
)
"""A corrected entitlement row (same key as the samples' 8 units of Sub-39015 BYOD): 6
units bought, so October's unassigned units fall by 2 and its unassigned cost by 25.00."""


def late_entitlement_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "entitlements_correction.csv"
    path.write_text(LATE_ENTITLEMENT, encoding="utf-8")
    return path
