"""A Webex Go leg finds its device whatever the spelling of the keys: a UUID in another case
(its hex digits are case-free) and a phone number as a spreadsheet or a person wrote it (the
leading + of E.164 lost, blanks and dashes)."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import connect_as_of
from tests.warehouse.finance_world import BYOD, MOBILE, ORG, World, records, user

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


def number_world() -> World:
    """Devices whose number changes (A: 0001 then 0002; C: 0003 then 0004), a number
    reassigned (0001 from A to B) and legs without User UUID before, between and after."""
    w = World()
    # each snapshot lists the org's devices then: A has 0001 until the one of 09-10 shows
    # 0002; B takes 0001, first seen 09-12; C has 0003 (as a spreadsheet saved it) until the
    # one of 09-10 shows 0004, and nobody takes 0003 after it; U's device has a user UUID
    listings = {
        "2026-09-01T06:00:00Z": [("GA", "+15550001"), ("GC", "15550003")],
        "2026-09-10T06:00:00Z": [("GA", "+15550002"), ("GC", "+15550004")],
        "2026-09-12T06:00:00Z": [("GA", "+15550002"), ("GB", "+15550001"), ("GC", "+15550004")],
        "2026-10-01T06:00:00Z": [("GA", "+15550002"), ("GB", "+15550001"), ("GC", "+15550004")],
    }
    for time, devices in listings.items():
        for device, number in devices:
            w.snapshot(time, device, "", number)
        w.snapshot(time, "GU", user(1), "+15550009")
    file = "calls_2026-08-01_2026-10-01.csv"
    for rid, start, number in [
        ("L01", "2026-08-20T12:00:00Z", "+15550001"),  # before any holder: its first (A)
        ("L02", "2026-09-05T12:00:00Z", "+15550001"),  # A holds 0001
        ("L03", "2026-09-11T12:00:00Z", "+15550001"),  # nobody: its last holder (A)
        ("L04", "2026-09-15T12:00:00Z", "+15550001"),  # B holds 0001
        ("L05", "2026-09-05T12:00:00Z", "+15550002"),  # before A took 0002: its first (A)
        ("L06", "2026-09-15T12:00:00Z", "+15550002"),  # A holds 0002
        ("L07", "2026-09-05T12:00:00Z", "+15550003"),  # C holds 0003 (its old number)
        ("L08", "2026-09-15T12:00:00Z", "+15550003"),  # nobody: its last holder (C)
        ("L09", "2026-09-15T12:00:00Z", "+15550004"),  # C holds 0004
        ("L10", "2026-08-20T12:00:00Z", "+15550004"),  # before C's first observation
    ]:
        w.leg(file, rid, start, "", number, 60)
    # a leg with a User UUID still matches by it: U1's device, whatever the number
    w.leg(file, "L11", "2026-09-05T12:00:00Z", user(1), "+15550001", 60)
    return w


def test_a_number_matches_the_device_that_held_it_when_the_leg_started(tmp_path: Path) -> None:
    """A number is matched by who held it at the leg's start (int_device_attribute_history),
    not by the devices' latest numbers: a device whose number changed keeps the legs of its
    old number, and a number reassigned from A to B gives each its own legs."""
    con = number_world().build(tmp_path)
    got = con.execute(
        "select report_id, device_id, device_matched_by from fct_webex_go_leg_devices "
        "order by report_id"
    ).fetchall()
    by_number = "phone_number"
    assert got == [
        ("L01", "GA", by_number),
        ("L02", "GA", by_number),
        ("L03", "GA", by_number),
        ("L04", "GB", by_number),
        ("L05", "GA", by_number),
        ("L06", "GA", by_number),
        ("L07", "GC", by_number),
        ("L08", "GC", by_number),
        ("L09", "GC", by_number),
        ("L10", "GC", by_number),
        ("L11", "GU", "user_uuid"),
    ]
    # no leg is left without a device (`no_device`): only the legs before their device's
    # first observation are anomalies
    anomalies = con.execute(
        "select report_id, anomaly_type from fct_webex_go_calls "
        "where anomaly_type is not null order by report_id"
    ).fetchall()
    assert anomalies == [("L01", "before_provisioning"), ("L10", "before_provisioning")]


def test_a_user_matches_the_device_that_was_theirs_when_the_leg_started(tmp_path: Path) -> None:
    """A device given to another user (the device list shows U2 from 09-10 where it showed
    U1) keeps U1's legs of before: the User UUID is matched by who held the device at the
    leg's start, as a number is, not by the device's latest user."""
    w = World()
    w.snapshot("2026-09-01T06:00:00Z", "G", user(1), "+15550001")
    w.snapshot("2026-09-05T06:00:00Z", "G", user(1), "+15550001")
    w.snapshot("2026-09-10T06:00:00Z", "G", user(2), "+15550001")
    file = "calls_2026-09-01_2026-10-01.csv"
    w.leg(file, "U1-before", "2026-09-06T12:00:00Z", user(1), "", 60)  # G is U1's
    w.leg(file, "U1-after", "2026-09-11T12:00:00Z", user(1), "", 60)  # U1's last device: G
    w.leg(file, "U2-after", "2026-09-11T12:00:00Z", user(2), "", 60)  # G is U2's
    con = w.build(tmp_path)
    got = con.execute(
        "select report_id, device_id, device_matched_by, device_status, anomaly_type "
        "from fct_webex_go_calls order by report_id"
    ).fetchall()
    assert got == [
        ("U1-after", "G", "user_uuid", "ONLINE", None),
        ("U1-before", "G", "user_uuid", "ONLINE", None),
        ("U2-after", "G", "user_uuid", "ONLINE", None),
    ]


def test_a_leg_carries_the_device_attributes_in_effect_at_its_start(tmp_path: Path) -> None:
    """A device moved to another subscription, location and department on 10-01: its
    September legs keep those of September (as the licence usage report counts them), a leg
    before its first observation the first ones, not the device's latest."""
    w = World()
    w.snapshot("2026-09-01T06:00:00Z", "G", user(1), "+15550001", subscription="Sub-1")
    w.snapshot(
        "2026-10-01T06:00:00Z",
        "G",
        user(1),
        "+15550001",
        subscription="Sub-2",
        location="Branch",
        department="Dept-B",
        deployment="MOBILE_OPERATOR",
    )
    file = "calls_2026-08-01_2026-11-01.csv"
    w.leg(file, "AUG", "2026-08-20T12:00:00Z", user(1), "", 60)
    w.leg(file, "SEP", "2026-09-15T12:00:00Z", user(1), "", 60)
    w.leg(file, "OCT", "2026-10-15T12:00:00Z", user(1), "", 60)
    con = w.build(tmp_path)
    sql = (
        "select report_id, licence_type, subscription_id, device_location_name, "
        "device_department_id from {} order by report_id"
    )
    september = (BYOD, "Sub-1", "HQ", "Dept-A")
    expected = [
        ("AUG", *september),
        ("OCT", MOBILE, "Sub-2", "Branch", "Dept-B"),
        ("SEP", *september),
    ]
    assert con.execute(sql.format("fct_webex_go_leg_devices")).fetchall() == expected
    assert con.execute(sql.format("fct_webex_go_calls")).fetchall() == expected
    used = con.execute(
        "select month, licence_type, subscription_id, location_name, webex_go_calls "
        "from rpt_licence_usage_monthly where webex_go_calls > 0 order by month"
    ).fetchall()
    assert [row[1:4] for row in used] == [september[:3], (MOBILE, "Sub-2", "Branch")]


def _event(w: World, time: str, device: str, kind: str, uid: str, status: str = "") -> None:
    w.events.append(f"{time},{ORG},{device},{kind},{uid},{status},admin,,BYOD,Sub-1,,")


def test_a_user_with_two_devices_calls_from_the_one_online(tmp_path: Path) -> None:
    """A user with two Webex Go devices: the leg is the one Online at its start, not the
    latest provisioned when that one is Offline (its line disabled on the phone) or waiting
    for its Lost/Stolen replacement. Both Online: the latest to take the user, as before.
    Before, U1's legs after 09-08 went to Y, Offline, and X, Online and in use, looked idle;
    U2's leg of 09-07 went to V and was reported as a call from a lost phone."""
    w = World()
    u1, u2 = user(1), user(2)
    _event(w, "2026-09-01T00:00:00Z", "X", "PROVISIONED", u1)
    _event(w, "2026-09-02T00:00:00Z", "X", "ACTIVATED", u1)
    _event(w, "2026-09-05T00:00:00Z", "Y", "PROVISIONED", u1)
    _event(w, "2026-09-06T00:00:00Z", "Y", "ACTIVATED", u1)
    _event(w, "2026-09-08T00:00:00Z", "Y", "STATUS_CHANGED", u1, "OFFLINE")
    _event(w, "2026-09-01T00:00:00Z", "Z", "PROVISIONED", u2)
    _event(w, "2026-09-02T00:00:00Z", "Z", "ACTIVATED", u2)
    _event(w, "2026-09-03T00:00:00Z", "V", "PROVISIONED", u2)
    _event(w, "2026-09-04T00:00:00Z", "V", "ACTIVATED", u2)
    _event(w, "2026-09-06T00:00:00Z", "V", "LOST_STOLEN", u2)
    file = "calls_2026-09-01_2026-10-01.csv"
    for rid, start, uid in [
        ("L1", "2026-09-03T00:00:00Z", u1),  # X only
        ("L2", "2026-09-05T12:00:00Z", u1),  # Y pending: X
        ("L3", "2026-09-07T00:00:00Z", u1),  # both Online: the latest, Y
        ("L4", "2026-09-08T00:00:00Z", u1),  # the instant Y goes Offline: X
        ("L5", "2026-09-10T00:00:00Z", u1),  # Y Offline: X
        ("M1", "2026-09-05T00:00:00Z", u2),  # both Online: the latest, V
        ("M2", "2026-09-07T00:00:00Z", u2),  # V Lost/Stolen, pending: Z
    ]:
        w.leg(file, rid, start, uid, "", 60)
    con = w.build(tmp_path)
    got = con.execute(
        "select report_id, device_id, device_status, anomaly_type from fct_webex_go_calls "
        "order by report_id"
    ).fetchall()
    assert got == [
        ("L1", "X", "ONLINE", None),
        ("L2", "X", "ONLINE", None),
        ("L3", "Y", "ONLINE", None),
        ("L4", "X", "ONLINE", None),
        ("L5", "X", "ONLINE", None),
        ("M1", "V", "ONLINE", None),
        ("M2", "Z", "ONLINE", None),
    ]
