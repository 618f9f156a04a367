"""Call-leg records of one session: ids, times, clients, the ORIGINATING/TERMINATING pair
of an internal leg, PSTN and voicemail legs (docs/webex-dch.md#legs-and-correlation).

Legs are dicts keyed by canonical column names (schema/calls.py) holding Python values;
`writer.py` turns them into the CSV / JSON spellings. Duration conventions: `Ring duration`
= answer (or release) minus start; `Duration` = release minus answer for answered legs, 0
otherwise; both whole seconds.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cdr_pipeline.samples.device_files import Anomaly
from cdr_pipeline.samples.lifecycle import Device
from cdr_pipeline.samples.world import Location, Party, World, make_uuid

Leg = dict[str, Any]  # canonical column name -> Python value

_FAILURES = (
    ("Success", "UserBusy", "Remote"),
    ("Refusal", "SIP480", "Remote"),
    ("Refusal", "UnassignedNumber", "Remote"),
    ("Refusal", "CallRejected", "Remote"),
    ("Failure", "SIP503", "Unknown"),
    ("Failure", "NoRouteToDestination", "Unknown"),
)
_EXTERNAL = (
    "+1202555{:04d}",
    "+1646555{:04d}",
    "+1312555{:04d}",
    "+44207946{:04d}",
    "+33199{:06d}",
    "+61491570{:03d}",
)
_OUT_TYPES = (
    ("SIP_NATIONAL", 0.55),
    ("SIP_MOBILE", 0.3),
    ("SIP_INTERNATIONAL", 0.08),
    ("SIP_TOLLFREE", 0.07),
)
_SCENARIOS = (
    ("internal", 0.27),
    ("pstn_in", 0.2),
    ("pstn_out", 0.26),
    ("hunt_group", 0.12),
    ("auto_attendant", 0.07),
    ("transfer", 0.08),
)


class LegFactory:
    """Builds the legs of sessions; every random draw comes from one seeded Random."""

    def __init__(
        self, world: World, devices: list[Device], start: date, days: int, seed: int
    ) -> None:
        self.world = world
        self.rng = random.Random(f"sessions:{seed}")
        self.start = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self.days = days
        self.go = {d.user.key: d for d in devices}
        self.anomalies: list[Anomaly] = []
        self._callid = 100_000_000 + self.rng.randrange(900_000_000)
        self.people = [u for u in world.users if u.user_type == "User"]

    # ----- ids and times -------------------------------------------------------------
    def _local_id(self) -> str:
        self._callid += self.rng.randint(1, 40)
        return f"{self._callid}:0"

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _net_id(self) -> str:
        return f"BW{self.rng.getrandbits(60):018d}@10.21.0.{self.rng.randint(2, 250)}"

    def _when(self, loc: Location) -> datetime:
        """A start instant weighted to weekday business hours in the site's local time."""
        rng = self.rng
        while True:
            day = rng.randrange(self.days)
            local_day = self.start + timedelta(days=day)
            if local_day.weekday() < 5 or rng.random() < 0.12:
                break
        r = rng.random()
        if r < 0.45:
            hour = rng.gauss(10.5, 1.4)
        elif r < 0.9:
            hour = rng.gauss(14.5, 1.6)
        else:
            hour = rng.uniform(0, 24)
        hour = min(max(hour, 0.0), 23.99)
        local = local_day + timedelta(seconds=round(hour * 3600), milliseconds=rng.randrange(1000))
        return local - timedelta(minutes=loc.timezone_minutes)

    # ----- one leg ---------------------------------------------------------------------
    def _client(self, party: Party, t: datetime, force_go: bool = False) -> Leg:
        dev = self.go.get(party.key)
        if dev is not None and (force_go or (dev.online_at(t) and self.rng.random() < 0.5)):
            spelling = "MOBILE_NETWORK" if self.rng.random() < 0.5 else "Mobile_Network"
            return {
                "client_type": "SIP",
                "sub_client_type": spelling,
                "device_mac": None,
                "model": None,
                "os_type": "na",
                "client_version": None,
            }
        if not party.client:
            return {
                "client_type": None,
                "sub_client_type": None,
                "device_mac": None,
                "model": None,
                "os_type": None,
                "client_version": None,
            }
        return {
            "client_type": party.client,
            "sub_client_type": None,
            "device_mac": party.mac or None,
            "model": party.model or None,
            "os_type": party.os_type or None,
            "client_version": party.client_version or None,
        }

    def leg(
        self,
        party: Party,
        direction: str,
        call_type: str,
        corr: str,
        start: datetime,
        ring: float,
        talk: float,
        *,
        local: str,
        remote: str,
        net: str,
        outcome: tuple[str, str, str] | None = None,
        force_go: bool = False,
        **extra: object,
    ) -> Leg:
        rng = self.rng
        answered = talk > 0
        answer = start + timedelta(seconds=ring) if answered else None
        release = (answer or start) + timedelta(seconds=talk if answered else ring)
        if outcome is None:
            outcome = ("Success", "Normal", rng.choice(("Local", "Remote")))
        loc = party.location
        leg: Leg = {
            "start_time": start,
            "answer_time": answer,
            "release_time": release,
            "duration_seconds": int((release - answer).total_seconds()) if answer else 0,
            "ring_duration_seconds": int(((answer or release) - start).total_seconds()),
            "hold_duration_seconds": rng.choice((0, 0, 0, 0, 5, 12)) if answered else 0,
            "answered": answered,
            "answer_indicator": "Yes" if answered else "No",
            "answered_elsewhere": None,
            "direction": direction,
            "call_type": call_type,
            "user_name": party.name,
            "user_type": party.user_type,
            "user_uuid": party.uuid,
            "user_number": party.number,
            "org_uuid": loc.org.uuid,
            "location_name": loc.name,
            "site_uuid": loc.site_uuid,
            "site_main_number": loc.main_number,
            "site_timezone_offset_minutes": loc.timezone_minutes,
            "department_id": party.department_id or None,
            "correlation_id": corr,
            "call_id": f"SSE{rng.getrandbits(56):017d}@10.177.4.{rng.randint(2, 250)}",
            "local_call_id": local,
            "remote_call_id": remote,
            "network_call_id": net,
            "local_session_id": self._hex(32),
            "remote_session_id": self._hex(32),
            "report_id": make_uuid(rng),
            "report_time": release
            + timedelta(seconds=rng.randint(20, 900), milliseconds=rng.randrange(1000)),
            "call_outcome": outcome[0],
            "call_outcome_reason": outcome[1],
            "releasing_party": outcome[2],
        }
        leg["final_local_session_id"] = leg["local_session_id"]
        leg["final_remote_session_id"] = leg["remote_session_id"]
        leg.update(self._client(party, start, force_go))
        leg.update(extra)
        return leg

    def _pstn(self, loc: Location) -> Leg:
        name, entity, org_id, provider = loc.pstn_vendor
        return {
            "pstn_vendor_name": name,
            "pstn_legal_entity": entity,
            "pstn_vendor_org_id": org_id,
            "pstn_provider_id": provider,
            "inbound_trunk": None,
            "outbound_trunk": None,
        }

    def _inbound(
        self,
        party: Party,
        corr: str,
        t: datetime,
        ring: float,
        talk: float,
        caller: str,
        outcome: tuple[str, str, str] | None = None,
        **extra: Any,
    ) -> Leg:
        """The Webex side of a PSTN call coming in to `party` from `caller`."""
        return self.leg(
            party,
            "TERMINATING",
            "SIP_INBOUND",
            corr,
            t,
            ring,
            talk,
            local=self._local_id(),
            remote=self._local_id(),
            net=self._net_id(),
            outcome=outcome,
            calling_number=caller,
            called_number=party.number,
            called_line_id=party.name,
            caller_id_number=caller,
            **extra,
            **self._pstn(party.location),
        )

    def _external(self) -> str:
        pattern = self.rng.choice(_EXTERNAL)
        return pattern.format(
            self.rng.randrange(100) if "{:04d}" in pattern else self.rng.randrange(1000)
        )

    def _talk(self) -> float:
        return round(min(self.rng.lognormvariate(4.3, 1.0), 5400), 3)

    def _ring(self) -> float:
        return round(self.rng.uniform(2, 18), 3)

    # ----- building blocks ---------------------------------------------------------------
    def pair(
        self,
        a: Party,
        b: Party,
        corr: str,
        t: datetime,
        ring: float,
        talk: float,
        a_extra: Leg | None = None,
        b_extra: Leg | None = None,
    ) -> list[Leg]:
        """An internal leg: ORIGINATING at `a` and TERMINATING at `b`, cross-linked."""
        la, lb, net = self._local_id(), self._local_id(), self._net_id()
        line: Leg = {
            "calling_number": a.extension,
            "called_number": b.extension,
            "calling_line_id": a.name,
            "called_line_id": b.name,
            "caller_id_number": a.number,
        }
        orig = self.leg(
            a, "ORIGINATING", "SIP_ENTERPRISE", corr, t, ring, talk, local=la, remote=lb, net=net,
            dialed_digits=b.extension, **line, **(a_extra or {}),
        )  # fmt: skip
        t_term = t + timedelta(milliseconds=self.rng.randint(20, 250))
        term = self.leg(
            b, "TERMINATING", "SIP_ENTERPRISE", corr, t_term, ring, talk, local=lb, remote=la,
            net=net, **line, **(b_extra or {}),
        )  # fmt: skip
        return [orig, term]

    def voicemail(self, who: Party, corr: str, t: datetime, caller: str) -> list[Leg]:
        vm = self.world.voicemail[who.location.site_uuid]
        extra = {
            "original_reason": "NoAnswer",
            "redirect_reason": "NoAnswer",
            "redirecting_number": who.extension,
            "original_called_party_uuid": who.uuid,
            "redirecting_party_uuid": who.uuid,
        }
        legs = self.pair(who, vm, corr, t, 0.4, round(self.rng.uniform(8, 45), 3), extra, extra)
        for leg in legs:
            leg["calling_number"] = caller
        return legs
