"""Named reports: each one a parameterised query over the public views.

User-supplied values (the month) reach SQL only as bound parameters (`$month`), never by
string formatting. Monthly reports filter on their month column before they aggregate, so
one month reads that month's rows only (DuckDB folds the parameter into the plan; a NULL
`$month` keeps every month); the views over call legs read the month's days through the
session variables `run.month_scope` sets (`in_report_days` in `sql/_macros.sql`; the days
of the month's calls for webex-go-adoption). Snapshot reports (reclaim candidates) describe
the data horizon and take no month.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    name: str
    summary: str
    sql: str
    key: tuple[str, ...]
    """Sort order of the output (the report's key)."""
    monthly: bool = True
    view: str | None = None
    """The public view the report shows (its columns are documented in sql/README.md)."""
    compact: tuple[str, ...] = ()
    """The columns `--format table` shows without `--wide` (empty: all)."""
    tier: str = "full"
    """The tier it reads by default (`CDR_TIER` overrides): the analyst reports read the
    pseudonymised views (`warehouse/analyst.py`), finance and operations the full ones."""
    analyst_sql: str | None = None
    """The query in the analyst tier, where it differs (counting by a pseudonym)."""
    talk_of: str | None = None
    """The calls (`fct_calls` predicate) whose talk time the report's `talk_minutes` sums:
    `run_report` notes how many of them have answered legs of unknown duration, which the
    sums leave out (a call none of whose answered legs has one adds NULL, not 0)."""

    def sql_for(self, tier: str) -> str:
        return self.analyst_sql if tier == "analyst" and self.analyst_sql else self.sql


SPECIAL_REPORTS: dict[str, str] = {
    "restatements": "Per closed month, the rows and totals of its finance reports that a "
    "recomputation now would change",
    "finance-pack": "The month's finance workbook (xlsx): cover, one sheet per finance "
    "report, column definitions (--month, --out FILE.xlsx)",
    "finance-summary": "The month's one-page summary (self-contained HTML, prints on one A4 "
    "page; --month)",
}
"""Reports that are not one query: `cdr report` runs them by name too."""


def _month(column: str = "month") -> str:
    """Filter on a month column; `$month` is NULL for all months."""
    return f"($month::date is null or {column} = $month::date)"


def _minutes(seconds: str) -> str:
    """`seconds` as minutes rounded half up to one decimal, as by hand: 9 s is 0.2 min. The
    tenths are `round(seconds / 6)`, whose ties (k + 0.5) a double holds exactly; rounding
    `seconds / 60.0` rounded the double nearest 0.15, a hair below it, down to 0.1 (and
    sql/rpt_licence_usage_monthly.sql writes its minutes the same way)."""
    return f"round({seconds} / 6.0) / 10"


_MONTH = _month()


_TIES = "count(*) desc, sum(talk_seconds) desc, min(first_start_time), min(correlation_id)"
"""The order of a top-20 list: most calls, then most talk, then the earliest call of the
month (a call has one caller and one called number, so its correlation_id breaks every
tie). Never the user id or the number: on the analyst tier they are pseudonyms, which sort
otherwise, and a tie at rank 20 listed other users or numbers there than on the full tier
(and other ones again after `cdr keys rotate`)."""


def _top_destinations(key: str) -> str:
    """The top-destinations query, counting numbers by `key` (the number, or its pseudonym
    in the analyst tier, where the number shown is masked)."""
    pseudonym = ", called_number_pseudonym" if key != "called_number" else ""
    return f"""
            with ranked as (
                select
                    report_month as month,
                    any_value(called_number) as called_number{pseudonym},
                    count(*) as calls,
                    count(*) filter (where is_answered) as answered_calls,
                    {_minutes("sum(talk_seconds)")} as talk_minutes,
                    row_number() over (
                        partition by report_month order by {_TIES}
                    ) as rank
                from fct_calls
                where direction_class = 'outbound' and {key} is not null
                    and {_month("report_month")}
                group by report_month, {key}
            )
            select month, rank, called_number{pseudonym}, calls, answered_calls, talk_minutes
            from ranked
            where rank <= 20
            """


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "licence-usage",
            "Webex Go licences held, activated, used, idle and never activated, with Webex Go "
            "calls and minutes, per month, licence type, subscription, location, department",
            f"select * from rpt_licence_usage_monthly where {_MONTH}",
            ("month", "licence_type", "subscription_id", "location_name", "department_id"),
            view="rpt_licence_usage_monthly",
            compact=(
                "month",
                "licence_type",
                "subscription_id",
                "location_name",
                "department_name",
                "cost_centre",
                "licences_held_peak",
                "licences_held_month_end",
                "licences_used",
                "licences_idle",
                "licences_never_activated",
                "webex_go_calls",
                "webex_go_minutes",
                "call_coverage",
            ),
        ),
        Report(
            "reconciliation",
            "Licences bought vs held per month and subscription: variance and idle cost",
            f"select * from rpt_licence_reconciliation where {_MONTH}",
            ("month", "subscription_id", "licence_type"),
            view="rpt_licence_reconciliation",
            compact=(
                "month",
                "subscription_id",
                "licence_type",
                "entitled_units",
                "consumed_peak",
                "consumed_month_end",
                "variance_units",
                "idle_licences",
                "idle_cost",
                "unassigned_cost",
                "currency",
                "status",
                "call_coverage",
            ),
        ),
        Report(
            "reclaim-candidates",
            "Devices holding a licence without value (expired code, idle, lost/stolen), "
            "as of the device data horizon",
            "select * from rpt_reclaim_candidates",
            ("device_id", "reason"),
            monthly=False,
            view="rpt_reclaim_candidates",
            compact=(
                "device_id",
                "reason",
                "days_since",
                "user_email",
                "phone_number",
                "location_name",
                "department_name",
                "cost_centre",
                "licence_type",
                "current_status",
            ),
        ),
        Report(
            "anomalies",
            "Webex Go legs that contradict the device lifecycle (no device, deleted, unlisted, "
            "pending, old phone after Lost/Stolen) and device-side rule violations",
            f"select * from rpt_webex_go_anomalies where {_MONTH}",
            ("anomaly_id",),
            view="rpt_webex_go_anomalies",
            compact=(
                "month",
                "anomaly_type",
                "observed_at",
                "device_id",
                "user_uuid",
                "phone_number",
                "detail",
            ),
        ),
        Report(
            "webex-go-adoption",
            "Calls, Webex Go calls and share, Webex Go users, legs and minutes per location "
            "and month, all by the call's location and month",
            # One definition for every column (sql/README.md, "webex-go-adoption"): a call
            # counts in the month and location of its first record (fct_calls), and so do
            # its Webex Go legs, their users and minutes; a leg's conversation counts once.
            # Of one month, only the month's calls and the days their legs lie on are read.
            f"""
            with calls as (
                select
                    correlation_id,
                    report_month as month,
                    coalesce(location_name, '(none)') as location_name,
                    has_webex_go_leg
                from fct_calls
                where report_month is not null and {_month("report_month")}
            ),
            go_records as (
                select c.month, c.location_name, l.correlation_id, l.leg_id, l.local_call_id,
                    l.remote_call_id, l.network_call_id, l.user_uuid, l.duration_seconds
                from fct_call_legs as l
                inner join calls as c on l.correlation_id = c.correlation_id
                -- of one month, the days its calls span (set by run.month_scope; written
                -- out, not a macro, so that a cdr.duckdb built before it still answers)
                where l.is_webex_go and (
                    getvariable('cdr_report_legs_from') is null
                    or l.call_date between cast(getvariable('cdr_report_legs_from') as date)
                    and cast(getvariable('cdr_report_legs_to') as date)
                )
            ),
            -- a record without both call IDs is its leg's other record's (as in fct_calls)
            partners as (
                select part.correlation_id, part.leg_id as own_leg_id,
                    min(whole.leg_id) as leg_id
                from go_records as part
                inner join go_records as whole
                    on part.correlation_id = whole.correlation_id
                    and (
                        whole.remote_call_id = part.local_call_id
                        or whole.local_call_id = part.remote_call_id
                        or whole.network_call_id = part.network_call_id
                    )
                where (part.local_call_id is null or part.remote_call_id is null)
                    and whole.local_call_id is not null and whole.remote_call_id is not null
                group by part.correlation_id, part.leg_id
            ),
            go_legs as (
                select r.month, r.location_name, coalesce(p.leg_id, r.leg_id) as leg_id,
                    max(r.duration_seconds) as talk_seconds  -- NULL: unknown, not 0
                from go_records as r
                left join partners as p
                    on r.correlation_id = p.correlation_id and r.leg_id = p.own_leg_id
                group by all
            ),
            call_counts as (
                select
                    month,
                    location_name,
                    count(*) as calls,
                    count(*) filter (where has_webex_go_leg) as webex_go_calls
                from calls
                group by all
            ),
            go_users as (
                select month, location_name,
                    count(distinct user_uuid) as webex_go_users,
                    count(*) as webex_go_legs
                from go_records
                group by all
            ),
            go_minutes as (
                select month, location_name,
                    {_minutes("sum(talk_seconds)")} as webex_go_minutes
                from go_legs
                group by all
            )
            select
                c.month,
                c.location_name,
                c.calls,
                c.webex_go_calls,
                -- half up to four decimals, as by hand (3 of 160 is 0.0188): see _minutes
                round(c.webex_go_calls * 10000.0 / c.calls) / 10000 as webex_go_share,
                coalesce(u.webex_go_users, 0) as webex_go_users,
                -- 0 without Webex Go legs; NULL when none of them has a Duration
                cast(
                    case when u.webex_go_legs is null then 0 else m.webex_go_minutes end
                    as double
                ) as webex_go_minutes,
                coalesce(u.webex_go_legs, 0) as webex_go_legs
            from call_counts as c
            left join go_users as u
                on c.month = u.month and c.location_name = u.location_name
            left join go_minutes as m
                on c.month = m.month and c.location_name = m.location_name
            where {_month("c.month")}
            """,
            ("month", "location_name"),
            tier="analyst",
        ),
        Report(
            "top-callers",
            "The 20 users who placed the most calls per month, with talk minutes",
            f"""
            with ranked as (
                select
                    report_month as month,
                    originating_user_uuid as user_uuid,
                    -- the name of the month's latest call: a renamed user's name was
                    -- any one of the month's (another from run to run, or on Spark)
                    arg_max(originating_user_name, (first_start_time, correlation_id))
                        as user_name,
                    count(*) as calls,
                    count(*) filter (where is_answered) as answered_calls,
                    {_minutes("sum(talk_seconds)")} as talk_minutes,
                    row_number() over (partition by report_month order by {_TIES}) as rank
                from fct_calls
                where originating_user_uuid is not null and {_month("report_month")}
                group by report_month, originating_user_uuid
            )
            select month, rank, user_uuid, user_name, calls, answered_calls, talk_minutes
            from ranked
            where rank <= 20
            """,
            ("month", "rank"),
            tier="analyst",
            talk_of="originating_user_uuid is not null",
        ),
        Report(
            "top-destinations",
            "The 20 most called outside numbers per month (outbound calls), with minutes",
            _top_destinations("called_number"),
            ("month", "rank"),
            tier="analyst",
            # masked numbers are not distinct: the analyst tier counts by pseudonym
            analyst_sql=_top_destinations("called_number_pseudonym"),
            talk_of="direction_class = 'outbound' and called_number is not null",
        ),
        Report(
            "hourly-volume",
            "Calls per hour of the day (site local time) and direction class, per month",
            f"""
            select
                report_month as month,
                hour(start_time_local) as hour_local,
                direction_class,
                count(*) as calls,
                count(*) filter (where is_answered) as answered_calls,
                count(*) filter (where is_missed) as missed_calls,
                count(*) filter (where has_webex_go_leg) as webex_go_calls
            from fct_calls
            where {_month("report_month")}
            group by all
            """,
            ("month", "hour_local", "direction_class"),
            tier="analyst",
        ),
    )
}
