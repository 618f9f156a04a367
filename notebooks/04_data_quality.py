# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data quality
#
# **Question.** Can we trust what is in the warehouse? Did the ingest runs succeed, which rows
# were quarantined and why, did the shape of the exports change over time (new or missing
# columns), and what did the latest validation find?
#
# **How to read it.** An *ingest run* is one `cdr ingest` / `cdr nightly` / `cdr demo`
# invocation; a file's rows are either loaded, duplicates of rows already stored, or rejected
# (quarantined with a reason). A failed file published none of its rows. *Column drift*: for
# every file the ledger keeps the source columns the schema does not know (`unknown_columns`:
# kept as JSON in `extra`) and the schema columns the file lacked (`missing_columns`: NULL);
# a change between consecutive files of the same kind means the export's layout changed.
# *Validation*: the Great Expectations suites of `cdr validate`; an error-severity failure
# makes the run exit 4, warnings are advisory.
#
# **Inputs.** The public views `ingest_runs` and `ingest_files`. Rejected rows and validation
# results are not exposed as views, so this notebook reads them directly: the rejects Parquet
# files under `<warehouse>/rejects/` with DuckDB `read_parquet` (`nb.reject_files()`), and
# the validation summaries through the library (`nb.validations()`). `CDR_WAREHOUSE` picks
# the warehouse; the month, location and department parameters do not apply here (these
# are about loads, not calls). Empty sections print a **No data** note.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from IPython.display import Markdown, display
from matplotlib.ticker import MaxNLocator

from cdr_pipeline.notebook import count_axis, file_name, legend_outside, open_notebook

# %% tags=["parameters"]
# Parameters (papermill or the environment set them): empty means no filter. This notebook
# checks the month's form but is about loads, so it filters nothing.
MONTH = os.environ.get("CDR_NOTEBOOK_MONTH", "")  # 'YYYY-MM'
LOCATION = os.environ.get("CDR_NOTEBOOK_LOCATION", "")  # a location_name
DEPARTMENT = os.environ.get("CDR_NOTEBOOK_DEPARTMENT", "")  # a department_id

# %%
nb = open_notebook(month=MONTH, location=LOCATION, department=DEPARTMENT)
display(Markdown(f"Warehouse `{nb.warehouse}` · every load (no filter applies)"))

# %% [markdown]
# ## 1. Ingest runs

# %%
runs = nb.query("""
    select
        run_id, command, status, exit_code, started_at, duration_seconds, files_seen,
        files_loaded, files_skipped, files_failed, rows_read, rows_loaded, rows_duplicate,
        rows_rejected, message
    from ingest_runs
    order by started_at, run_id
""")
if runs.is_empty():
    display(nb.no_data("ingest runs", monthly=False))
else:
    display(runs)
    labels = [f"{t:%m-%d %H:%M}\n{c}" for t, c in runs.select("started_at", "command").iter_rows()]
    fig, ax = plt.subplots(figsize=(max(7, 1.2 * runs.height + 4), 4))
    bottom = np.zeros(runs.height)
    for column in ["rows_loaded", "rows_duplicate", "rows_rejected"]:
        values = runs[column].fill_null(0).to_numpy().astype(float)
        label = column.removeprefix("rows_")
        ax.bar(range(runs.height), values, 0.6, bottom=bottom, label=label)
        bottom += values
    ax.set_ylim(top=max(bottom.max(), 1) * 1.15)  # room for the status labels
    for x, status in enumerate(runs["status"].to_list()):
        ax.annotate(status, (x, bottom[x]), ha="center", va="bottom", fontsize="small")
    ax.set_xticks(range(runs.height), labels, fontsize="small")
    ax.set_title("Rows per ingest run (label: run status)")
    ax.set_xlabel("Run start (UTC) and command")
    ax.set_ylabel("Rows (count)")
    count_axis(ax)
    legend_outside(ax)
    fig.tight_layout()
    plt.show()

# %%
# Files that did not load cleanly, newest first.
problems = nb.query("""
    select loaded_at, path, kind, status, rows_read, rows_rejected, top_reject_reasons, message
    from ingest_files
    where status in ('failed', 'skipped') or rows_rejected > 0 or not is_conserved
    order by loaded_at desc, path
""").select(pl.all().exclude("path"), file_name("path"))
if problems.is_empty():
    display(nb.no_data("failed, skipped or partly rejected files", monthly=False))
else:
    display(problems)

# %% [markdown]
# ## 2. Rejected rows by reason
#
# Read from `<warehouse>/rejects/<table>/*.parquet` (one file per ingested file with rejects).
# The examples give the file and line of each row; a rejected row's raw text holds its
# personal fields in clear, so its start and the detail show on the full tier only.

# %%
reject_files = nb.reject_files()
if not reject_files:
    rejects = pl.DataFrame()
    display(nb.no_data("rejected rows (no files under rejects/)", monthly=False))
else:
    rejects = nb.query(
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
    count_axis(ax, "x")
    fig.tight_layout()
    plt.show()
    # a few examples: file and line; the detail and the raw line (personal fields in
    # clear) only on the full tier (CDR_TIER=full, the warehouse's owner)
    examples = nb.reject_examples(rejects)
    display(examples)

# %% [markdown]
# ## 3. Column drift over time
#
# One point per ingested file, in the order the files were loaded (the table above and the
# one below give the times): how many source columns the schema did not know, and how many
# schema columns the file lacked. The table below lists every such column with the first and
# last file it was seen in; a column seen in only the newest files is a new export column.

# %%
files = nb.query("""
    select
        row_number() over (order by loaded_at, path) as file_number,
        loaded_at, path, kind, status,
        len(coalesce(unknown_columns, [])) as unknown_count,
        len(coalesce(missing_columns, [])) as missing_count
    from ingest_files
    where status <> 'skipped'
    order by loaded_at, path
""")
if files.is_empty():
    display(nb.no_data("ingested files", monthly=False))
else:
    kinds = files["kind"].fill_null("(unknown)").unique().sort().to_list()
    fig, axes = plt.subplots(1, 2, figsize=(14, 4))
    for ax, column, title in [
        (axes[0], "unknown_count", "Unknown source columns per file"),
        (axes[1], "missing_count", "Schema columns missing per file"),
    ]:
        for kind in kinds:
            part = files.filter(pl.col("kind").fill_null("(unknown)") == kind)
            ax.plot(
                part["file_number"].to_list(),
                part[column].to_list(),
                marker="o",
                label=kind,
                clip_on=False,  # a point at zero sits on the axis, whole
            )
        ax.set_title(title)
        ax.set_xlabel("File, in load order (1 = first loaded)")
        ax.set_ylabel("Columns (count)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        count_axis(ax)
        legend_outside(ax, title="kind")
    fig.tight_layout()
    plt.show()

# %%
drift = nb.query("""
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
    display(nb.no_data("column drift (every file of a kind had the same columns)", monthly=False))
else:
    display(drift)

# %% [markdown]
# ## 4. Latest validation results
#
# Per suite of the latest `cdr validate` run (from the `validations` ledger table), and the
# failed expectations over the recent runs. Details of every expectation are in the Data Docs
# page named in `data_docs_index`.

# %%
validations = nb.validations()
if validations.is_empty():
    display(nb.no_data("validations (run `cdr validate`)", monthly=False))
else:
    latest_id = validations.sort("run_time")["validation_id"][-1]
    latest = validations.filter(pl.col("validation_id") == latest_id)
    verdict = "**passed**" if latest["success"].all() else "**failed** (error expectations)"
    display(
        Markdown(
            f"Latest validation **{latest_id}** at {latest['run_time'][0]:%Y-%m-%d %H:%M} UTC, "
            f"scope `{latest['scope'][0]}`: {verdict}. "
            f"Data Docs: `{latest['data_docs_index'][0]}`"
        )
    )
    display(
        latest.select(
            "suite",
            "table_name",
            "partitions",
            "rows_validated",
            "expectations_evaluated",
            "errors_failed",
            "warnings_failed",
            "success",
        )
    )
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
    failed = history.select(pl.col("errors_failed") + pl.col("warnings_failed")).sum().item()
    if failed == 0:
        # bars of height zero would be empty axes: say it instead
        display(
            Markdown(
                f"**Nothing failed** in the latest {history.height} validation run(s): "
                "every error and warning expectation passed."
            )
        )
    else:
        fig, ax = plt.subplots(figsize=(max(7, 0.8 * history.height + 4), 4))
        xs = np.arange(history.height)
        ax.bar(xs - 0.2, history["errors_failed"].to_list(), 0.4, label="errors failed")
        ax.bar(xs + 0.2, history["warnings_failed"].to_list(), 0.4, label="warnings failed")
        run_labels = [f"{t:%m-%d %H:%M}" for t in history["run_time"]]
        ax.set_xticks(xs, run_labels, rotation=30, ha="right")
        ax.set_title("Failed expectations per validation run (latest 20)")
        ax.set_xlabel("Validation run (UTC)")
        ax.set_ylabel("Failed expectations (count)")
        count_axis(ax)
        legend_outside(ax)
        fig.tight_layout()
        plt.show()
