# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Webex Go adoption
#
# **Question.** How much of our calling goes through **Webex Go** (the mobile-network client:
# `Sub client type` = `MOBILE_NETWORK`), at which locations, at what times of the week, who
# uses it most, and do calls through it end as well as calls through the other clients?
#
# **How to read it.** A *leg* here is one row of `fct_call_legs`: one user's (or service's) side of
# a call leg, i.e. one CDR record. *Minutes* are that record's `duration_seconds` / 60 (section 3
# counts each leg once per user, as section 1 does). An internal call between two of our users
# therefore counts once for each side: each user took part in it (sections 2-4). Section 1 counts
# calls instead, as the adoption report does. Months are calendar months in the reporting time
# zone (`report_month`); the weekday × hour heatmap uses each site's local wall clock (UTC plus
# the record's *Site timezone* offset).
#
# **Inputs.** Section 1 is the `webex-go-adoption` report (over `fct_calls` and
# `fct_webex_go_calls`); the other sections read the public view `fct_call_legs`. `CDR_WAREHOUSE`
# picks the warehouse (default: `warehouse/` at the root of the checkout, made by `make demo`). The
# parameters below (or `CDR_NOTEBOOK_MONTH`, `CDR_NOTEBOOK_LOCATION`, `CDR_NOTEBOOK_DEPARTMENT`)
# pick one month (`YYYY-MM`), one location (`location_name`) and one department (`department_id`);
# sections 2-4 apply all three, section 1 month and location. A section with nothing to show prints
# a **No data** note instead of a chart.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import display

from cdr_pipeline.notebook import count_axis, grouped_bars, legend_outside, open_notebook
from cdr_pipeline.reports.registry import REPORTS

# %% tags=["parameters"]
# Parameters (papermill or the environment set them): empty means no filter.
MONTH = os.environ.get("CDR_NOTEBOOK_MONTH", "")  # 'YYYY-MM'
LOCATION = os.environ.get("CDR_NOTEBOOK_LOCATION", "")  # a location_name
DEPARTMENT = os.environ.get("CDR_NOTEBOOK_DEPARTMENT", "")  # a department_id

# %%
nb = open_notebook(month=MONTH, location=LOCATION, department=DEPARTMENT)
FILTER = nb.where(month="report_month", location="location_name", department="department_id")
display(nb.summary())

# %% [markdown]
# ## 1. Webex Go share of calls, by month and location
#
# The `webex-go-adoption` report, unchanged (`cdr report webex-go-adoption`): one definition
# for both. A call counts in the location and month of its first record, and its Webex Go
# legs, users and minutes follow it; minutes are the call's Webex Go conversation counted
# once (a Go-to-Go call is not counted twice). The department filter does not apply (a call
# has no department); month and location do.

# %%
ADOPTION_SQL = REPORTS["webex-go-adoption"].sql
adoption = (
    nb.query(f"select * from ({ADOPTION_SQL}) as report order by month, location_name")
    .filter(pl.lit(not nb.location) | (pl.col("location_name") == (nb.location or "")))
    .with_columns(
        pl.col("month").dt.strftime("%Y-%m"),
        webex_go_call_share_pct=(100 * pl.col("webex_go_share")).round(1),
    )
)
display(adoption)

# %%
if adoption.is_empty():
    display(nb.no_data("calls by month and location"))
else:
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    grouped_bars(axes[0], adoption, "location_name", "month", "webex_go_call_share_pct")
    axes[0].set_title("Webex Go share of calls by location and month")
    axes[0].set_xlabel("Location (of the call's first record)")
    axes[0].set_ylabel("Calls with a Webex Go leg / all calls (%)")
    grouped_bars(axes[1], adoption, "location_name", "month", "webex_go_minutes")
    axes[1].set_title("Webex Go minutes by location and month")
    axes[1].set_xlabel("Location (of the call's first record)")
    axes[1].set_ylabel("Webex Go conversation (minutes)")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## 2. When is Webex Go used? Weekday × hour of day (site local time)
#
# Each cell counts the Webex Go legs that started in that hour of that weekday on the site's
# wall clock. Dark rows or columns are quiet times; a bright band outside office hours means
# people take work calls on their own phone after hours.

# %%
heat = nb.query(f"""
    select
        isodow(start_time_local) as weekday,
        start_hour_local as hour_local,
        count(*) as webex_go_legs
    from fct_call_legs
    where is_webex_go and start_time_local is not null and {FILTER}
    group by all
""")
if heat.is_empty():
    display(nb.no_data("Webex Go legs by weekday and hour"))
else:
    grid = np.zeros((7, 24))
    for weekday, hour_local, legs in heat.iter_rows():
        grid[weekday - 1, hour_local] = legs
    fig, ax = plt.subplots(figsize=(12, 3.8))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0)
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks(range(24))
    ax.grid(False)
    ax.set_title(f"Webex Go legs by weekday and hour of day ({nb.scope})")
    ax.set_xlabel("Hour of day (site local time, h)")
    ax.set_ylabel("Weekday (site local time)")
    colorbar = fig.colorbar(image, ax=ax, label="Webex Go legs (count)")
    count_axis(colorbar.ax)
    plt.show()

# %% [markdown]
# ## 3. Top Webex Go users
#
# Users ranked by their Webex Go minutes (ties: more legs first, then the earlier first leg;
# nothing personal, so both tiers list the same users). Minutes count each Webex Go leg the
# user took part in once, as the `webex-go-adoption` report does: a leg is paired as
# `fct_calls` pairs its records, its conversation is the largest `Duration` of the user's
# records of it, and a leg none of whose records has a `Duration` is left out (unknown, not
# 0); a user all of whose legs lack one shows no minutes and ranks after the others.
# `webex_go_legs` counts the user's Webex Go records, `answered_legs` those answered. A user is
# named, and placed, as on their latest Webex Go leg (a user renamed or moved shows the new
# name and location).

# %%
TOP_USERS = 15
top_users = nb.query(
    f"""
    with go as (
        select * from fct_call_legs where is_webex_go and user_uuid is not null and {FILTER}
    ),
    -- a record without both call IDs is its leg's other record's (as in fct_calls)
    partners as (
        select part.correlation_id, part.leg_id as own_leg_id, min(whole.leg_id) as leg_id
        from go as part
        inner join go as whole
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
    -- each leg once per user: its largest Duration, NULL (unknown) when none has one
    legs as (
        select g.user_uuid, max(g.duration_seconds) as talk_seconds
        from go as g
        left join partners as p on g.correlation_id = p.correlation_id and g.leg_id = p.own_leg_id
        group by g.user_uuid, g.correlation_id, coalesce(p.leg_id, g.leg_id)
    ),
    minutes as (
        select user_uuid, round(sum(talk_seconds) / 6.0) / 10 as webex_go_minutes
        from legs
        group by user_uuid
    )
    select
        g.user_uuid,
        coalesce(
            arg_max(g.user_name, (g.start_time, g.report_id))
                filter (where g.user_name is not null),
            left(g.user_uuid, 8)
        ) as user_name,
        arg_max(g.location_name, (g.start_time, g.report_id))
            filter (where g.location_name is not null) as location_name,
        count(*) as webex_go_legs,
        count(*) filter (where g.answered) as answered_legs,
        any_value(m.webex_go_minutes) as webex_go_minutes
    from go as g
    inner join minutes as m on g.user_uuid = m.user_uuid
    group by g.user_uuid
    order by webex_go_minutes desc nulls last, webex_go_legs desc, min(g.start_time),
        min(g.report_id)
    limit $top
""",
    top=TOP_USERS,
)
if top_users.is_empty():
    display(nb.no_data("Webex Go users"))
else:
    display(top_users)
    # a user whose minutes are unknown (no leg with a Duration) has no bar, not one of 0
    known = top_users.filter(pl.col("webex_go_minutes").is_not_null())
    if known.is_empty():
        display(nb.no_data("Webex Go minutes (none of the legs has a Duration)"))
    else:
        fig, ax = plt.subplots(figsize=(9, 0.35 * known.height + 1.5))
        ax.barh(known["user_name"].to_list()[::-1], known["webex_go_minutes"].to_list()[::-1])
        ax.set_title(f"Top {known.height} Webex Go users by minutes ({nb.scope})")
        ax.set_xlabel("Webex Go minutes (min)")
        ax.set_ylabel("User")
        fig.tight_layout()
        plt.show()

# %% [markdown]
# ## 4. Call outcomes: Webex Go versus the other clients
#
# Only legs of person-like users (`user_type` User, Place, VirtualLine, also in the Cisco
# docs' spelling VirtuaLline: `is_person_user_type`, as `fct_calls` tells a party) count here, so
# auto attendants, hunt groups and voicemail do not blur the comparison. The client is Webex
# Go, the Webex app (`Client type` WXC_CLIENT), a desk phone (WXC_DEVICE) or other. *Answered*
# is the record's `Answered` flag; the outcome is its `Call outcome` (Success, Refusal,
# Failure). A Webex Go answer rate far below the others can point at coverage or
# configuration problems on the mobile network side.
#
# Nearly every leg ends in Success, so a stacked bar of outcomes would be one colour: the
# table gives every outcome's share, and the chart on the right shows only the legs that did
# **not** succeed, as a share of each client's legs.

# %%
outcomes = nb.query(f"""
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
        where is_person_user_type(user_type) and {FILTER}
    )
    select client, direction, call_outcome, count(*) as legs,
        count(*) filter (where answered) as answered_legs
    from legs
    group by all
    order by client, direction, call_outcome
""")
if outcomes.is_empty():
    display(nb.no_data("call outcomes of person-like users"))
else:
    answer_rate = (
        outcomes.group_by("client", "direction", maintain_order=True)
        .agg(pl.col("legs").sum(), pl.col("answered_legs").sum())
        .with_columns(answered_pct=(100 * pl.col("answered_legs") / pl.col("legs")).round(1))
    )
    outcome_share = (
        outcomes.group_by("client", "call_outcome", maintain_order=True)
        .agg(pl.col("legs").sum())
        .with_columns(pct=(100 * pl.col("legs") / pl.col("legs").sum().over("client")).round(2))
    )
    display(answer_rate)
    display(
        outcome_share.pivot(on="call_outcome", index="client", values="pct", sort_columns=True)
        .fill_null(0.0)
        .sort("client")
    )
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    grouped_bars(axes[0], answer_rate, "client", "direction", "answered_pct")
    axes[0].set_title("Answered legs by client and direction")
    axes[0].set_xlabel("Client")
    axes[0].set_ylabel("Answered legs / legs (%)")
    not_success = outcome_share.filter(pl.col("call_outcome") != "Success")
    clients = sorted(outcome_share["client"].unique().to_list())
    failures = sorted(not_success["call_outcome"].unique().to_list())
    height = 0.8 / max(len(failures), 1)
    for i, outcome in enumerate(failures):
        part = dict(
            not_success.filter(pl.col("call_outcome") == outcome)
            .select("client", "pct")
            .iter_rows()
        )
        ys = [y + i * height for y in range(len(clients))]
        axes[1].barh(ys, [part.get(c, 0.0) for c in clients], height, label=outcome)
    axes[1].set_yticks([y + height * (len(failures) - 1) / 2 for y in range(len(clients))], clients)
    axes[1].set_title("Legs that did not succeed, by client")
    axes[1].set_xlabel("Share of the client's legs (%)")
    axes[1].set_ylabel("Client")
    if failures:
        legend_outside(axes[1], title="Call outcome")
    else:
        axes[1].text(0.5, 0.5, "every leg succeeded", ha="center", transform=axes[1].transAxes)
    fig.tight_layout()
    plt.show()
