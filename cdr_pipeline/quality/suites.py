"""Expectation specs generated from the schema registry (`cdr_pipeline.schema.SCHEMAS`).

This module is pure data: it never imports Great Expectations, so building and testing the
specs is instant. `runner.py` turns each `ExpectationSpec` into a GX expectation.

Where each expectation comes from:
- schema objects (the single source of truth): key columns and `nullable=False` columns ->
  not null (error); the table `key` -> unique over the whole scope (error); `Column.values`
  -> in set, error when `closed`, warning otherwise (Cisco adds values to open enums);
  integer columns whose name carries the `_seconds` unit suffix are durations -> >= 0 (error);
  every registered table -> "no new source columns since earlier runs" (warning, from the
  ledger's `unknown_columns`).
- `RULES` (`quality/rules.py`): the few cross-column and range rules a column definition
  cannot express.
  A rule naming a table or column that is not registered is skipped, so specs follow whatever
  `SCHEMAS` holds when they are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdr_pipeline.quality.rules import (
    DIRECTORY_TABLE,
    ERROR,
    RULES,
    WARNING,
    ClosedEnumRule,
    DirectoryRule,
    KnownDeviceRule,
    MaxRule,
    MinRule,
    PairRule,
    PatternRule,
    PresentRule,
    RangeRule,
    Rule,
    TagRule,
)
from cdr_pipeline.schema import SCHEMAS, TableSchema, schemas_by_table
from cdr_pipeline.schema.base import DOUBLE, INTEGER, SMALLINT

# checks (what the runner knows how to evaluate)
NOT_NULL = "not_null"
IN_SET = "in_set"
MIN_VALUE = "min_value"
MAX_VALUE = "max_value"
PATTERN = "pattern"
BETWEEN = "between"
PAIR_GE = "pair_ge"
UNIQUE = "unique"
NEW_COLUMNS = "new_columns"
KNOWN_DEVICE = "known_device"
KNOWN_ID = "known_id"
PARTITION = "partition"
DERIVED = "derived"
FINITE = "finite"
NOT_FINITE_SUFFIX = "_not_finite"
"""Derived batch column `<column>_not_finite`: a floating-point value that is NaN or infinite
(as text), else NULL."""

DURATION_SUFFIX = "_seconds"
NEW_COLUMN = "new_column"
"""Column of the scope batch that lists source columns first seen in the validated runs."""
DEVICE_FLAG = "webex_go_device_known"
"""Derived column of call-leg batches: NULL for other legs, true/false for Webex Go legs."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One check with a stable id (`<table>.<column>.<check>`) and a severity."""

    id: str
    table: str
    check: str
    columns: tuple[str, ...]
    severity: str
    description: str
    value_set: tuple[str, ...] = ()
    min_value: float | None = None
    strict_min: bool = False
    max_value: float | None = None
    strict_max: bool = False
    regex: str = ""
    scope_wide: bool = False
    """Evaluated once over the whole scope (uniqueness, new columns), not per row batch."""


@dataclass(frozen=True)
class SuiteSpec:
    """The expectations of one warehouse table; the GX suite is named after the table."""

    name: str
    schema: TableSchema
    expectations: tuple[ExpectationSpec, ...]
    device_rule: KnownDeviceRule | None = None
    directory_rules: tuple[DirectoryRule, ...] = ()
    tag_rules: tuple[TagRule, ...] = ()

    @property
    def row_expectations(self) -> tuple[ExpectationSpec, ...]:
        return tuple(e for e in self.expectations if not e.scope_wide)

    @property
    def scope_expectations(self) -> tuple[ExpectationSpec, ...]:
        return tuple(e for e in self.expectations if e.scope_wide)

    def row_columns(self) -> list[str]:
        """Stored columns the row batches must read: the key first (for sample keys), then
        every column a row expectation names. Derived batch columns are not included."""
        cols: dict[str, None] = dict.fromkeys(self.schema.key)
        for exp in self.row_expectations:
            if exp.check not in (KNOWN_DEVICE, KNOWN_ID, PARTITION, DERIVED, FINITE):
                cols.update(dict.fromkeys(exp.columns))
        if self.device_rule is not None:
            cols.update(dict.fromkeys((self.device_rule.user_column, self.device_rule.flag_column)))
        cols.update(dict.fromkeys(r.column for r in self.directory_rules))
        return list(cols)


@dataclass
class _Builder:
    schema: TableSchema
    specs: dict[str, ExpectationSpec] = field(default_factory=dict)

    def add(
        self, check: str, columns: tuple[str, ...], severity: str, text: str, **kw: object
    ) -> None:
        sid = f"{self.schema.name}.{'.'.join(columns)}.{check}"
        spec = ExpectationSpec(sid, self.schema.name, check, columns, severity, text, **kw)  # type: ignore[arg-type]
        self.specs[sid] = spec


def _has(schema: TableSchema, column: str) -> bool:
    return any(c.name == column for c in schema.stored_columns)


def build_suite(
    schema: TableSchema,
    schemas: Mapping[str, TableSchema] | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> SuiteSpec:
    """The expectations of one table, from its schema object and the applicable rules."""
    b = _Builder(schema)
    _column_expectations(b, schema, rules)
    by_table = schemas_by_table(schemas)
    device_rule = _rule_expectations(b, schema, by_table, rules)
    directory_rules = _directory_expectations(b, schema, by_table, rules)
    if schema.key:
        text = f"({', '.join(schema.key)}) is unique over the scope"
        b.add(UNIQUE, schema.key, ERROR, text, scope_wide=True)
    b.add(
        NEW_COLUMNS,
        (NEW_COLUMN,),
        WARNING,
        "no source columns unknown to the schema appeared since earlier runs",
        scope_wide=True,
    )
    tags = _tag_expectations(b, schema, rules)
    specs = tuple(b.specs.values())
    return SuiteSpec(schema.name, schema, specs, device_rule, directory_rules, tags)


def _column_expectations(b: _Builder, schema: TableSchema, rules: tuple[Rule, ...]) -> None:
    """What the column definitions say: not null, documented values, durations >= 0."""
    # like `schema.stored_columns` but without the lineage columns: those are the loader's
    # own bookkeeping, not data to check
    stored = [c for c in schema.columns if c.name != schema.partition_by and not c.sensitive]
    forced_closed = {
        r.column for r in rules if isinstance(r, ClosedEnumRule) and r.table == schema.name
    }
    for col in stored:
        if col.name in schema.key or not col.nullable:
            b.add(NOT_NULL, (col.name,), ERROR, f"{col.name} is never null")
    for col in stored:
        if col.values:
            closed = col.closed or col.name in forced_closed
            b.add(
                IN_SET,
                (col.name,),
                ERROR if closed else WARNING,
                f"{col.name} is one of the documented values"
                + ("" if closed else " (open enum: new values warn)"),
                value_set=col.values,
            )
    for col in stored:
        if col.dtype in (INTEGER, SMALLINT) and col.name.endswith(DURATION_SUFFIX):
            b.add(
                MIN_VALUE,
                (col.name,),
                ERROR,
                f"{col.name} is a duration, never negative",
                min_value=0,
            )
    for col in stored:
        if col.dtype == DOUBLE:
            # GX's pandas checks skip NaN as missing: another writer's NaN price passed the
            # price checks and made the reconciliation exit 1 (it casts costs to decimals);
            # ingest keeps no NaN or infinity (a sum over one is NaN)
            b.add(
                FINITE,
                (col.name + NOT_FINITE_SUFFIX,),
                ERROR,
                f"{col.name} is a finite number (no NaN or infinity)",
            )
    if schema.partition_by and schema.partition_from:  # another writer's row may not be
        text = f"each row is in the partition of its {schema.partition_from[0]} (UTC)"
        b.add(PARTITION, (schema.partition_by,), ERROR, text)


ColumnRule = MinRule | MaxRule | PatternRule | PresentRule | RangeRule
"""The rules of one column's values."""


def _column_rule(b: _Builder, rule: ColumnRule) -> None:
    """The expectation of a rule on one column's values."""
    if isinstance(rule, MinRule):
        op = ">" if rule.strict else ">="
        b.add(
            MIN_VALUE,
            (rule.column,),
            rule.severity,
            f"{rule.column} {op} {rule.min_value:g}",
            min_value=rule.min_value,
            strict_min=rule.strict,
        )
    elif isinstance(rule, MaxRule):
        b.add(
            MAX_VALUE,
            (rule.column,),
            rule.severity,
            f"{rule.column} {'<' if rule.strict else '<='} {rule.max_value:,.0f}",
            max_value=rule.max_value,
            strict_max=rule.strict,
        )
    elif isinstance(rule, PatternRule):
        b.add(
            PATTERN,
            (rule.column,),
            rule.severity,
            f"{rule.column} matches {rule.regex}",
            regex=rule.regex,
        )
    elif isinstance(rule, PresentRule):
        b.add(
            NOT_NULL,
            (rule.column,),
            rule.severity,
            f"{rule.column} is present (a NULL is kept, never read as 0)",
        )
    elif isinstance(rule, RangeRule):
        b.add(
            BETWEEN,
            (rule.column,),
            rule.severity,
            f"{rule.column} is between {rule.min_value:g} and {rule.max_value:g}",
            min_value=rule.min_value,
            max_value=rule.max_value,
        )


def _rule_expectations(
    b: _Builder,
    schema: TableSchema,
    by_table: Mapping[str, TableSchema],
    rules: tuple[Rule, ...],
) -> KnownDeviceRule | None:
    """The cross-column and range rules of `RULES` that apply to the table; returns the
    known-device rule when it applies."""
    device_rule: KnownDeviceRule | None = None
    for rule in rules:
        if rule.table != schema.name:
            continue
        if (
            isinstance(rule, PairRule)
            and _has(schema, rule.column_a)
            and _has(schema, rule.column_b)
        ):
            b.add(
                PAIR_GE,
                (rule.column_a, rule.column_b),
                rule.severity,
                f"{rule.column_a} >= {rule.column_b} where both are present",
            )
        elif isinstance(rule, ColumnRule) and _has(schema, rule.column):
            _column_rule(b, rule)
        elif isinstance(rule, KnownDeviceRule) and _has(schema, rule.user_column):
            devices = [
                by_table[t]
                for t in rule.device_tables
                if t in by_table and _has(by_table[t], rule.device_user_column)
            ]
            if devices:
                device_rule = rule
                b.add(
                    KNOWN_DEVICE,
                    (DEVICE_FLAG,),
                    rule.severity,
                    f"every Webex Go leg's {rule.user_column} has a known device "
                    f"({' or '.join(d.name for d in devices)})",
                )
    return device_rule


def _tag_expectations(
    b: _Builder, schema: TableSchema, rules: tuple[Rule, ...]
) -> tuple[TagRule, ...]:
    """The derived tags of `RULES` that apply to the table: each agrees with its source."""
    applied = []
    for rule in rules:
        if (
            isinstance(rule, TagRule)
            and rule.table == schema.name
            and _has(schema, rule.flag_column)
            and _has(schema, rule.source_column)
        ):
            applied.append(rule)
            b.add(
                DERIVED,
                (rule.mismatch,),
                rule.severity,
                f"{rule.flag_column} is true exactly when {rule.source_column} is "
                f"{rule.value} in any case (listed as {rule.flag_column} / {rule.source_column})",
            )
    return tuple(applied)


def _directory_expectations(
    b: _Builder,
    schema: TableSchema,
    by_table: Mapping[str, TableSchema],
    rules: tuple[Rule, ...],
) -> tuple[DirectoryRule, ...]:
    """The org-directory rules of `RULES` that apply to the table (warnings: an id the
    directory lacks shows as the bare id in the reports)."""
    if DIRECTORY_TABLE not in by_table:
        return ()
    applied = []
    for rule in rules:
        if (
            isinstance(rule, DirectoryRule)
            and rule.table == schema.name
            and _has(schema, rule.column)
        ):
            applied.append(rule)
            b.add(
                KNOWN_ID,
                (rule.flag,),
                rule.severity,
                f"every {rule.column} is a {rule.entry_type} of the org directory "
                "(unknown ones show as the bare id in the reports)",
            )
    return tuple(applied)


def build_suites(
    schemas: Mapping[str, TableSchema] | None = None, rules: tuple[Rule, ...] = RULES
) -> dict[str, SuiteSpec]:
    """table name -> suite spec, for every registered schema (calls, devices, ...)."""
    registry = schemas if schemas is not None else SCHEMAS
    return {s.name: build_suite(s, registry, rules) for s in registry.values()}
