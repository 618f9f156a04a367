"""The note `cdr report` prints when a report's Webex Go minutes leave out records without a
Duration: the sums keep such a record unknown (NULL, never 0; docs/webex-dch.md), and a
reader would take the figures for complete. The top lists say the same of their talk
minutes (`run.unknown_talk_note`)."""

from __future__ import annotations

from datetime import date

import duckdb

_MONTH = "($month::date is null or {column} = $month::date)"

UNKNOWN_GO_RECORDS: dict[str, str] = {
    # the records the report's minutes sum: made while their device held its licence, in
    # the month of the piece they started in (fct_licence_leg_hits, as the report counts)
    "licence-usage": "select count(*) from fct_licence_leg_hits "
    "where duration_seconds is null and " + _MONTH.format(column="month"),
    # the Webex Go records of the month's calls (by the call's month, as the report counts)
    "webex-go-adoption": "select count(*) from fct_call_legs as l "
    "inner join fct_calls as c on l.correlation_id = c.correlation_id "
    "where l.is_webex_go and l.duration_seconds is null and c.report_month is not null "
    "and " + _MONTH.format(column="c.report_month") + " and ("
    "getvariable('cdr_report_legs_from') is null or l.call_date between "
    "cast(getvariable('cdr_report_legs_from') as date) "
    "and cast(getvariable('cdr_report_legs_to') as date))",
}
"""Per report with Webex Go minutes, how many of the records they sum have no Duration."""


def unknown_go_note(con: duckdb.DuckDBPyConnection, name: str, first_day: date | None) -> str:
    """Says how many Webex Go records report `name`'s minutes (of the month `first_day`, or
    of every month) leave out for want of a Duration; empty when none does (or the report
    has no Webex Go minutes). `con` is scoped to the month (`run.month_scope`)."""
    sql = UNKNOWN_GO_RECORDS.get(name)
    if sql is None:
        return ""
    row = con.execute(sql, {"month": first_day}).fetchone()
    unknown = int(row[0]) if row else 0
    if not unknown:
        return ""
    columns = "webex_go_minutes leaves"
    if name == "licence-usage":
        columns = "webex_go_minutes and webex_go_device_minutes leave"
    return (
        f"{columns} out {unknown:,} Webex Go record(s) with no Duration in the "
        "data (unknown, never 0): the figures are the known talk time only"
    )
