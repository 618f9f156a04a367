"""A Webex Mobile number is one licence unit however a device list writes it: the API's
`+15550000009`, a person's `+1 555-000-0009` or `+1 (555) 000.0009` are one number."""

from __future__ import annotations

from pathlib import Path

from tests.devices.helpers import EVENT_HEADER, ORG, SNAPSHOT_HEADER, ingest, rows, views, write_csv

USER = "0a000000-0000-4000-8000-000000000009"


def test_a_mobile_number_written_with_blanks_and_dashes_is_one_licence_unit(
    tmp_path: Path,
) -> None:
    # M1 listed by the API, its replacement M2 (the same Webex Mobile number) typed by hand
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M1,{USER},,,MOBILE_OPERATOR,+15550000009,,L,,S,ONLINE,,",
            f"2026-09-08T06:00:00Z,{ORG},M1,{USER},,,MOBILE_OPERATOR,+1 (555) 000.0009,,L,,S,"
            "ONLINE,,",
        ],
    )
    events = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [
            f"2026-09-10T00:00:00Z,{ORG},M1,DELETED,{USER},,,,MOBILE_OPERATOR,S,+15550000009,",
            f"2026-09-10T00:00:00Z,{ORG},M2,PROVISIONED,{USER},,,,MOBILE_OPERATOR,S,"
            "+1 555-000-0009,",
            f"2026-09-11T00:00:00Z,{ORG},M2,ACTIVATED,{USER},,,,MOBILE_OPERATOR,S,"
            "\u00a0+1\u00a0555\u00a0000\u00a00009,",
        ],
    )
    ingest(tmp_path / "wh", snaps, events)
    con = views(tmp_path / "wh")
    assert rows(con, "select distinct phone_number from stg_device_snapshots") == [
        ("+15550000009",)
    ]
    assert rows(con, "select distinct phone_number from stg_device_events") == [("+15550000009",)]
    assert rows(
        con,
        "select licence_unit_id, iso_utc(held_from), held_to, device_count "
        "from fct_licence_holdings",
    ) == [("+15550000009", "2026-09-01T06:00:00Z", None, 2)]
    # one unit held 1 to 11 September (the data horizon): 11 licence-days, one per day
    assert rows(
        con,
        "select strftime(month, '%Y-%m'), consumed_peak, licence_days "
        "from rpt_licence_reconciliation",
    ) == [("2026-09", 1, 11)]
    assert rows(con, "select count(distinct licence_unit_id) from fct_licence_days") == [(1,)]
