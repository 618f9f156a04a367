"""The note `cdr report reconciliation` prints when entitlement rows of one subscription and
licence type overlap: their units add up on the days they share (a top-up bought on the
15th is a row of its own beside the year's purchase), which is right for a top-up and
twice the units for a renewal typed as a new row while the old one was left open. The
figures cannot tell the two apart; the note names the rows so that finance can."""

from __future__ import annotations

from datetime import date

import duckdb

SHOWN = 3
"""Overlapping pairs the note names; it says how many more."""

# the entitlement rows the reconciliation reads (`int_entitlements_in_force`, one definition
# for both), each pair of one subscription and licence type whose ranges share a day that the
# figures cover: of the month when one is asked for, and from the first month of the licence
# figures to the day of the device data horizon, on which the reconciliation reads the units
# in force of the month it stops in (a top-up bought after it adds nothing to the figures)
_PAIRS = """
with in_force as (
    select subscription_key, subscription_id, licence_type, units, valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to
    from int_entitlements_in_force
),

covered as (
    select
        coalesce($month::date, (select min(month) from fct_licence_months)) as cover_from,
        least(
            coalesce(last_day($month::date), date '9999-12-31'),
            coalesce(
                (
                    select cast(timezone(s.reporting_timezone, a.as_of_time) as date)
                    from int_device_as_of as a cross join cfg_settings as s
                ),
                date '9999-12-31'
            )
        ) as cover_to
),

pairs as (
    select a.subscription_key, a.subscription_id, a.licence_type, a.units, a.valid_from,
        b.units as units_b, b.valid_from as valid_from_b,
        greatest(b.valid_from, coalesce(c.cover_from, b.valid_from)) as shared_from,
        least(a.valid_to, b.valid_to, c.cover_to) as shared_to
    from in_force as a
    inner join in_force as b
        on a.subscription_key = b.subscription_key
        and a.licence_type = b.licence_type
        and a.valid_from < b.valid_from
        and b.valid_from <= a.valid_to
    cross join covered as c
)

select subscription_id, licence_type, units, valid_from, units_b, valid_from_b, shared_from,
    shared_to
from pairs
where shared_from <= shared_to
order by subscription_key, licence_type, valid_from, valid_from_b
"""


def _days(first: date, last: date) -> str:
    return f"on {first}" if first == last else f"on {first}..{last}"


def overlap_note(con: duckdb.DuckDBPyConnection, first_day: date | None) -> str:
    """Names the pairs of entitlement rows of one subscription and licence type in force on
    a common day (of the month `first_day`, or of any month) that the figures cover, whose
    units the reconciliation adds up, and those days; empty when none overlap. A row is
    named by its key (subscription, licence type, valid_from) and units: its own range may
    run past the days the figures cover (an open row, the month the device data stops in)."""
    pairs = con.execute(_PAIRS, {"month": first_day}).fetchall()
    if not pairs:
        return ""
    shown = "; ".join(
        f"{sub} {licence}: {u1} unit(s) from {f1} and {u2} unit(s) from {f2}, "
        f"in force together {_days(d1, d2)}"
        for sub, licence, u1, f1, u2, f2, d1, d2 in pairs[:SHOWN]
    )
    more = f" and {len(pairs) - SHOWN} more" if len(pairs) > SHOWN else ""
    return (
        f"entitlement rows overlap, and their units add up on the days they share, as a "
        f"top-up's do: {shown}{more}; where a row replaces another rather than adding to "
        "it, give the earlier one a valid_to and load it again"
    )


def stored_overlap_note(note: str | None, first_day: date) -> str:
    """What to show of the note a close stored (`ClosedMonth.overlaps`; of computed figures,
    the note itself). A close made before closes stored it (None) gets a line saying so:
    no note there read as "no rows overlap", which nobody checked for that month."""
    if note is not None:
        return note
    return (
        f"whether entitlement rows overlapped in {first_day:%Y-%m} was not recorded by its "
        f"close (made by an earlier release); `cdr report reconciliation --month "
        f"{first_day:%Y-%m} --current` names those of the data now"
    )


def overlap_change(stored: str | None, now: str, first_day: date) -> str:
    """What `cdr report restatements` says of a closed month whose entitlement rows overlap
    otherwise now than its close noted (`ClosedMonth.overlaps` against `overlap_note` now):
    a renewal loaded beside the row it renews since the close moves `entitled_units` like a
    top-up does, and only the names tell finance which it is. Empty when the note holds, or
    when the close recorded none (an earlier release: nothing to compare with)."""
    if stored is None or stored == now:
        return ""
    month = f"{first_day:%Y-%m}"
    if not stored:
        return f"{month}: since its close, {now}"
    if not now:
        return f"{month}: the entitlement rows its close noted overlap no longer: {stored}"
    return f"{month}: the entitlement rows that overlap changed since its close; now: {now}"
