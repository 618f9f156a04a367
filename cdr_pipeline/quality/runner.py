"""Run the generated suites as Great Expectations checkpoints and write Data Docs.

Per table in scope two GX suites run, both generated from the schema:
- `<table>`: row checks (not null, enums, durations, cross-column order, Webex Go device),
  validated by the checkpoint `<table>` on bounded pandas batches read with DuckDB; the
  per-batch results are added up per expectation.
- `<table>.scope`: checks that are global by nature, validated once by the checkpoint
  `<table>.scope` on one small batch: the rows whose key occurs more than once in the whole
  scope (found in DuckDB SQL, so a duplicate across two batches or partitions is caught) and
  the source columns first seen in the validated runs (from the ledger).

Great Expectations costs seconds to import, so it is imported here, inside the functions
that need it, and nothing imported by `cdr --help` or `cdr ingest` imports this module's GX.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdr_pipeline.config import Settings
from cdr_pipeline.quality.batches import (
    connect,
    device_users_sql,
    directory_sql,
    duplicate_keys,
    referenced_tables,
    row_batches,
)
from cdr_pipeline.quality.expectations import gx_expectation
from cdr_pipeline.quality.lineage import BatchNote, Lineage
from cdr_pipeline.quality.report import (
    SAMPLE_KEYS,
    VALIDATIONS_SCHEMA,
    ExpectationResult,
    SuiteResult,
    ValidationReport,
)
from cdr_pipeline.quality.scope import ScopeArg, TableScope, resolve_scope
from cdr_pipeline.quality.site import (
    build_docs,
    check_folders,
    gx_context,
    install_site,
    staging_dir,
)
from cdr_pipeline.quality.suites import (
    KNOWN_DEVICE,
    KNOWN_ID,
    NEW_COLUMN,
    NEW_COLUMNS,
    UNIQUE,
    ExpectationSpec,
    SuiteSpec,
    build_suites,
)
from cdr_pipeline.quality.values import value_text as _text
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import stamp_ms

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

BATCH_ROWS = 250_000  # memory follows it; 500,000 peaked over 1 GiB (docs/quality.md)
SCOPE_SUFFIX = ".scope"


@dataclass
class _Checkpoint:
    checkpoint: Any
    results: dict[str, ExpectationResult]
    key: list[str]
    lineage: Lineage
    table: str
    shown: dict[str, str] = field(default_factory=dict)
    """Expectation id -> the column whose values its failures list instead of the checked
    one (a Webex Go leg's user, not the derived device flag)."""

    def run(self, frame: pd.DataFrame, batch: int = 0, first_row: int = 1) -> None:
        """Validate one frame: batch 1, 2, ... of the table's rows, or 0 for the scope suite."""
        from great_expectations.core.run_identifier import RunIdentifier

        # the run name is the validation id, so every page and index row says which one
        outcome = self.checkpoint.run(
            batch_parameters={"dataframe": frame},
            run_id=RunIdentifier(run_name=self.lineage.validation_id),
        )
        note = BatchNote(self.table, self.checkpoint.name, batch, first_row, len(frame))
        for key, vr in outcome.run_results.items():
            self.lineage.note(key, note)
            for er in vr.results:
                cdr_id = (er.expectation_config.meta or {}).get("cdr_id")
                if cdr_id in self.results:
                    shown = self.shown.get(cdr_id)
                    _merge(self.results[cdr_id], er, frame, self.key, shown)


def _merge(
    res: ExpectationResult, er: Any, frame: pd.DataFrame, key: list[str], shown: str | None
) -> None:
    """Add one batch's GX result (of `frame`) to the scope-wide result of the same
    expectation; its values are those of column `shown` when given."""
    info = er.exception_info or {}
    if info.get("raised_exception"):
        res.success = False
        res.note = str(info.get("exception_message") or "GX raised an exception")
        return
    r = er.result or {}
    res.element_count += int(r.get("element_count") or 0)
    res.unexpected_count += int(r.get("unexpected_count") or 0)
    if not er.success:
        res.success = False
    labels = r.get("partial_unexpected_index_list") or []
    values = frame.loc[labels, shown] if shown else r.get("partial_unexpected_list") or []
    res.add_values([_text(v) for v in values])
    # the frame's row labels of the first unexpected rows: their keys are read here, not by
    # GX (given `unexpected_index_column_names`, GX looks up the key of *every* unexpected
    # row one `DataFrame.at` at a time: 39 s instead of 8 for a check failing on 1M legs)
    if labels:
        rows = frame.loc[labels, key].itertuples(index=False)
        res.add_keys([" | ".join(_text(v) for v in row) for row in rows])


def _result(spec: ExpectationSpec, suite: str, gx_type: str) -> ExpectationResult:
    return ExpectationResult(
        id=spec.id,
        suite=suite,
        expectation_type=gx_type,
        columns=spec.columns,
        severity=spec.severity,
        description=spec.description,
    )


def _checkpoint(
    ctx: Any, name: str, specs: Iterable[ExpectationSpec], scope: TableScope, lineage: Lineage
) -> _Checkpoint:
    import great_expectations as gx

    key = list(scope.schema.key)
    # the suite is filled before the context stores it: one added to the context first was
    # written out again at each expectation added (27 writes, 1.5 s of a validation's CPU)
    suite = gx.ExpectationSuite(name=name)
    results: dict[str, ExpectationResult] = {}
    for spec in specs:
        exp = gx_expectation(spec, scope.known_columns)
        suite.add_expectation(exp)
        results[spec.id] = _result(spec, name, exp.expectation_type)
    suite = ctx.suites.add(suite)
    asset = ctx.data_sources.get("cdr").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe(name)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    cp = ctx.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[vd],
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": SAMPLE_KEYS,  # all a result keeps
            },
        )
    )
    return _Checkpoint(cp, results, key, lineage, scope.schema.name)


def _shown(suite: SuiteSpec) -> dict[str, str]:
    """The Webex Go device check lists the users without a device, not its derived flag."""
    rule = suite.device_rule
    return {s.id: rule.user_column for s in suite.expectations if rule and s.check == KNOWN_DEVICE}


def _scope_frame(dup_sample: pd.DataFrame, key: list[str], new_columns: list[str]) -> pd.DataFrame:
    """One frame for the scope-wide suite: duplicated keys above, new column names below.
    Each expectation reads its own column; GX skips the NULLs of the other part."""
    import pandas as pd

    dups = dup_sample.astype(object) if len(dup_sample) else pd.DataFrame(columns=key)
    names = pd.DataFrame({NEW_COLUMN: pd.Series(new_columns, dtype=object)})
    frame = pd.concat([dups, names], ignore_index=True)
    for col in [*key, NEW_COLUMN]:
        if col not in frame.columns:
            frame[col] = None
    return frame.astype(object)


def _validate_table(
    ctx: Any,
    lineage: Lineage,
    suite: SuiteSpec,
    scope: TableScope,
    references: Mapping[str, Snapshot],
    batch_rows: int,
    temp_dir: Path,
) -> SuiteResult:
    con = connect(temp_dir)
    try:
        devices = device_users_sql(suite, references)
        directory = directory_sql(suite, references)
        row_specs = [
            s
            for s in suite.row_expectations
            if (s.check != KNOWN_DEVICE or devices is not None)
            and (s.check != KNOWN_ID or directory is not None)
        ]
        rows_cp = _checkpoint(ctx, suite.name, row_specs, scope, lineage)
        rows_cp.shown = _shown(suite)
        n_rows = n_batches = 0
        for frame in row_batches(con, suite, scope.files, batch_rows, devices, directory):
            n_batches += 1
            rows_cp.run(frame, n_batches, n_rows + 1)
            n_rows += len(frame)
        results = [rows_cp.results[s.id] for s in row_specs]
        if n_batches == 0:
            for r in results:
                r.evaluated, r.note = False, "no rows in scope"
        for s in suite.row_expectations:
            if s.check == KNOWN_DEVICE and devices is None:
                skipped = _result(s, suite.name, "expect_column_values_to_be_in_set")
                skipped.evaluated = False
                skipped.note = "no device data loaded (device_snapshots / device_events empty)"
                results.append(skipped)
            if s.check == KNOWN_ID and directory is None:
                skipped = _result(s, suite.name, "expect_column_values_to_be_null")
                skipped.evaluated = False
                skipped.note = "no org directory loaded"
                results.append(skipped)

        scope_name = suite.name + SCOPE_SUFFIX
        scope_cp = _checkpoint(ctx, scope_name, suite.scope_expectations, scope, lineage)
        dup_rows, dup_sample = duplicate_keys(con, suite.schema, scope.files)
        scope_cp.run(_scope_frame(dup_sample, list(suite.schema.key), scope.new_columns))
        for s in suite.scope_expectations:
            r = scope_cp.results[s.id]
            if s.check == UNIQUE:
                # GX saw a capped sample of the duplicated rows; SQL has the exact count
                r.unexpected_count, r.element_count = dup_rows, n_rows
            if s.check == NEW_COLUMNS:  # a column name, no row: its key read `(null) | (null)`
                r.sample_keys = []
            results.append(r)
    finally:
        con.close()
    return SuiteResult(
        suite.name,
        suite.schema.name,
        len(scope.partitions),
        len(scope.files),
        n_rows,
        n_batches,
        results,
    )


def validate_warehouse(
    settings: Settings, scope: ScopeArg = "last", *, batch_rows: int = BATCH_ROWS
) -> ValidationReport:
    """Validate what the last ingest run loaded (`scope='last'`), everything (`'all'`), or
    what was loaded since a `date`; write Data Docs under `<warehouse>/quality/data_docs/` and
    a summary to the ledger table `validations`. Never raises for failed expectations:
    `report.exit_code` is 4 when an error-severity expectation failed."""
    t0 = time.monotonic()
    started = datetime.now(UTC)
    validation_id = f"{stamp_ms(started)}-{secrets.token_hex(3)}"
    docs_dir = settings.layout.data_docs
    temp_dir = settings.layout.validate_temp(validation_id)  # DuckDB spill space
    check_folders(docs_dir.parent, temp_dir.parent)
    suites = build_suites()
    resolved = resolve_scope(settings, scope, referenced_tables(suites.values()))
    suite_results: list[SuiteResult] = []
    index: Path | None = None
    todo = [(suites[n], t) for n, t in resolved.tables.items() if t.files and n in suites]
    log.info(
        "validating %s: %d table(s), %d file(s)", resolved.label, len(todo), resolved.file_count
    )
    try:  # a validation stopped (a damaged table, a full disk) leaves no spill folder
        if todo:
            lineage = Lineage(
                validation_id,
                resolved.label,
                resolved.run_ids,
                settings.layout.root,
                {t.schema.name: t for _, t in todo},
                {n: s.version for n, s in resolved.references.items() if s.version is not None},
            )
            staging = staging_dir(docs_dir, validation_id)
            ctx = gx_context(staging)
            ctx.data_sources.add_pandas("cdr")
            for suite, table in todo:
                t1 = time.monotonic()
                res = _validate_table(
                    ctx, lineage, suite, table, resolved.references, batch_rows, temp_dir
                )
                suite_results.append(res)
                log.info(
                    "%s: %d rows in %d batch(es), %d failed expectation(s), %.1fs",
                    suite.name,
                    res.rows,
                    res.batches,
                    sum(1 for r in res.results if r.evaluated and not r.success),
                    time.monotonic() - t1,
                    extra={"rows_read": res.rows, "seconds": round(time.monotonic() - t1, 3)},
                )
            try:
                build_docs(ctx, staging, lineage)
                install_site(staging, docs_dir)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            index = docs_dir / "index.html"
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    report = ValidationReport(
        validation_id=validation_id,
        run_time=started,
        scope=resolved.label,
        ingest_run_ids=resolved.run_ids,
        suites=suite_results,
        data_docs_index=index,
        seconds=time.monotonic() - t0,
        table_versions=resolved.versions,
    )
    Ledger(settings.layout).write(
        "validations", validation_id, report.ledger_rows(), VALIDATIONS_SCHEMA
    )
    log.info(
        "validation %s: %d error(s), %d warning(s), %.1fs",
        validation_id,
        len(report.errors),
        len(report.warnings),
        report.seconds,
    )
    return report
