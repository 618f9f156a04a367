# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Call flows
#
# **Question.** What happens to calls once the legs are stitched together: when in the day are
# calls answered or missed, how long do phones ring, and how often are calls transferred?
#
# **How to read it.** One *call* is one row of `fct_calls` (all legs sharing a Correlation ID).
# *Answered*: a person-like party answered; *missed*: a person was rung and nobody answered
# (voicemail included), unless their record says the call was answered elsewhere (by someone
# outside the data); everything else (e.g. an outbound call the far end did not pick up) is
# *other*. Hours are the site's local wall clock of the call's first record. *Ring time* is the
# `ring_duration_seconds` of each TERMINATING record at a person-like user (`fct_call_legs`;
# `is_person_user_type`: User, Place, VirtualLine, as `fct_calls` tells a party),
# split by whether that record was answered: one call can ring several people (hunt groups,
# simultaneous ring), and each of them counts. A *transfer* links a call to another call
# through `Transfer related call ID` (`has_transfer`, `transfer_correlation_ids`). Exact
# definitions: `sql/README.md` (`fct_calls`).
#
# **Inputs.** Only the public views `fct_calls` and `fct_call_legs`. `CDR_WAREHOUSE` picks the
# warehouse. The parameters below (or `CDR_NOTEBOOK_MONTH`, `CDR_NOTEBOOK_LOCATION`,
# `CDR_NOTEBOOK_DEPARTMENT`) filter every section: a call by its month and the location of
# its first record, and by department when one of its legs is a user of that department;
# ring times by the ringing record's own month, location and department. Empty sections
# print a **No data** note.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import display

from cdr_pipeline.notebook import count_axis, grouped_bars, legend_outside, open_notebook

# %% tags=["parameters"]
# Parameters (papermill or the environment set them): empty means no filter.
MONTH = os.environ.get("CDR_NOTEBOOK_MONTH", "")  # 'YYYY-MM'
LOCATION = os.environ.get("CDR_NOTEBOOK_LOCATION", "")  # a location_name
DEPARTMENT = os.environ.get("CDR_NOTEBOOK_DEPARTMENT", "")  # a department_id

# %%
nb = open_notebook(month=MONTH, location=LOCATION, department=DEPARTMENT)
# fct_calls has no department: a call is in a department when one of its legs is
CALLS = (
    nb.where(month="report_month", location="location_name")
    + """
    and ($department::varchar is null or correlation_id in (
        select correlation_id from fct_call_legs where department_id = $department))"""
)
LEGS = nb.where(month="report_month", location="location_name", department="department_id")
display(nb.summary())

# %% [markdown]
# ## 1. Answered and missed calls by hour of day (site local time)

# %%
by_hour = nb.query(f"""
    select
        hour(start_time_local) as hour_local,
        count(*) as calls,
        count(*) filter (where is_answered) as answered,
        count(*) filter (where is_missed) as missed,
        count(*) filter (where not is_answered and not is_missed) as other
    from fct_calls
    where start_time_local is not null and {CALLS}
    group by all
    order by hour_local
""")
if by_hour.is_empty():
    display(nb.no_data("calls by hour"))
else:
    hours = np.arange(24)
    fig, ax = plt.subplots(figsize=(12, 4))
    bottom = np.zeros(24)
    for column in ["answered", "missed", "other"]:
        part = dict(by_hour.select("hour_local", column).iter_rows())
        values = np.array([part.get(h, 0) for h in hours], dtype=float)
        ax.bar(hours, values, bottom=bottom, label=column)
        bottom += values
    ax.set_xticks(hours)
    ax.set_title(f"Calls by hour of day and outcome ({nb.scope})")
    ax.set_xlabel("Hour of day (site local time, h)")
    ax.set_ylabel("Calls (count)")
    count_axis(ax)
    legend_outside(ax)
    fig.tight_layout()
    plt.show()
    total = by_hour.select(pl.col("calls", "answered", "missed", "other").sum())
    display(total.with_columns(missed_pct=(100 * pl.col("missed") / pl.col("calls")).round(1)))

# %% [markdown]
# ## 2. Ring time

# %%
rings = nb.query(f"""
    select
        answered,
        ring_duration_seconds
    from fct_call_legs
    where direction = 'TERMINATING'
        and is_person_user_type(user_type)
        and ring_duration_seconds is not null
        and {LEGS}
""")
if rings.is_empty():
    display(nb.no_data("ring durations"))
else:
    display(
        rings.group_by("answered")
        .agg(
            pl.len().alias("records"),
            pl.col("ring_duration_seconds").median().alias("median_s"),
            pl.col("ring_duration_seconds").quantile(0.9).alias("p90_s"),
            pl.col("ring_duration_seconds").max().alias("max_s"),
        )
        .sort("answered")
    )
    top = int(rings.select(pl.col("ring_duration_seconds").max()).item()) + 2
    bins = list(range(0, top, max(1, top // 30)))
    fig, ax = plt.subplots(figsize=(10, 4))
    for answered, label in [(True, "answered"), (False, "not answered")]:
        ring_seconds = rings.filter(pl.col("answered") == answered)["ring_duration_seconds"]
        if ring_seconds.len():
            ax.hist(ring_seconds.to_numpy(), bins=bins, alpha=0.6, label=label)
    ax.set_title(f"Ring time of calls to people ({nb.scope})")
    ax.set_xlabel("Ring duration (s)")
    ax.set_ylabel("Terminating records (count)")
    count_axis(ax)
    legend_outside(ax)
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## 3. Transfers
#
# Share of calls with a transfer per direction class, and legs per call for transferred
# calls and the others. The party a call is transferred to is reached in a call of its own
# (another Correlation ID, listed in `transfer_correlation_ids`), so its legs count there.

# %%
transfers = nb.query(f"""
    select
        direction_class,
        count(*) as calls,
        count(*) filter (where has_transfer) as transferred_calls,
        round(100.0 * count(*) filter (where has_transfer) / count(*), 1) as transferred_pct,
        round(avg(leg_count) filter (where has_transfer), 2) as avg_legs_transferred,
        round(avg(leg_count) filter (where not has_transfer), 2) as avg_legs_other
    from fct_calls
    where {CALLS}
    group by all
    order by direction_class
""")
if transfers.is_empty():
    display(nb.no_data("transfers"))
else:
    display(transfers)
    legs = nb.query(f"""
        select has_transfer, leg_count, count(*) as calls
        from fct_calls
        where {CALLS}
        group by all
        order by leg_count
    """)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4))
    axes[0].bar(transfers["direction_class"].to_list(), transfers["transferred_pct"].to_list())
    axes[0].set_title("Calls with a transfer by direction class")
    axes[0].set_xlabel("Direction class")
    axes[0].set_ylabel("Calls with a transfer (%)")
    long = legs.with_columns(
        pl.when(pl.col("has_transfer"))
        .then(pl.lit("transferred"))
        .otherwise(pl.lit("not transferred"))
        .alias("kind")
    )
    grouped_bars(axes[1], long, "leg_count", "kind", "calls", counts=True)
    axes[1].set_title("Legs per call")
    axes[1].set_xlabel("Legs in the call")
    axes[1].set_ylabel("Calls (count)")
    fig.tight_layout()
    plt.show()

# %%
# A few transferred calls and the calls they link to, to follow one flow by hand.
examples = nb.query(f"""
    select
        correlation_id, start_time_local, direction_class, leg_count, is_answered,
        talk_seconds, transfer_correlation_ids
    from fct_calls
    where has_transfer and {CALLS}
    order by first_start_time, correlation_id
    limit 10
""")
if examples.is_empty():
    display(nb.no_data("transferred calls"))
else:
    display(examples)
