"""Device-side sample inputs: daily snapshots, activation events and licence entitlements,
in the CSV formats fixed by our issue tracker, plus the labelled anomalies they contain."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cdr_pipeline.samples.lifecycle import LICENCE_TYPES, Device, _device_id, person_id
from cdr_pipeline.samples.world import World
from cdr_pipeline.text import iso_ms, iso_seconds

SNAPSHOT_HEADER = (
    "snapshot_time",
    "org_uuid",
    "device_id",
    "user_uuid",
    "person_id",
    "user_email",
    "deployment",
    "phone_number",
    "extension",
    "location",
    "department_id",
    "subscription_id",
    "status",
    "activation_state",
    "model_type",
)
EVENT_HEADER = (
    "event_time",
    "org_uuid",
    "device_id",
    "event_type",
    "user_uuid",
    "status_after",
    "actor",
    "code_expires_at",
    "deployment",
    "subscription_id",
    "phone_number",
    "activation_code",
)
ENTITLEMENT_HEADER = (
    "subscription_id",
    "licence_type",
    "units",
    "valid_from",
    "valid_to",
    "unit_price",
    "currency",
)
_UI_WORDS = {
    "PENDING_ACTIVATION": "Pending activation",
    "ONLINE": "Online",
    "OFFLINE": "Offline",
    "STATUS_UNAVAILABLE": "Status unavailable",
}
# Guessed mapping: Cisco does not document it (docs/webex-dch.md#device-statuses, open question 3).
_API_STATE = {"PENDING_ACTIVATION": "ACTIVATING", "ONLINE": "ACTIVATED", "OFFLINE": "DEACTIVATED"}


@dataclass
class Anomaly:
    type: str
    device_id: str = ""
    time: str = ""
    report_id: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def snapshot_rows(
    devices: list[Device], start: datetime, days: int, seed: int, anomalies: list[Anomaly]
) -> list[list[str]]:
    """One row per existing device per day at 06:00 UTC, with gaps and vocabulary mixing."""
    rng = random.Random(f"snapshots:{seed}")
    rows: list[list[str]] = []
    unavailable_day = days // 3
    for d in range(days):
        if d % 9 == 4:  # the export job did not run that day: a gap for everyone
            continue
        t = start + timedelta(days=d, hours=6)
        for dev in devices:
            status = dev.status_at(t)
            reappear = (
                dev.plot == "deleted_reappears"
                and dev.deleted_at is not None
                and dev.deleted_at + timedelta(days=2) <= t < dev.deleted_at + timedelta(days=4)
            )
            if reappear:
                status = "ONLINE"
                anomalies.append(
                    Anomaly(
                        "deleted_device_in_snapshot",
                        dev.device_id,
                        iso_ms(t),
                        note="device deleted earlier shows up again",
                    )
                )
            elif status in ("", "DELETED") or rng.random() < 0.03:
                continue
            if d in (unavailable_day, unavailable_day + 1) and dev.plot == "normal":
                # what the Devices page shows (docs/webex-dch.md#device-statuses)
                status = "STATUS_UNAVAILABLE"
                anomalies.append(Anomaly("status_unavailable_snapshot", dev.device_id, iso_ms(t)))
            ui = rng.random() < 0.5 or (status == "STATUS_UNAVAILABLE" and d == unavailable_day)
            word = _UI_WORDS[status] if ui else status
            as_person = rng.random() < 1 / 3
            u = dev.user
            rows.append(
                [
                    iso_seconds(t),
                    u.location.org.uuid,
                    dev.device_id,
                    "" if as_person else u.uuid,
                    person_id(u.uuid) if as_person else "",
                    u.email,
                    dev.deployment,
                    u.number,
                    u.extension,
                    u.location.name,
                    u.department_id,
                    u.subscription_id,
                    word,
                    _API_STATE.get(status, "") if rng.random() < 0.6 else "",
                    "ESIM" if dev.deployment == "BYOD" and rng.random() < 0.8 else "",
                ]
            )
    return rows


def last_event_time(events: list[list[str]]) -> str:
    """The latest `event_time` of `events` (ISO text, UTC; "" for none): a device back
    ONLINE after a flap can be dated days after the set's last day."""
    at = EVENT_HEADER.index("event_time")
    return max((row[at] for row in events), default="")


def event_rows(
    devices: list[Device], world: World, seed: int, anomalies: list[Anomaly]
) -> list[list[str]]:
    """All lifecycle events in time order, plus one event for an unknown device and one
    delivered out of order. `activation_code` is filled on purpose: readers must drop it."""
    rng = random.Random(f"events:{seed}")
    keyed: list[tuple[datetime, list[str]]] = []
    for dev in devices:
        u = dev.user
        for ev in dev.events:
            code = ""
            if ev.event_type == "ACTIVATION_CODE_ISSUED":
                code = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(16))
            keyed.append(
                (
                    ev.time,
                    [
                        iso_ms(ev.time),
                        u.location.org.uuid,
                        dev.device_id,
                        ev.event_type,
                        u.uuid,
                        ev.status_after if ev.event_type == "STATUS_CHANGED" else "",
                        ev.actor,
                        iso_ms(ev.code_expires_at) if ev.code_expires_at else "",
                        dev.deployment,
                        u.subscription_id,
                        u.number,
                        code,
                    ],
                )
            )
        if dev.plot == "reissue_online":
            t = next(
                e.time for e in reversed(dev.events) if e.event_type == "ACTIVATION_CODE_ISSUED"
            )
            anomalies.append(Anomaly("code_reissued_while_online", dev.device_id, iso_ms(t)))
        if dev.plot == "never_activated":
            exp = dev.events[1].code_expires_at
            anomalies.append(
                Anomaly("never_activated_code_expired", dev.device_id, iso_ms(exp) if exp else "")
            )
        if dev.plot == "lost_stolen":
            t = next(e.time for e in dev.events if e.event_type == "LOST_STOLEN")
            anomalies.append(Anomaly("lost_stolen_replacement", dev.device_id, iso_ms(t)))
    keyed.sort(key=lambda kv: (kv[0], kv[1][2], kv[1][3]))
    rows = [r for _, r in keyed]
    ghost = _device_id(rng)
    t_ghost = keyed[len(keyed) // 2][0] + timedelta(minutes=7)
    org = world.orgs[0]
    rows.insert(
        len(rows) // 2 + 1,
        [
            iso_ms(t_ghost),
            org.uuid,
            ghost,
            "STATUS_CHANGED",
            "",
            "OFFLINE",
            "system",
            "",
            "BYOD",
            "",
            "",
            "",
        ],
    )
    anomalies.append(Anomaly("unknown_device_event", ghost, iso_ms(t_ghost)))
    # Move one mid-file STATUS_CHANGED to the end: delivered late, older than its neighbours.
    # (a short period may have no flap after its first third: any other event will do)
    later = [i for i in range(len(rows) // 3, len(rows)) if rows[i][2] != ghost]
    idx = next((i for i in later if rows[i][3] == "STATUS_CHANGED"), later[0])
    late = rows.pop(idx)
    rows.append(late)
    anomalies.append(
        Anomaly(
            "out_of_order_event", late[2], late[0], note="written after events that happened later"
        )
    )
    return rows


def entitlement_rows(
    world: World, start: date, days: int
) -> tuple[list[list[str]], list[list[str]]]:
    """(entitlements.csv rows, mid-period amendment rows). Finance buys per subscription."""
    rng = random.Random(f"entitlements:{world.seed}")
    base: list[list[str]] = []
    amend: list[list[str]] = []
    valid_from = date(start.year, 1, 1) if start.month > 1 else date(start.year - 1, 1, 1)
    mid = start + timedelta(days=days // 2)
    for org in world.orgs:
        currency = "USD" if org is world.orgs[0] else "EUR"
        for i, sub in enumerate(world.subscriptions[org.uuid]):
            for dep, name in LICENCE_TYPES.items():
                if dep == "MOBILE_OPERATOR" and currency == "EUR":
                    continue  # Mobile Operator is AT&T/US only
                units = rng.randint(3, 8) if dep == "BYOD" else 2
                price = "12.50" if dep == "BYOD" else "20.00"
                if i == 0 and dep == "BYOD":  # bought more seats mid-period
                    base.append(
                        [
                            sub,
                            name,
                            str(units),
                            valid_from.isoformat(),
                            (mid - timedelta(days=1)).isoformat(),
                            price,
                            currency,
                        ]
                    )
                    amend.append([sub, name, str(units + 4), mid.isoformat(), "", price, currency])
                else:
                    base.append(
                        [sub, name, str(units), valid_from.isoformat(), "", price, currency]
                    )
    return base, amend
