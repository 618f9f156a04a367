"""The project's own rewrite of its DuckDB view SQL into Spark SQL (on top of sqlglot).

sqlglot transpiles most of the views, but some DuckDB constructs have no Spark spelling and
some it translates into valid Spark SQL that means something else (see docs/spark.md). Each
rule below handles one construct on the parsed DuckDB tree, before sqlglot writes Spark SQL;
the rules assume the Spark session time zone is UTC (as `cdr_pipeline.spark.session` sets
it). A construct no rule can express raises `RewriteError` naming it, never a guess.

- macros of `sql/_macros.sql` are expanded in place (Spark has no macros);
- `getvariable(name)` becomes NULL: a Spark session sets no DuckDB variable (the views
  read every month, as DuckDB's do when `cdr report --month` has not set one);
- `ASOF LEFT JOIN r ON l.k = r.k AND l.t >= r.t` becomes a LEFT JOIN whose right side carries
  the next `r.t` of its key (`LEAD`) as the upper bound of the match;
- `timezone(zone, ts)`: `from_utc_timestamp` cast to TIMESTAMP_NTZ (a wall clock, as
  DuckDB's TIMESTAMP) for an instant, `to_utc_timestamp` for a wall clock (a `CAST(... AS
  TIMESTAMP)` argument);
- `to_days/to_hours/to_minutes/to_seconds(n)` become `make_dt_interval`;
- `'infinity'` / `'-infinity'` timestamps become the largest / smallest timestamp;
- `any_value(x)` skips NULLs in DuckDB: `any_value(x, true)`;
- `strftime(ts, fmt)` becomes `date_format` with the Java pattern of each `%` letter;
- `epoch_ms(ts)` (timestamp to milliseconds) becomes `unix_micros(ts)` rounded to the
  millisecond as DuckDB rounds it (half away from zero; `unix_millis` cuts): sqlglot reads
  it as the opposite overload (milliseconds to timestamp), silently;
- `epoch(ts)` becomes `unix_micros(ts) / 1e6`: sqlglot's `unix_timestamp` drops the fraction
  of a second DuckDB keeps, silently;
- `list(distinct x order by x)` becomes `array_sort(collect_set(x))`: sqlglot drops the order;
- `datediff('day', a, b)` counts midnights in DuckDB: `datediff(cast(b as date), cast(a as
  date))`; sub-second units subtract `unix_millis` / `unix_seconds` / `unix_micros`;
- `/` divides in floating point in DuckDB (Spark divides decimals exactly): the dividend is
  cast to DOUBLE; `round(x, n)` rounds that double's exact binary value as DuckDB does
  (Spark's own `round` of a double rounds its shortest decimal text: 10.95 gives 11.0); a
  round of a DECIMAL amount (money, the `cents` macro) stays Spark's: both round it half up;
- `hour()` and the other date parts, `length`, `row_number()`, `rank`, `dense_rank` and
  `ntile` are BIGINT in DuckDB, INT in Spark: cast to BIGINT (as `datediff` in days);
- `arg_max(v, o)` / `arg_min` skip rows whose `v` is NULL in DuckDB: `max_by(v, CASE WHEN v
  IS NOT NULL THEN o END)`; a row value `(a, b)` as the ordering becomes `struct(a, b)`.
- `TIMESTAMPTZ` (an instant) is written `TIMESTAMP_LTZ`: a bare `TIMESTAMP` is a wall clock
  in a session with `spark.sql.timestampType=TIMESTAMP_NTZ`.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from cdr_pipeline.spark.asof import asof_to_left_join
from cdr_pipeline.spark.errors import RewriteError
from cdr_pipeline.spark.functions import (
    any_value_to_spark,
    arg_extreme_to_spark,
    bigint_results_to_spark,
    datediff_to_spark,
    division_to_spark,
    epoch_to_spark,
    infinity_to_spark,
    instant_type_to_spark,
    intervals_to_spark,
    round_to_spark,
    sorted_list_to_spark,
    strftime_pattern,
    strftime_to_spark,
    strptime_to_spark,
    timezone_to_spark,
    variables_to_spark,
)
from cdr_pipeline.spark.macros import Macro, expand_macros, parse_macros

RULES: tuple[Callable[[exp.Expr], exp.Expr], ...] = (
    asof_to_left_join,
    variables_to_spark,
    timezone_to_spark,
    intervals_to_spark,
    infinity_to_spark,
    any_value_to_spark,
    strftime_to_spark,
    strptime_to_spark,
    epoch_to_spark,
    sorted_list_to_spark,
    datediff_to_spark,
    round_to_spark,
    division_to_spark,
    arg_extreme_to_spark,
    bigint_results_to_spark,
    instant_type_to_spark,
)
"""Applied in this order, each over the whole tree (round before division: it divides)."""


def apply_rule(tree: exp.Expr, rule: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """`rule` applied bottom-up to every node of `tree` (children first, so nested
    constructs are rewritten too; what a rule builds is not visited again)."""
    root = tree
    for node in reversed(list(tree.dfs())):
        new = rule(node)
        if new is node:
            continue
        if node is root:
            root = new
        else:
            node.replace(new)
    return root


def parse_duckdb(sql: str, origin: str) -> exp.Expr:
    """The view's tree; SQL sqlglot cannot read fails naming the file's line and the token,
    on one line (sqlglot's own text quotes the SQL around it over several lines, with
    terminal escapes underlining the token, which a one-line message printed escaped)."""
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f"{origin} line {first['line']}" if first.get("line") else origin
        said = first.get("description") or str(exc).splitlines()[0]
        near = f" at '{first['highlight']}'" if first.get("highlight") else ""
        raise RewriteError(f"{where}: sqlglot cannot parse the view: {said}{near}") from exc


def rewrite_for_spark(tree: exp.Expr, macros: dict[str, Macro]) -> exp.Expr:
    """The DuckDB tree with macros expanded and every rule applied (still a sqlglot tree)."""
    tree = expand_macros(tree, macros)
    for rule in RULES:
        tree = apply_rule(tree, rule)
    return tree


def to_spark(sql: str, macros: dict[str, Macro] | None = None, origin: str = "sql") -> str:
    """Spark SQL of one DuckDB SELECT statement of the portable subset."""
    tree = parse_duckdb(sql, origin)
    try:
        tree = rewrite_for_spark(tree, macros or {})
    except RewriteError as exc:
        raise RewriteError(f"{origin}: {exc.message}", hint=exc.hint) from exc
    return tree.sql(dialect="spark", pretty=True)


def to_duckdb(sql: str, macros: dict[str, Macro] | None = None, origin: str = "sql") -> str:
    """DuckDB SQL with the macros expanded (the text unchanged when it calls none)."""
    tree = parse_duckdb(sql, origin)
    names = set(macros or {})
    if not any(str(f.this).lower() in names for f in tree.find_all(exp.Anonymous)):
        return sql
    return expand_macros(tree, macros or {}).sql(dialect="duckdb", pretty=True)


__all__ = [
    "RULES",
    "Macro",
    "RewriteError",
    "apply_rule",
    "parse_macros",
    "strftime_pattern",
    "to_duckdb",
    "to_spark",
]
