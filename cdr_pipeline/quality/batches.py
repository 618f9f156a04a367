"""Bounded batches for validation, read with DuckDB straight from the Parquet files.

Only the columns the expectations need are read, `batch_rows` rows at a time, so memory
follows the batch size, not the warehouse. Checks that are global by nature (key uniqueness)
are computed here over the whole scope in SQL; GX then sees a small batch of the rows whose
key is duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from cdr_pipeline.ingest.held import UUID
from cdr_pipeline.ingest.merge import bounded_duckdb
from cdr_pipeline.quality.suites import (
    DEVICE_FLAG,
    DIRECTORY_TABLE,
    ERROR,
    FINITE,
    NOT_FINITE_SUFFIX,
    NOT_NULL,
    PARTITION,
    SuiteSpec,
)
from cdr_pipeline.schema.base import DUCKDB_TYPES, STRING, TableSchema
from cdr_pipeline.state.datafiles import check_readable, read_schema
from cdr_pipeline.state.tables import Snapshot
from cdr_pipeline.text import lit, quote
from cdr_pipeline.warehouse.damage import check_file_types

if TYPE_CHECKING:
    import pandas as pd

MEMORY_LIMIT = "1GB"
FILE_COLUMN = "__cdr_file"
"""The data file of each row (DuckDB's `filename` column) in the row batches."""
BLANKS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
"""What a value of blanks only is made of: Unicode's White_Space, which the ingest strips
(polars `strip_chars()`) to find a required value missing, so both call the same values
blank (an ideographic space too)."""
DUPLICATE_SAMPLE_ROWS = 10_000
"""At most this many rows with a duplicated key go to GX (the exact count comes from SQL)."""


def connect(temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """The validation's DuckDB, in UTC: a TIMESTAMP without a zone (another writer's) is then
    read as UTC, as the tables' times are, not in the machine's zone (a row's partition)."""
    con = bounded_duckdb(temp_dir, MEMORY_LIMIT)
    con.execute("SET TimeZone = 'UTC'")
    return con


def available_columns(files: list[Path]) -> set[str]:
    """Columns present in at least one file (older partitions may predate a new column)."""
    names: set[str] = set()
    for f in files:
        names.update(read_schema(f).names)
    return names


def _source(files: list[Path], with_file: bool = False) -> str:
    listed = ", ".join(lit(str(f)) for f in files)
    named = f", filename={lit(FILE_COLUMN)}" if with_file else ""
    return f"read_parquet([{listed}], hive_partitioning=false, union_by_name=true{named})"


def _misplaced(suite: SuiteSpec, present: set[str]) -> list[str]:
    """With a partition check, the column holding the partition of the row's file where it
    is not the one the row's timestamp gives (`partition_from`, in UTC), else NULL: the views
    take a row's day from its folder. Files without the timestamp (`present`: the columns
    any file holds) give no partition to compare: its not-null check fails them."""
    schema = suite.schema
    if not any(e.check == PARTITION for e in suite.row_expectations):
        return []
    assert schema.partition_by and schema.partition_from
    source, fmt = schema.partition_from
    if source not in present:
        return [f"CAST(NULL AS VARCHAR) AS {quote(schema.partition_by)}"]
    folder = lit(schema.partition_by + r"=([^/\\]+)[/\\][^/\\]+$")
    value = f"regexp_extract(t.{quote(FILE_COLUMN)}, {folder}, 1)"
    derived = f"strftime(t.{quote(source)} AT TIME ZONE 'UTC', {lit(fmt)})"
    return [f"CASE WHEN {derived} <> {value} THEN {value} END AS {quote(schema.partition_by)}"]


def _not_finite(suite: SuiteSpec, present: set[str]) -> list[str]:
    """Per floating-point column, a column holding its value (as text) where it is NaN or
    infinite, else NULL: GX's pandas checks take NaN for a missing value and skip it."""
    out = []
    for exp in suite.row_expectations:
        if exp.check != FINITE:
            continue
        (flag,) = exp.columns
        name = flag.removesuffix(NOT_FINITE_SUFFIX)
        if name not in present:
            out.append(f"CAST(NULL AS VARCHAR) AS {quote(flag)}")
            continue
        value = f"CAST(t.{quote(name)} AS DOUBLE)"
        out.append(
            # not `isnan`: DuckDB 2.0 answered false for the NaN a polars writer stored
            f"CASE WHEN NOT isfinite({value}) THEN CAST({value} AS VARCHAR) END AS {quote(flag)}"
        )
    return out


def _tags(suite: SuiteSpec, present: set[str]) -> list[str]:
    """Per derived tag, a column reading `flag / source` where the stored flag is not the one
    its source gives (trimmed, in any case, as ingest derives it), else NULL."""
    out = []
    for rule in suite.tag_rules:
        if rule.flag_column not in present:
            out.append(f"CAST(NULL AS VARCHAR) AS {quote(rule.mismatch)}")
            continue
        flag = f"t.{quote(rule.flag_column)}"
        source = f"t.{quote(rule.source_column)}" if rule.source_column in present else "NULL"
        value = lit(rule.value.upper())
        tagged = f"coalesce(upper(trim({source}, {lit(BLANKS)})) = {value}, false)"
        shown = f"{flag}::VARCHAR || ' / ' || coalesce({source}, '(null)')"
        out.append(f"CASE WHEN {flag} <> {tagged} THEN {shown} END AS {quote(rule.mismatch)}")
    return out


def _select(
    schema: TableSchema,
    columns: list[str],
    present: set[str],
    alias: str,
    blank_is_null: frozenset[str] = frozenset(),
) -> list[str]:
    out = []
    for name in columns:
        if name in blank_is_null and name in present:
            # only a value of blanks only is missing: any other is checked as stored (the
            # views compare it as stored: ' ORIGINATING' is no calling side)
            column = f"{alias}.{quote(name)}"
            blank = f"trim({column}, {lit(BLANKS)}) = ''"
            out.append(f"CASE WHEN {blank} THEN NULL ELSE {column} END AS {quote(name)}")
        elif name in present and schema.column(name).case_blind:
            # a documented value in another case, or with blanks around it, is that value
            # (` mobile_network` tags its leg as Webex Go, as ingest derives the tag):
            # read as its documented spelling, it is no new value
            column = f"{alias}.{quote(name)}"
            spelled = " ".join(
                f"WHEN {lit(v.upper())} THEN {lit(v)}" for v in schema.column(name).values
            )
            read = f"upper(trim({column}, {lit(BLANKS)}))"
            out.append(f"CASE {read} {spelled} ELSE {column} END AS {quote(name)}")
        elif name in present:
            # as the views read it: the table's type, whatever type a file holds it as (a
            # number another writer stored as text is checked as a number, not as text)
            dtype = DUCKDB_TYPES[schema.column(name).dtype]
            out.append(f"CAST({alias}.{quote(name)} AS {dtype}) AS {quote(name)}")
        else:
            out.append(f"CAST(NULL AS {DUCKDB_TYPES[schema.column(name).dtype]}) AS {quote(name)}")
    return out


def required_text(suite: SuiteSpec) -> frozenset[str]:
    """Text columns that must hold a value: their values of blanks only are read as NULL, so
    the not-null check fails them, as ingest quarantines them (`missing_required`)."""
    return frozenset(
        e.columns[0]
        for e in suite.row_expectations
        if e.check == NOT_NULL
        and e.severity == ERROR
        and suite.schema.column(e.columns[0]).dtype == STRING
    )


def referenced_tables(suites: Iterable[SuiteSpec]) -> list[str]:
    """The tables the suites' cross-table checks look rows up in."""
    names: dict[str, None] = {}
    for suite in suites:
        if suite.device_rule is not None:
            names.update(dict.fromkeys(suite.device_rule.device_tables))
        if suite.directory_rules:
            names[DIRECTORY_TABLE] = None
    return list(names)


def device_users_sql(suite: SuiteSpec, references: Mapping[str, Snapshot]) -> str | None:
    """SQL listing the users that have a device, or None when no device data is stored.
    `references`: the versions of the looked-up tables this validation reads."""
    rule = suite.device_rule
    if rule is None:
        return None
    user = quote(rule.device_user_column)
    parts = []
    for table in rule.device_tables:
        if table not in references:
            continue
        files = [
            f
            for f in references[table].all_files()
            if rule.device_user_column in read_schema(f).names
        ]
        if files:
            # in lower case, as the views match a leg's user to a device (`lower(user_uuid)`)
            parts.append(
                f"SELECT lower({user}) AS u FROM {_source(files)} WHERE {user} IS NOT NULL"
            )
    return " UNION ".join(parts) if parts else None


def directory_sql(suite: SuiteSpec, references: Mapping[str, Snapshot]) -> str | None:
    """SQL listing the org directory's `(entry_type, entry_id)`, or None when the suite has
    no directory rule or no directory is loaded."""
    if not suite.directory_rules or DIRECTORY_TABLE not in references:
        return None
    files = references[DIRECTORY_TABLE].all_files()
    if not files:
        return None
    # a column no file holds lists nothing (its own not-null check fails those rows)
    held = available_columns(files)
    cols = [c if c in held else f"CAST(NULL AS VARCHAR) AS {c}" for c in ("entry_type", "entry_id")]
    return f"SELECT DISTINCT {', '.join(cols)} FROM {_source(files)}"


def row_batches(
    con: duckdb.DuckDBPyConnection,
    suite: SuiteSpec,
    files: list[Path],
    batch_rows: int,
    device_users: str | None,
    directory: str | None = None,
) -> Iterator[pd.DataFrame]:
    """The columns the row expectations need, `batch_rows` rows at a time, as pandas frames.

    With device data, call-leg batches carry `webex_go_device_known`: NULL for legs that are
    not Webex Go, else whether the leg's user has a known device. With an org directory, each
    directory rule adds a column holding the value when the directory lacks it (else NULL),
    so the unknown ids are what the check lists."""

    schema = suite.schema
    present = available_columns(files)
    placed = _misplaced(suite, present)
    cols = _select(schema, suite.row_columns(), present, "t", required_text(suite)) + placed
    cols += _tags(suite, present) + _not_finite(suite, present)
    if suite.device_rule is not None and device_users is not None:
        rule = suite.device_rule
        con.execute(f"CREATE OR REPLACE TEMP TABLE __device_users AS {device_users}")
        user = f"t.{quote(rule.user_column)}" if rule.user_column in present else "NULL"
        flag = f"t.{quote(rule.flag_column)}" if rule.flag_column in present else "NULL"
        cols.append(
            f"CASE WHEN {flag} THEN EXISTS (SELECT 1 FROM __device_users d "
            f"WHERE d.u = lower({user})) "
            f"END AS {quote(DEVICE_FLAG)}"
        )
    if suite.directory_rules and directory is not None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __directory AS {directory}")
        for known in suite.directory_rules:
            if known.column not in present:
                cols.append(f"CAST(NULL AS VARCHAR) AS {quote(known.flag)}")
                continue
            value = f"t.{quote(known.column)}"
            cols.append(
                f"CASE WHEN {value} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM __directory d "
                f"WHERE d.entry_type = {lit(known.entry_type)} AND d.entry_id = {value}) "
                f"THEN {value} END AS {quote(known.flag)}"
            )
    sql = f"SELECT {', '.join(cols)} FROM {_source(files, bool(placed))} AS t"
    try:
        # only the reading is guarded: the caller's work between batches is not in here
        for batch in con.sql(sql).to_arrow_reader(batch_rows):
            if batch.num_rows:
                yield naive_utc(batch.to_pandas())
    except (duckdb.Error, pa.ArrowException, OSError) as exc:  # OSError: failed mid-stream
        _check_files(schema, files, [c for c in suite.row_columns() if c in present], exc)
        raise


def _check_files(
    schema: TableSchema, files: list[Path], columns: list[str], exc: BaseException
) -> None:
    """After reading the batches failed with `exc`: raise the damage of the first file that
    does not read, or, after a value that did not convert to the table's type, of the first
    that holds such a value (as a build's read of the views says it)."""
    check_readable(files, columns, exc)
    # DuckDB's own exception before the first batch; said by an OSError of the stream after it
    if isinstance(exc, duckdb.ConversionException) or str(exc).startswith("Conversion Error"):
        check_file_types(schema, files)


def duplicate_keys(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, files: list[Path]
) -> tuple[int, pd.DataFrame]:
    """(rows whose key occurs more than once in the scope, a sample of those rows' keys).
    A text key holding a UUID is compared in lower case (the sample shows it so)."""
    if not set(schema.key) <= available_columns(files):
        import pandas as pd

        # no file holds the whole key: no row has one, as its not-null check says
        return 0, pd.DataFrame(columns=list(schema.key))
    key = ", ".join(quote(k) for k in schema.key)
    src = _source(files)
    present = " AND ".join(f"{quote(k)} IS NOT NULL" for k in schema.key)  # nulls: not_null's job
    # a UUID is one id in any case (RFC 4122), and ingest stores it lower case: another
    # writer's copy of a leg under its Report ID in upper case was the leg counted twice.
    # A value already in lower case (every key ingest wrote) skips the pattern: as fast as
    # the plain grouping at 1M keys, where the pattern on every key doubled it
    read = ", ".join(
        f"CASE WHEN {quote(k)} = lower({quote(k)}) THEN {quote(k)} "
        f"WHEN regexp_full_match({quote(k)}, {lit(UUID)}) THEN lower({quote(k)}) "
        f"ELSE {quote(k)} END AS {quote(k)}"
        if schema.column(k).dtype == STRING
        else quote(k)
        for k in schema.key
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __dups AS SELECT {key}, count(*) AS n FROM "
            f"(SELECT {read} FROM {src} WHERE {present}) GROUP BY ALL HAVING count(*) > 1"
        )
    except duckdb.Error as exc:
        check_readable(files, list(schema.key), exc)
        raise
    row = con.execute("SELECT coalesce(sum(n), 0) FROM __dups").fetchone()
    total = int(row[0]) if row else 0
    # one row per occurrence, so GX counts each duplicated row, as a batch-wide check would
    sample = con.execute(
        f"SELECT {key} FROM __dups, range(n::BIGINT) LIMIT {DUPLICATE_SAMPLE_ROWS}"
    ).fetch_df()
    # as the row batches: a duplicated snapshot's key read `...T06:00:00+00:00` there only
    return total, naive_utc(sample)


def naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as naive UTC: GX's pandas comparisons warn on (and copy) tz-aware columns,
    and every check's sample keys then read alike."""
    import pandas as pd

    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert(None)
    return frame
