"""Device numbers in the analyst tier as the full tier reads them.

The full tier reads a device number a device list wrote in national form (`3125550103`) as
the E.164 number of its location's country (`+13125550103`, `int_location_dialling`,
`e164_number`). The analyst tier replaces every number by its pseudonym before the views
run, and a pseudonym has no digits to read: the two spellings of one number would be two
pseudonyms, two licence units and no match there, where the full tier has one. So the
analyst tier's staging views pseudonymise the E.164 reading of a device number (the map
holds the readings too), and its views count, join and mask what the full tier's do.

An event carries no location: its number is read by the country of its device's latest
listed location, as `dim_webex_go_devices` reads a device's number.
"""

from __future__ import annotations

from collections.abc import Collection

READER = "int_location_dialling"
"""The view the readings need (a SQL folder of one's own may not have it: then numbers are
pseudonymised as written)."""

_PLAN = "l.country_code, l.national_prefix, l.international_prefix"

_JOINS = {
    "device_snapshots": f"left join main.{READER} as l on s.location_name = l.location_name",
    "device_events": (
        "left join (select device_id, arg_max(location_name, snapshot_time) as location_name "
        "from main.stg_device_snapshots where location_name is not null group by device_id) "
        f"as dl on s.device_id = dl.device_id "
        f"left join main.{READER} as l on dl.location_name = l.location_name"
    ),
}


def reads_numbers(table: str, views: Collection[str]) -> bool:
    """Whether the analyst staging view of `table` pseudonymises its numbers' readings."""
    return table in _JOINS and READER in views


def number_reading() -> str:
    """SQL of the E.164 reading of `s.phone_number` of a row of `main.stg_<table> as s`."""
    return f"e164_number(s.phone_number, {_PLAN})"


def reading_joins(table: str) -> str:
    """The joins `number_reading` needs after `from main.stg_<table> as s`."""
    return _JOINS[table]


def readings_sql(table: str) -> str:
    """SQL of ('phone_number', reading): the distinct readings that differ from the number
    as written, for the pseudonym map."""
    reading = number_reading()
    return (
        f"select distinct 'phone_number' as column_name, {reading} as value "
        f"from main.stg_{table} as s {reading_joins(table)} "
        f"where {reading} is distinct from s.phone_number"
    )
