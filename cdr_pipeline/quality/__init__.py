"""Data quality: Great Expectations suites generated from `schema/`, checkpoints over bounded
batches of the warehouse, Data Docs under `<warehouse>/quality/`, a ledger summary.

Public entry point: `validate_warehouse(settings, scope='last' | 'all' | date) ->
ValidationReport`. Great Expectations is imported only when a validation runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cdr_pipeline.quality.report import ExpectationResult, ValidationReport
    from cdr_pipeline.quality.runner import validate_warehouse

__all__ = ["ExpectationResult", "ValidationReport", "validate_warehouse"]


def __getattr__(name: str) -> Any:
    # lazy: importing the package must not pull in duckdb/pandas/GX for `cdr --help`
    if name == "validate_warehouse":
        from cdr_pipeline.quality.runner import validate_warehouse

        return validate_warehouse
    if name in ("ValidationReport", "ExpectationResult"):
        from cdr_pipeline.quality import report

        return getattr(report, name)
    raise AttributeError(name)
