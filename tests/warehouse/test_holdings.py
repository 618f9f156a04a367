"""fct_licence_holdings takes a holding's attributes from its latest device, all from that
one device, even where the latest device lacks a value an earlier one had."""

from __future__ import annotations

from pathlib import Path

import duckdb

SQL = Path(__file__).parents[2] / "sql" / "fct_licence_holdings.sql"


def test_a_merged_holding_takes_every_attribute_from_its_latest_device() -> None:
    con = duckdb.connect()
    con.execute("""
        create table fct_device_licence_segments as select * from (values
            ('dev-a', '+15550100', timestamptz '2026-09-01 00:00:00+00',
             timestamptz '2026-09-10 00:00:00+00', 'DELETED', 'MOBILE_OPERATOR', 'WEBEX_GO',
             'sub-1', 'Lyon', 'dept-1', 'user-1', '+15550100',
             timestamptz '2026-09-01 00:00:00+00'),
            ('dev-b', '+15550100', timestamptz '2026-09-05 00:00:00+00', null, null,
             'MOBILE_OPERATOR', 'WEBEX_GO', null, null, null, 'user-2', '+15550100',
             timestamptz '2026-09-05 00:00:00+00')
        ) t(device_id, licence_unit_id, segment_from, segment_to, end_reason, deployment,
            licence_type, subscription_id, location_name, department_id, user_uuid,
            phone_number, provisioned_at)
    """)
    rows = con.execute(SQL.read_text()).fetchall()
    cols = [d[0] for d in con.description]
    assert len(rows) == 1  # overlapping devices on one number: one holding
    got = dict(zip(cols, rows[0], strict=True))
    assert got["device_id"] == "dev-b" and got["device_count"] == 2
    assert got["user_uuid"] == "user-2"
    # dev-b has no subscription, location or department: none is borrowed from dev-a
    assert (got["subscription_id"], got["location_name"], got["department_id"]) == (
        None,
        None,
        None,
    )
    assert got["held_to"] is None
