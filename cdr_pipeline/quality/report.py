"""Result objects of a validation and their ledger record (`validations` ledger table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from cdr_pipeline.errors import EXIT_OK, EXIT_QUALITY
from cdr_pipeline.quality.suites import ERROR, WARNING

SAMPLE_KEYS = 5

VALIDATIONS_SCHEMA = pa.schema(
    [
        ("validation_id", pa.string()),
        ("run_time", pa.timestamp("ms", tz="UTC")),
        ("seconds", pa.float64()),
        ("scope", pa.string()),
        ("ingest_run_ids", pa.list_(pa.string())),
        ("suite", pa.string()),
        ("table_name", pa.string()),
        ("partitions", pa.int64()),
        ("rows_validated", pa.int64()),
        ("expectations_evaluated", pa.int64()),
        ("errors_evaluated", pa.int64()),
        ("errors_failed", pa.int64()),
        ("warnings_evaluated", pa.int64()),
        ("warnings_failed", pa.int64()),
        ("success", pa.bool_()),
        ("data_docs_index", pa.string()),
        ("table_versions", pa.string()),  # "call_legs=12,...": the versions checked
        # the ids of the error-severity checks that failed (NULL in records written before)
        ("errors_failed_checks", pa.list_(pa.string())),
    ]
)


@dataclass
class ExpectationResult:
    """One expectation over the whole scope (per-batch GX results added up)."""

    id: str
    suite: str
    expectation_type: str
    columns: tuple[str, ...]
    severity: str
    description: str
    evaluated: bool = True
    success: bool = True
    element_count: int = 0
    unexpected_count: int = 0
    sample_keys: list[str] = field(default_factory=list)
    """A few keys (e.g. report_id) of offending rows."""
    unexpected_values: list[str] = field(default_factory=list)
    note: str = ""
    """Why it was not evaluated, or the exception GX raised."""

    def add_keys(self, keys: list[str]) -> None:
        _add_distinct(self.sample_keys, keys)

    def add_values(self, values: list[str]) -> None:
        _add_distinct(self.unexpected_values, values)


def _add_distinct(sample: list[str], items: list[str]) -> None:
    """Append the items not yet in `sample`, up to `SAMPLE_KEYS` entries in all."""
    for item in items:
        if len(sample) >= SAMPLE_KEYS:
            return
        if item not in sample:
            sample.append(item)


@dataclass
class SuiteResult:
    name: str
    table: str
    partitions: int
    files: int
    rows: int
    batches: int
    results: list[ExpectationResult]

    def counts(self) -> dict[str, int]:
        ev = [r for r in self.results if r.evaluated]
        return {
            "expectations_evaluated": len(ev),
            "errors_evaluated": sum(r.severity == ERROR for r in ev),
            "errors_failed": sum(r.severity == ERROR and not r.success for r in ev),
            "warnings_evaluated": sum(r.severity == WARNING for r in ev),
            "warnings_failed": sum(r.severity == WARNING and not r.success for r in ev),
        }


@dataclass
class ValidationReport:
    """What `validate_warehouse` found; the CLI, the nightly job and the demo render it."""

    validation_id: str
    run_time: datetime
    scope: str
    ingest_run_ids: list[str]
    suites: list[SuiteResult]
    data_docs_index: Path | None
    seconds: float = 0.0
    table_versions: dict[str, int] = field(default_factory=dict)
    """Table -> the version whose files were checked."""

    @property
    def results(self) -> list[ExpectationResult]:
        return [r for s in self.suites for r in s.results]

    @property
    def failed(self) -> list[ExpectationResult]:
        return [r for r in self.results if r.evaluated and not r.success]

    @property
    def errors(self) -> list[ExpectationResult]:
        return [r for r in self.failed if r.severity == ERROR]

    @property
    def warnings(self) -> list[ExpectationResult]:
        return [r for r in self.failed if r.severity == WARNING]

    @property
    def success(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        """4 when an error-severity expectation failed; warnings never fail the run."""
        return EXIT_OK if self.success else EXIT_QUALITY

    @property
    def rows_validated(self) -> int:
        return sum(s.rows for s in self.suites)

    def to_dict(self) -> dict[str, Any]:
        """What `cdr validate --json` prints."""
        return {
            "validation_id": self.validation_id,
            "scope": self.scope,
            "exit_code": self.exit_code,
            # what the verdict is about, as the ledger and the Data Docs name it
            "ingest_run_ids": self.ingest_run_ids,
            "table_versions": self.table_versions,
            "data_docs_index": self.data_docs_index,
            "suites": [
                s.counts()
                | {"suite": s.name, "table_name": s.table, "partitions": s.partitions}
                | {"rows": s.rows}
                for s in self.suites
            ],
            "failed": self.failed,
        }

    def result(self, expectation_id: str) -> ExpectationResult:
        """The result of one expectation. A KeyError names the tables this validation
        checked: with scope "last", only those the last run loaded have suites."""
        for r in self.results:
            if r.id == expectation_id:
                return r
        checked = ", ".join(s.table for s in self.suites) or "none"
        raise KeyError(
            f"no expectation {expectation_id!r} in this validation (scope {self.scope!r}; "
            f"tables checked: {checked}): check the id, or validate with scope='all'"
        )

    def ledger_rows(self) -> list[dict[str, Any]]:
        """One summary row per suite for the `validations` ledger table."""
        run: dict[str, Any] = {
            "validation_id": self.validation_id,
            "run_time": self.run_time,
            "seconds": self.seconds,
            "scope": self.scope,
            "ingest_run_ids": self.ingest_run_ids,
            "data_docs_index": str(self.data_docs_index) if self.data_docs_index else None,
            "table_versions": ",".join(f"{t}={v}" for t, v in sorted(self.table_versions.items()))
            or None,
        }
        if not self.suites:  # nothing in scope: still say that a validation ran
            return [run | {"success": True}]
        rows: list[dict[str, Any]] = []
        for s in self.suites:
            c = s.counts()
            rows.append(
                run
                | {
                    "suite": s.name,
                    "table_name": s.table,
                    "partitions": s.partitions,
                    "rows_validated": s.rows,
                    **c,
                    "errors_failed_checks": sorted(
                        r.id
                        for r in s.results
                        if r.evaluated and not r.success and r.severity == ERROR
                    ),
                    "success": c["errors_failed"] == 0,
                }
            )
        return rows
