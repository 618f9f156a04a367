"""The reference's whole event vocabulary loads (docs/webex-dch.md#device-history): the
Mobile Operator number states and licence assignments, and `DELETED` as a status. They were
quarantined as unknown, so a file written to the reference failed on its reject rate."""

from __future__ import annotations

from pathlib import Path

from tests.warehouse.finance_world import ORG, World, records, user


def _event(time: str, device: str, kind: str, status_after: str = "") -> str:
    return f"{time},{ORG},{device},{kind},{user(1)},{status_after},admin,,BYOD,Sub-1,+15550001,"


def test_the_reference_vocabulary_loads_and_reads_as_documented(tmp_path: Path) -> None:
    w = World()
    w.event("2026-09-01T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.events += [
        _event("2026-09-01T00:05:00Z", "D1", "License assigned"),
        _event("2026-09-01T01:00:00Z", "D1", "ACTIVATED"),
        # a licence event changes no status: D1 stays ONLINE
        _event("2026-09-02T00:00:00Z", "D1", "LICENCE_RELEASED"),
        _event("2026-09-03T00:00:00Z", "D1", "NUMBER_ACTIVATION_ERROR"),
        _event("2026-09-04T00:00:00Z", "D1", "NUMBER_ACTIVATION_PENDING"),
        # DELETED as the status after a change is the deletion
        _event("2026-09-05T00:00:00Z", "D1", "STATUS_CHANGED", "Deleted"),
    ]
    con = w.build(tmp_path)  # asserts exit 0: nothing quarantined
    kinds = records(con, "select event_type, status_after from stg_device_events order by 1")
    assert kinds == [
        {"event_type": t, "status_after": None}
        for t in (
            "ACTIVATED",
            "DELETED",
            "LICENSE_ASSIGNED",
            "LICENSE_RELEASED",
            "NUMBER_ACTIVATION_ERROR",
            "NUMBER_ACTIVATION_PENDING",
            "PROVISIONED",
        )
    ]
    history = records(
        con,
        "select status, strftime(valid_from, '%m-%d %H:%M') as since "
        "from fct_device_status_history where device_id = 'D1' order by valid_from",
    )
    assert history == [
        {"status": "PENDING_ACTIVATION", "since": "09-01 00:00"},
        {"status": "ONLINE", "since": "09-01 01:00"},
        {"status": "PENDING_ACTIVATION", "since": "09-04 00:00"},
        {"status": "DELETED", "since": "09-05 00:00"},
    ]
    (device,) = records(con, "select deleted_at from dim_webex_go_devices")
    assert str(device["deleted_at"]).startswith("2026-09-05 00:00:00")


def test_control_hub_action_names_load_as_their_events(tmp_path: Path) -> None:
    """An activation history kept from Control Hub's Actions menu names the actions as the
    menu does: `Generate new activation code`, `Lost/Stolen`, `Delete`. `Lost/Stolen` loaded;
    `Delete` was quarantined as unknown, so the device kept its licence in every report."""
    w = World()
    w.event("2026-09-01T00:00:00Z", "D1", "PROVISIONED", user(1), "+15550001")
    w.events += [
        _event("2026-09-01T00:01:00Z", "D1", "Generate new activation code"),
        _event("2026-09-02T00:00:00Z", "D1", "Lost/Stolen"),
        _event("2026-09-03T00:00:00Z", "D1", "Delete"),
    ]
    con = w.build(tmp_path)  # asserts exit 0: nothing quarantined
    kinds = records(con, "select event_type from stg_device_events order by event_time")
    assert [k["event_type"] for k in kinds] == [
        "PROVISIONED",
        "ACTIVATION_CODE_ISSUED",
        "LOST_STOLEN",
        "DELETED",
    ]
    (device,) = records(con, "select deleted_at from dim_webex_go_devices")
    assert str(device["deleted_at"]).startswith("2026-09-03 00:00:00")


def test_the_action_that_adds_the_device_loads_as_its_provisioning(tmp_path: Path) -> None:
    """Control Hub adds a Webex Go device with the action `Add Webex Go Device`; a history
    kept from its menus was quarantined there as an unknown event type (the other actions
    loaded), and the device held no licence before the first snapshot listed it."""
    w = World()
    w.events += [
        _event("2026-09-01T00:00:00Z", "D1", "Add Webex Go Device"),
        _event("2026-09-01T00:01:00Z", "D1", "Generate new activation code"),
    ]
    w.snapshot("2026-09-10T06:00:00Z", "D1", user(1), "+15550001", status="Pending activation")
    con = w.build(tmp_path)  # asserts exit 0: nothing quarantined
    kinds = records(con, "select event_type from stg_device_events order by event_time")
    assert [k["event_type"] for k in kinds] == ["PROVISIONED", "ACTIVATION_CODE_ISSUED"]
    (device,) = records(con, "select provisioned_at from dim_webex_go_devices")
    assert str(device["provisioned_at"]).startswith("2026-09-01 00:00:00")


def test_a_licence_name_in_the_deployment_column_is_its_deployment(tmp_path: Path) -> None:
    """A device list may name the licence each device holds, as Control Hub lists it
    (`Webex Go (Bring Your Own Device)`), in its deployment column: every such row was
    quarantined as an unknown deployment, and the file failed its reject rate. The licence
    names and their short forms (as the entitlements take them) are the deployments they
    mean."""
    w = World()
    w.snapshot(
        "2026-09-01T06:00:00Z",
        "D1",
        user(1),
        "+15550001",
        deployment="Webex Go (Bring Your Own Device)",
    )
    w.snapshot(
        "2026-09-01T06:00:00Z",
        "D2",
        user(2),
        "+15550002",
        deployment="Webex Go Mobile (Mobile Operator)",
    )
    con = w.build(tmp_path)  # asserts exit 0: nothing quarantined
    got = records(con, "select device_id, deployment from stg_device_snapshots order by 1")
    assert got == [
        {"device_id": "D1", "deployment": "BYOD"},
        {"device_id": "D2", "deployment": "MOBILE_OPERATOR"},
    ]


def test_number_activation_pending_as_a_status_is_pending_activation(tmp_path: Path) -> None:
    """A Mobile Operator number waiting for activation shows `Number activation pending`: a
    device list and a STATUS_CHANGED event writing it as the status were quarantined as an
    unknown status (`bad_enum`), while the NUMBER_ACTIVATION_PENDING event loaded as
    PENDING_ACTIVATION. Both now read it so."""
    w = World()
    w.snapshot(
        "2026-09-01T00:00:00Z", "D1", user(1), "+15550001", status="Number activation pending"
    )
    w.event("2026-08-31T00:00:00Z", "D2", "PROVISIONED", user(2), "+15550002")
    w.events.append(
        _event("2026-09-02T00:00:00Z", "D2", "STATUS_CHANGED", "Number Activation Pending")
    )
    con = w.build(tmp_path)  # asserts exit 0: nothing quarantined
    assert records(con, "select status from stg_device_snapshots") == [
        {"status": "PENDING_ACTIVATION"}
    ]
    assert records(
        con, "select status_after from stg_device_events where event_type = 'STATUS_CHANGED'"
    ) == [{"status_after": "PENDING_ACTIVATION"}]
