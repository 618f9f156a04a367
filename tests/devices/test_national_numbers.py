"""A device list may write a number in its national form (`(312) 555-0103`, `020 7946 0018`);
the CDRs carry E.164. With the country of the device's location in the org directory, the
views read such a number in E.164 (int_location_dialling, e164_number), so it is one
licence unit with its E.164 spelling and a leg without User UUID finds its device by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.warehouse.dialling import active_plans, dialling_plans
from cdr_pipeline.warehouse.dialling_data import DIALLING_PLANS, PHONENUMBERS_VERSION
from tests.devices.helpers import ORG, SNAPSHOT_HEADER, ingest, rows, views, write_csv
from tests.warehouse.finance_world import CALL_HEADER

DIRECTORY = [
    "location,Chicago HQ,,,Chicago,US",
    "location,London,,,London,gb",
    "location,Paris,,,Paris,France",
]
# device, deployment, location, number on 09-01, number on 09-16
DEVICES = [
    ("M1", "MOBILE_OPERATOR", "Chicago HQ", "(312) 555-0103", "+13125550103"),
    ("B2", "BYOD", "London", "020 7946 0018", "020 7946 0018"),
    ("B3", "BYOD", "London", "0044 20 7946 0019", "0044 20 7946 0019"),
    ("B4", "BYOD", "Paris", "01 23 45 67 89", "01 23 45 67 89"),
    ("B5", "BYOD", "Nowhere", "020 7946 0020", "020 7946 0020"),
    ("B6", "BYOD", "Chicago HQ", "0044 20 7946 0021", "0044 20 7946 0021"),
]


def _user(device: str) -> str:
    return f"0a000000-0000-4000-8000-00000000000{device[1]}"


def test_a_national_number_reads_as_e164_by_its_locations_country(tmp_path: Path) -> None:
    """M1 listed as `(312) 555-0103` then as the API's `+13125550103`: before, two numbers,
    so two licence units (`3125550103` held 09-01 to 09-16, `+13125550103` from then) and a
    number change at 09-16. B2 and B3 (London, country `gb`) were never found by the number
    their legs carry. A location whose country is no ISO code (Paris: `France`) or that the
    directory does not list (Nowhere) keeps the number as written. B6 (Chicago, whose
    international prefix is 011) was typed `0044 20 7946 0021`, the rest of the world's
    international prefix: no national number starts with 00, so it is +44..., not the
    `+100442079460021` phonenumbers.parse(number, "US") makes of it."""
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"{t},{ORG},{d},{_user(d)},,,{dep},{n1 if t < '2026-09-10' else n2},,{loc},,S,ONLINE,,"
            for t in ("2026-09-01T06:00:00Z", "2026-09-16T06:00:00Z")
            for d, dep, loc, n1, n2 in DEVICES
        ],
    )
    directory = write_csv(
        tmp_path / "in" / "directory.csv",
        "entry_type,entry_id,name,cost_centre,site,country",
        DIRECTORY,
    )
    calls = write_csv(
        tmp_path / "in" / "calls_2026-09-01_2026-10-01.csv",
        CALL_HEADER,
        [
            f"{rid},2026-09-05T10:01:00Z,2026-09-05T10:00:00Z,,,30,true,ORIGINATING,"
            f"SIP_NATIONAL,SIP,MOBILE_NETWORK,,{number},User,{ORG},L,0,c{rid},l{rid},,+15559999"
            for rid, number in (
                ("r1", "+13125550103"),
                ("r2", "+442079460018"),
                ("r3", "+442079460019"),
                ("r4", "+33123456789"),
            )
        ],
    )
    ingest(tmp_path / "wh", snaps, directory, calls)
    con = views(tmp_path / "wh")
    assert rows(
        con,
        "select device_id, phone_number, count(*) from int_device_attribute_history "
        "group by all order by 1",
    ) == [
        ("B2", "+442079460018", 1),
        ("B3", "+442079460019", 1),
        ("B4", "0123456789", 1),
        ("B5", "02079460020", 1),
        ("B6", "+442079460021", 1),
        ("M1", "+13125550103", 1),
    ]
    assert rows(con, "select device_id, phone_number from dim_webex_go_devices order by 1") == [
        ("B2", "+442079460018"),
        ("B3", "+442079460019"),
        ("B4", "0123456789"),
        ("B5", "02079460020"),
        ("B6", "+442079460021"),
        ("M1", "+13125550103"),
    ]
    assert rows(
        con,
        "select licence_unit_id, iso_utc(held_from), held_to from fct_licence_holdings "
        "where licence_unit_id not like 'B%'",
    ) == [("+13125550103", "2026-09-01T06:00:00Z", None)]
    assert rows(
        con,
        "select report_id, device_id, device_matched_by, anomaly_type from fct_webex_go_calls "
        "order by 1",
    ) == [
        ("r1", "M1", "phone_number", None),
        ("r2", "B2", "phone_number", None),
        ("r3", "B3", "phone_number", None),
        ("r4", None, None, "no_device"),
    ]


def test_e164_number_reads_national_numbers_as_phonenumbers_does(tmp_path: Path) -> None:
    """The SQL macro against the library it stands for: each country's example fixed-line
    and mobile numbers, in national form and without their national prefix, give the E.164
    number `phonenumbers.parse(number, country)` gives (Argentina's mobile `15`, which a
    rewrite rule turns into `9`, is the one known exception: docs/inputs-devices.md)."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    cases = []
    for country, *_ in dialling_plans():
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(country, kind)
            if example is None:
                continue
            national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            for digits in (
                "".join(ch for ch in national if ch.isdigit()),
                phonenumbers.national_significant_number(example),
            ):
                want = phonenumbers.format_number(
                    phonenumbers.parse(digits, country), PhoneNumberFormat.E164
                )
                cases.append((country, digits, want))
    assert len(cases) > 900
    con = views(tmp_path / "wh")
    got = con.execute(
        "select c.country, c.digits, c.want, "
        "e164_number(c.digits, p.country_code, p.national_prefix, p.international_prefix) "
        "from (select unnest(?, recursive := true)) as c "
        "join cfg_dialling_plans as p using (country)",
        [[{"country": c, "digits": d, "want": w} for c, d, w in cases]],
    ).fetchall()
    assert len(got) == len(cases)
    wrong = [r for r in got if r[2] != r[3]]
    # Argentina's mobile example, whatever its digits in the installed library's metadata
    assert {r[0] for r in wrong} <= {"AR"} and len(wrong) <= 2, wrong


def test_the_plans_a_build_uses_are_the_installed_librarys() -> None:
    """`dialling_data.py` keeps the plans so a build does not read 245 countries' metadata;
    they are used only when they are of the installed `phonenumbers` (then they must be its
    plans), and under another version the build reads the library's. After an upgrade,
    write the module again with `cdr_pipeline.warehouse.dialling.render_data()` (then
    `ruff format` it)."""
    import phonenumbers

    assert active_plans() == tuple(dialling_plans())
    if phonenumbers.__version__ == PHONENUMBERS_VERSION:
        assert active_plans() is DIALLING_PLANS


def test_under_another_phonenumbers_the_build_reads_the_librarys_plans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kept plans are of one release; an upgrade the pinned range allows may change a
    country's prefixes, and the view must not keep the old ones."""
    from cdr_pipeline.warehouse import dialling

    monkeypatch.setattr(dialling, "PHONENUMBERS_VERSION", "0.0.0")
    plans = active_plans()
    assert plans is not DIALLING_PLANS and plans == tuple(dialling_plans())


def test_the_analyst_tier_counts_a_national_number_as_the_full_tier_does(
    tmp_path: Path,
) -> None:
    """The analyst tier pseudonymises numbers before its views run, and a pseudonym has no
    digits to read: M1, listed as `(312) 555-0103` then as `+13125550103`, held two licence
    units there (two pseudonyms) where the full tier holds one, and B2's `020 7946 0018`
    showed as a national mask. It now pseudonymises the E.164 reading: one unit, the same
    pseudonym in both snapshots, and B2 masked as the +44 number it is; an event's national
    number is read by its device's listed location."""
    from cdr_pipeline.config import Settings
    from cdr_pipeline.warehouse import build_warehouse, connect
    from tests.devices.helpers import EVENT_HEADER

    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"{t},{ORG},{d},{_user(d)},,,{dep},{n1 if t < '2026-09-10' else n2},,{loc},,S,ONLINE,,"
            for t in ("2026-09-01T06:00:00Z", "2026-09-16T06:00:00Z")
            for d, dep, loc, n1, n2 in DEVICES[:2]
        ],
    )
    events = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [
            f"2026-09-20T00:00:00Z,{ORG},M1,ACTIVATED,{_user('M1')},,,,MOBILE_OPERATOR,S,312-555-0103,"
        ],
    )
    directory = write_csv(
        tmp_path / "in" / "directory.csv",
        "entry_type,entry_id,name,cost_centre,site,country",
        DIRECTORY,
    )
    ingest(tmp_path / "wh", snaps, events, directory)
    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings)
    sql = (
        "select device_id, count(distinct phone_number), min(phone_number) "
        "from int_device_attribute_history group by 1 order by 1"
    )
    holdings = "select count(distinct licence_unit_id) from fct_licence_holdings"
    full = connect(settings, tier="full")
    analyst = connect(settings, tier="analyst")
    try:
        assert rows(full, sql) == [("B2", 1, "+442079460018"), ("M1", 1, "+13125550103")]
        assert rows(analyst, sql) == [
            ("B2", 1, "+44 20 7••• ••••"),
            ("M1", 1, "+1 312-•••-••••"),
        ]
        assert rows(analyst, holdings) == rows(full, holdings) == [(2,)]
    finally:
        full.close()
        analyst.close()
