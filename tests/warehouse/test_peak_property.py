"""Property: for random device lifecycles (provision, activate, Lost/Stolen, delete, re-add
on a number, move, disappear from the listings), `licences_held_peak` of every month and
group equals the largest number of licence units held at one instant, found by checking
every instant at which anything changes (a brute-force sweep in Python)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.warehouse.finance_world import BYOD, MOBILE, World, records, user

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 45
SUBS = [("Sub-1", "HQ"), ("Sub-2", "Branch")]


@dataclass
class Device:
    device_id: str
    mobile: bool
    number: str
    provisioned: datetime
    activated: datetime | None
    lost: datetime | None
    deleted: datetime | None
    disappears_day: int | None  # left out of every snapshot from this day on
    moved: datetime | None  # Sub-1/HQ -> Sub-2/Branch (seen in snapshots from then on)


def _at(day: int, minute: int) -> datetime:
    return START + timedelta(days=day, hours=7, minutes=minute)  # never a snapshot instant


@st.composite
def lifecycles(draw: st.DrawFn) -> list[Device]:
    devices = []
    for i in range(draw(st.integers(1, 5))):
        mobile = draw(st.booleans())
        # two numbers for Mobile Operator devices, so replacements and overlaps happen
        number = f"+1555000{draw(st.integers(0, 1))}" if mobile else f"+1555100{i}"
        day = draw(st.integers(0, DAYS - 10))
        provisioned = _at(day, draw(st.integers(0, 900)))

        def later(after: datetime) -> datetime | None:
            if not draw(st.booleans()):
                return None
            return after + timedelta(minutes=draw(st.integers(1, 20 * 24 * 60)))

        activated = later(provisioned)
        lost = later(activated) if activated else None
        end = draw(st.sampled_from(["keep", "delete", "disappear"]))
        deleted = later(provisioned) if end == "delete" else None
        gone = draw(st.integers(day + 1, DAYS)) if end == "disappear" else None
        moved = later(provisioned)
        devices.append(
            Device(f"D{i}", mobile, number, provisioned, activated, lost, deleted, gone, moved)
        )
    return devices


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _world(devices: list[Device]) -> tuple[World, list[datetime], dict[str, list[datetime]]]:
    w = World()
    snapshot_times = [START + timedelta(days=d, hours=6) for d in range(DAYS)]
    listed: dict[str, list[datetime]] = defaultdict(list)
    for d in devices:
        dep = "MOBILE_OPERATOR" if d.mobile else "BYOD"

        def sub(t: datetime, d: Device = d) -> tuple[str, str]:
            return SUBS[1] if d.moved is not None and t >= d.moved else SUBS[0]

        for kind, t in [
            ("PROVISIONED", d.provisioned),
            ("ACTIVATED", d.activated),
            ("LOST_STOLEN", d.lost),
            ("DELETED", d.deleted),
        ]:
            if t is not None:
                w.event(_iso(t), d.device_id, kind, user(1), d.number, deployment=dep,
                        subscription=sub(t)[0])  # fmt: skip
        for day, t in enumerate(snapshot_times):
            if t < d.provisioned or (d.deleted is not None and t >= d.deleted):
                continue
            if d.disappears_day is not None and day >= d.disappears_day:
                continue
            subscription, location = sub(t)
            w.snapshot(_iso(t), d.device_id, user(1), d.number, deployment=dep,
                       subscription=subscription, location=location)  # fmt: skip
            listed[d.device_id].append(t)
    return w, snapshot_times, listed


def _expected_peaks(
    devices: list[Device], listed: dict[str, list[datetime]]
) -> dict[tuple[str, str, str, str], int]:
    """Brute force: the units held, and their group, right after every instant of change."""
    observed: dict[str, list[tuple[datetime, str]]] = defaultdict(list)  # device -> (t, sub)
    locations: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for d in devices:
        for t in [d.provisioned, d.activated, d.lost, d.deleted, *listed[d.device_id]]:
            if t is not None:
                moved = d.moved is not None and t >= d.moved
                observed[d.device_id].append((t, SUBS[1 if moved else 0][0]))
        for t in listed[d.device_id]:
            moved = d.moved is not None and t >= d.moved
            locations[d.device_id].append((t, SUBS[1 if moved else 0][1]))
    horizon = max(t for obs in observed.values() for t, _ in obs)
    instants = sorted(
        {t for obs in observed.values() for t, _ in obs}
        | {START, datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)}
    )

    # a snapshot that lists no device leaves no row, so the warehouse cannot know it was taken:
    # only the instants at which some device was listed count as snapshots
    taken = sorted({t for times in listed.values() for t in times})

    def held(d: Device, t: datetime) -> bool:
        if t < d.provisioned or (d.deleted is not None and t >= d.deleted):
            return False
        mine = listed[d.device_id]
        if not mine or t <= mine[0]:
            return True  # not judged by the listings before one lists it
        latest = max(s for s in taken if s <= t)
        return latest in mine

    def as_of(pairs: list[tuple[datetime, str]], t: datetime) -> str:
        before = [v for s, v in sorted(pairs) if s <= t]
        if before:
            return before[-1]
        return sorted(pairs)[0][1] if pairs else "(none)"

    peaks: dict[tuple[str, str, str, str], int] = {}
    for t in instants:
        if t > horizon:  # no month after the device data horizon is reported
            continue
        units: dict[str, Device] = {}
        for d in sorted(devices, key=lambda d: (d.provisioned, d.device_id)):
            if held(d, t):
                units[d.number if d.mobile else d.device_id] = d  # the latest provisioned wins
        counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for d in units.values():
            group = (
                t.strftime("%Y-%m-01"),
                MOBILE if d.mobile else BYOD,
                as_of(observed[d.device_id], t),
                as_of(locations[d.device_id], t),
            )
            counts[group] += 1
        for group, n in counts.items():
            peaks[group] = max(peaks.get(group, 0), n)
    return peaks


# derandomized so CI does not depend on the draw; run it with a larger max_examples and
# derandomize off to search further (150 random draws found no difference)
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(lifecycles())
def test_peak_is_the_maximum_over_instants_of_units_held(devices: list[Device]) -> None:
    w, _snapshot_times, listed = _world(devices)
    with TemporaryDirectory() as tmp:
        con = w.build(Path(tmp))
        got = {
            (str(r["month"]), r["licence_type"], r["subscription_id"], r["location_name"]): r[
                "licences_held_peak"
            ]
            for r in records(
                con,
                "select month, licence_type, subscription_id, location_name, "
                "licences_held_peak from rpt_licence_usage_monthly",
            )
        }
        con.close()
    assert got == _expected_peaks(devices, listed)
