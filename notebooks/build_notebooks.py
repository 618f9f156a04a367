"""Source of truth of the analyst notebooks: writes `notebooks/*.ipynb` without outputs.

Edit the cells here, then run `python notebooks/build_notebooks.py` and commit both; the
test `tests/notebooks/test_notebooks.py` fails when a committed notebook differs from what
this script writes. The cells are plain strings so the notebooks stay reviewable as Python.
Cell ids are fixed (nbformat 4.5 needs them) so the output is byte-for-byte reproducible.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------
# the setup cell every notebook starts with

SETUP = '''\
# Setup: which warehouse, which month, and small helpers used by the cells below.
%matplotlib inline
import os
from datetime import date
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import Markdown, display

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import connect

NOTEBOOK = "__NOTEBOOK__"
# One month to look at ('YYYY-MM'), or None for every month in the warehouse.
MONTH = os.environ.get("CDR_NOTEBOOK_MONTH") or None


def repo_root() -> Path:
    """The checkout that holds notebooks/. Jupyter starts a kernel in the notebook's own
    folder; walking up from there also works when the kernel was started elsewhere inside
    the checkout."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks" / NOTEBOOK).is_file():
            return folder
    return here.parent


WAREHOUSE = Path(os.environ.get("CDR_WAREHOUSE") or repo_root() / "warehouse").resolve()
MONTH_START = date.fromisoformat(MONTH + "-01") if MONTH else None
PERIOD = f"month {MONTH}" if MONTH else "all months"
settings = Settings(warehouse=WAREHOUSE)
con = connect(settings)  # read-only: never blocks `cdr ingest` or `cdr build`; timestamps in UTC
pl.Config(tbl_rows=25, fmt_str_lengths=60, tbl_width_chars=160)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})


def query(sql: str, **params: object) -> pl.DataFrame:
    """Run SQL against the public views; `$month` is the selected month (NULL = all)."""
    if "$month" in sql:
        params.setdefault("month", MONTH_START)
    return con.sql(sql, params=params or None).pl()


def no_data(what: str, monthly: bool = True) -> None:
    """Say that a section has nothing to show instead of failing on an empty result."""
    period = f" ({PERIOD})" if monthly else ""
    display(Markdown(f"**No data** for {what}{period} in `{WAREHOUSE}`."))


def file_name(column: str) -> pl.Expr:
    """The last part of a path column, so long folders do not push the table off screen."""
    return pl.col(column).str.split("/").list.last().alias(column)


def grouped_bars(ax, table: pl.DataFrame, category: str, group: str, value: str) -> None:
    """One bar per (category, group): categories along x, the groups side by side."""
    cats = table[category].unique(maintain_order=True).to_list()
    groups = table[group].unique(maintain_order=True).to_list()
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups):
        part = dict(table.filter(pl.col(group) == g).select(category, value).iter_rows())
        xs = [x + i * width for x in range(len(cats))]
        ax.bar(xs, [part.get(c) or 0 for c in cats], width, label=str(g))
    ticks = [x + width * (len(groups) - 1) / 2 for x in range(len(cats))]
    ax.set_xticks(ticks, [str(c) for c in cats], rotation=30, ha="right")
    ax.set_ylim(top=ax.get_ylim()[1] * 1.3)  # headroom so the legend does not hide bars
    ax.legend(title=group, fontsize="small", loc="upper left", ncol=min(len(groups), 3))


print(f"warehouse: {WAREHOUSE}\\nperiod: {PERIOD}")
'''


class Md(str):
    """A markdown cell (every other cell is code)."""


def md(text: str) -> Md:
    return Md(text.strip("\n"))


# --------------------------------------------------------------------------------------------
# 01 Webex Go adoption

ADOPTION = [
    md("""
# Webex Go adoption

**Question.** How much of our calling goes through **Webex Go** (the mobile-network client:
`Sub client type` = `MOBILE_NETWORK`), at which locations, at what times of the week, who
uses it most, and do calls through it end as well as calls through the other clients?

**How to read it.** A *leg* here is one row of `fct_call_legs`: one user's (or service's)
side of a call leg, i.e. one CDR record. *Minutes* are that record's `duration_seconds` / 60.
An internal call between two of our users therefore counts once for each side: each user
took part in it. The *share* is Webex Go legs (minutes) divided by all legs (minutes) of the
same month and location. Months are calendar months in the reporting time zone
(`report_month`); the weekday × hour heatmap uses each site's local wall clock (UTC plus the
record's *Site timezone* offset).

**Inputs.** Only the public views `fct_call_legs` (all four sections). Set `CDR_WAREHOUSE`
to read another warehouse (default: `warehouse/` at the root of the checkout, made by
`make demo`) and `CDR_NOTEBOOK_MONTH=YYYY-MM` (or `MONTH` below) to look at one month. A
section with nothing to show prints a **No data** note instead of a chart.
"""),
    SETUP,
    md("""
## 1. Webex Go share of legs and minutes, by month and location
"""),
    '''\
adoption = query("""
    select
        strftime(report_month, '%Y-%m') as month,
        coalesce(location_name, '(none)') as location_name,
        count(*) as legs,
        count(*) filter (where is_webex_go) as webex_go_legs,
        round(sum(coalesce(duration_seconds, 0)) / 60.0, 1) as minutes,
        round(coalesce(sum(duration_seconds) filter (where is_webex_go), 0) / 60.0, 1)
            as webex_go_minutes
    from fct_call_legs
    where report_month is not null
        and ($month::date is null or report_month = $month::date)
    group by all
    order by month, location_name
""").with_columns(
    webex_go_leg_share_pct=(100 * pl.col("webex_go_legs") / pl.col("legs")).round(1),
    webex_go_minute_share_pct=pl.when(pl.col("minutes") > 0)
    .then(100 * pl.col("webex_go_minutes") / pl.col("minutes"))
    .otherwise(0.0)
    .round(1),
)
adoption''',
    """\
if adoption.is_empty():
    no_data("call legs by month and location")
else:
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=False)
    grouped_bars(axes[0], adoption, "location_name", "month", "webex_go_leg_share_pct")
    axes[0].set_title("Webex Go share of legs by location and month")
    axes[0].set_xlabel("Location")
    axes[0].set_ylabel("Webex Go legs / all legs (%)")
    grouped_bars(axes[1], adoption, "location_name", "month", "webex_go_minute_share_pct")
    axes[1].set_title("Webex Go share of minutes by location and month")
    axes[1].set_xlabel("Location")
    axes[1].set_ylabel("Webex Go minutes / all minutes (%)")
    fig.tight_layout()
    plt.show()""",
    md("""
## 2. When is Webex Go used? Weekday × hour of day (site local time)

Each cell counts the Webex Go legs that started in that hour of that weekday on the site's
wall clock. Dark rows or columns are quiet times; a bright band outside office hours means
people take work calls on their own phone after hours.
"""),
    '''\
heat = query("""
    select
        isodow(start_time_local) as weekday,
        start_hour_local as hour_local,
        count(*) as webex_go_legs
    from fct_call_legs
    where is_webex_go
        and start_time_local is not null
        and ($month::date is null or report_month = $month::date)
    group by all
""")
if heat.is_empty():
    no_data("Webex Go legs by weekday and hour")
else:
    grid = np.zeros((7, 24))
    for weekday, hour_local, legs in heat.iter_rows():
        grid[weekday - 1, hour_local] = legs
    fig, ax = plt.subplots(figsize=(12, 3.8))
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks(range(24))
    ax.grid(False)
    ax.set_title(f"Webex Go legs by weekday and hour of day ({PERIOD})")
    ax.set_xlabel("Hour of day (site local time, h)")
    ax.set_ylabel("Weekday (site local time)")
    fig.colorbar(image, ax=ax, label="Webex Go legs (count)")
    plt.show()''',
    md("""
## 3. Top Webex Go users

Users ranked by their Webex Go minutes (ties: more legs first). `answered_legs` counts the
legs that were answered.
"""),
    '''\
TOP_USERS = 15
top_users = query("""
    select
        user_uuid,
        coalesce(any_value(user_name), left(user_uuid, 8)) as user_name,
        any_value(location_name) as location_name,
        count(*) as webex_go_legs,
        count(*) filter (where answered) as answered_legs,
        round(sum(coalesce(duration_seconds, 0)) / 60.0, 1) as webex_go_minutes
    from fct_call_legs
    where is_webex_go
        and user_uuid is not null
        and ($month::date is null or report_month = $month::date)
    group by user_uuid
    order by webex_go_minutes desc, webex_go_legs desc, user_uuid
    limit $top
""", top=TOP_USERS)
if top_users.is_empty():
    no_data("Webex Go users")
else:
    display(top_users)
    fig, ax = plt.subplots(figsize=(9, 0.35 * top_users.height + 1.5))
    ax.barh(top_users["user_name"].to_list()[::-1], top_users["webex_go_minutes"].to_list()[::-1])
    ax.set_title(f"Top {top_users.height} Webex Go users by minutes ({PERIOD})")
    ax.set_xlabel("Webex Go minutes (min)")
    ax.set_ylabel("User")
    fig.tight_layout()
    plt.show()''',
    md("""
## 4. Call outcomes: Webex Go versus the other clients

Only legs of person-like users (`user_type` User, Place, VirtualLine) count here, so
auto attendants, hunt groups and voicemail do not blur the comparison. The client is Webex
Go, the Webex app (`Client type` WXC_CLIENT), a desk phone (WXC_DEVICE) or other. *Answered*
is the record's `Answered` flag; the outcome is its `Call outcome` (Success, Refusal,
Failure). A Webex Go answer rate far below the others can point at coverage or
configuration problems on the mobile network side.
"""),
    '''\
outcomes = query("""
    with legs as (
        select
            case
                when is_webex_go then 'Webex Go'
                when client_type = 'WXC_CLIENT' then 'Webex app'
                when client_type = 'WXC_DEVICE' then 'Desk phone'
                else 'Other'
            end as client,
            coalesce(direction, '(none)') as direction,
            answered,
            coalesce(call_outcome, '(none)') as call_outcome
        from fct_call_legs
        where user_type in ('User', 'Place', 'VirtualLine')
            and ($month::date is null or report_month = $month::date)
    )
    select client, direction, call_outcome, count(*) as legs,
        count(*) filter (where answered) as answered_legs
    from legs
    group by all
    order by client, direction, call_outcome
""")
if outcomes.is_empty():
    no_data("call outcomes of person-like users")
else:
    answer_rate = (
        outcomes.group_by("client", "direction", maintain_order=True)
        .agg(pl.col("legs").sum(), pl.col("answered_legs").sum())
        .with_columns(answered_pct=(100 * pl.col("answered_legs") / pl.col("legs")).round(1))
    )
    outcome_share = (
        outcomes.group_by("client", "call_outcome", maintain_order=True)
        .agg(pl.col("legs").sum())
        .with_columns(pct=(100 * pl.col("legs") / pl.col("legs").sum().over("client")).round(1))
    )
    display(answer_rate)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    grouped_bars(axes[0], answer_rate, "client", "direction", "answered_pct")
    axes[0].set_title("Answered legs by client and direction")
    axes[0].set_xlabel("Client")
    axes[0].set_ylabel("Answered legs / legs (%)")
    clients = outcome_share["client"].unique(maintain_order=True).to_list()
    bottom = np.zeros(len(clients))
    for outcome in sorted(outcome_share["call_outcome"].unique().to_list()):
        part = dict(outcome_share.filter(pl.col("call_outcome") == outcome)
                    .select("client", "pct").iter_rows())
        values = np.array([part.get(c, 0.0) for c in clients])
        axes[1].bar(clients, values, bottom=bottom, label=outcome)
        bottom += values
    axes[1].set_title("Call outcome by client")
    axes[1].set_xlabel("Client")
    axes[1].set_ylabel("Share of the client's legs (%)")
    axes[1].legend(title="Call outcome", fontsize="small")
    fig.tight_layout()
    plt.show()''',
]

# --------------------------------------------------------------------------------------------
# 02 licence reconciliation

LICENCES = [
    md("""
# Webex Go licence reconciliation

**Question.** Per month and subscription: how many Webex Go licences did we **buy**
(entitlements in force) versus **hold** (devices and mobile numbers provisioned), how many
held licences sat **idle** and what did they cost, and which devices should we **reclaim**?

**How to read it.** *Bought* is `entitled_units` on the month's last day with data; *held*
is `consumed_peak` (the most units held on one day of the month) and `consumed_month_end`.
A bar of held above bought means we use more than we pay for (`status` = `over`: expect a
true-up); bought well above held is money left on the table. *Idle licences* are devices
held in the month without a single Webex Go call (idle or never activated); their cost is
`idle_licences × unit_price` in the subscription's currency, so the cost chart keeps
currencies apart. The reclaim list is judged as of the latest device data (`as_of_time`),
not the wall clock. Definitions: `sql/README.md` (`rpt_licence_reconciliation`,
`rpt_licence_usage_monthly`, `rpt_reclaim_candidates`).

**Inputs.** Only the public views `rpt_licence_reconciliation`, `rpt_licence_usage_monthly`
and `rpt_reclaim_candidates`. `CDR_WAREHOUSE` picks the warehouse, `CDR_NOTEBOOK_MONTH`
(or `MONTH` below) one month; empty sections print a **No data** note.
"""),
    SETUP,
    md("""
## 1. Licences bought versus held, per month and subscription
"""),
    '''\
recon = query("""
    select
        strftime(month, '%Y-%m') as month,
        subscription_id,
        licence_type,
        entitled_units,
        consumed_peak,
        consumed_month_end,
        variance_units,
        licences_used,
        idle_licences,
        unit_price,
        currency,
        idle_cost,
        status
    from rpt_licence_reconciliation
    where $month::date is null or month = $month::date
    order by month, subscription_id, licence_type
""")
recon''',
    """\
if recon.is_empty():
    no_data("licence reconciliation")
else:
    per_sub = (
        recon.group_by("subscription_id", "month")
        .agg(
            pl.col("entitled_units").fill_null(0).sum().alias("bought"),
            pl.col("consumed_peak").fill_null(0).sum().alias("held (peak)"),
            pl.col("consumed_month_end").fill_null(0).sum().alias("held (month end)"),
        )
        .sort("subscription_id", "month")
    )
    subs = per_sub["subscription_id"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(1, len(subs), figsize=(4.5 * len(subs), 4), squeeze=False)
    for ax, sub in zip(axes[0], subs, strict=True):
        long = per_sub.filter(pl.col("subscription_id") == sub).unpivot(
            index="month", on=["bought", "held (peak)", "held (month end)"],
            variable_name="measure", value_name="units",
        )
        grouped_bars(ax, long, "month", "measure", "units")
        ax.set_title(f"{sub}: bought vs held")
        ax.set_xlabel("Month (reporting time zone)")
        ax.set_ylabel("Licences (units)")
    fig.suptitle("Webex Go licences bought vs held, all licence types of a subscription")
    fig.tight_layout()
    plt.show()""",
    md("""
## 2. Idle licences and what they cost

Per subscription, licence type and month: `idle_licences` (held without a Webex Go call) and
`idle_cost` in the subscription's currency (empty when no entitlement gives a price).
"""),
    """\
idle = recon.filter(pl.col("idle_licences") > 0).select(
    "month", "subscription_id", "licence_type", "idle_licences", "unit_price", "currency",
    "idle_cost",
)
if idle.is_empty():
    no_data("idle licences")
else:
    display(idle)
    display(
        idle.group_by("currency").agg(pl.col("idle_cost").sum().round(2).alias("total_idle_cost"))
        .sort("currency")
    )
    priced = idle.filter(pl.col("currency").is_not_null())
    currencies = sorted(priced["currency"].unique().to_list())
    if not currencies:
        no_data("idle licence cost (no entitlement gives a price)")
    else:
        fig, axes = plt.subplots(
            1, len(currencies), figsize=(6 * len(currencies), 4), squeeze=False
        )
        for ax, currency in zip(axes[0], currencies, strict=True):
            part = (
                priced.filter(pl.col("currency") == currency)
                .group_by("month", "subscription_id")
                .agg(pl.col("idle_cost").sum())
                .sort("month", "subscription_id")
            )
            grouped_bars(ax, part, "month", "subscription_id", "idle_cost")
            ax.set_title(f"Cost of idle Webex Go licences ({currency})")
            ax.set_xlabel("Month (reporting time zone)")
            ax.set_ylabel(f"Idle cost ({currency} per month)")
        fig.tight_layout()
        plt.show()""",
    md("""
### Held licences by usage

From `rpt_licence_usage_monthly`: every held device is *used* (at least one Webex Go leg in
the month), *idle* (activated, no call) or *never activated*.
"""),
    '''\
usage = query("""
    select
        strftime(month, '%Y-%m') as month,
        sum(devices_used) as used,
        sum(devices_idle) as idle,
        sum(devices_never_activated) as never_activated,
        sum(devices_held) as held
    from rpt_licence_usage_monthly
    where $month::date is null or month = $month::date
    group by all
    order by month
""")
if usage.is_empty():
    no_data("licence usage")
else:
    display(usage)
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = np.zeros(usage.height)
    for column in ["used", "idle", "never_activated"]:
        values = usage[column].fill_null(0).to_numpy().astype(float)
        ax.bar(usage["month"].to_list(), values, bottom=bottom, label=column.replace("_", " "))
        bottom += values
    ax.set_title("Held Webex Go devices by usage")
    ax.set_xlabel("Month (reporting time zone)")
    ax.set_ylabel("Devices holding a licence (count)")
    ax.legend(fontsize="small")
    plt.show()''',
    md("""
## 3. Reclaim list

Devices that hold a licence without giving value, as of the latest device data: never
activated and the activation code expired, idle for `idle_days` days, or reported
Lost/Stolen and never re-activated. `days_since` is how long the reason has held. Hand this
list to whoever manages Webex Go devices; the month filter does not apply here.
"""),
    '''\
reclaim = query("""
    select
        reason, days_since, since, device_id, user_email, phone_number, deployment,
        licence_type, subscription_id, location_name, current_status, last_webex_go_call_at,
        as_of_time
    from rpt_reclaim_candidates
    order by reason, days_since desc, device_id
""")
if reclaim.is_empty():
    no_data("reclaim candidates", monthly=False)
else:
    display(reclaim)
    by_reason = reclaim.group_by("reason").agg(
        pl.len().alias("devices"), pl.col("days_since").max().alias("oldest_days")
    ).sort("reason")
    fig, ax = plt.subplots(figsize=(8, 0.5 * by_reason.height + 1.8))
    ax.barh(by_reason["reason"].to_list(), by_reason["devices"].to_list())
    ax.set_title(f"Reclaim candidates by reason (as of {reclaim['as_of_time'].max():%Y-%m-%d})")
    ax.set_xlabel("Devices (count)")
    ax.set_ylabel("Reason")
    fig.tight_layout()
    plt.show()''',
]

# --------------------------------------------------------------------------------------------
# 03 call flows

CALL_FLOWS = [
    md("""
# Call flows

**Question.** What happens to calls once the legs are stitched together: when in the day are
calls answered or missed, how long do phones ring, and how often are calls transferred?

**How to read it.** One *call* is one row of `fct_calls` (all legs sharing a Correlation ID).
*Answered*: a person-like party answered; *missed*: a person was rung and nobody answered
(voicemail included); everything else (e.g. an outbound call the far end did not pick up) is
*other*. Hours are the site's local wall clock of the call's first record. *Ring time* is the
`ring_duration_seconds` of each TERMINATING record at a person-like user (`fct_call_legs`),
split by whether that record was answered: one call can ring several people (hunt groups,
simultaneous ring), and each of them counts. A *transfer* links a call to another call
through `Transfer related call ID` (`has_transfer`, `transfer_correlation_ids`). Exact
definitions: `sql/README.md` (`fct_calls`).

**Inputs.** Only the public views `fct_calls` and `fct_call_legs`. `CDR_WAREHOUSE` picks the
warehouse, `CDR_NOTEBOOK_MONTH` (or `MONTH` below) one month; empty sections print a
**No data** note.
"""),
    SETUP,
    md("""
## 1. Answered and missed calls by hour of day (site local time)
"""),
    '''\
by_hour = query("""
    select
        hour(start_time_local) as hour_local,
        count(*) as calls,
        count(*) filter (where is_answered) as answered,
        count(*) filter (where is_missed) as missed,
        count(*) filter (where not is_answered and not is_missed) as other
    from fct_calls
    where start_time_local is not null
        and ($month::date is null or report_month = $month::date)
    group by all
    order by hour_local
""")
if by_hour.is_empty():
    no_data("calls by hour")
else:
    hours = np.arange(24)
    fig, ax = plt.subplots(figsize=(11, 4))
    bottom = np.zeros(24)
    for column in ["answered", "missed", "other"]:
        part = dict(by_hour.select("hour_local", column).iter_rows())
        values = np.array([part.get(h, 0) for h in hours], dtype=float)
        ax.bar(hours, values, bottom=bottom, label=column)
        bottom += values
    ax.set_xticks(hours)
    ax.set_title(f"Calls by hour of day and outcome ({PERIOD})")
    ax.set_xlabel("Hour of day (site local time, h)")
    ax.set_ylabel("Calls (count)")
    ax.legend()
    plt.show()
    total = by_hour.select(pl.col("calls", "answered", "missed", "other").sum())
    display(total.with_columns(missed_pct=(100 * pl.col("missed") / pl.col("calls")).round(1)))''',
    md("""
## 2. Ring time
"""),
    '''\
rings = query("""
    select
        answered,
        ring_duration_seconds
    from fct_call_legs
    where direction = 'TERMINATING'
        and user_type in ('User', 'Place', 'VirtualLine')
        and ring_duration_seconds is not null
        and ($month::date is null or report_month = $month::date)
""")
if rings.is_empty():
    no_data("ring durations")
else:
    display(
        rings.group_by("answered").agg(
            pl.len().alias("records"),
            pl.col("ring_duration_seconds").median().alias("median_s"),
            pl.col("ring_duration_seconds").quantile(0.9).alias("p90_s"),
            pl.col("ring_duration_seconds").max().alias("max_s"),
        ).sort("answered")
    )
    top = int(rings["ring_duration_seconds"].max()) + 2
    bins = np.arange(0, top, max(1, top // 30))
    fig, ax = plt.subplots(figsize=(9, 4))
    for answered, label in [(True, "answered"), (False, "not answered")]:
        values = rings.filter(pl.col("answered") == answered)["ring_duration_seconds"]
        if values.len():
            ax.hist(values.to_numpy(), bins=bins, alpha=0.6, label=label)
    ax.set_title(f"Ring time of calls to people ({PERIOD})")
    ax.set_xlabel("Ring duration (s)")
    ax.set_ylabel("Terminating records (count)")
    ax.legend()
    plt.show()''',
    md("""
## 3. Transfers

Share of calls with a transfer per direction class, and legs per call for transferred
calls and the others. The party a call is transferred to is reached in a call of its own
(another Correlation ID, listed in `transfer_correlation_ids`), so its legs count there.
"""),
    '''\
transfers = query("""
    select
        direction_class,
        count(*) as calls,
        count(*) filter (where has_transfer) as transferred_calls,
        round(100.0 * count(*) filter (where has_transfer) / count(*), 1) as transferred_pct,
        round(avg(leg_count) filter (where has_transfer), 2) as avg_legs_transferred,
        round(avg(leg_count) filter (where not has_transfer), 2) as avg_legs_other
    from fct_calls
    where $month::date is null or report_month = $month::date
    group by all
    order by direction_class
""")
if transfers.is_empty():
    no_data("transfers")
else:
    display(transfers)
    legs = query("""
        select has_transfer, leg_count, count(*) as calls
        from fct_calls
        where $month::date is null or report_month = $month::date
        group by all
        order by leg_count
    """)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    axes[0].bar(transfers["direction_class"].to_list(), transfers["transferred_pct"].to_list())
    axes[0].set_title("Calls with a transfer by direction class")
    axes[0].set_xlabel("Direction class")
    axes[0].set_ylabel("Calls with a transfer (%)")
    long = legs.with_columns(
        pl.when(pl.col("has_transfer")).then(pl.lit("transferred"))
        .otherwise(pl.lit("not transferred")).alias("kind")
    )
    grouped_bars(axes[1], long, "leg_count", "kind", "calls")
    axes[1].set_title("Legs per call")
    axes[1].set_xlabel("Legs in the call (count)")
    axes[1].set_ylabel("Calls (count)")
    fig.tight_layout()
    plt.show()''',
    '''\
# A few transferred calls and the calls they link to, to follow one flow by hand.
examples = query("""
    select
        correlation_id, start_time_local, direction_class, leg_count, is_answered,
        talk_seconds, transfer_correlation_ids
    from fct_calls
    where has_transfer and ($month::date is null or report_month = $month::date)
    order by first_start_time, correlation_id
    limit 10
""")
if examples.is_empty():
    no_data("transferred calls")
else:
    display(examples)''',
]

# --------------------------------------------------------------------------------------------
# 04 data quality

QUALITY = [
    md("""
# Data quality

**Question.** Can we trust what is in the warehouse? Did the ingest runs succeed, which rows
were quarantined and why, did the shape of the exports change over time (new or missing
columns), and what did the latest validation find?

**How to read it.** An *ingest run* is one `cdr ingest` / `cdr nightly` / `cdr demo`
invocation; a file's rows are either loaded, duplicates of rows already stored, or rejected
(quarantined with a reason). A failed file published none of its rows. *Column drift*: for
every file the ledger keeps the source columns the schema does not know (`unknown_columns`:
kept as JSON in `extra`) and the schema columns the file lacked (`missing_columns`: NULL);
a change between consecutive files of the same kind means the export's layout changed.
*Validation*: the Great Expectations suites of `cdr validate`; an error-severity failure
makes the run exit 4, warnings are advisory.

**Inputs.** The public views `ingest_runs` and `ingest_files`. Rejected rows and validation
results are not exposed as views, so this notebook reads them directly: the rejects Parquet
files under `<warehouse>/rejects/` with DuckDB `read_parquet`, and the validation summaries
with the library, `cdr_pipeline.state.ledger.Ledger(settings.layout).read("validations")`.
`CDR_WAREHOUSE` picks the warehouse; the month filter does not apply here (these are
about loads, not calls). Empty sections print a **No data** note.
"""),
    SETUP,
    md("""
## 1. Ingest runs
"""),
    '''\
runs = query("""
    select
        run_id, command, status, exit_code, started_at, duration_seconds, files_seen,
        files_loaded, files_skipped, files_failed, rows_read, rows_loaded, rows_duplicate,
        rows_rejected, message
    from ingest_runs
    order by started_at, run_id
""")
if runs.is_empty():
    no_data("ingest runs", monthly=False)
else:
    display(runs)
    labels = [f"{t:%m-%d %H:%M}\\n{c}" for t, c in runs.select("started_at", "command").iter_rows()]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * runs.height + 3), 4))
    bottom = np.zeros(runs.height)
    for column in ["rows_loaded", "rows_duplicate", "rows_rejected"]:
        values = runs[column].fill_null(0).to_numpy().astype(float)
        label = column.removeprefix("rows_")
        ax.bar(range(runs.height), values, 0.6, bottom=bottom, label=label)
        bottom += values
    ax.set_ylim(top=max(bottom.max(), 1) * 1.15)
    for x, status in enumerate(runs["status"].to_list()):
        ax.annotate(status, (x, bottom[x]), ha="center", va="bottom", fontsize="small")
    ax.set_xticks(range(runs.height), labels, fontsize="small")
    ax.set_title("Rows per ingest run (label: run status)")
    ax.set_xlabel("Run start (UTC) and command")
    ax.set_ylabel("Rows (count)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    plt.show()''',
    '''\
# Files that did not load cleanly, newest first.
problems = query("""
    select loaded_at, path, kind, status, rows_read, rows_rejected, top_reject_reasons, message
    from ingest_files
    where status in ('failed', 'skipped') or rows_rejected > 0 or not is_conserved
    order by loaded_at desc, path
""").select(pl.all().exclude("path"), file_name("path"))
if problems.is_empty():
    no_data("failed, skipped or partly rejected files", monthly=False)
else:
    display(problems)''',
    md("""
## 2. Rejected rows by reason

Read from `<warehouse>/rejects/<table>/*.parquet` (one file per ingested file with rejects).
"""),
    """\
reject_files = sorted((settings.layout.rejects).glob("*/*.parquet"))
if not reject_files:
    rejects = pl.DataFrame()
    no_data("rejected rows (no files under rejects/)", monthly=False)
else:
    rejects = query(
        "select * from read_parquet($files, union_by_name = true)",
        files=[str(p) for p in reject_files],
    )
if not rejects.is_empty():
    by_reason = (
        rejects.group_by("table_name", "reason")
        .agg(pl.len().alias("rows"), pl.col("source_file").n_unique().alias("files"))
        .sort("rows", "table_name", "reason", descending=[True, False, False])
    )
    display(by_reason)
    fig, ax = plt.subplots(figsize=(9, 0.45 * by_reason.height + 1.8))
    labels = [f"{t}: {r}" for t, r in by_reason.select("table_name", "reason").iter_rows()]
    ax.barh(labels[::-1], by_reason["rows"].to_list()[::-1])
    ax.set_title("Rejected rows by table and reason")
    ax.set_xlabel("Rejected rows (count)")
    ax.set_ylabel("Table: reason")
    fig.tight_layout()
    plt.show()
    # a few examples; raw_text is the line as it arrived
    display(
        rejects.sort("rejected_at", "source_file", "source_row")
        .select("reason", "detail", file_name("source_file"), "source_row",
                pl.col("raw_text").str.slice(0, 80))
        .head(10)
    )""",
    md("""
## 3. Column drift over time

One point per ingested file: how many source columns the schema did not know, and how many
schema columns the file lacked. The table below lists every such column with the first and
last file it was seen in; a column seen in only the newest files is a new export column.
"""),
    '''\
files = query("""
    select
        loaded_at, path, kind, status,
        len(coalesce(unknown_columns, [])) as unknown_count,
        len(coalesce(missing_columns, [])) as missing_count
    from ingest_files
    where status <> 'skipped'
    order by loaded_at, path
""")
if files.is_empty():
    no_data("ingested files", monthly=False)
else:
    kinds = files["kind"].fill_null("(unknown)").unique().sort().to_list()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    for ax, column, title in [
        (axes[0], "unknown_count", "Unknown source columns per file"),
        (axes[1], "missing_count", "Schema columns missing per file"),
    ]:
        for kind in kinds:
            part = files.filter(pl.col("kind").fill_null("(unknown)") == kind)
            ax.plot(part["loaded_at"].to_list(), part[column].to_list(), marker="o", label=kind)
        ax.set_title(title)
        ax.set_xlabel("File loaded at (UTC)")
        ax.set_ylabel("Columns (count)")
        ax.legend(title="kind", fontsize="small")
        ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    plt.show()''',
    '''\
drift = query("""
    with files as (
        select kind, path, loaded_at, unknown_columns, missing_columns
        from ingest_files
        where status <> 'skipped'
    ),
    per_kind as (
        select kind, count(*) as kind_files from files group by kind
    ),
    columns as (
        select kind, path, loaded_at, 'unknown' as drift, unnest(unknown_columns) as column_name
        from files
        union all
        select kind, path, loaded_at, 'missing' as drift, unnest(missing_columns) as column_name
        from files
    )
    select
        c.kind, c.drift, c.column_name,
        count(*) as files,
        any_value(k.kind_files) as kind_files,
        min(c.loaded_at) as first_seen,
        max(c.loaded_at) as last_seen,
        arg_min(c.path, c.loaded_at) as first_file
    from columns as c
    join per_kind as k on c.kind is not distinct from k.kind
    group by all
    -- a column missing from every file of its kind is an optional column the exports never
    -- carry, not drift
    having not (c.drift = 'missing' and count(*) = any_value(k.kind_files))
    order by c.kind, c.drift, first_seen, c.column_name
""").with_columns(file_name("first_file"))
if drift.is_empty():
    no_data("column drift (every file of a kind had the same columns)", monthly=False)
else:
    display(drift)''',
    md("""
## 4. Latest validation results

Per suite of the latest `cdr validate` run (from the `validations` ledger table), and the
failed expectations over the recent runs. Details of every expectation are in the Data Docs
page named in `data_docs_index`.
"""),
    """\
from cdr_pipeline.state.ledger import Ledger

validations = Ledger(settings.layout).read("validations")
if validations.is_empty():
    no_data("validations (run `cdr validate`)", monthly=False)
else:
    latest_id = validations.sort("run_time")["validation_id"][-1]
    latest = validations.filter(pl.col("validation_id") == latest_id)
    display(Markdown(
        f"Latest validation **{latest_id}** at {latest['run_time'][0]:%Y-%m-%d %H:%M} UTC, "
        f"scope `{latest['scope'][0]}`: "
        + ("**passed**" if latest["success"].all() else "**failed** (error expectations)")
        + f". Data Docs: `{latest['data_docs_index'][0]}`"
    ))
    display(latest.select(
        "suite", "table_name", "partitions", "rows_validated", "expectations_evaluated",
        "errors_failed", "warnings_failed", "success",
    ))
    history = (
        validations.group_by("validation_id")
        .agg(
            pl.col("run_time").first(),
            pl.col("errors_failed").fill_null(0).sum(),
            pl.col("warnings_failed").fill_null(0).sum(),
        )
        .sort("run_time")
        .tail(20)
    )
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * history.height + 3), 4))
    xs = np.arange(history.height)
    ax.bar(xs - 0.2, history["errors_failed"].to_list(), 0.4, label="errors failed")
    ax.bar(xs + 0.2, history["warnings_failed"].to_list(), 0.4, label="warnings failed")
    ax.set_xticks(xs, [f"{t:%m-%d %H:%M}" for t in history["run_time"]], rotation=30, ha="right")
    ax.set_title("Failed expectations per validation run (latest 20)")
    ax.set_xlabel("Validation run (UTC)")
    ax.set_ylabel("Failed expectations (count)")
    ax.legend()
    fig.tight_layout()
    plt.show()""",
]

NOTEBOOKS: dict[str, list[str]] = {
    "01_webex_go_adoption.ipynb": ADOPTION,
    "02_licence_reconciliation.ipynb": LICENCES,
    "03_call_flows.ipynb": CALL_FLOWS,
    "04_data_quality.ipynb": QUALITY,
}


def build(name: str, cells: list[str]) -> NotebookNode:
    """The notebook `name` from its cells, without outputs or execution counts."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, source in enumerate(cells):
        if isinstance(source, Md):
            cell = nbformat.v4.new_markdown_cell(str(source))
        else:
            cell = nbformat.v4.new_code_cell(source.replace("__NOTEBOOK__", name))
        cell.id = f"{Path(name).stem[:2]}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The JSON text of notebook `name` as this script writes it."""
    return nbformat.writes(build(name, NOTEBOOKS[name])) + "\n"


def main(out_dir: Path = HERE) -> list[Path]:
    written = []
    for name in NOTEBOOKS:
        path = out_dir / name
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
