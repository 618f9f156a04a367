"""Everything that keeps a month from closing, named at once: finance fixes every gap and
closes in one rerun, where a refusal naming its first reason only sent them back for the
next (a failed file, then a failed validation, then the missing days, then the device data
stopping short, night after night)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb

from cdr_pipeline.reports.close_hold import incomplete, next_month
from cdr_pipeline.reports.figures import (
    days_in,
    days_text,
    device_data_short,
    licence_months,
    month_coverage,
    retention_cutoff,
    uncovered_days,
)


@dataclass
class MonthCheck:
    """A month's call coverage and why it cannot be closed without --force (`problems`,
    each with what to do about it in `hints`; empty when it can)."""

    coverage: str
    covered: int
    days: int
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        return "; ".join(self.problems) or None

    @property
    def hint(self) -> str:
        return joined_hints(self.hints)


def joined_hints(hints: Sequence[str]) -> str:
    """The hints in order, each once (two reasons may share what to do)."""
    return "; ".join(dict.fromkeys(h for h in hints if h))


def check_month(con: duckdb.DuckDBPyConnection, first_day: date, today: date) -> MonthCheck:
    """What keeps the month of `first_day` from closing on `today` (reporting time zone),
    read over the views of `con`: every reason, not the first."""
    coverage, covered = month_coverage(con, first_day)
    check = MonthCheck(coverage, covered, days_in(first_day))
    span = licence_months(con) if coverage == "none" else None
    short = device_data_short(con, first_day)
    # coverage stops at the device data horizon's day: a day after it whose calls are
    # loaded lacks device data, not call data, and the refusal says which is missing
    calls, have_calls = coverage, covered
    missing_days = uncovered_days(con, first_day) if coverage == "partial" else []
    if coverage == "partial" and short is not None:
        calls = "partial" if missing_days else "full"
        have_calls = check.days - len(missing_days)
    missing = days_text(missing_days)
    problem, hint = incomplete(first_day, calls, (have_calls, check.days), today, span, missing)
    ended = next_month(first_day) <= today
    outside = coverage == "none" and (span is None or not span[0] <= first_day <= span[1])
    if problem:
        cutoff = retention_cutoff(con)
        if calls != "full" and cutoff is not None and cutoff >= first_day:
            # those days are gone for good: a re-sent export is skipped as loaded, and
            # coverage ignores the days before the cutoff
            problem += (
                f"; retention (retain_days) dropped its call legs before {cutoff}, which "
                "cannot be loaded again"
            )
            hint = (
                "raise retain_days above close_after_days plus a month so that months "
                "close before retention reaches them"
            )
        check.problems.append(problem)
        check.hints.append(hint)
    # a month not over, or outside the licence figures, has no month end to reach yet
    if short is not None and ended and not outside:
        check.problems.append(
            f"device data ends at {short[0]:%Y-%m-%d %H:%M} UTC, before the month "
            f"ends at {short[1]:%Y-%m-%d %H:%M} UTC (its month-end figures would be "
            "those of then)"
        )
        check.hints.append("load the device snapshots or events of after the month's end")
    return check
