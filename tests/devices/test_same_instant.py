"""Two events of one device at the same instant and of the same lifecycle step (ACTIVATED and
STATUS_CHANGED, or two STATUS_CHANGED): the later one delivered wins, as a file lists events
in the order they happened (the order OUT_OF_ORDER_EVENT judges), never whichever row the
table's files happen to hold first. Expectations worked out by hand."""

from __future__ import annotations

from pathlib import Path

from tests.devices.helpers import EVENT_HEADER, ORG, ingest, rows, views, write_csv

U1 = "aaaaaaaa-0000-4000-8000-000000000001"


def _ev(event_id: str, t: str, dev: str, kind: str, status: str = "") -> str:
    return f"{event_id},2026-{t}Z,{ORG},{dev},{kind},{U1},{status},admin,,BYOD,Sub-1,+15550100,"


def _history(con: object, device: str) -> list[tuple[object, ...]]:
    return rows(
        con,  # type: ignore[arg-type]
        "select status, strftime(valid_from, '%m-%d %H:%M') from fct_device_status_history "
        f"where device_id = '{device}' order by valid_from",
    )


def test_the_later_event_of_one_instant_wins(tmp_path: Path) -> None:
    header = "event_id," + EVENT_HEADER
    first = write_csv(
        tmp_path / "in1" / "events.csv",
        header,
        [
            # DA: activated, and disabled on the phone the same second
            _ev("a1", "08-01T10:00:00", "DA", "PROVISIONED"),
            _ev("a2", "08-02T10:00:00", "DA", "ACTIVATED"),
            _ev("a3", "08-02T10:00:00", "DA", "STATUS_CHANGED", "OFFLINE"),
            # DB: enabled, then disabled the same second (ids out of line order)
            _ev("b1", "08-01T10:00:00", "DB", "PROVISIONED"),
            _ev("b2", "08-02T10:00:00", "DB", "ACTIVATED"),
            _ev("b9", "08-05T10:00:00", "DB", "STATUS_CHANGED", "ONLINE"),
            _ev("b3", "08-05T10:00:00", "DB", "STATUS_CHANGED", "OFFLINE"),
            # DC: OFFLINE at 08-05 10:00, and a later file says ONLINE at that instant
            _ev("c1", "08-01T10:00:00", "DC", "PROVISIONED"),
            _ev("c2", "08-02T10:00:00", "DC", "ACTIVATED"),
            _ev("c3", "08-05T10:00:00", "DC", "STATUS_CHANGED", "OFFLINE"),
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, first)
    second = write_csv(
        tmp_path / "in2" / "events.csv",
        header,
        [_ev("c0", "08-05T10:00:00", "DC", "STATUS_CHANGED", "ONLINE")],
    )
    ingest(wh, second)
    con = views(wh)
    assert _history(con, "DA") == [
        ("PENDING_ACTIVATION", "08-01 10:00"),
        ("OFFLINE", "08-02 10:00"),
    ]
    assert _history(con, "DB") == [
        ("PENDING_ACTIVATION", "08-01 10:00"),
        ("ONLINE", "08-02 10:00"),
        ("OFFLINE", "08-05 10:00"),
    ]
    assert _history(con, "DC") == [
        ("PENDING_ACTIVATION", "08-01 10:00"),
        ("ONLINE", "08-02 10:00"),
    ]


def test_the_later_event_of_one_instant_gives_the_attributes(tmp_path: Path) -> None:
    """A Mobile Operator number released and another assigned the same second: the device has
    the number of the later line from then on (its licence unit, the number legs match)."""

    def ev(event_id: str, t: str, kind: str, number: str) -> str:
        return f"{event_id},2026-{t}Z,{ORG},DM,{kind},{U1},,admin,,MOBILE_OPERATOR,Sub-1,{number},"

    events = write_csv(
        tmp_path / "in" / "events.csv",
        "event_id," + EVENT_HEADER,
        [
            ev("m1", "08-01T10:00:00", "PROVISIONED", "+15550001"),
            ev("m2", "08-02T10:00:00", "ACTIVATED", "+15550001"),
            ev("m9", "08-05T10:00:00", "LICENSE_RELEASED", "+15550001"),
            ev("m3", "08-05T10:00:00", "LICENSE_ASSIGNED", "+15550002"),
        ],
    )
    ingest(tmp_path / "wh", events)
    con = views(tmp_path / "wh")
    assert rows(
        con,
        "select strftime(valid_from, '%m-%d %H:%M'), phone_number "
        "from int_device_attribute_history order by valid_from",
    ) == [("08-01 10:00", "+15550001"), ("08-05 10:00", "+15550002")]
    assert rows(con, "select phone_number, licence_unit_id from dim_webex_go_devices") == [
        ("+15550002", "+15550002")
    ]
