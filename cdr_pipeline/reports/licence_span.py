"""The months the licence reports cover and the device data horizon, and what to say of a
month outside them (its licence reports have no row, which says nothing of what was held or
bought then). Read on the caller's connection: a report, the finance figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb


@dataclass(frozen=True)
class LicenceData:
    months: tuple[date, date] | None
    """First and last month of `fct_licence_months` (None: no licence was ever held)."""
    horizon: datetime | None
    """The device data horizon (`int_device_as_of`): the latest snapshot or event."""


def licence_data(con: duckdb.DuckDBPyConnection) -> LicenceData:
    """The months the licence reports cover, and the device data horizon, on `con`."""
    first, last = con.execute("select min(month), max(month) from fct_licence_months").fetchall()[0]
    horizon = con.execute("select max(as_of_time) from int_device_as_of").fetchall()[0][0]
    if horizon is not None and horizon.tzinfo is not None:
        horizon = horizon.astimezone(UTC)
    return LicenceData(None if first is None else (first, last), horizon)


def outside_text(first_day: date, data: LicenceData) -> str:
    """What to say of a month outside the months the licence reports cover (before the
    first licence held or past the device data horizon: its reports have no row, which says
    nothing of what was held or bought then); '' for a month inside them."""
    if data.months and data.months[0] <= first_day <= data.months[1]:
        return ""
    if data.months is None:
        span = "no device data with a licence held is loaded"
    else:
        span = f"the licence reports cover {data.months[0]:%B %Y} to {data.months[1]:%B %Y}"
        if data.horizon is not None:
            span += f" (device data up to {data.horizon:%Y-%m-%d %H:%M} UTC)"
    return (
        f"{first_day:%B %Y} is outside the device data: {span}. Nothing held or bought "
        "is reported for it; load its device snapshots or events."
    )
