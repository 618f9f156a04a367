"""A Webex Mobile number is one licence unit however a device list writes it: the API's
`+15550000009`, a person's `+1 555-000-0009` or `+1 (555) 000.0009` are one number."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from tests.devices.helpers import EVENT_HEADER, ORG, SNAPSHOT_HEADER, ingest, rows, views, write_csv
from tests.ingest.helpers import rejects
from tests.warehouse.finance_world import CALL_HEADER

USER = "0a000000-0000-4000-8000-000000000009"


def stored_numbers(tmp_path: Path, numbers: list[str]) -> list[tuple[object, ...]]:
    """(device_id, phone_number) as stored, of a device list giving device M1, M2, ... the
    `numbers`, each a Mobile Operator phone Online on 2026-09-01."""
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M{i},{USER},,,MOBILE_OPERATOR,{n},,L,,S,ONLINE,,"
            for i, n in enumerate(numbers, 1)
        ],
    )
    ingest(tmp_path / "wh", snaps)
    return rows(
        views(tmp_path / "wh"),
        "select device_id, phone_number from stg_device_snapshots order by 1",
    )


def test_a_mobile_number_written_with_blanks_and_dashes_is_one_licence_unit(
    tmp_path: Path,
) -> None:
    # M1 listed by the API, its replacement M2 (the same Webex Mobile number) typed by hand
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M1,{USER},,,MOBILE_OPERATOR,+15550000009,,L,,S,ONLINE,,",
            f"2026-09-08T06:00:00Z,{ORG},M1,{USER},,,MOBILE_OPERATOR,+1 (555) 000.0009,,L,,S,"
            "ONLINE,,",
        ],
    )
    events = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [
            f"2026-09-10T00:00:00Z,{ORG},M1,DELETED,{USER},,,,MOBILE_OPERATOR,S,+15550000009,",
            f"2026-09-10T00:00:00Z,{ORG},M2,PROVISIONED,{USER},,,,MOBILE_OPERATOR,S,"
            "+1 555-000-0009,",
            f"2026-09-11T00:00:00Z,{ORG},M2,ACTIVATED,{USER},,,,MOBILE_OPERATOR,S,"
            "\u00a0+1\u00a0555\u00a0000\u00a00009,",
        ],
    )
    ingest(tmp_path / "wh", snaps, events)
    con = views(tmp_path / "wh")
    assert rows(con, "select distinct phone_number from stg_device_snapshots") == [
        ("+15550000009",)
    ]
    assert rows(con, "select distinct phone_number from stg_device_events") == [("+15550000009",)]
    assert rows(
        con,
        "select licence_unit_id, iso_utc(held_from), held_to, device_count "
        "from fct_licence_holdings",
    ) == [("+15550000009", "2026-09-01T06:00:00Z", None, 2)]
    # one unit held 1 to 11 September (the data horizon): 11 licence-days, one per day
    assert rows(
        con,
        "select strftime(month, '%Y-%m'), consumed_peak, licence_days "
        "from rpt_licence_reconciliation",
    ) == [("2026-09", 1, 11)]
    assert rows(con, "select count(distinct licence_unit_id) from fct_licence_days") == [(1,)]


def test_a_mobile_number_a_spreadsheet_saved_without_its_plus_is_the_same_unit(
    tmp_path: Path,
) -> None:
    """M1, activated in August on +15551000, is listed on 09-16 as `15551000` (a device list
    re-saved by a spreadsheet, which takes `+15551000` for a number and drops the `+`) and
    on 10-01 as `1 555 1000`: one number, one unit. Worked out by hand: September is 30
    licence-days of one unit, 1 idle at 20.00. Before, the number without `+` was another
    unit: 16 + 15 = 31 licence-days and 2 idle licences (40.00) for one licence held."""
    mobile = ",,,MOBILE_OPERATOR,{n},,L,,S,ONLINE,,"
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M1,{USER}" + mobile.format(n="+15551000"),
            f"2026-09-16T06:00:00Z,{ORG},M1,{USER}" + mobile.format(n="15551000"),
            f"2026-10-01T06:00:00Z,{ORG},M1,{USER}" + mobile.format(n="1 555 1000"),
        ],
    )
    events = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [
            f"2026-08-20T00:00:00Z,{ORG},M1,PROVISIONED,{USER},,,,MOBILE_OPERATOR,S,+15551000,",
            f"2026-08-21T00:00:00Z,{ORG},M1,ACTIVATED,{USER},,,,MOBILE_OPERATOR,S,15551000,",
        ],
    )
    entitlements = write_csv(
        tmp_path / "in" / "entitlements.csv",
        "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency",
        ["S,Webex Go Mobile (Mobile Operator),1,2026-01-01,,20,USD"],
    )
    calls = write_csv(
        tmp_path / "in" / "calls_2026-09-01_2026-10-01.csv",
        CALL_HEADER,
        [
            "DESK,2026-09-15T10:00:00Z,2026-09-15T10:00:00Z,,,30,true,ORIGINATING,"
            f"SIP_NATIONAL,WXC_CLIENT,,{USER},+1,User,{ORG},L,0,c1,l1,r1,+15559999"
        ],
    )
    ingest(tmp_path / "wh", snaps, events, entitlements, calls)
    con = views(tmp_path / "wh")
    assert rows(con, "select distinct phone_number from stg_device_snapshots") == [("+15551000",)]
    assert rows(con, "select distinct phone_number from stg_device_events") == [("+15551000",)]
    assert rows(
        con,
        "select consumed_peak, licence_days, idle_licences, idle_cost "
        "from rpt_licence_reconciliation where month = date '2026-09-01'",
    ) == [(1, 30, 1, 20.0)]


def test_mobile_numbers_a_spreadsheet_rounded_are_quarantined_not_one_unit(
    tmp_path: Path,
) -> None:
    """A spreadsheet writes a 12-digit number in scientific notation: `+447700900001` and
    `+447700900002` both become `4.4477E+11`. Loaded, two devices held one licence unit;
    their digits are gone, so both rows are quarantined saying why."""
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M{i},{USER},,,MOBILE_OPERATOR,4.4477E+11,,L,,S,ONLINE,,"
            for i in (1, 2)
        ]
        + [f"2026-09-01T06:00:00Z,{ORG},M3,{USER},,,MOBILE_OPERATOR,+447700900003,,L,,S,ONLINE,,"],
    )
    wh = tmp_path / "wh"
    (f,) = ingest_paths(Settings(warehouse=wh, max_reject_rate=1.0), [snaps]).files
    assert (f.rows_loaded, f.rows_rejected) == (1, 2)
    bad = rejects(wh)
    assert set(bad["reason"]) == {"spreadsheet_number"}
    assert bad["detail"][0] == (
        "phone_number: '4.4477E+11' is a spreadsheet's scientific notation, its rounded-away "
        "digits are lost"
    )


def test_numbers_a_dataframe_tool_wrote_as_floats_are_quarantined_not_another_number(
    tmp_path: Path,
) -> None:
    """pandas reads a number column with empty cells as floats and writes `13125550111.0`
    (`13125550111,0` for a decimal-comma spreadsheet). The dot was taken for a mark between
    digits: stored `+131255501110`, a digit added (`3125550103.0` became the Dutch
    `+31255501030`), the licence unit of no device and the number of no CDR, loaded without
    a word. The leading zeros or `+` such a tool drops are lost, so the rows are quarantined
    (`spreadsheet_float`), in snapshots and events alike, quoting the value as written."""
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M{i},{USER},,,MOBILE_OPERATOR,{n},,L,,S,ONLINE,,"
            for i, n in enumerate(["13125550111.0", "3125550103.0", '"13125550111,0"'], 1)
        ]
        + [f"2026-09-01T06:00:00Z,{ORG},M4,{USER},,,MOBILE_OPERATOR,312.555.0104,,L,,S,ONLINE,,"],
    )
    events = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [
            f"2026-08-01T06:00:00Z,{ORG},M5,PROVISIONED,{USER},,admin,,MOBILE_OPERATOR,S,14155550105.0,"
        ],
    )
    wh = tmp_path / "wh"
    result = ingest_paths(Settings(warehouse=wh, max_reject_rate=1.0), [snaps, events])
    assert [(f.rows_loaded, f.rows_rejected) for f in result.files] == [(1, 3), (0, 1)]
    bad = rejects(wh).sort("detail")
    assert set(bad["reason"]) == {"spreadsheet_float"}
    assert [d.split(" is ")[0] for d in bad["detail"]] == [
        "phone_number: '13125550111,0'",
        "phone_number: '13125550111.0'",
        "phone_number: '14155550105.0'",
        "phone_number: '3125550103.0'",
    ]
    con = views(wh)
    assert rows(con, "select device_id, phone_number from stg_device_snapshots") == [
        ("M4", "3125550104")
    ]


def test_a_national_number_with_its_area_code_in_brackets_gets_no_country_code(
    tmp_path: Path,
) -> None:
    """`(312) 555-0103` is the North American national form: 312 is an area code, not a
    country code. It was stored `+3125550103` (a Dutch number), one more licence unit that
    no spelling of the real number ever matches; now it keeps its digits without a `+`, as
    a national number starting with 0 does, and the E.164 spellings are untouched."""
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M1,{USER},,,MOBILE_OPERATOR,(312) 555-0103,,L,,S,ONLINE,,",
            f"2026-09-01T06:00:00Z,{ORG},M2,{USER},,,MOBILE_OPERATOR,+1 (312) 555-0104,,L,,S,"
            "ONLINE,,",
            f"2026-09-01T06:00:00Z,{ORG},M3,{USER},,,MOBILE_OPERATOR,1 312 555 0105,,L,,S,ONLINE,,",
        ],
    )
    ingest(tmp_path / "wh", snaps)
    con = views(tmp_path / "wh")
    assert rows(con, "select device_id, phone_number from stg_device_snapshots order by 1") == [
        ("M1", "3125550103"),
        ("M2", "+13125550104"),
        ("M3", "+13125550105"),
    ]


def test_a_north_american_national_number_typed_with_dashes_gets_no_country_code(
    tmp_path: Path,
) -> None:
    """`312-555-0103` (and with dots or blanks) is the North American national form, as
    `(312) 555-0103` is: it was stored `+3125550103`, a Dutch number, a licence unit no
    spelling of the real number matches. A spreadsheet drops the `+` only of a cell it reads
    as a number, never of text with dashes, so such a value was typed without a country code
    and now keeps its digits without a `+`. `1-312-...` is unchanged. Digits alone are
    what a spreadsheet left of an E.164 number, except ten digits that are no valid number
    with a `+` but a North American one with `+1`: `3125550108` was stored `+3125550108`,
    the same invalid Dutch number; a Belgian `3222345678` (valid with its `+` only) and
    `5550000009` (valid neither way) keep the spreadsheet reading."""
    numbers = [
        "312-555-0103",
        "312.555.0104",
        "312 555 0105",
        "1-312-555-0106",
        "+1 312-555-0107",
        "3125550108",
        "3222345678",
        "5550000009",
    ]
    assert stored_numbers(tmp_path, numbers) == [
        ("M1", "3125550103"),
        ("M2", "3125550104"),
        ("M3", "3125550105"),
        ("M4", "+13125550106"),
        ("M5", "+13125550107"),
        ("M6", "3125550108"),
        ("M7", "+3222345678"),
        ("M8", "+5550000009"),
    ]


def test_a_trunk_zero_in_brackets_after_the_country_code_is_dropped_as_dialling_does(
    tmp_path: Path,
) -> None:
    """`+44 (0)20 7946 0018` is how British, German, Swiss and Australian numbers are
    printed: the bracketed 0 is the trunk prefix dialled only inside the country. Its
    brackets were removed and the 0 kept, `+4402079460018`, a number no CDR carries
    (`User number` +442079460018), so the device's licence unit and its phone match were
    another number. It is now dropped as `phonenumbers` drops it; an Italian number keeps
    its 0, which belongs to the number there (+39 06...)."""
    numbers = ["+44 (0)20 7946 0018", "+49 (0) 30 123456", "+39 (0)6 6982 1234", "+44 20 7946 0019"]
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M{i},{USER},,,MOBILE_OPERATOR,{n},,L,,S,ONLINE,,"
            for i, n in enumerate(numbers, 1)
        ],
    )
    events = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [f"2026-09-02T00:00:00Z,{ORG},M1,ACTIVATED,{USER},,,,MOBILE_OPERATOR,S,+44(0)2079460018,"],
    )
    ingest(tmp_path / "wh", snaps, events)
    con = views(tmp_path / "wh")
    assert rows(con, "select device_id, phone_number from stg_device_snapshots order by 1") == [
        ("M1", "+442079460018"),
        ("M2", "+4930123456"),
        ("M3", "+390669821234"),
        ("M4", "+442079460019"),
    ]
    assert rows(con, "select phone_number from stg_device_events") == [("+442079460018",)]


def test_a_number_with_an_extension_a_uri_or_a_full_width_plus_is_its_e164_number(
    tmp_path: Path,
) -> None:
    """A device list typed or exported by another tool: `+1 312 555 0111 x123`, `…;ext=12`
    (an extension: a Webex Mobile number and a CDR's User number have none), `tel:+1…` (an
    RFC 3966 URI) and `＋1…` (a full-width plus) were kept as written: text no CDR's User
    number equals by its digits (`13125550111123`), and a licence unit apart from the same
    number's E.164 spelling. Each is now the E.164 number phonenumbers reads in it; text
    that is no number stays as given."""
    numbers = [
        "+1 312 555 0111 x123",
        "+13125550112;ext=12",
        "tel:+13125550113",
        "\uff0b13125550114",
        "+1 312 555 0115 ext. 5",
        "n/a yet",
    ]
    assert stored_numbers(tmp_path, numbers) == [
        ("M1", "+13125550111"),
        ("M2", "+13125550112"),
        ("M3", "+13125550113"),
        ("M4", "+13125550114"),
        ("M5", "+13125550115"),
        ("M6", "n/a yet"),
    ]


def test_a_number_with_a_spreadsheets_leading_apostrophe_is_its_number(tmp_path: Path) -> None:
    """`'+13125550111`: the text marker a person types so a spreadsheet keeps the `+`, or the
    one a tool writes before `+` against formula injection (`cdr report --format csv` does).
    It was stored with the `'`, a licence unit apart from the same number and the number of
    no CDR. A `'` inside or after a value, or before text, is left as it is."""
    numbers = [
        "'+13125550111",
        " '+1 312 555 0112",
        "'13125550113",
        "'+44 (0)20 7946 0018",
        "O'Brien desk",
    ]
    assert stored_numbers(tmp_path, numbers) == [
        ("M1", "+13125550111"),
        ("M2", "+13125550112"),
        ("M3", "+13125550113"),
        ("M4", "+442079460018"),
        ("M5", "O'Brien desk"),
    ]


def test_an_extension_with_a_spreadsheets_leading_apostrophe_is_its_digits(
    tmp_path: Path,
) -> None:
    """`'1105`: the text marker a sheet keeps so that the extension stays text (or a tool's
    formula guard). It was stored with the `'` (`dim_webex_go_devices` showed it so); it is
    the extension, and the ingest note counts it. Text after a `'` stays as it is."""
    snaps = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-09-01T06:00:00Z,{ORG},M{i},{USER},,,BYOD,+1312555011{i},{ext},L,,S,ONLINE,,"
            for i, ext in enumerate(["'1105", "1106", "'desk"], 1)
        ],
    )
    (f,) = ingest(tmp_path / "wh", snaps).files
    assert "formula guard" in f.message and "1 of extension" in f.message, f.message
    stored = rows(
        views(tmp_path / "wh"), "select device_id, extension from stg_device_snapshots order by 1"
    )
    assert stored == [("M1", "1105"), ("M2", "1106"), ("M3", "'desk")]
