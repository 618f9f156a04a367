"""Data quality: Great Expectations suites generated from `schema/`, checkpoints over bounded
batches of the warehouse, Data Docs under `<warehouse>/quality/`, a ledger summary.

Public entry point: `validate_warehouse(settings, scope='last' | 'all' | date) ->
ValidationReport`. Great Expectations is imported only when a validation runs.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

# Great Expectations imports pyspark when the spark extra is installed, and pyspark warns on
# import that it does not yet support pandas 3: noise on every `cdr validate` and demo, not
# about anything the user does (the Spark code paths are parity-tested on their own)
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

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
