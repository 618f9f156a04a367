"""Why a month cannot be closed without --force (`incomplete`), why no close freezes
figures over data known bad (a failed validation: `validation_hold`, which a close by hand
overrides with --force --reason), and why the nightly's unattended close holds a month back
though it is complete: nobody is there to look first, so it never closes while an input of
the night failed to load."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import polars as pl

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger


def next_month(first_day: date) -> date:
    return (first_day + timedelta(days=32)).replace(day=1)


def runs_text(
    items: Sequence[date],
    follows: Callable[[date, date], bool],
    text: Callable[[date, date], str],
    shown: int = 6,
) -> str:
    """`items` (oldest first) as runs of ones where each `follows` the last, each run as
    `text(first, last)`: the first `shown` runs and how many more."""
    runs: list[list[date]] = []
    for item in items:
        if runs and follows(runs[-1][1], item):
            runs[-1][1] = item
        else:
            runs.append([item, item])
    texts = [text(a, b) for a, b in runs]
    more = f" and {len(texts) - shown} more" if len(texts) > shown else ""
    return ", ".join(texts[:shown]) + more


def months_text(months: Sequence[date], shown: int = 6) -> str:
    """Months (first days, oldest first) as runs, `2025-01..2026-07, 2026-09`, the first
    `shown` runs and how many more: a close forced by mistake years back left every month
    since open, and each night's warning named them one by one (hundreds)."""
    return runs_text(
        months,
        lambda last, month: next_month(last) == month,
        lambda a, b: f"{a:%Y-%m}" if a == b else f"{a:%Y-%m}..{b:%Y-%m}",
        shown,
    )


def incomplete(
    first_day: date,
    coverage: str,
    days: tuple[int, int],
    today: date,
    span: tuple[date, date] | None = None,
    missing: str = "",
) -> tuple[str | None, str]:
    """Why the month cannot be closed without --force (None when it can), and what to do
    about it. `days`: (days with call data, days of the month); `today`: in the reporting
    time zone; `span`: the first and last month the licence figures cover (None: none),
    given when the month's coverage is 'none', which is also what a month outside them
    reads (before the first unit was held, past the latest device data): its calls may be
    loaded, and "no call data" sent the user to load them again. `missing`: the days
    without call data, named in the refusal of a month of partial coverage."""
    if next_month(first_day) > today:
        return (
            f"the month has not ended (today is {today.isoformat()})",
            f"close it on {next_month(first_day).isoformat()} or later (in reporting_timezone; "
            "with close_after_days set, the nightly closes it by itself)",
        )
    if coverage == "none" and (span is None or not span[0] <= first_day <= span[1]):
        where = (
            f"they run from {span[0]:%Y-%m} to {span[1]:%Y-%m}" if span else "there are none yet"
        )
        return (
            f"the month has no licence figures: {where} (from the first month a licence unit "
            "was held to the month of the latest device data)",
            "load the device snapshots and activation events that cover the month, then "
            "run `cdr build`",
        )
    if coverage != "full":
        covered, total = days
        none = f"; none for {missing}" if missing and coverage == "partial" else ""
        return (
            f"call coverage is {coverage} ({covered} of {total} days have call data{none})",
            "load the missing call data and run `cdr nightly`/`cdr build`",
        )
    return None, ""


def failed_validations(layout: Layout) -> list[str]:
    """The tables whose latest validation (`validations` ledger table) failed an
    error-severity check, each as `entitlements failed check entitlements.valid_range
    (validation v-1 of 2026-11-04 02:00 UTC)`: their data is known bad until a
    later validation of the table passes (one of a correcting load, or `cdr validate --all`).
    A record written before the ledger kept the checks' ids gives their count only."""
    # in the order written, not by run time: after the clock was set back (a machine booted
    # with it ahead, then NTP) the correcting validation ran "before" the failed one
    checked = Ledger(layout).read("validations", written_order=True)
    if checked.is_empty() or "errors_failed" not in checked.columns:
        return []
    for name in ("errors_failed_checks", "run_time", "validation_id"):  # an older record's
        if name not in checked.columns:
            checked = checked.with_columns(pl.lit(None).alias(name))
    latest = checked.group_by("table_name", maintain_order=True).last()
    bad = latest.filter(pl.col("errors_failed") > 0).sort("table_name")
    out = []
    for row in bad.iter_rows(named=True):
        checks = row["errors_failed_checks"] or []
        what = (
            f"check{'s' if len(checks) > 1 else ''} {', '.join(checks)}"
            if checks
            else f"{row['errors_failed']} error-severity check(s)"
        )
        when = f" of {row['run_time']:%Y-%m-%d %H:%M} UTC" if row["run_time"] else ""
        out.append(f"{row['table_name']} failed {what} (validation {row['validation_id']}{when})")
    return out


def validation_hold(layout: Layout) -> tuple[str, str] | None:
    """Why no month is closed while the latest validation of a table failed, and what to
    do (None when none did): the one rule of the nightly's close and of `cdr close` by
    hand (which `--force --reason` overrides). A close is kept for good: figures frozen
    over data known bad would be reopened."""
    failed = failed_validations(layout)
    if not failed:
        return None
    return (
        f"the latest validation of {'; of '.join(failed)}",
        "correct the data (`cdr validate` and its Data Docs say which rows), load it, and "
        "run `cdr validate --all`",
    )


def close_held_back(failed_files: Sequence[str]) -> list[tuple[str, str]]:
    """What keeps the nightly, and not a close by hand, from closing a month tonight (why,
    what to do; empty when nothing does), beside the rules of every close (`validation_hold`,
    `close_check`). `failed_files` are the night's input files that failed to load: such a
    file (an entitlement sheet with a negative count, past --max-reject-rate) loads none of
    its rows, and the month would be frozen without them; it stays in the inbox and is
    tried again each night, so the close waits until it loads or is removed."""
    held: list[tuple[str, str]] = []
    if failed_files:
        shown = ", ".join(failed_files[:3]) + (
            f" and {len(failed_files) - 3} more" if len(failed_files) > 3 else ""
        )
        held.append(
            (
                f"a file failed to load tonight ({shown}), and its rows would be missing "
                "from the frozen figures",
                "correct it (cdr runs --files says why; quarantined rows under rejects/) or "
                "remove it from the inbox",
            )
        )
    return held
