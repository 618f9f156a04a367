"""Call sessions -> call-leg records (docs/webex-dch.md#legs-and-correlation).

A session is one `Correlation ID`. Internal legs come as an ORIGINATING + TERMINATING pair
(one's `Remote call ID` is the other's `Local call ID`, same `Network call ID`); PSTN legs
have only the Webex side. The legs themselves are built by `legs.LegFactory`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from cdr_pipeline.samples.device_files import Anomaly
from cdr_pipeline.samples.legs import _FAILURES, _OUT_TYPES, _SCENARIOS, Leg, LegFactory
from cdr_pipeline.samples.lifecycle import Device
from cdr_pipeline.samples.world import Party, World, make_uuid
from cdr_pipeline.text import iso_ms


class SessionGenerator(LegFactory):
    """Builds sessions one at a time; every random draw comes from one seeded Random."""

    # ----- scenarios -----------------------------------------------------------------------
    def session(self, kind: str) -> list[Leg]:
        return list(getattr(self, f"_s_{kind}")())

    def _s_internal(self) -> list[Leg]:
        a = self.rng.choice(self.people)
        org_people = [u for u in self.people if u.location.org is a.location.org and u is not a]
        b = self.rng.choice(org_people)
        corr, t = make_uuid(self.rng), self._when(a.location)
        if self.rng.random() < 0.82:
            return self.pair(a, b, corr, t, self._ring(), self._talk())
        ring = round(self.rng.uniform(15, 25), 3)
        legs = self.pair(
            a,
            b,
            corr,
            t,
            ring,
            0,
            None,
            {"call_outcome_reason": "NoAnswer", "releasing_party": "Local"},
        )
        return legs + self.voicemail(b, corr, t + timedelta(seconds=ring), a.extension)

    def _s_pstn_in(self, who: Party | None = None) -> list[Leg]:
        b = who or self.rng.choice(self.people)
        corr, t, caller = make_uuid(self.rng), self._when(b.location), self._external()
        answered = self.rng.random() < 0.8
        ring = self._ring() if answered else round(self.rng.uniform(15, 25), 3)
        outcome = None if answered else ("Success", "NoAnswer", "Local")
        talk = self._talk() if answered else 0
        leg = self._inbound(b, corr, t, ring, talk, caller, outcome)
        if answered:
            return [leg]
        return [leg, *self.voicemail(b, corr, t + timedelta(seconds=ring), caller)]

    def _s_pstn_out(
        self, who: Party | None = None, force_go: bool = False, when: datetime | None = None
    ) -> list[Leg]:
        a = who or self.rng.choice(self.people)
        corr, t = make_uuid(self.rng), when or self._when(a.location)
        r, acc = self.rng.random(), 0.0
        call_type = _OUT_TYPES[-1][0]
        for name, w in _OUT_TYPES:
            acc += w
            if r < acc:
                call_type = name
                break
        dest = (
            "+18005550" + f"{self.rng.randrange(100, 200)}"
            if call_type == "SIP_TOLLFREE"
            else self._external()
        )
        fail = self.rng.random() < 0.1
        outcome = self.rng.choice(_FAILURES) if fail else None
        leg = self.leg(
            a,
            "ORIGINATING",
            call_type,
            corr,
            t,
            self._ring(),
            0 if fail else self._talk(),
            local=self._local_id(),
            remote=self._local_id(),
            net=self._net_id(),
            outcome=outcome,
            force_go=force_go,
            calling_number=a.number,
            called_number=dest,
            dialed_digits=_dialed(dest, a.location.country),
            calling_line_id=a.name,
            called_line_id=None,
            caller_id_number=a.number,
            external_caller_id_number=a.number,
            route_group=None,
            **self._pstn(a.location),
        )
        if call_type == "SIP_INTERNATIONAL":
            leg["international_country"] = {"+44": "GB", "+33": "FR", "+61": "AU"}.get(
                dest[:3], "US"
            )
        return [leg]

    def _s_hunt_group(self) -> list[Leg]:
        hg = self.rng.choice([h for h in self.world.hunt_groups if len(h.agents) >= 3])
        loc = hg.party.location
        corr, t, caller = make_uuid(self.rng), self._when(loc), self._external()
        agents = self.rng.sample(hg.agents, self.rng.randint(3, len(hg.agents)))
        answered = self.rng.random() < 0.88
        ring = self._ring() + 2
        talk = self._talk() if answered else 0
        outcome = None if answered else ("Success", "NoAnswer", "Remote")
        legs = [self._inbound(hg.party, corr, t, ring, talk, caller, outcome)]
        legs[0]["answer_indicator"] = "Yes-PostRedirection" if answered else "No"
        start = t + timedelta(milliseconds=300)
        for i, agent in enumerate(agents):
            won = answered and i == 0
            extra: Leg = {
                "redirect_reason": "HuntGroup",
                "related_reason": "HuntGroup",
                "original_reason": "HuntGroup",
                "redirecting_number": hg.party.number,
                "redirecting_party_uuid": hg.party.uuid,
                "original_called_party_uuid": hg.party.uuid,
            }
            lost: Leg = (
                {}
                if won
                else {
                    "call_outcome_reason": "NoAnswer",
                    "releasing_party": "Remote",
                    "answered_elsewhere": "Yes" if answered else None,
                }
            )
            pair = self.pair(
                hg.party,
                agent,
                corr,
                start,
                ring - 0.3,
                talk if won else 0,
                extra,
                {**extra, **lost},
            )
            pair[0]["calling_number"] = pair[1]["calling_number"] = caller
            legs += pair
        return legs

    def _s_auto_attendant(self) -> list[Leg]:
        aa = self.world.auto_attendants[0]
        loc = aa.location
        corr, t, caller = make_uuid(self.rng), self._when(loc), self._external()
        menu = round(self.rng.uniform(6, 25), 3)
        target = self.rng.choice(self.world.users_at(loc))
        ring, talk = self._ring(), self._talk()
        key = str(self.rng.randint(1, 4))
        first = self._inbound(
            aa, corr, t, 0.5, menu + ring + talk, caller, auto_attendant_key_pressed=key
        )
        extra = {
            "redirecting_number": aa.number,
            "redirect_reason": "Unconditional",
            "redirecting_party_uuid": aa.uuid,
        }
        pair = self.pair(aa, target, corr, t + timedelta(seconds=menu), ring, talk, extra, extra)
        pair[0]["calling_number"] = pair[1]["calling_number"] = caller
        return [first, *pair]

    def _s_transfer(self) -> list[Leg]:
        """PSTN caller -> A; A consults B on a second call; A completes the transfer."""
        a = self.rng.choice(self.people)
        b = self.rng.choice([u for u in self.people if u.location is a.location and u is not a])
        legs = self._s_pstn_in(a)
        first = legs[0]
        if not first["answered"]:
            return legs
        t0 = first["answer_time"]
        assert isinstance(t0, datetime)
        consult_at = t0 + timedelta(seconds=round(self.rng.uniform(20, 90), 3))
        corr2 = make_uuid(self.rng)
        pair = self.pair(a, b, corr2, consult_at, self._ring(), round(self.rng.uniform(10, 60), 3))
        done = pair[0]["release_time"]
        assert isinstance(done, datetime)
        for leg, other in ((first, pair[0]), (pair[0], first)):
            leg["related_reason"] = "ConsultativeTransfer"
            leg["transfer_related_call_id"] = other["local_call_id"]
            leg["call_transfer_time"] = done
        first["release_time"] = done
        first["report_time"] = done + timedelta(seconds=self.rng.randint(20, 900))
        first["duration_seconds"] = int((done - t0).total_seconds())
        first["releasing_party"] = "Local"
        interaction = make_uuid(self.rng)
        for leg in (first, *pair):
            leg["interaction_id"] = interaction
        return [first, *pair]


def generate_legs(
    world: World, devices: list[Device], *, legs: int, seed: int, start: date, days: int
) -> tuple[list[Leg], list[Anomaly]]:
    """Exactly `legs` call-leg records (whole sessions, then single-leg PSTN calls to fill),
    sorted by start time. Includes labelled Webex Go calls after device deletion."""
    gen = SessionGenerator(world, devices, start, days, seed)
    out: list[Leg] = []
    end = gen.start + timedelta(days=days)
    for dev in devices:
        gone = dev.deleted_at
        if gone is None or gone + timedelta(days=1) >= end or len(out) + 1 > legs:
            continue
        when = gone + timedelta(hours=gen.rng.uniform(20, 60))
        (leg,) = gen._s_pstn_out(dev.user, force_go=True, when=min(when, end - timedelta(hours=2)))
        out.append(leg)
        gen.anomalies.append(
            Anomaly(
                "webex_go_call_after_delete",
                dev.device_id,
                iso_ms(leg["start_time"]),
                str(leg["report_id"]),
            )
        )
    names = [k for k, _ in _SCENARIOS]
    weights = [w for _, w in _SCENARIOS]
    while True:
        kind = gen.rng.choices(names, weights)[0]
        session = gen.session(kind)
        if len(out) + len(session) > legs:
            break
        out.extend(session)
    while len(out) < legs:
        out.extend(gen._s_pstn_out() if gen.rng.random() < 0.5 else gen._s_pstn_in()[:1])
    out.sort(key=lambda leg: (leg["start_time"], str(leg["report_id"])))
    return out, gen.anomalies


def _dialed(dest: str, country: str) -> str:
    """What the user keyed: US sites dial 9 for an outside line, 011 for international."""
    if country == "US":
        return "9" + dest[1:] if dest.startswith("+1") else "9011" + dest[1:]
    return dest
