"""Webex Go device lifecycles over the sample period (docs/design.md#webex-go-rules).

Each device follows a scripted "plot" (normal, code reissued while pending, Lost/Stolen,
deleted, never activated, ...) with seeded timing. The event list is the single truth: the
status at any instant is the replay of the events up to it, and the call generator asks
`online_at` before it lets a leg use Webex Go.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cdr_pipeline.samples.world import Party, World, make_uuid

CODE_LIFETIME = timedelta(days=90)
BYOD = "BYOD"
MOBILE_OPERATOR = "MOBILE_OPERATOR"
LICENCE_TYPES = {
    BYOD: "Webex Go (Bring Your Own Device)",
    MOBILE_OPERATOR: "Webex Go Mobile (Mobile Operator)",
}

# The plots cycle so that every rule has data even in a small world.
PLOTS = (
    "normal",
    "reissue_pending",
    "lost_stolen",
    "deleted",
    "never_activated",
    "reissue_online",
    "flapping",
    "normal",
    "late_provision",
    "normal",
    "deleted_reappears",
    "flapping",
)


@dataclass(frozen=True)
class DeviceEvent:
    time: datetime
    device_id: str
    event_type: str
    status_after: str = ""
    actor: str = ""
    code_expires_at: datetime | None = None


@dataclass
class Device:
    device_id: str
    user: Party
    deployment: str
    plot: str
    events: list[DeviceEvent] = field(default_factory=list)

    def status_at(self, t: datetime) -> str:
        """Replay of the events up to `t`: '' before provisioning, else the status."""
        status = ""
        for ev in self.events:
            if ev.time > t:
                break
            if ev.status_after:
                status = ev.status_after
        return status

    def online_intervals(self) -> list[tuple[datetime, datetime | None]]:
        out: list[tuple[datetime, datetime | None]] = []
        since: datetime | None = None
        for ev in self.events:
            if not ev.status_after:
                continue
            if ev.status_after == "ONLINE" and since is None:
                since = ev.time
            elif ev.status_after != "ONLINE" and since is not None:
                out.append((since, ev.time))
                since = None
        if since is not None:
            out.append((since, None))
        return out

    def online_at(self, t: datetime) -> bool:
        return any(a <= t and (b is None or t < b) for a, b in self.online_intervals())

    @property
    def deleted_at(self) -> datetime | None:
        return next((e.time for e in self.events if e.event_type == "DELETED"), None)


def person_id(user_uuid: str) -> str:
    """The API's base64 person id for a raw user UUID (docs/webex-dch.md#value-formats)."""
    raw = f"ciscospark://us/PEOPLE/{user_uuid}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def _device_id(rng: random.Random) -> str:
    raw = f"ciscospark://us/DEVICE/{make_uuid(rng)}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def _days(rng: random.Random, lo: float, hi: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(lo, hi) * 86400))


def build_devices(world: World, start: datetime, end: datetime) -> list[Device]:
    """Pick Webex Go users (US/UK/FR locations) and script each device's lifecycle."""
    rng = random.Random(f"devices:{world.seed}")
    eligible = [u for u in world.users if u.user_type == "User" and u.location.webex_go]
    chosen = [u for u in eligible if rng.random() < 0.3]
    for u in eligible:  # at least one device per plot, even for tiny worlds
        if len(chosen) >= len(PLOTS):
            break
        if u not in chosen:
            chosen.append(u)
    chosen.sort(key=lambda u: int(u.key[1:]))
    span = (end - start).total_seconds() / 86400
    devices = []
    for i, user in enumerate(chosen):
        plot = PLOTS[i % len(PLOTS)]
        deployment = MOBILE_OPERATOR if user.location.country == "US" and i % 5 == 4 else BYOD
        dev = Device(_device_id(rng), user, deployment, plot)
        _script(dev, rng, start, span, user.location.org.admin_email)
        devices.append(dev)
    return devices


class _Script:
    """Writes one device's events (every random draw in a fixed order: same seed, same
    samples)."""

    def __init__(self, dev: Device, rng: random.Random, admin: str) -> None:
        self.dev, self.rng, self.admin = dev, rng, admin

    def add(self, t: datetime, kind: str, status: str = "", actor: str = "system") -> None:
        expires = t + CODE_LIFETIME if kind == "ACTIVATION_CODE_ISSUED" else None
        self.dev.events.append(
            DeviceEvent(
                t.replace(microsecond=t.microsecond // 1000 * 1000),
                self.dev.device_id,
                kind,
                status,
                actor,
                expires,
            )
        )

    def provision(self, start: datetime, span: float) -> datetime:
        rng, plot = self.rng, self.dev.plot
        if plot == "late_provision":
            t = start + _days(rng, 0.1, span * 0.5)
        elif plot == "never_activated":
            t = start - _days(rng, 45, 55)  # its 90-day code expires inside the period
        else:
            t = start - _days(rng, 5, 60)
        self.add(t, "PROVISIONED", "PENDING_ACTIVATION", self.admin)
        self.add(t + timedelta(seconds=2), "ACTIVATION_CODE_ISSUED", "", self.admin)
        return t

    def special(self, at: datetime) -> None:
        """The one lifecycle moment of the device's plot."""
        plot, admin = self.dev.plot, self.admin
        if plot == "lost_stolen":
            self.add(at, "LOST_STOLEN", "PENDING_ACTIVATION", admin)
            self.add(at + timedelta(minutes=3), "ACTIVATION_CODE_ISSUED", "", admin)
            self.add(at + _days(self.rng, 0.5, 3), "ACTIVATED", "ONLINE")
        elif plot == "reissue_online":
            self.add(at, "ACTIVATION_CODE_ISSUED", "", admin)  # anomaly: device is ONLINE
        elif plot in ("deleted", "deleted_reappears"):
            self.add(at, "DELETED", "DELETED", admin)

    def flaps(self, t: datetime, start: datetime, span: float, special: datetime) -> None:
        """OFFLINE/ONLINE flaps that keep clear of the special moment."""
        rng, dev = self.rng, self.dev
        end = start + timedelta(days=span)
        flaps = 3 if dev.plot == "flapping" else int(rng.random() < 0.3)
        for _ in range(flaps):
            off = max(t, start) + _days(rng, 1, span)
            back = off + _days(rng, 0.3, 4)
            if abs((off - special).days) < 5 or off >= end:
                continue
            if dev.status_at(off) != "ONLINE" or dev.status_at(back) != "ONLINE":
                continue
            self.add(off, "STATUS_CHANGED", "OFFLINE")
            dev.events.sort(key=lambda e: e.time)
            if rng.random() < 0.85:
                self.add(back, "STATUS_CHANGED", "ONLINE")


def _script(dev: Device, rng: random.Random, start: datetime, span: float, admin: str) -> None:
    script = _Script(dev, rng, admin)
    t = script.provision(start, span)
    if dev.plot == "never_activated":
        return
    if dev.plot == "reissue_pending":
        t += _days(rng, 1, 6)
        script.add(t, "ACTIVATION_CODE_ISSUED", "", admin)  # supersedes the first code
    t += _days(rng, 0.05, 3)
    script.add(t, "ACTIVATED", "ONLINE")
    special = start + _days(rng, span * 0.3, span * 0.6)
    script.special(special)
    script.flaps(t, start, span, special)
    dev.events.sort(key=lambda e: e.time)
