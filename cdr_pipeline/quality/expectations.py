"""The Great Expectations expectation of each `ExpectationSpec` (GX imported only when
called). Our id and severity travel in the expectation's `meta`."""

from __future__ import annotations

from typing import Any

from cdr_pipeline.quality.suites import (
    BETWEEN,
    DERIVED,
    ERROR,
    FINITE,
    IN_SET,
    KNOWN_DEVICE,
    KNOWN_ID,
    MAX_VALUE,
    MIN_VALUE,
    NEW_COLUMN,
    NEW_COLUMNS,
    NOT_NULL,
    PAIR_GE,
    PARTITION,
    PATTERN,
    UNIQUE,
    ExpectationSpec,
)


def _value_expectation(spec: ExpectationSpec, common: dict[str, Any]) -> Any:
    """The GX expectation of a check on one column's values."""
    import great_expectations.expectations as gxe

    col = spec.columns[0]
    if spec.check == NOT_NULL:
        return gxe.ExpectColumnValuesToNotBeNull(column=col, **common)
    if spec.check == IN_SET:
        return gxe.ExpectColumnValuesToBeInSet(column=col, value_set=list(spec.value_set), **common)
    if spec.check in (MIN_VALUE, MAX_VALUE, BETWEEN):
        return gxe.ExpectColumnValuesToBeBetween(
            column=col,
            min_value=spec.min_value,
            max_value=spec.max_value,
            strict_min=spec.strict_min,
            strict_max=spec.strict_max,
            **common,
        )
    if spec.check == PATTERN:
        return gxe.ExpectColumnValuesToMatchRegex(column=col, regex=spec.regex, **common)
    raise ValueError(f"no GX expectation for check {spec.check!r}")


def gx_expectation(spec: ExpectationSpec, known_columns: list[str]) -> Any:
    """The GX expectation of one spec; its id and our severity travel in `meta`."""
    import great_expectations.expectations as gxe

    common: dict[str, Any] = {
        "severity": "critical" if spec.severity == ERROR else "warning",
        "meta": {"cdr_id": spec.id, "severity": spec.severity},
        "description": spec.description,
    }
    col = spec.columns[0]
    if spec.check in (NOT_NULL, IN_SET, PATTERN, MIN_VALUE, MAX_VALUE, BETWEEN):
        return _value_expectation(spec, common)
    if spec.check == PAIR_GE:
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=spec.columns[0],
            column_B=spec.columns[1],
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **common,
        )
    if spec.check == KNOWN_DEVICE:
        # NULL for legs that are not Webex Go: GX skips nulls in column-map expectations
        return gxe.ExpectColumnValuesToBeInSet(column=col, value_set=[True], **common)
    if spec.check in (KNOWN_ID, PARTITION, DERIVED, FINITE):
        # the column holds the id the directory lacks (the partition a row is not in): the
        # unexpected values listed are the unknown ids (the wrong partitions) themselves
        return gxe.ExpectColumnValuesToBeNull(column=col, **common)
    if spec.check == UNIQUE:
        if len(spec.columns) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=col, **common)
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.columns), **common)
    if spec.check == NEW_COLUMNS:
        return gxe.ExpectColumnValuesToBeInSet(
            column=NEW_COLUMN, value_set=list(known_columns), **common
        )
    raise ValueError(f"no GX expectation for check {spec.check!r}")
