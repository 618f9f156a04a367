# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Webex Go licence reconciliation
#
# **Question.** Per month and subscription: how many Webex Go licences did we **buy**
# (entitlements in force) versus **hold** (devices and mobile numbers provisioned), how many
# held licences sat **idle** and what did they cost, and which devices should we **reclaim**?
#
# **How to read it.** *Bought* is `entitled_units` on the month's last day with data; *held* is
# `consumed_peak` (the most units held at one instant of the month) and `consumed_month_end`. A bar
# of held above bought means we use more than we pay for; `status` = `over` says so at one instant
# against that day's purchase (expect a true-up); bought well above held is money left on the table.
# *Idle licences* are licence units (a BYOD device or a Mobile number) held in the month without a
# single Webex Go call while held (idle or never activated); their cost is `idle_licences ×
# unit_price` in the subscription's currency, so the cost chart keeps currencies apart. Idle figures
# need call data for every day of the month (`call_coverage` = `full`): for other months they are
# unknown (empty), not zero, and the totals below leave those months out. The reclaim list is
# judged as of the latest device data (`as_of_time`), not the wall clock. Definitions:
# `sql/README.md` (`rpt_licence_reconciliation`, `rpt_licence_usage_monthly`,
# `rpt_reclaim_candidates`).
#
# **Inputs.** Only the public views `rpt_licence_reconciliation`, `rpt_licence_usage_monthly`
# and `rpt_reclaim_candidates`. `CDR_WAREHOUSE` picks the warehouse. The parameters below
# (or `CDR_NOTEBOOK_MONTH`, `CDR_NOTEBOOK_LOCATION`, `CDR_NOTEBOOK_DEPARTMENT`) filter:
# sections 1 and 2 (bought vs held, idle cost) by month only, because a subscription is
# bought for the whole organisation; *held licences by usage* by month, location and
# department; the reclaim list by location and department (it is judged as of the latest
# device data, not a month). Empty sections print a **No data** note.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import Markdown, display

from cdr_pipeline.notebook import count_axis, grouped_bars, legend_outside, open_notebook
from cdr_pipeline.reports.summary import NO_CURRENCY

# %% tags=["parameters"]
# Parameters (papermill or the environment set them): empty means no filter.
MONTH = os.environ.get("CDR_NOTEBOOK_MONTH", "")  # 'YYYY-MM'
LOCATION = os.environ.get("CDR_NOTEBOOK_LOCATION", "")  # a location_name
DEPARTMENT = os.environ.get("CDR_NOTEBOOK_DEPARTMENT", "")  # a department_id

# %%
nb = open_notebook(month=MONTH, location=LOCATION, department=DEPARTMENT)
display(nb.summary())

# %% [markdown]
# ## 1. Licences bought versus held, per month, subscription and licence type

# %%
recon = nb.query(f"""
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
        unassigned_units,
        unassigned_cost,
        covered_days,
        call_coverage,
        status
    from rpt_licence_reconciliation
    where {nb.where(month="month")}
    order by month, subscription_id, licence_type
""")
display(recon)

# %%
if recon.is_empty():
    display(nb.no_data("licence reconciliation", placed=False))
else:
    # One panel per subscription and licence type: a BYOD device and a Mobile number are
    # different licences, and peaks fall at different instants, so they are never added.
    per_sub = recon.select(
        "subscription_id",
        "licence_type",
        "month",
        pl.col("entitled_units").fill_null(0).alias("bought"),
        pl.col("consumed_peak").fill_null(0).alias("held (peak)"),
        pl.col("consumed_month_end").fill_null(0).alias("held (month end)"),
    ).sort("subscription_id", "licence_type", "month")
    panels = per_sub.select("subscription_id", "licence_type").unique(maintain_order=True)
    cols = min(2, panels.height)
    rows = -(-panels.height // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 4 * rows), squeeze=False)
    for ax, (sub, kind) in zip(axes.flat, panels.iter_rows(), strict=False):
        long = per_sub.filter(
            (pl.col("subscription_id") == sub) & (pl.col("licence_type") == kind)
        ).unpivot(
            index="month",
            on=["bought", "held (peak)", "held (month end)"],
            variable_name="measure",
            value_name="units",
        )
        grouped_bars(ax, long, "month", "measure", "units", counts=True)
        ax.set_title(f"{sub} · {kind}: bought vs held")
        ax.set_xlabel("Month (reporting time zone)")
        ax.set_ylabel("Licences (count)")
    for ax in axes.flat[panels.height :]:
        ax.remove()
    fig.suptitle("Webex Go licences bought vs held, per subscription and licence type")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## 2. Idle licences and what they cost
#
# Per subscription, licence type and month: `idle_licences` (licence units held without a
# Webex Go call) and `idle_cost` in the subscription's currency (empty when no entitlement
# gives a price). Only months with call data for every day (`call_coverage` = `full`) count.
# The totals per currency add up the priced rows only, as the finance summary does: idle
# licences without a price are counted apart (their cost is unknown, not 0), and rows priced
# without a currency are totalled under "(no currency)".

# %%
partial = recon.filter(pl.col("call_coverage") != "full").select("month", "covered_days")
if partial.height:
    listed = ", ".join(f"{m} ({d} days)" for m, d in partial.unique().sort("month").iter_rows())
    display(
        Markdown(
            "Idle figures need call data for every day of the month. Months whose "
            "`call_coverage` is `partial` or `none` are left out of these totals; their idle "
            f"figures are unknown (empty), not zero: {listed}."
        )
    )
idle = recon.filter((pl.col("call_coverage") == "full") & (pl.col("idle_licences") > 0)).select(
    "month",
    "subscription_id",
    "licence_type",
    "idle_licences",
    "unit_price",
    "currency",
    "idle_cost",
)
if idle.is_empty():
    display(nb.no_data("idle licences", placed=False))
else:
    display(idle)
    # as the finance summary totals them (`cdr report finance-summary`): a row without a
    # price (no entitlement, none with a unit_price, or several currencies in force) has no
    # cost and is named apart, not added as 0; a price without a currency is its own total
    priced = idle.filter(pl.col("unit_price").is_not_null()).with_columns(
        pl.col("currency").fill_null(NO_CURRENCY)
    )
    idle_totals = (
        priced.group_by("currency")
        .agg(
            pl.col("idle_licences").sum(),
            pl.when(pl.col("idle_cost").is_null().any())
            .then(None)
            .otherwise(pl.col("idle_cost").sum().round(2))
            .alias("total_idle_cost"),
        )
        .sort("currency")
    )
    display(idle_totals)
    unpriced = idle.filter(pl.col("unit_price").is_null())
    if unpriced.height:
        display(
            Markdown(
                f"{unpriced['idle_licences'].sum():,} idle licence(s) in {unpriced.height:,} "
                "row(s) have no price (no entitlement in force, entitlements without a "
                "`unit_price`, or in more than one currency: `status` `mixed_currency`): "
                "their cost is unknown and in no total above."
            )
        )
    currencies = sorted(priced["currency"].unique().to_list())
    if not currencies:
        display(nb.no_data("idle licence cost (no entitlement gives a price)", placed=False))
    else:
        fig, axes = plt.subplots(
            1, len(currencies), figsize=(7 * len(currencies), 4), squeeze=False
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
        plt.show()

# %% [markdown]
# ### Held licences by usage
#
# From `rpt_licence_usage_monthly`: every held licence unit is *used* (at least one Webex Go
# leg while it held the licence), *idle* (activated, no call) or *never activated*. Months
# without full call coverage are not shown (their idle figures are unknown).

# %%
usage = nb.query(f"""
    select
        strftime(month, '%Y-%m') as month,
        sum(licences_used) as used,
        sum(licences_idle) as idle,
        sum(licences_never_activated) as never_activated
    from rpt_licence_usage_monthly
    where call_coverage = 'full'
        and {nb.where(month="month", location="location_name", department="department_id")}
    group by all
    order by month
""")
if usage.is_empty():
    display(nb.no_data("licence usage"))
else:
    display(usage)
    fig, ax = plt.subplots(figsize=(9, 4))
    bottom = np.zeros(usage.height)
    for column in ["used", "idle", "never_activated"]:
        values = usage[column].fill_null(0).to_numpy().astype(float)
        ax.bar(usage["month"].to_list(), values, bottom=bottom, label=column.replace("_", " "))
        bottom += values
    ax.set_title(f"Held Webex Go licence units by usage ({nb.scope})")
    ax.set_xlabel("Month (reporting time zone, full call coverage only)")
    ax.set_ylabel("Licence units (count)")
    count_axis(ax)
    legend_outside(ax)
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## 3. Reclaim list
#
# Devices that hold a licence without giving value, as of the latest device data: never
# activated and the activation code expired, idle for `idle_days` days, or reported
# Lost/Stolen and never re-activated. `days_since` is how long the reason has held. Hand this
# list to whoever manages Webex Go devices; the month filter does not apply here, the
# location and department filters do.

# %%
reclaim = nb.query(f"""
    select
        reason, days_since, since, device_id, user_email, phone_number, deployment,
        licence_type, subscription_id, location_name, department_id, current_status,
        last_webex_go_call_at, as_of_time
    from rpt_reclaim_candidates
    where {nb.where(location="location_name", department="department_id")}
    order by reason, days_since desc, device_id
""")
if reclaim.is_empty():
    display(nb.no_data("reclaim candidates", monthly=False, placed=True))
else:
    display(reclaim)
    by_reason = (
        reclaim.group_by("reason")
        .agg(pl.len().alias("devices"), pl.col("days_since").max().alias("oldest_days"))
        .sort("reason")
    )
    fig, ax = plt.subplots(figsize=(8, 0.5 * by_reason.height + 1.8))
    ax.barh(by_reason["reason"].to_list(), by_reason["devices"].to_list())
    as_of = reclaim.select(pl.col("as_of_time").max()).item()
    ax.set_title(f"Reclaim candidates by reason (as of {as_of:%Y-%m-%d})")
    ax.set_xlabel("Devices (count)")
    ax.set_ylabel("Reason")
    count_axis(ax, "x")
    fig.tight_layout()
    plt.show()
