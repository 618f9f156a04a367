"""Lifecycle views over hand-built device histories. Every expected interval, code and licence
day below is written out by hand from the rules in docs/inputs-devices.md.

All times are 2026, UTC. The data horizon (int_device_as_of) is the last observation:
the D1 snapshot of 09-10 06:00.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

from tests.devices.helpers import (
    EVENT_HEADER,
    ORG,
    SNAPSHOT_HEADER,
    ingest,
    person_id,
    rows,
    views,
    write_csv,
)

U1 = "aaaaaaaa-0000-4000-8000-000000000001"
U7 = "aaaaaaaa-0000-4000-8000-000000000007"


def _snap(
    t: str,
    dev: str,
    status: str,
    *,
    user: str = "",
    person: str = "",
    dep: str = "BYOD",
    phone: str = "+15550100",
) -> str:
    return (
        f"2026-{t}Z,{ORG},{dev},{user},{person},x@example.com,{dep},{phone},100,Chicago HQ,"
        f"dept-1,Sub-1,{status},,ESIM"
    )


def _ev(
    t: str,
    dev: str,
    kind: str,
    *,
    status: str = "",
    expires: str = "",
    dep: str = "BYOD",
    phone: str = "+15550100",
    code: str = "",
    user: str = U7,
) -> str:
    return (
        f"2026-{t}Z,{ORG},{dev},{kind},{user},{status},admin@example.com,{expires},{dep},Sub-1,"
        f"{phone},{code}"
    )


SNAPSHOTS = [
    # D1: STATUS_UNAVAILABLE between two ONLINE snapshots changes nothing; person ids only
    _snap("09-01T06:00:00", "D1", "Online", person=person_id(U1)),
    _snap("09-02T06:00:00", "D1", "Status unavailable", person=person_id(U1)),
    _snap("09-03T06:00:00", "D1", "ONLINE", person=person_id(U1)),
    _snap("09-04T06:00:00", "D1", "Offline", person=person_id(U1)),
    _snap("09-10T06:00:00", "D1", "OFFLINE", person=person_id(U1)),
    # D1b: no status known yet -> STATUS_UNAVAILABLE until the first known one
    _snap("09-01T06:00:00", "D1b", "Status unavailable", user=U1),
    _snap("09-02T06:00:00", "D1b", "Pending activation", user=U1),
    # D2: a gap between snapshots (09-02..09-04 missing): the change takes effect at 09-05
    _snap("09-01T06:00:00", "D2", "ONLINE", user=U1),
    _snap("09-05T06:00:00", "D2", "OFFLINE", user=U1),
    # D2b: same snapshots, but an event dates the change at 09-03 12:00
    _snap("09-01T06:00:00", "D2b", "ONLINE", user=U1),
    _snap("09-05T06:00:00", "D2b", "OFFLINE", user=U1),
    # D8: listed again after its deletion on 09-04
    _snap("09-06T06:00:00", "D8", "ONLINE", user=U7),
]

EVENTS = [
    _ev("09-03T12:00:00", "D2b", "STATUS_CHANGED", status="OFFLINE"),
    # D3: code 1 superseded by code 2, code 2 consumed, code 3 issued while ONLINE
    _ev("08-01T10:00:00", "D3", "PROVISIONED"),
    _ev("08-01T10:00:02", "D3", "ACTIVATION_CODE_ISSUED", code="SECRETCODE0000D3A"),
    _ev("08-03T09:00:00", "D3", "ACTIVATION_CODE_ISSUED", code="SECRETCODE0000D3B"),
    _ev("08-04T08:00:00", "D3", "ACTIVATED"),
    _ev("08-20T12:00:00", "D3", "ACTIVATION_CODE_ISSUED", code="SECRETCODE0000D3C"),
    # D4: never activated, its code expired unused (90 days: 07-30)
    _ev("05-01T00:00:00", "D4", "PROVISIONED"),
    _ev("05-01T00:00:02", "D4", "ACTIVATION_CODE_ISSUED"),
    # D5: fresh code: pending with 90 days, expired with 7 days (09-08 12:00:02)
    _ev("09-01T12:00:00", "D5", "PROVISIONED"),
    _ev("09-01T12:00:02", "D5", "ACTIVATION_CODE_ISSUED"),
    # D6: the event states its expiry; it wins over the setting
    _ev("09-02T00:00:00", "D6", "PROVISIONED"),
    _ev("09-02T00:00:02", "D6", "Activation code issued", expires="2026-09-05T00:00:00Z"),
    # D7: Lost/Stolen keeps the licence; the replacement code is consumed
    _ev("08-01T00:00:00", "D7", "PROVISIONED"),
    _ev("08-01T00:00:02", "D7", "ACTIVATION_CODE_ISSUED"),
    _ev("08-02T00:00:00", "D7", "ACTIVATED"),
    _ev("09-05T10:00:00", "D7", "Lost/Stolen"),
    _ev("09-05T10:03:00", "D7", "ACTIVATION_CODE_ISSUED"),
    _ev("09-06T09:00:00", "D7", "ACTIVATED"),
    # D8: deleted on 09-04 15:00 (licence released), then an event after the deletion
    _ev("09-01T08:00:00", "D8", "PROVISIONED"),
    _ev("09-01T20:00:00", "D8", "ACTIVATED"),
    _ev("09-04T15:00:00", "D8", "DELETED"),
    _ev("09-07T00:00:00", "D8", "STATUS_CHANGED", status="ONLINE"),
    # D9: an event for a device nothing else knows
    _ev("09-03T00:00:00", "D9", "STATUS_CHANGED", status="OFFLINE"),
    # D10 then D11 on one Mobile Operator number; D12 on another number
    _ev("09-01T00:00:00", "D10", "PROVISIONED", dep="MOBILE_OPERATOR", phone="+15550001"),
    _ev("09-03T12:00:00", "D10", "DELETED", dep="MOBILE_OPERATOR", phone="+15550001"),
    _ev("09-03T12:00:00", "D11", "PROVISIONED", dep="MOBILE_OPERATOR", phone="+15550001"),
    _ev("09-09T00:00:00", "D12", "PROVISIONED", dep="MOBILE_OPERATOR", phone="+15550002"),
    # D13: the 08-05 event is written after the 08-10 one
    _ev("08-01T00:00:00", "D13", "PROVISIONED"),
    _ev("08-02T00:00:00", "D13", "ACTIVATED"),
    _ev("08-10T00:00:00", "D13", "STATUS_CHANGED", status="OFFLINE"),
    _ev("08-05T00:00:00", "D13", "STATUS_CHANGED", status="ONLINE"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lifecycle")
    inputs = root / "inputs"
    write_csv(inputs / "snapshots.csv", SNAPSHOT_HEADER, SNAPSHOTS)
    write_csv(inputs / "events.csv", EVENT_HEADER, EVENTS)
    ingest(root / "wh", inputs)
    return root / "wh"


@pytest.fixture(scope="module")
def con(warehouse: Path) -> duckdb.DuckDBPyConnection:
    return views(warehouse)


@pytest.fixture(scope="module")
def con7(warehouse: Path) -> duckdb.DuckDBPyConnection:
    return views(warehouse, code_expiry_days=7)


def _ts(col: str) -> str:
    return f"strftime(timezone('UTC', {col}), '%m-%d %H:%M:%S')"


def history(con: duckdb.DuckDBPyConnection, device: str) -> list[tuple[object, ...]]:
    return rows(
        con,
        f"select status, {_ts('valid_from')}, {_ts('valid_to')}, source, is_deleted_reappearance "
        f"from fct_device_status_history where device_id = '{device}' order by valid_from",
    )


def codes(con: duckdb.DuckDBPyConnection, device: str) -> list[tuple[object, ...]]:
    return rows(
        con,
        f"select code_seq, {_ts('issued_at')}, {_ts('expires_at')}, {_ts('superseded_at')}, "
        f"{_ts('consumed_at')}, outcome, issued_while_status, is_anomaly "
        f"from fct_activation_codes where device_id = '{device}' order by code_seq",
    )


def days(con: duckdb.DuckDBPyConnection, unit: str) -> list[tuple[object, ...]]:
    return rows(
        con,
        "select strftime(licence_day, '%m-%d'), device_id, licence_type, status_at_day_end "
        f"from fct_licence_days where licence_unit_id = '{unit}' order by licence_day",
    )


def world(
    tmp: Path, events: Sequence[str], snapshots: Sequence[str] = (), calls: Sequence[str] = ()
) -> duckdb.DuckDBPyConnection:
    """A warehouse of these inputs alone (written as CSV files under `tmp`), its views."""
    files = [write_csv(tmp / "events.csv", EVENT_HEADER, list(events))]
    if snapshots:
        files.append(write_csv(tmp / "snapshots.csv", SNAPSHOT_HEADER, list(snapshots)))
    if calls:
        files.append(write_csv(tmp / "calls.csv", CALL_HEADER, list(calls)))
    ingest(tmp / "wh", *files)
    return views(tmp / "wh")


def test_data_horizon_is_the_last_observation(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, f"select {_ts('as_of_time')} from int_device_as_of") == [("09-10 06:00:00",)]


def test_status_unavailable_never_overwrites_a_known_status(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert history(con, "D1") == [
        ("ONLINE", "09-01 06:00:00", "09-04 06:00:00", "snapshot", False),
        ("OFFLINE", "09-04 06:00:00", None, "snapshot", False),
    ]
    assert history(con, "D1b") == [
        ("STATUS_UNAVAILABLE", "09-01 06:00:00", "09-02 06:00:00", "snapshot", False),
        ("PENDING_ACTIVATION", "09-02 06:00:00", None, "snapshot", False),
    ]


def test_gap_between_snapshots_change_takes_effect_when_seen(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert history(con, "D2") == [
        ("ONLINE", "09-01 06:00:00", "09-05 06:00:00", "snapshot", False),
        ("OFFLINE", "09-05 06:00:00", None, "snapshot", False),
    ]
    # an event dates the change inside the gap
    assert history(con, "D2b") == [
        ("ONLINE", "09-01 06:00:00", "09-03 12:00:00", "snapshot", False),
        ("OFFLINE", "09-03 12:00:00", None, "event", False),
    ]


def test_person_ids_decode_to_the_raw_user_uuid(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(
        con, "select distinct user_uuid from fct_device_status_history where device_id = 'D1'"
    ) == [(U1,)]
    assert rows(con, "select user_uuid from dim_webex_go_devices where device_id = 'D1'") == [(U1,)]


def test_codes_superseded_consumed_and_issued_while_online(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert codes(con, "D3") == [
        (
            1,
            "08-01 10:00:02",
            "10-30 10:00:02",
            "08-03 09:00:00",
            None,
            "SUPERSEDED",
            "PENDING_ACTIVATION",
            False,
        ),
        (
            2,
            "08-03 09:00:00",
            "11-01 09:00:00",
            "08-20 12:00:00",
            "08-04 08:00:00",
            "CONSUMED",
            "PENDING_ACTIVATION",
            False,
        ),
        # issued while ONLINE: kept, flagged; with 90 days it is still pending at the horizon
        (3, "08-20 12:00:00", "11-18 12:00:00", None, None, "PENDING", "ONLINE", True),
    ]


def test_code_expired_unused_with_90_days(con: duckdb.DuckDBPyConnection) -> None:
    assert codes(con, "D4") == [
        (1, "05-01 00:00:02", "07-30 00:00:02", None, None, "EXPIRED", "PENDING_ACTIVATION", False)
    ]
    assert codes(con, "D5") == [
        (1, "09-01 12:00:02", "11-30 12:00:02", None, None, "PENDING", "PENDING_ACTIVATION", False)
    ]


def test_code_expiry_of_7_days(con7: duckdb.DuckDBPyConnection) -> None:
    assert codes(con7, "D5") == [
        (1, "09-01 12:00:02", "09-08 12:00:02", None, None, "EXPIRED", "PENDING_ACTIVATION", False)
    ]
    assert codes(con7, "D3")[2][1:6] == ("08-20 12:00:00", "08-27 12:00:00", None, None, "EXPIRED")


def test_expiry_stated_by_the_event_wins(
    con: duckdb.DuckDBPyConnection, con7: duckdb.DuckDBPyConnection
) -> None:
    expected = [
        (1, "09-02 00:00:02", "09-05 00:00:00", None, None, "EXPIRED", "PENDING_ACTIVATION", False)
    ]
    assert codes(con, "D6") == expected
    assert codes(con7, "D6") == expected


def test_lost_stolen_keeps_the_licence(con: duckdb.DuckDBPyConnection) -> None:
    assert history(con, "D7") == [
        ("PENDING_ACTIVATION", "08-01 00:00:00", "08-02 00:00:00", "event", False),
        ("ONLINE", "08-02 00:00:00", "09-05 10:00:00", "event", False),
        ("PENDING_ACTIVATION", "09-05 10:00:00", "09-06 09:00:00", "event", False),
        ("ONLINE", "09-06 09:00:00", None, "event", False),
    ]
    assert [c[4:7] for c in codes(con, "D7")] == [
        ("08-02 00:00:00", "CONSUMED", "PENDING_ACTIVATION"),
        ("09-06 09:00:00", "CONSUMED", "PENDING_ACTIVATION"),
    ]
    held = days(con, "D7")
    # 08-01 .. 08-31 and 09-01 .. 09-10: every day held, no break at Lost/Stolen
    assert [d[0] for d in held] == [f"08-{i:02d}" for i in range(1, 32)] + [
        f"09-{i:02d}" for i in range(1, 11)
    ]
    assert held[35] == ("09-05", "D7", "Webex Go (Bring Your Own Device)", "PENDING_ACTIVATION")
    assert rows(
        con, "select held_to, end_reason from fct_licence_holdings where licence_unit_id = 'D7'"
    ) == [(None, None)]


def test_delete_releases_the_licence(con: duckdb.DuckDBPyConnection) -> None:
    assert days(con, "D8") == [
        ("09-01", "D8", "Webex Go (Bring Your Own Device)", "ONLINE"),
        ("09-02", "D8", "Webex Go (Bring Your Own Device)", "ONLINE"),
        ("09-03", "D8", "Webex Go (Bring Your Own Device)", "ONLINE"),
        # held until 15:00 on the deletion day: the day counts
        ("09-04", "D8", "Webex Go (Bring Your Own Device)", "DELETED"),
    ]
    assert rows(
        con,
        f"select {_ts('held_from')}, {_ts('held_to')}, end_reason from fct_licence_holdings "
        "where licence_unit_id = 'D8'",
    ) == [("09-01 08:00:00", "09-04 15:00:00", "DELETED")]
    assert rows(
        con,
        f"select current_status, {_ts('deleted_at')}, is_deleted from dim_webex_go_devices "
        "where device_id = 'D8'",
    ) == [("DELETED", "09-04 15:00:00", True)]


def test_deleted_device_reappearing_is_flagged(con: duckdb.DuckDBPyConnection) -> None:
    assert history(con, "D8") == [
        ("PENDING_ACTIVATION", "09-01 08:00:00", "09-01 20:00:00", "event", False),
        ("ONLINE", "09-01 20:00:00", "09-04 15:00:00", "event", False),
        ("DELETED", "09-04 15:00:00", "09-06 06:00:00", "event", False),
        ("DELETED", "09-06 06:00:00", None, "snapshot", True),
    ]


def test_violations(con: duckdb.DuckDBPyConnection) -> None:
    # This world's snapshots each list a few devices, not the whole org, so the listings
    # leave devices out (DEVICE_UNLISTED, tested in tests/warehouse/test_finance_rules.py).
    found = rows(
        con,
        f"select violation_type, device_id, {_ts('observed_at')} from fct_device_violations "
        "where violation_type <> 'DEVICE_UNLISTED' "
        "order by violation_type, device_id, observed_at",
    )
    assert found == [
        ("CODE_ISSUED_NOT_PENDING", "D3", "08-20 12:00:00"),
        ("DELETED_DEVICE_REAPPEARS", "D8", "09-06 06:00:00"),
        ("EVENT_AFTER_DELETE", "D8", "09-07 00:00:00"),
        ("OUT_OF_ORDER_EVENT", "D13", "08-05 00:00:00"),
        ("UNKNOWN_DEVICE_EVENT", "D9", "09-03 00:00:00"),
    ]


def test_out_of_order_event_still_dated_by_its_time(con: duckdb.DuckDBPyConnection) -> None:
    assert history(con, "D13") == [
        ("PENDING_ACTIVATION", "08-01 00:00:00", "08-02 00:00:00", "event", False),
        ("ONLINE", "08-02 00:00:00", "08-10 00:00:00", "event", False),
        ("OFFLINE", "08-10 00:00:00", None, "event", False),
    ]


def test_unknown_device_holds_no_licence(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, "select is_known_device from dim_webex_go_devices where device_id = 'D9'") == [
        (False,)
    ]
    assert days(con, "D9") == []


def test_mobile_operator_licence_per_number(con: duckdb.DuckDBPyConnection) -> None:
    mobile = "Webex Go Mobile (Mobile Operator)"
    assert days(con, "+15550001") == [
        ("09-01", "D10", mobile, "PENDING_ACTIVATION"),
        ("09-02", "D10", mobile, "PENDING_ACTIVATION"),
        # D10 deleted and D11 provisioned at 09-03 12:00: one licence, D11 holds it at day end
        ("09-03", "D11", mobile, "PENDING_ACTIVATION"),
        *[(f"09-{i:02d}", "D11", mobile, "PENDING_ACTIVATION") for i in range(4, 11)],
    ]
    assert days(con, "+15550002") == [
        ("09-09", "D12", mobile, "PENDING_ACTIVATION"),
        ("09-10", "D12", mobile, "PENDING_ACTIVATION"),
    ]
    assert rows(
        con,
        f"select {_ts('held_from')}, held_to, device_id, device_count from fct_licence_holdings "
        "where licence_unit_id = '+15550001'",
    ) == [("09-01 00:00:00", None, "D11", 2)]
    # no licence row is keyed on the Mobile Operator devices themselves
    assert rows(
        con, "select count(*) from fct_licence_days where licence_unit_id in ('D10', 'D11', 'D12')"
    ) == [(0,)]


@pytest.mark.parametrize(
    ("view", "key"),
    [
        ("int_device_observations", "observation_id"),
        ("fct_device_status_history", "device_id, valid_from"),
        ("fct_activation_codes", "device_id, code_seq"),
        ("dim_webex_go_devices", "device_id"),
        ("fct_licence_holdings", "licence_unit_id, held_from"),
        ("fct_licence_days", "licence_unit_id, licence_day"),
        ("fct_device_violations", "violation_id"),
    ],
)
def test_view_keys_unique(con: duckdb.DuckDBPyConnection, view: str, key: str) -> None:
    total, distinct = con.execute(
        f"select count(*), count(distinct ({key})) from {view}"
    ).fetchone()  # type: ignore[misc]
    assert total > 0
    assert total == distinct


def test_a_resent_event_is_not_out_of_order(tmp_path: Path) -> None:
    """An event loaded in time order and later re-sent alone (a duplicate) keeps its place
    in the load order: the re-sent copy must not read as loaded after the later events."""
    lost = _ev("09-03T12:00:00", "X1", "LOST_STOLEN")
    first = write_csv(
        tmp_path / "events_1.csv",
        EVENT_HEADER,
        [
            _ev("09-01T00:00:00", "X1", "PROVISIONED"),
            lost,
            _ev("09-03T12:00:01", "X1", "ACTIVATION_CODE_ISSUED", code="123456789012"),
        ],
    )
    again = write_csv(tmp_path / "events_2.csv", EVENT_HEADER, [lost])
    wh = tmp_path / "wh"
    ingest(wh, first)
    (f,) = ingest(wh, again).files
    assert (f.rows_read, f.rows_loaded, f.rows_duplicate) == (1, 0, 1)
    found = rows(
        views(wh),
        "select violation_type from fct_device_violations where device_id = 'X1' "
        "and violation_type = 'OUT_OF_ORDER_EVENT'",
    )
    assert found == []


def test_an_activation_at_the_lost_stolen_instant_is_not_after_it(tmp_path: Path) -> None:
    """At one instant the later lifecycle step wins (ACTIVATED < LOST_STOLEN): the status
    history ends Lost/Stolen there, and so do reclaim and the old-device flag of a call."""
    events = write_csv(
        tmp_path / "events.csv",
        EVENT_HEADER,
        [
            _ev("08-01T00:00:00", "B2", "PROVISIONED"),
            _ev("08-05T00:00:00", "B2", "ACTIVATED"),
            _ev("08-05T00:00:00", "B2", "LOST_STOLEN"),
            _ev("09-03T12:00:00", "B9", "PROVISIONED"),  # moves the data horizon on
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, events)
    found = rows(
        views(wh),
        f"select reason, {_ts('since')} from rpt_reclaim_candidates where device_id = 'B2'",
    )
    assert found == [("lost_stolen_not_reactivated", "08-05 00:00:00")]


CALL_HEADER = (
    "Report ID,Start time,Duration,Answered,Direction,Client type,Sub client type,User UUID,"
    "User number,Org UUID,Correlation ID"
)


def test_a_replacement_seen_online_after_lost_stolen_is_reactivated(tmp_path: Path) -> None:
    """The user activates the replacement phone, not an admin, so a tenant's events may hold
    the Lost/Stolen and no ACTIVATED after it while the snapshots show the device Online
    again (its new code consumed then): a call after that is not from the old phone, and
    the licence is no reclaim candidate. Before the snapshot it still is."""
    events = write_csv(
        tmp_path / "events.csv",
        EVENT_HEADER,
        [
            _ev("08-01T00:00:00", "R1", "PROVISIONED"),
            _ev("08-02T00:00:00", "R1", "ACTIVATED"),
            _ev("09-04T09:00:00", "R1", "LOST_STOLEN"),
            _ev("09-04T09:00:01", "R1", "ACTIVATION_CODE_ISSUED"),
        ],
    )
    snapshots = write_csv(
        tmp_path / "snapshots.csv",
        SNAPSHOT_HEADER,
        [_snap("09-06T06:00:00", "R1", "ONLINE", user=U7)],
    )
    calls = write_csv(
        tmp_path / "calls.csv",
        CALL_HEADER,
        [
            f"{rid},2026-{t}Z,60,true,ORIGINATING,SIP,MOBILE_NETWORK,{U7},+15550100,{ORG},c-{rid}"
            for rid, t in (("old", "09-05T10:00:00"), ("new", "09-07T10:00:00"))
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, events, snapshots, calls)
    con = views(wh)
    assert rows(con, "select outcome from fct_activation_codes where device_id = 'R1'") == [
        ("CONSUMED",)
    ]
    found = rows(
        con,
        "select report_id, device_status, is_after_lost_stolen, anomaly_type "
        "from fct_webex_go_calls order by report_id",
    )
    assert found == [
        ("new", "ONLINE", False, None),
        ("old", "PENDING_ACTIVATION", True, "old_device_after_lost_stolen"),
    ]
    assert rows(con, "select reason from rpt_reclaim_candidates where device_id = 'R1'") == []


def test_a_device_seen_offline_after_pending_was_activated(tmp_path: Path) -> None:
    """Cisco's Offline is a line the user disabled on the phone: a device seen Pending and
    then Offline had its line put on the phone in between. Its code was used (by the
    Offline snapshot at the latest), it is activated from then, and it is no
    'never activated' reclaim candidate, even when its old code expired unused."""
    events = [
        _ev("08-01T00:00:00", "O1", "PROVISIONED"),
        _ev("08-01T00:00:02", "O1", "ACTIVATION_CODE_ISSUED"),
        _ev("05-01T00:00:00", "O2", "PROVISIONED"),
        _ev("05-01T00:00:02", "O2", "ACTIVATION_CODE_ISSUED"),  # expires 07-30
    ]
    snapshots = [
        _snap("08-02T06:00:00", "O1", "Pending activation", user=U7),
        _snap("09-05T06:00:00", "O1", "Offline", user=U7),
        _snap("08-02T06:00:00", "O2", "Pending activation", user=U1),
        _snap("09-05T06:00:00", "O2", "Offline", user=U1),
    ]
    con = world(tmp_path, events, snapshots)
    assert rows(
        con,
        f"select device_id, {_ts('first_activated_at')} from dim_webex_go_devices "
        "order by device_id",
    ) == [("O1", "09-05 06:00:00"), ("O2", "09-05 06:00:00")]
    assert codes(con, "O1")[0][4:6] == ("09-05 06:00:00", "CONSUMED")
    assert codes(con, "O2")[0][4:6] == (None, "EXPIRED")  # used after it expired: not this code
    reasons = rows(con, "select device_id, reason from rpt_reclaim_candidates order by 1, 2")
    assert ("O2", "never_activated_code_expired") not in reasons, reasons


def test_an_offline_after_lost_stolen_uses_no_replacement_code(tmp_path: Path) -> None:
    """Lost/Stolen disables the line on the lost phone: a device seen Offline after it was
    not reactivated (its licence stays a reclaim candidate), so the replacement code it
    was given is not used by that Offline either: it stays pending. A device seen Offline
    after a Pending from provisioning did use its code (the line was put on the phone)."""
    events = [
        _ev("08-01T00:00:00", "L1", "PROVISIONED"),
        _ev("08-02T00:00:00", "L1", "ACTIVATED"),
        _ev("09-05T00:00:00", "L1", "LOST_STOLEN"),
        _ev("09-05T00:00:01", "L1", "ACTIVATION_CODE_ISSUED"),
        _ev("08-01T00:00:00", "P1", "PROVISIONED"),
        _ev("08-01T00:00:01", "P1", "ACTIVATION_CODE_ISSUED"),
    ]
    snapshots = [
        _snap("09-02T06:00:00", "L1", "ONLINE", user=U7),
        _snap("09-20T06:00:00", "L1", "Offline", user=U7),
        _snap("09-02T06:00:00", "P1", "Pending activation", user=U1),
        _snap("09-20T06:00:00", "P1", "Offline", user=U1),
    ]
    con = world(tmp_path, events, snapshots)
    assert [c[4:6] for c in codes(con, "L1")] == [(None, "PENDING")]
    assert [c[4:6] for c in codes(con, "P1")] == [("09-20 06:00:00", "CONSUMED")]
    reasons = rows(con, "select device_id, reason from rpt_reclaim_candidates order by 1, 2")
    assert reasons == [("L1", "lost_stolen_not_reactivated")], reasons


def test_online_after_the_lost_phones_offline_uses_the_replacement_code(tmp_path: Path) -> None:
    """After a Lost/Stolen the device is seen Offline (the line disabled on the lost phone),
    then Online: the replacement phone was activated, and only its new code can have done
    it. The Offline -> Online change was read as the user enabling the line again, so the
    code stayed PENDING (later EXPIRED, unused) while rpt_reclaim_candidates, rightly, took
    the device as reactivated."""
    events = [
        _ev("08-01T00:00:00", "L1", "PROVISIONED"),
        _ev("08-02T00:00:00", "L1", "ACTIVATED"),
        _ev("09-05T00:00:00", "L1", "LOST_STOLEN"),
        _ev("09-05T00:00:01", "L1", "ACTIVATION_CODE_ISSUED"),
    ]
    snapshots = [
        _snap("09-02T06:00:00", "L1", "ONLINE", user=U7),
        _snap("09-20T06:00:00", "L1", "Offline", user=U7),
        _snap("09-25T06:00:00", "L1", "Online", user=U7),
    ]
    con = world(tmp_path, events, snapshots)
    assert [c[4:6] for c in codes(con, "L1")] == [("09-25 06:00:00", "CONSUMED")]
    reasons = rows(con, "select reason from rpt_reclaim_candidates where device_id = 'L1'")
    assert ("lost_stolen_not_reactivated",) not in reasons, reasons
