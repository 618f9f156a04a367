"""Why the nightly's unattended close holds a month back though it is complete: a close is
kept for good, and nobody is there to look first, so it never freezes figures over data
known bad (a failed validation) or while an input of the night failed to load (`cdr close`
by hand looks at neither)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger


def failed_validations(layout: Layout) -> list[str]:
    """The tables whose latest validation (`validations` ledger table) failed an
    error-severity check, as `entitlements (1 error(s))`: their data is known bad until a
    later validation of the table passes (one of a correcting load, or `cdr validate --all`)."""
    checked = Ledger(layout).read("validations")
    if checked.is_empty() or "errors_failed" not in checked.columns:
        return []
    latest = checked.sort("run_time", "validation_id").group_by("table_name").last()
    bad = latest.filter(pl.col("errors_failed") > 0).sort("table_name")
    return [f"{n} ({e} error(s))" for n, e in bad.select("table_name", "errors_failed").rows()]


def close_held_back(layout: Layout, failed_files: Sequence[str]) -> tuple[str, str] | None:
    """(why, what to do) when the nightly must not close a month tonight, else None.
    `failed_files` are the night's input files that failed to load: such a file (an
    entitlement sheet with a negative count, past --max-reject-rate) loads none of its rows,
    and the month would be frozen without them; it stays in the inbox and is tried again
    each night, so the close waits until it loads or is removed."""
    if failed_files:
        shown = ", ".join(failed_files[:3]) + (
            f" and {len(failed_files) - 3} more" if len(failed_files) > 3 else ""
        )
        return (
            f"a file failed to load tonight ({shown}), and its rows would be missing from the "
            "frozen figures",
            "correct it (cdr runs --files says why; quarantined rows under rejects/) or "
            "remove it from the inbox, and the next nightly closes the month",
        )
    failed = failed_validations(layout)
    if failed:
        return (
            f"the latest validation of {', '.join(failed)} failed",
            "correct the data (cdr validate, Data Docs) and the next nightly closes it",
        )
    return None
