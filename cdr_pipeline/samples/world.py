"""The synthetic "world": orgs, locations, departments, subscriptions and the parties that
appear in call records (users, hunt groups, an auto attendant, virtual lines, workspaces,
voicemail). Everything is derived from one seed, so the same seed always builds the same world.

All numbers are fictional: North American `555-01xx` numbers, the Ofcom drama range
`+44 20 7946 0xxx`, the ARCEP fiction range `+33 1 99 00 xx xx`, ACMA's `+61 491 570 xxx`.
Emails use example.com / example.org.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field


def make_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng` (never from the OS)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class Org:
    uuid: str
    name: str
    domain: str
    admin_email: str


@dataclass(frozen=True)
class Location:
    name: str
    org: Org
    site_uuid: str
    main_number: str
    timezone_minutes: int
    country: str
    ext_prefix: str
    number_prefix: str
    """E.164 prefix; a party's number is prefix + two or three digits."""
    pstn_vendor: tuple[str, str, str, str]
    """(vendor name, legal entity, vendor org id, provider id)."""
    webex_go: bool
    """Webex Go is offered only in US, UK and France locations (docs/webex-dch.md#webex-go)."""


@dataclass(frozen=True)
class Party:
    """Anything that owns a call leg: a user, a service, a workspace, a virtual line."""

    key: str
    name: str
    user_type: str
    uuid: str
    location: Location
    number: str
    extension: str
    department_id: str = ""
    email: str = ""
    subscription_id: str = ""
    client: str = "WXC_DEVICE"
    """Main endpoint: WXC_DEVICE (desk phone) or WXC_CLIENT (Webex app)."""
    model: str = ""
    mac: str = ""
    os_type: str = ""
    client_version: str = ""


@dataclass(frozen=True)
class HuntGroup:
    party: Party
    agents: tuple[Party, ...]


@dataclass
class World:
    seed: int
    orgs: list[Org]
    locations: list[Location]
    departments: dict[str, list[str]]
    """org uuid -> department ids."""
    subscriptions: dict[str, list[str]]
    """org uuid -> subscription ids."""
    users: list[Party]
    services: list[Party] = field(default_factory=list)
    hunt_groups: list[HuntGroup] = field(default_factory=list)
    auto_attendants: list[Party] = field(default_factory=list)
    voicemail: dict[str, Party] = field(default_factory=dict)
    """site uuid -> the location's voicemail group party."""

    @property
    def parties(self) -> list[Party]:
        return [*self.users, *self.services]

    def users_at(self, loc: Location) -> list[Party]:
        return [u for u in self.users if u.location is loc and u.user_type == "User"]


_FIRST = (
    "Hans",
    "Siobhán",
    "José",
    "Zoë",
    "Priya",
    "Wei",
    "Björk",
    "François",
    "Renée",
    "Łukasz",
    "Ngozi",
    "Aiko",
    "Mateo",
    "Ingrid",
    "Kwame",
    "Sofía",
    "Dmitri",
    "Fatima",
    "Liam",
    "Chloé",
    "Oğuz",
    "Anaïs",
    "Rahul",
    "Mei",
    "Sean",
    "Elif",
    "Jürgen",
    "Grace",
    "Tomás",
    "Nadia",
)
_LAST = (
    "Müller",
    "O'Brien",
    "Álvarez",
    "D'Souza",
    "Raman",
    "Chen",
    "Jónsdóttir",
    "Lefèvre",
    "O'Connor",
    "Nowak",
    "Okafor",
    "Tanaka",
    "García",
    "Håkansson",
    "Mensah",
    "Núñez",
    "Ivanov",
    "Haddad",
    "Example",
    "Dupont",
    "Yılmaz",
    "Moreau",
    "Iyer",
    "Lin",
    "Ó Sé",
    "Demir",
    "Schäfer",
    "Sample",
    "Ruiz",
    "Kowalczyk",
)
_MODELS = ("8851-3PCC", "8865-3PCC", "8845-3PCC", "6871-3PCC", "9861", "DBS-210")
_APP_OS = (
    ("windows", "45.9.0.31195"),
    ("mac", "45.9.0.31195"),
    ("ios", "45.8.2.30933"),
    ("android", "45.8.2.30933"),
)
_DEPARTMENTS = ("Sales", "Support", "Engineering", "Finance", "Operations")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _mac(rng: random.Random) -> str:
    # Cisco OUI-style prefix; 12 hex digits, no separators (docs/webex-dch.md#value-formats).
    return "6C710D" + f"{rng.getrandbits(24):06X}"


# name, org index, tz minutes, country, ext prefix, number prefix, vendor, webex go, users
_LOCATIONS = (
    ("Chicago HQ", 0, -300, "US", "1", "+1312555", 0, True, 16),
    ("San Francisco", 0, -480, "US", "2", "+1415555", 0, True, 12),
    ("London, Canary Wharf", 0, 0, "GB", "3", "+44207946", 1, True, 12),
    ("Bengaluru", 0, 330, "IN", "4", "+91805550", 2, False, 8),
    ("Paris – Opéra", 1, 60, "FR", "5", "+331990", 3, True, 10),
)
_VENDORS = (
    ("Cisco Calling Plans", "Broadsoft Adaption LLC"),
    ("Example Telecom UK", "Example Telecom UK Ltd"),
    ("Example Telecom India", "Example Telecom India Pvt Ltd"),
    ("Exemple Télécom", "Exemple Télécom SAS"),
)


def _number(prefix: str, n: int) -> str:
    if prefix.startswith("+1"):
        return f"{prefix}01{n:02d}"  # +1 NPA 555 01xx
    if prefix.startswith("+44"):
        return f"{prefix}0{n:03d}"  # +44 20 7946 0xxx
    if prefix.startswith("+33"):
        return f"{prefix}0{n:04d}"  # +33 1 99 00 xx xx
    return f"{prefix}1{n:02d}"


def build_world(seed: int) -> World:
    """Build the deterministic world for `seed`."""
    rng = random.Random(f"world:{seed}")
    orgs = [
        Org(make_uuid(rng), "Example Corp", "example.com", "it-admin@example.com"),
        Org(make_uuid(rng), "Exemple SAS", "example.org", "admin.telephonie@example.org"),
    ]
    departments = {o.uuid: [make_uuid(rng) for _ in _DEPARTMENTS] for o in orgs}
    subscriptions = {
        orgs[0].uuid: [f"Sub-{rng.randint(10000, 99999)}" for _ in range(2)],
        orgs[1].uuid: [f"Sub-{rng.randint(10000, 99999)}"],
    }
    locations: list[Location] = []
    for name, oi, tz, country, ext, prefix, vi, go, _n in _LOCATIONS:
        vname, entity = _VENDORS[vi]
        vendor = (vname, entity, make_uuid(rng), make_uuid(rng))
        locations.append(
            Location(
                name,
                orgs[oi],
                make_uuid(rng),
                _number(prefix, 0),
                tz,
                country,
                ext,
                prefix,
                vendor,
                go,
            )
        )
    world = World(seed, orgs, locations, departments, subscriptions, users=[])
    used_emails: set[str] = set()
    key = 0
    for loc, spec in zip(locations, _LOCATIONS, strict=True):
        org = loc.org
        for i in range(spec[8]):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            # Control Hub shows "Last, First" for some directories: a comma inside a field.
            name = f"{last}, {first}" if rng.random() < 0.4 else f"{first} {last}"
            email = f"{_ascii(first)}.{_ascii(last)}@{org.domain}"
            while email in used_emails:
                email = email.replace("@", f"{rng.randint(2, 9)}@", 1)
            used_emails.add(email)
            desk = rng.random() < 0.6
            os_type, version = rng.choice(_APP_OS)
            world.users.append(
                Party(
                    key=f"u{key}",
                    name=name,
                    user_type="User",
                    uuid=make_uuid(rng),
                    location=loc,
                    number=_number(loc.number_prefix, 10 + i),
                    extension=f"{spec[4]}{100 + i:03d}",
                    department_id=rng.choice(departments[org.uuid]),
                    email=email,
                    subscription_id=rng.choice(subscriptions[org.uuid]),
                    client="WXC_DEVICE" if desk else "WXC_CLIENT",
                    model=rng.choice(_MODELS) if desk else "",
                    mac=_mac(rng) if desk else "",
                    os_type="" if desk else os_type,
                    client_version="" if desk else version,
                )
            )
            key += 1

        def service(name: str, user_type: str, n: int, loc: Location = loc) -> Party:
            nonlocal key
            key += 1
            return Party(
                key=f"s{key}",
                name=name,
                user_type=user_type,
                uuid=make_uuid(rng),
                location=loc,
                number=_number(loc.number_prefix, n),
                extension=f"{loc.ext_prefix}{900 + n:03d}",
                client="",
                os_type="",
            )

        world.voicemail[loc.site_uuid] = service(
            "Voice Portal Voice Messaging Group", "VoiceMailGroup", 99
        )
        world.services.append(world.voicemail[loc.site_uuid])
        hg = service(f"{loc.name.split(',')[0].split(' –')[0]} Support Line", "HuntGroup", 1)
        agents = tuple(u for u in world.users if u.location is loc)[:5]
        world.hunt_groups.append(HuntGroup(hg, agents))
        world.services.append(hg)
        room = Party(
            key=f"p{key}",
            name=f"Board Room {loc.ext_prefix}.01",
            user_type="Place",
            uuid=make_uuid(rng),
            location=loc,
            number=_number(loc.number_prefix, 90),
            extension=f"{loc.ext_prefix}890",
            department_id="",
            client="WXC_DEVICE",
            model="Room Kit Pro",
            mac=_mac(rng),
        )
        key += 1
        world.users.append(room)
        if loc.country in ("US", "FR"):
            vline = Party(
                key=f"v{key}",
                name="Reception Overflow",
                user_type="VirtualLine",
                uuid=make_uuid(rng),
                location=loc,
                number=_number(loc.number_prefix, 91),
                extension=f"{loc.ext_prefix}891",
                client="WXC_CLIENT",
                os_type="windows",
                client_version="45.9.0.31195",
            )
            key += 1
            world.users.append(vline)
    aa = Party(
        key="aa0",
        name="Main Auto Attendant",
        user_type="AutomatedAttendantVideo",
        uuid=make_uuid(rng),
        location=locations[0],
        number=locations[0].main_number,
        extension="1000",
        client="",
    )
    world.auto_attendants.append(aa)
    world.services.append(aa)
    return world
