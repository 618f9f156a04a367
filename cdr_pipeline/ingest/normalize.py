"""Normalize one chunk: source headers -> canonical columns, null markers -> NULL, typed
parsing, per-kind derivations, lineage, and the row checks that decide quarantine.

Pure functions over a chunk: no I/O, no state. Chunk size never changes the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from cdr_pipeline.ingest.derive import DERIVERS, Check
from cdr_pipeline.ingest.derive.base import (
    AS_DOWNLOADED,
    RESAVE,
    exponent_figure,
    long_values,
    null_word,
    null_word_keys,
    word_detail,
)
from cdr_pipeline.ingest.extra import extra_json
from cdr_pipeline.ingest.guards import repaired_numbers, unguarded_phones
from cdr_pipeline.ingest.numerals import respell, ungroup
from cdr_pipeline.ingest.spreadsheet import drop_flags, local_date_check, mark_local_dates, trimmed
from cdr_pipeline.ingest.timestamps import (
    TIMESTAMP_RANGE,
    dash_year_first,
    fill_end_of_day,
    fill_timestamps,
    parse_iso_z,
    parse_timestamp,
)
from cdr_pipeline.schema.base import (
    BOOLEAN,
    DATE,
    DOUBLE,
    FALSE_WORDS,
    INTEGER,
    NULL_MARKERS,
    SMALLINT,
    STRING,
    TIMESTAMP,
    TRUE_WORDS,
    TableSchema,
)
from cdr_pipeline.schema.headers import HeaderResolution, extra_key

POLARS_TYPES: dict[str, pl.DataType] = {
    STRING: pl.String(),
    TIMESTAMP: pl.Datetime("us", "UTC"),
    INTEGER: pl.Int64(),
    SMALLINT: pl.Int16(),
    BOOLEAN: pl.Boolean(),
    DOUBLE: pl.Float64(),
    DATE: pl.Date(),
}


REASON_MISSING = "missing_required"
EXPECTED = {
    TIMESTAMP: "a timestamp of the years 2000-2099 (expected ISO-8601 like "
    "2026-10-02T14:03:11.123Z)",
    INTEGER: "an integer",
    SMALLINT: "an integer between -32768 and 32767",
    BOOLEAN: "a boolean (true/false)",
    DOUBLE: "a number",
    DATE: "a date (expected YYYY-MM-DD)",
}
BAD_REASON = {
    TIMESTAMP: "bad_timestamp",
    INTEGER: "bad_integer",
    SMALLINT: "bad_integer",
    BOOLEAN: "bad_boolean",
    DOUBLE: "bad_number",
    DATE: "bad_date",
}


@dataclass(frozen=True)
class LoadContext:
    source_kind: str
    source_file: str
    run_id: str
    ingested_at: datetime
    load_seq: int
    max_value_bytes: int = 64 * 1024
    """A row with a longer field is quarantined (`value_too_long`)."""


@dataclass
class NormalizeResult:
    rows: pl.DataFrame
    """Good rows: stored columns plus the partition column."""
    rejects: pl.DataFrame
    """`__idx` (row of the chunk), `reason`, `detail`."""
    unguarded: dict[str, int]  # column -> values read without a formula guard (guards.py)


def _clean(expr: pl.Expr) -> pl.Expr:
    """Null markers (exactly '', 'NA', 'na'; docs/webex-dch.md#null-markers) -> NULL. Text stays as
    delivered but `TableSchema.trimmed` (trimming all cost more than the typed parsing)."""
    return pl.when(expr.is_in(list(NULL_MARKERS))).then(None).otherwise(expr)


def _trimmed(expr: pl.Expr) -> pl.Expr:
    """Blanks and zero-width characters around removed (`trimmed`), then null markers -> NULL."""
    return _clean(trimmed(expr))


def _blank_values(df: pl.DataFrame, schema: TableSchema) -> pl.DataFrame:
    """A typed value of blanks alone (`' '`, or `' NA '`) is empty, as its value with blanks
    around it is that value (`' 36'` is 36): a hand edit that cleared a cell with a space, or
    a script writing `', '` between fields, quarantined every unanswered leg as a
    `bad_timestamp` (`Answer time: cannot parse ' '`), the file failing the reject rate.
    Only the values that did not parse are looked at (nearly none)."""
    for c in schema.input_columns:
        if c.dtype == STRING or c.sensitive:
            continue
        raw = df[c.name]
        missed = df[f"__typed_{c.name}"].is_null() & raw.is_not_null()
        if not missed.any():
            continue
        idx = missed.arg_true()
        blank = raw.gather(idx).str.strip_chars().is_in(list(NULL_MARKERS))
        if blank.any():
            df = df.with_columns(raw.scatter(idx.filter(blank), None))
    return df


def _parse(dtype: str, s: pl.Expr, decimal_comma: bool | None = False) -> pl.Expr:
    if dtype == STRING:
        return s
    if dtype == TIMESTAMP:
        return parse_iso_z(s)
    s = ungroup(s.str.strip_chars(), dtype, decimal_comma)
    if dtype in (INTEGER, SMALLINT):
        as_float = s.cast(pl.Float64, strict=False)
        integral = pl.when(as_float == as_float.floor()).then(as_float).cast(pl.Int64, strict=False)
        value = pl.coalesce(s.str.to_integer(strict=False), integral)
        if dtype == SMALLINT:
            value = pl.when(value.is_between(-32768, 32767)).then(value).cast(pl.Int16)
        return value
    if dtype == BOOLEAN:
        low = s.str.to_lowercase()
        return (
            pl.when(low.is_in(TRUE_WORDS))
            .then(True)
            .when(low.is_in(FALSE_WORDS))
            .then(False)
            .otherwise(None)
        )
    if dtype == DOUBLE:
        # 'nan' and 'inf' cast, but are no score or price: one would turn every sum into NaN
        number = s.cast(pl.Float64, strict=False)
        return pl.when(number.is_finite()).then(number)
    if dtype == DATE:
        # the day as written, whatever time and offset follow it: an export of local
        # midnight with its offset (2026-01-01T00:00:00+10:00) means 1 January, though the
        # instant falls on 31 December in UTC; the time must still parse
        # a Japanese or Hungarian spreadsheet saves 2026/12/31, 2026. 12. 31.: the ISO order
        s = dash_year_first(s)
        day = s.str.strip_chars().str.replace(r"[Tt ].*$", "")  # 2026-1-5T... too
        written = day.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        # a spreadsheet in a day-first locale (de, ru, pl...) saves 31.12.2026: day first
        dotted = pl.when(s.str.contains(r"^\d{1,2}\.\d{1,2}\.\d{4}$")).then(s)
        return pl.coalesce(
            s.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
            pl.when(parse_timestamp(s).is_not_null()).then(written),
            dotted.str.strptime(pl.Date, "%d.%m.%Y", strict=False),
        )
    raise ValueError(f"unknown logical type {dtype}")


def _source_columns(
    raw: pl.DataFrame, res: HeaderResolution
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Raw columns of each canonical column (several spellings of one column coalesce, the
    first non-null wins), and the columns kept in `extra` with their (unique) header there,
    in the order of those headers: the unknown columns (one without a name as
    `HeaderResolution.unnamed` names it), and every repeat of a column, so no value of it is
    lost."""
    sources: dict[str, list[str]] = {}
    unknown_cols: list[tuple[str, str]] = []
    repeats = dict(res.repeated) | dict(res.unnamed)
    present = set(raw.columns)
    taken: set[str] = set()  # headers in `extra` so far (a set: thousands of JSON keys)
    for i, name in enumerate(res.canonical):
        col = f"c{i}"
        if col not in present:
            continue
        if name is not None:
            sources.setdefault(name, []).append(col)
            if i not in repeats:
                continue
        header = repeats.get(i) or extra_key(res.headers[i])
        while header in taken:
            header += "_"
        taken.add(header)
        unknown_cols.append((col, header))
    # by header, not by position: `extra` is part of a record's content (a tie of versions
    # with other content is an update, `merge.py`), and an export that only moved its columns
    # around holds the same records
    return sources, sorted(unknown_cols, key=lambda c: c[1])


def _text_columns(
    raw: pl.DataFrame,
    res: HeaderResolution,
    schema: TableSchema,
    clean: Callable[[pl.Expr], pl.Expr],
) -> list[pl.Expr]:
    """The canonical input columns as text, plus `extra` (JSON of the unknown columns)."""
    sources, unknown_cols = _source_columns(raw, res)
    text: list[pl.Expr] = []
    for c in schema.input_columns:
        if c.name in sources:
            trim = _trimmed if c.name in schema.trimmed else clean  # ids of call legs
            cols = [trim(pl.col(x)) for x in sources[c.name]]
            if c.name in res.implied:  # the currency a price's header names: rows without one
                cols.append(pl.lit(res.implied[c.name], pl.String))
            text.append((cols[0] if len(cols) == 1 else pl.coalesce(cols)).alias(c.name))
        else:
            text.append(pl.lit(res.implied.get(c.name), pl.String).alias(c.name))
    if any(c.name == "extra" for c in schema.lineage) and unknown_cols:
        text.append(pl.lit(extra_json(raw, unknown_cols, clean)).alias("extra"))
    return text


def _typed_columns(
    schema: TableSchema, res: HeaderResolution, decimal_comma: bool | None = False
) -> tuple[list[pl.Expr], list[Check]]:
    """Typed parsing of each non-text input column, and the checks that quarantine a row:
    a required value missing, a present value that does not parse."""
    checks: list[Check] = []
    typed: list[pl.Expr] = []
    for c in schema.input_columns:
        spelled = res.spelling(c)
        if c.sensitive:
            continue
        if c.dtype != STRING:
            typed.append(_parse(c.dtype, pl.col(c.name), decimal_comma).alias(c.name))
            typed_col = pl.col(f"__typed_{c.name}")
            unusable = typed_col.is_null()
            if c.dtype == TIMESTAMP:  # parsed, but no day a call can have
                unusable = unusable | ~typed_col.is_between(*TIMESTAMP_RANGE, closed="left")
                checks.append(local_date_check(c.name, spelled))
            if c.exact:  # before the parse: `1,2346E+06` among decimal commas parses not
                fix = AS_DOWNLOADED if schema.kind == "calls" else RESAVE  # no sheet of theirs
                checks.append(exponent_figure(c.name, spelled, fix))
            checks.append(
                Check(
                    BAD_REASON[c.dtype],
                    pl.col(c.name).is_not_null() & unusable,
                    pl.when(null_word(c.name))
                    .then(word_detail(c.name, spelled))
                    .otherwise(
                        pl.format(
                            f"{spelled}: cannot parse '{{}}' as {EXPECTED[c.dtype]}",
                            pl.col(c.name).str.slice(0, 80),
                        )
                    ),
                )
            )
        if c.required:
            # a text value of blanks only is none (call-leg text is not trimmed): an empty
            # Correlation ID was missing, one of three spaces made every such leg one call
            missing = (
                pl.col(f"__typed_{c.name}").is_null() & pl.col(c.name).is_null()
                if c.dtype != STRING
                else pl.col(c.name).is_null() | (pl.col(c.name).str.strip_chars() == "")
            )
            checks.insert(
                0, Check(REASON_MISSING, missing, pl.lit(f"{spelled}: required value is missing"))
            )
    for name, value in res.implied.items():  # `Unit price (USD)` beside a row's `EUR`
        checks.append(
            Check(
                "conflicting_currency",
                pl.col(name).str.to_uppercase() != value,
                pl.format(f"currency '{{}}' where the price's header names {value}", pl.col(name)),
            )
        )
    return typed, checks + null_word_keys(schema, res.source_header)


def normalize(
    raw: pl.DataFrame,
    res: HeaderResolution,
    schema: TableSchema,
    ctx: LoadContext,
    source_rows: np.ndarray,
    nulls_marked: bool = False,
    decimal_comma: bool | None = False,
) -> NormalizeResult:
    """`raw` has one string column per source column, named c0..cN in source order;
    `nulls_marked` says the reader already turned the null markers into NULL;
    `decimal_comma` reads `12,50` as 12.5 in number columns (a CSV separated by semicolons:
    a spreadsheet in a locale that writes decimal commas saved it)."""
    clean: Callable[[pl.Expr], pl.Expr] = (lambda e: e) if nulls_marked else _clean
    if schema.trim_text:
        clean = _trimmed
    # 1. canonical string columns; one lazy query for the generic part (clean, type, flag):
    # polars fuses and parallelises it
    text = _text_columns(raw, res, schema, clean)
    lf = raw.lazy().select([*text, pl.int_range(pl.len(), dtype=pl.Int64).alias("__idx")])
    # 2. typed parsing; a value that is present but does not parse is a bad row
    typed, checks = _typed_columns(schema, res, decimal_comma)
    checks.insert(0, long_values(lf.collect_schema().names(), schema, ctx.max_value_bytes, res))
    lf = lf.with_columns([e.alias(f"__typed_{e.meta.output_name()}") for e in typed])
    # in-memory: on a chunk the streaming engine's threads cost more than they bring (the 1M
    # ingest benchmark runs ~0.2 s faster)
    times = [c.name for c in schema.input_columns if c.dtype == TIMESTAMP and not c.sensitive]
    df = fill_timestamps(lf.collect(engine="in-memory"), times)
    df = fill_end_of_day(df, [c.name for c in schema.input_columns if c.end_of_day])
    df, phones = unguarded_phones(df, schema)
    df, guarded = repaired_numbers(
        _blank_values(df, schema),
        schema,
        lambda c: _parse(c.dtype, respell(pl.col(c.name), decimal_comma, c.clock), decimal_comma),
    )
    df = mark_local_dates(df, times, schema)
    df = (
        drop_flags(_flag(df, checks))
        .drop([c.name for c in schema.input_columns if not c.sensitive and c.dtype != STRING])
        .rename({f"__typed_{e.meta.output_name()}": e.meta.output_name() for e in typed})
    )
    df = df.with_columns(pl.Series("source_row", source_rows, pl.Int64))
    # 3. per-kind derivations and impossible-value checks
    derive = DERIVERS.get(schema.kind)
    if derive is not None:
        df, more = derive(df)
        df = _flag(df, more, existing=True)

    # 4. lineage
    df = df.with_columns(
        pl.lit(ctx.source_kind).alias("source_kind"),
        pl.lit(ctx.source_file).alias("source_file"),
        pl.lit(ctx.run_id).alias("run_id"),
        pl.lit(ctx.ingested_at).cast(POLARS_TYPES[TIMESTAMP]).alias("ingested_at"),
        pl.lit(ctx.load_seq, pl.Int64).alias("load_seq"),
    )
    if "extra" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("extra"))

    flagged = df["__reason"].is_not_null()
    bad = df.filter(flagged).select(
        "__idx", pl.col("__reason").alias("reason"), pl.col("__detail").alias("detail")
    )
    keep = [c.name for c in schema.stored_columns]
    if schema.partition_by:
        keep.append(schema.partition_by)
    if bad.height:  # filtering copies every column: only when there is something to drop
        df = df.filter(~flagged)
    good = df.select([pl.col(n).cast(POLARS_TYPES[schema.column(n).dtype]) for n in keep])
    return NormalizeResult(good, bad, guarded | phones)


def _flag(df: pl.DataFrame, checks: list[Check], existing: bool = False) -> pl.DataFrame:
    """Set `__reason`/`__detail` to the first failing check of each row (keeping earlier).
    A detail is set only where its check fails: in a chunk where none does (the usual one)
    every detail is NULL, and the checks are not evaluated again to build them (that took a
    seventh of normalizing a chunk)."""
    reasons: list[pl.Expr] = [pl.when(c.bad).then(pl.lit(c.reason)) for c in checks]
    details: list[pl.Expr] = [pl.when(c.bad).then(c.detail) for c in checks]
    if existing:
        reasons.insert(0, pl.col("__reason"))
        details.insert(0, pl.col("__detail"))
    if not reasons:
        return df.with_columns(
            pl.lit(None, pl.String).alias("__reason"), pl.lit(None, pl.String).alias("__detail")
        )
    df = df.with_columns(pl.coalesce(reasons).cast(pl.String).alias("__reason"))
    if df["__reason"].null_count() == df.height:
        return df.with_columns(pl.lit(None, pl.String).alias("__detail"))
    return df.with_columns(pl.coalesce(details).cast(pl.String).alias("__detail"))
