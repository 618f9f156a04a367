"""`cfg_dialling_plans`: each country's calling code and the prefixes its numbers are dialled
with at home, from the `phonenumbers` library's metadata (Google's libphonenumber).

A Webex Go device list may give a number in its national form (`020 7946 0018`,
`(312) 555-0103`, kept without a country code at ingest: docs/inputs-devices.md); the CDRs
carry the E.164 form. With the country of the device's location (the org directory),
`e164_number` in `sql/_macros.sql` turns it into E.164 with these prefixes, as
`phonenumbers.parse(number, country)` does for every country but Argentina (whose mobile
`15` becomes a `9` by a rewrite rule the SQL does not apply: such a number stays national).

The plans are kept in `dialling_data.py`, written by `render_data()` from the library: reading
the metadata of 245 countries costs about a third of a second a process, and every build
creates the view. The kept plans are used only when they are of the installed version of
`phonenumbers` (`active_plans`); under another (an upgrade the pinned range allows) the
library's own are read, so the view always says what the installed library says. After an
upgrade, write the module again with `render_data()` to get the fast path back.
"""

from __future__ import annotations

import re

from cdr_pipeline.text import lit
from cdr_pipeline.warehouse.catalog import ViewSpec
from cdr_pipeline.warehouse.dialling_data import DIALLING_PLANS, PHONENUMBERS_VERSION

Plan = tuple[str, str, str | None, str | None]

_DIGIT_CLASS = re.compile(r"\\d")


def _portable(pattern: str | None) -> str | None:
    r"""A metadata pattern with `\d` written `[0-9]`: DuckDB, Spark and Java read it alike,
    and a Spark string literal takes no backslash escape. Any other backslash is refused."""
    if pattern is None:
        return None
    out = _DIGIT_CLASS.sub("[0-9]", pattern)
    if "\\" in out:
        raise ValueError(f"dialling prefix pattern {pattern!r} has an escape SQL cannot carry")
    return out


def dialling_plans() -> list[Plan]:
    """(country, calling code, national prefix pattern, international prefix pattern) of every
    country `phonenumbers` knows, by ISO 3166 alpha-2 code. The national prefix pattern is
    what `phonenumbers` strips before the national number (`0`, `1`, `0|80?`); where the
    country rewrites what it strips (a transform rule), only its plain national prefix."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    plans: list[Plan] = []
    for country in sorted(phonenumbers.SUPPORTED_REGIONS):
        md = PhoneMetadata.metadata_for_region(country)
        if md is None:
            continue
        national = md.national_prefix_for_parsing
        if national is None or md.national_prefix_transform_rule is not None:
            national = re.escape(md.national_prefix) if md.national_prefix else None
        plans.append(
            (
                country,
                str(md.country_code),
                _portable(national),
                _portable(md.international_prefix),
            )
        )
    return plans


def active_plans() -> tuple[Plan, ...]:
    """The plans a build uses: the kept ones when they are of the installed `phonenumbers`,
    else read from it (once a process: the library caches its metadata)."""
    import phonenumbers

    if phonenumbers.__version__ == PHONENUMBERS_VERSION:
        return DIALLING_PLANS
    return tuple(dialling_plans())


def render_data() -> str:
    """The text of `dialling_data.py` for the installed `phonenumbers`."""
    import phonenumbers

    lines = [
        f'"""Dialling plans of `phonenumbers` {phonenumbers.__version__}, written by',
        '`cdr_pipeline.warehouse.dialling.render_data()`: do not edit by hand."""',
        "",
        f"PHONENUMBERS_VERSION = {phonenumbers.__version__!r}",
        "",
        "DIALLING_PLANS: tuple[tuple[str, str, str | None, str | None], ...] = (",
        *(f"    {plan!r}," for plan in dialling_plans()),
        ")",
        "",
    ]
    return "\n".join(lines)


def dialling_view() -> ViewSpec:
    """`cfg_dialling_plans`: one row per country (`country`, `country_code`,
    `national_prefix`, `international_prefix`, the prefixes as regular expressions)."""

    def text(value: str | None) -> str:
        return "cast(null as varchar)" if value is None else lit(value)

    rows = ",\n".join(
        f"    ({lit(c)}, {lit(code)}, {text(nat)}, {text(intl)})"
        for c, code, nat, intl in active_plans()
    )
    sql = (
        "-- grain: one row per country\n-- key: country\n"
        "select country, country_code, national_prefix, international_prefix\n"
        "from (values\n"
        f"{rows}\n"
        ") as plans (country, country_code, national_prefix, international_prefix)"
    )
    return ViewSpec(
        name="cfg_dialling_plans",
        sql=sql,
        grain="one row per country",
        key=("country",),
        origin="generated",
        doc=(
            "Each country's calling code and home dialling prefixes (phonenumbers metadata): "
            "country, country_code, national_prefix, international_prefix."
        ),
    )
