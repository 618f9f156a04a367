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
# for both), each pair of one subscription and licence type whose ranges share a day, and of
# the month when one is asked for
_PAIRS = """
with in_force as (
    select subscription_key, subscription_id, licence_type, units, valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to
    from int_entitlements_in_force
)

select a.subscription_id, a.licence_type, a.units, a.valid_from, a.valid_to,
    b.units, b.valid_from, b.valid_to
from in_force as a
inner join in_force as b
    on a.subscription_key = b.subscription_key
    and a.licence_type = b.licence_type
    and a.valid_from < b.valid_from
    and b.valid_from <= a.valid_to
where $month::date is null
    or (b.valid_from <= last_day($month::date) and least(a.valid_to, b.valid_to) >= $month)
order by a.subscription_key, a.licence_type, a.valid_from, b.valid_from
"""


def _range(units: int, first: date, last: date) -> str:
    until = "" if last == date(9999, 12, 31) else f"..{last}"
    return f"{units} unit(s) {first}{until}"


def overlap_note(con: duckdb.DuckDBPyConnection, first_day: date | None) -> str:
    """Names the pairs of entitlement rows of one subscription and licence type in force on
    a common day (of the month `first_day`, or of any month), whose units the
    reconciliation adds up; empty when none overlap."""
    pairs = con.execute(_PAIRS, {"month": first_day}).fetchall()
    if not pairs:
        return ""
    shown = "; ".join(
        f"{sub} {licence}: {_range(u1, f1, t1)} and {_range(u2, f2, t2)}"
        for sub, licence, u1, f1, t1, u2, f2, t2 in pairs[:SHOWN]
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
