"""A Webex Go leg finds its device whatever the spelling of the keys: a UUID in another case
(its hex digits are case-free) and a phone number as a spreadsheet or a person wrote it (the
leading + of E.164 lost, blanks and dashes)."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import connect_as_of
from tests.warehouse.finance_world import World, records, user

FILE = "calls_2026-09-01_2026-10-01.csv"


def test_keys_match_across_case_and_number_format(tmp_path: Path) -> None:
    u1, u2, u3 = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", user(2), user(3)
    w = World()
    # G1's list has U1's UUID in capitals; G2 and G3 have no user UUID, their numbers
    # written by hand or saved by a spreadsheet
    w.snapshot("2026-09-01T06:00:00Z", "G1", u1.upper(), "+15550001")
    assert u1.upper() != u1
    w.snapshot("2026-09-01T06:00:00Z", "G2", "", "1 555-000-2")
    w.snapshot("2026-09-01T06:00:00Z", "G3", "", "15550003")
    w.leg(FILE, "C1", "2026-09-15T12:00:00Z", u1, "+15550001", 60)
    w.leg(FILE, "C2", "2026-09-15T12:00:00Z", u2, "+15550002", 60)
    w.leg(FILE, "C3", "2026-09-15T12:00:00Z", u3, "+15550003", 60)
    # a leg whose number has no digits matches no device (an empty key is no key)
    w.leg(FILE, "C4", "2026-09-15T12:00:00Z", "", "anonymous", 60)
    con = w.build(tmp_path)
    got = records(
        con,
        "select report_id, device_id, device_matched_by from fct_webex_go_leg_devices "
        "order by report_id",
    )
    assert got == [
        {"report_id": "C1", "device_id": "G1", "device_matched_by": "user_uuid"},
        {"report_id": "C2", "device_id": "G2", "device_matched_by": "phone_number"},
        {"report_id": "C3", "device_id": "G3", "device_matched_by": "phone_number"},
        {"report_id": "C4", "device_id": None, "device_matched_by": None},
    ]


def test_analyst_tier_matches_the_same_devices_when_time_travelling(tmp_path: Path) -> None:
    """The analyst tier's Webex Go legs find the devices the full tier finds, also when it is
    computed from its views (`--as-of`, not the build's table): a pseudonym hides the case of a
    UUID and the digits of a number, so the match cannot be worked out from pseudonyms."""
    u1 = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    w = World()
    w.snapshot("2026-09-01T06:00:00Z", "G1", u1.upper(), "+15550001")
    w.snapshot("2026-09-01T06:00:00Z", "G2", "", "1 555-000-2")
    w.leg(FILE, "C1", "2026-09-15T12:00:00Z", u1, "+15550001", 60)
    w.leg(FILE, "C2", "2026-09-15T12:00:00Z", "", "+15550002", 60)
    w.build(tmp_path).close()
    settings = Settings(warehouse=tmp_path / "wh")
    sql = "select report_id, device_id, device_matched_by from fct_webex_go_calls order by 1"
    full = connect_as_of(settings, 0, tier="full")
    analyst = connect_as_of(settings, 0, tier="analyst")
    try:
        expected = [
            {"report_id": "C1", "device_id": "G1", "device_matched_by": "user_uuid"},
            {"report_id": "C2", "device_id": "G2", "device_matched_by": "phone_number"},
        ]
        assert records(full, sql) == expected
        assert records(analyst, sql) == expected
    finally:
        full.close()
        analyst.close()
