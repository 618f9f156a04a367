"""The project's own rewrite of its DuckDB view SQL into Spark SQL (on top of sqlglot).

sqlglot transpiles most of the views, but some DuckDB constructs have no Spark spelling and
some it translates into valid Spark SQL that means something else (see docs/spark.md). Each
rule below handles one construct on the parsed DuckDB tree, before sqlglot writes Spark SQL;
the rules assume the Spark session time zone is UTC (as `cdr_pipeline.spark.session` sets
it). A construct no rule can express raises `RewriteError` naming it, never a guess.

- macros of `sql/_macros.sql` are expanded in place (Spark has no macros);
- `ASOF LEFT JOIN r ON l.k = r.k AND l.t >= r.t` becomes a LEFT JOIN whose right side carries
  the next `r.t` of its key (`LEAD`) as the upper bound of the match;
- `timezone(zone, ts)`: `from_utc_timestamp` for an instant, `to_utc_timestamp` for a wall
  clock (a `CAST(... AS TIMESTAMP)` argument);
- `to_days/to_hours/to_minutes/to_seconds(n)` become `make_dt_interval`;
- `'infinity'` / `'-infinity'` timestamps become the largest / smallest timestamp;
- `any_value(x)` skips NULLs in DuckDB: `any_value(x, true)`;
- `strftime(ts, fmt)` becomes `date_format` with the Java pattern of each `%` letter;
- `epoch_ms(ts)` (timestamp to milliseconds) becomes `unix_millis(ts)`: sqlglot reads it as
  the opposite overload (milliseconds to timestamp), silently;
- `list(distinct x order by x)` becomes `array_sort(collect_set(x))`: sqlglot drops the order;
- `datediff('day', a, b)` counts midnights in DuckDB: `datediff(cast(b as date), cast(a as
  date))`; sub-second units subtract `unix_millis` / `unix_seconds` / `unix_micros`;
- `/` divides in floating point in DuckDB (Spark divides decimals exactly): the dividend is
  cast to DOUBLE; `round(x, n)` rounds that double's exact binary value as DuckDB does
  (Spark's own `round` of a double rounds its shortest decimal text: 10.95 gives 11.0);
- a row value `(a, b)` as the ordering of `arg_max` / `arg_min` becomes `struct(a, b)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from cdr_pipeline.warehouse.catalog import ViewError


class RewriteError(ViewError):
    """A view uses a construct the Spark rewrite cannot express (exit 3, naming the view)."""


# ---------------------------------------------------------------------------------- macros


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...]
    body: exp.Expr


_MACRO = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?macro\s+([A-Za-z_][A-Za-z0-9_]*)"
    r"\s*\(([^)]*)\)\s+as\s+(.+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def parse_macros(statements: list[str]) -> dict[str, Macro]:
    """Scalar macros from `create [or replace] macro name(a, b) as expr` statements
    (already split, comments allowed). A table macro or another statement is an error."""
    macros: dict[str, Macro] = {}
    for statement in statements:
        text = _strip_comments(statement).strip()
        if not text:
            continue
        match = _MACRO.match(text)
        if not match or match.group(3).lower().startswith("table"):
            raise RewriteError(
                f"sql/_macros.sql: not a scalar macro: {text[:60]}...",
                hint="only `create or replace macro name(args) as <expression>;` is portable",
            )
        name, params, body = match.groups()
        macros[name.lower()] = Macro(
            name.lower(),
            tuple(p.strip().lower() for p in params.split(",") if p.strip()),
            sqlglot.parse_one(body, read="duckdb"),
        )
    return macros


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))


def expand_macros(tree: exp.Expr, macros: dict[str, Macro]) -> exp.Expr:
    """Every call of a macro replaced by its body with the arguments substituted."""

    def expand(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Anonymous):
            return node
        macro = macros.get(str(node.this).lower())
        if macro is None:
            return node
        if len(node.expressions) != len(macro.params):
            raise RewriteError(
                f"macro {macro.name} takes {len(macro.params)} arguments, "
                f"got {len(node.expressions)}"
            )
        args = dict(zip(macro.params, node.expressions, strict=True))

        def substitute(inner: exp.Expr) -> exp.Expr:
            if isinstance(inner, exp.Column) and not inner.table and inner.name.lower() in args:
                return _grouped(args[inner.name.lower()].copy())
            return inner

        return _grouped(expand_macros(macro.body.copy().transform(substitute), macros))

    return tree.transform(expand)


def _grouped(node: exp.Expr) -> exp.Expr:
    """`node` in parentheses unless it is atomic: a macro is one operand where it is used."""
    if isinstance(node, (exp.Func, exp.Column, exp.Literal, exp.Paren, exp.Cast)):
        return node
    return exp.paren(node)


# ------------------------------------------------------------------------------ ASOF joins

_ASOF_UPPER = "__asof_upper"
_FLIP: dict[type[exp.Expr], type[exp.Binary]] = {
    exp.GTE: exp.LTE,
    exp.GT: exp.LT,
    exp.LTE: exp.GTE,
    exp.LT: exp.GT,
}


def _asof_parts(on: exp.Expr, right: str) -> tuple[list[exp.Column], exp.Expr, exp.Column, bool]:
    """(right-side equality keys, left time, right time, strict) of an ASOF condition."""
    keys: list[exp.Column] = []
    inequality: tuple[exp.Expr, exp.Column, bool] | None = None
    for cond in on.flatten() if isinstance(on, exp.And) else [on]:
        if isinstance(cond, exp.EQ):
            side = [c for c in (cond.this, cond.expression) if _is_of(c, right)]
            if len(side) != 1:
                raise RewriteError(f"ASOF join: cannot tell the keys of {cond.sql('duckdb')}")
            keys.append(side[0])
            continue
        if type(cond) not in _FLIP or inequality is not None:
            raise RewriteError(f"ASOF join: unsupported condition {cond.sql('duckdb')}")
        # normalise to `left >= right` / `left > right`
        if _is_of(cond.expression, right) and not _is_of(cond.this, right):
            left, r_time, op = cond.this, cond.expression, type(cond)
        else:
            left, r_time, op = cond.expression, cond.this, _FLIP[type(cond)]
        if op not in (exp.GTE, exp.GT) or not isinstance(r_time, exp.Column):
            raise RewriteError(f"ASOF join: only >= or > is supported: {cond.sql('duckdb')}")
        inequality = (left, r_time, op is exp.GT)
    if inequality is None:
        raise RewriteError("ASOF join without an inequality")
    return keys, *inequality


def _is_of(node: exp.Expr, alias: str) -> bool:
    return isinstance(node, exp.Column) and node.table.lower() == alias


def asof_to_left_join(node: exp.Expr) -> exp.Expr:
    """`l ASOF LEFT JOIN r ON keys AND l.t >= r.t` -> `l LEFT JOIN (r + LEAD(r.t) as upper
    bound) ON keys AND l.t >= r.t AND (upper IS NULL OR l.t < upper)`. Of right rows tied on
    (keys, t) the last one wins (DuckDB picks one of them)."""
    if not isinstance(node, exp.Join) or str(node.args.get("method") or "").upper() != "ASOF":
        return node
    if str(node.args.get("side") or "").upper() not in ("LEFT", ""):
        raise RewriteError("ASOF join: only ASOF [LEFT] JOIN is supported")
    target = node.this
    alias = target.alias_or_name.lower()
    keys, left_time, right_time, strict = _asof_parts(node.args["on"], alias)
    partition = ", ".join(k.name for k in keys)
    window = f"LEAD({right_time.name}) OVER (PARTITION BY {partition} ORDER BY {right_time.name})"
    inner = target.copy()
    if isinstance(inner, exp.Table):
        inner.set("alias", None)
        source = inner.sql("duckdb")
    else:
        source = f"({inner.unalias().this.sql('duckdb')})"
    select = sqlglot.parse_one(
        f"select *, {window} as {_ASOF_UPPER} from {source} as {alias}__asof", read="duckdb"
    )
    sub = exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    upper = exp.column(_ASOF_UPPER, alias)
    bound = exp.LTE if strict else exp.LT
    extra = exp.or_(
        exp.Is(this=upper, expression=exp.Null()), bound(this=left_time, expression=upper)
    )
    join = node.copy()
    join.set("method", None)
    join.set("side", "LEFT")
    join.set("this", sub)
    join.set("on", exp.and_(node.args["on"].copy(), exp.paren(extra)))
    return join


# ------------------------------------------------------------------------- scalar functions

_INTERVALS = {"to_days": 0, "to_hours": 1, "to_minutes": 2, "to_seconds": 3}
_INFINITY = {"infinity": "9999-12-31 23:59:59.999999", "-infinity": "0001-01-01 00:00:00"}
_WALL_CLOCK = (
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPNTZ,
    exp.DataType.Type.DATETIME,
)


def _fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def timezone_to_spark(node: exp.Expr) -> exp.Expr:
    """`timezone(zone, instant)` -> the wall clock there; `timezone(zone, wall clock)` -> the
    instant (DuckDB tells them by type: TIMESTAMPTZ / TIMESTAMP)."""
    if not (isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone"):
        return node
    zone, value = node.expressions
    wall_clock = isinstance(value, exp.Cast) and value.to.this in _WALL_CLOCK
    return _fn("to_utc_timestamp" if wall_clock else "from_utc_timestamp", value, zone)


def intervals_to_spark(node: exp.Expr) -> exp.Expr:
    """`to_days(n)` etc. -> `make_dt_interval(days, hours, mins, secs)` (exact 24 h days,
    which is what DuckDB adds in a UTC session)."""
    if isinstance(node, exp.ToDays):
        name, arg = "to_days", node.this
    elif isinstance(node, exp.Anonymous) and str(node.this).lower() in _INTERVALS:
        name, arg = str(node.this).lower(), node.expressions[0]
    else:
        return node
    parts: list[exp.Expr] = [exp.Literal.number(0) for _ in range(4)]
    parts[_INTERVALS[name]] = arg
    return _fn("make_dt_interval", *parts)


def infinity_to_spark(node: exp.Expr) -> exp.Expr:
    """`'infinity'::timestamp` -> the largest timestamp Spark holds (and '-infinity')."""
    if (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Literal)
        and node.this.is_string
        and node.this.this.lower() in _INFINITY
    ):
        return exp.Cast(this=exp.Literal.string(_INFINITY[node.this.this.lower()]), to=node.to)
    return node


def any_value_to_spark(node: exp.Expr) -> exp.Expr:
    """DuckDB's `any_value` skips NULLs; Spark's does when its second argument is true."""
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        return _fn("any_value", node.this.this, exp.true())
    if isinstance(node, exp.AnyValue) and not isinstance(node.parent, exp.IgnoreNulls):
        return _fn("any_value", node.this, exp.true())
    return node


_STRFTIME = {
    "Y": "yyyy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "M": "mm",
    "S": "ss",
    "g": "SSS",
    "f": "SSSSSS",
    "y": "yy",
    "b": "MMM",
    "B": "MMMM",
    "a": "EEE",
    "A": "EEEE",
    "j": "DDD",
    "%": "%",
}


def strftime_pattern(fmt: str) -> str:
    """The Java `date_format` pattern of a DuckDB strftime format (literal text quoted)."""
    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            text = "".join(literal).replace("'", "''")
            out.append(text if text.isspace() or all(c in "-:./ ," for c in text) else f"'{text}'")
            literal.clear()

    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            letter = fmt[i + 1]
            if letter not in _STRFTIME:
                raise RewriteError(f"strftime: %{letter} has no Spark equivalent here")
            flush()
            out.append(_STRFTIME[letter])
            i += 2
        else:
            literal.append(fmt[i])
            i += 1
    flush()
    return "".join(out)


def strftime_to_spark(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, exp.TimeToStr):
        return node
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise RewriteError("strftime: the format must be a string literal")
    return _fn("date_format", node.this, exp.Literal.string(strftime_pattern(fmt.this)))


def epoch_to_spark(node: exp.Expr) -> exp.Expr:
    """`epoch_ms(ts)` -> `unix_millis(ts)` (and `epoch_us`). sqlglot reads both as the
    number-to-timestamp overload; the portable subset uses only the timestamp-to-number one,
    so a number literal argument is the only case kept as `timestamp_millis`."""
    if not isinstance(node, exp.UnixToTime):
        return node
    scale = node.args.get("scale")
    scale_value = int(scale.this) if isinstance(scale, exp.Literal) else 0
    names = {3: ("unix_millis", "timestamp_millis"), 6: ("unix_micros", "timestamp_micros")}
    if scale_value not in names:
        raise RewriteError("epoch functions: only epoch_ms and epoch_us are supported")
    to_number, to_timestamp = names[scale_value]
    arg = node.this
    is_number = isinstance(arg, exp.Literal) and not arg.is_string
    return _fn(to_timestamp if is_number else to_number, arg)


def sorted_list_to_spark(node: exp.Expr) -> exp.Expr:
    """`list(distinct x order by x [desc])` -> `array_sort(collect_set(x))` [reversed].
    Spark's `collect_set` skips NULLs: the portable subset lists non-NULL values only."""
    if not isinstance(node, exp.ArrayAgg):
        return node
    inner = node.this
    if not isinstance(inner, exp.Order):
        if isinstance(inner, exp.Distinct):
            return _fn("array_sort", _fn("collect_set", inner.expressions[0]))
        return node
    value = inner.this
    orders = inner.expressions
    if not isinstance(value, exp.Distinct) or len(orders) != 1 or len(value.expressions) != 1:
        raise RewriteError("list(... order by ...): only list(distinct x order by x) is portable")
    item = value.expressions[0]
    if orders[0].this != item:
        raise RewriteError("list(distinct x order by y): order by the listed value itself")
    result = _fn("array_sort", _fn("collect_set", item.copy()))
    return _fn("reverse", result) if orders[0].args.get("desc") else result


_DIFF_EPOCH = {"MILLISECOND": "unix_millis", "SECOND": "unix_seconds", "MICROSECOND": "unix_micros"}


def datediff_to_spark(node: exp.Expr) -> exp.Expr:
    """DuckDB's datediff counts unit boundaries between the two values."""
    if not isinstance(node, exp.DateDiff):
        return node
    unit = str(node.args.get("unit") or "DAY").upper()
    start, end = node.expression, node.this
    if unit == "DAY":
        return _fn(
            "datediff",
            exp.Cast(this=end, to=exp.DataType.build("date")),
            exp.Cast(this=start, to=exp.DataType.build("date")),
        )
    if unit in _DIFF_EPOCH:
        epoch = _DIFF_EPOCH[unit]
        return exp.paren(exp.Sub(this=_fn(epoch, end), expression=_fn(epoch, start)))
    raise RewriteError(f"datediff('{unit.lower()}', ...) has no portable form here")


_DOUBLE = exp.DataType.build("double")


def _as_double(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE:
        return node
    return exp.Cast(this=node, to=_DOUBLE.copy())


def division_to_spark(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Div):
        return exp.Div(this=_as_double(node.this), expression=node.expression)
    return node


# DuckDB rounds the exact binary value of a double (round(10.95, 1) = 10.9, as 10.95 is
# stored as 10.9499999...); Spark's round rounds its shortest decimal text half up (11.0).
# Spark gets DuckDB's answer from round(v * 10^n), corrected by one where v * 10^n looks
# like a tie k.5 but the exact product is not: its sign is that of the rounding error of the
# product, computed exactly by splitting v in two halves (Dekker). Checked against DuckDB
# on tens of thousands of values (tests/spark/test_rewrite.py runs both engines).
_ROUND_TEMPLATE = """
transform(array(__round_arg), __v -> (
  round(__v * {m}) + CASE
    WHEN abs(__v * {m}) - floor(abs(__v * {m})) <> 0.5 THEN 0
    WHEN __v >= 0 AND (((__v * 134217729.0 - (__v * 134217729.0 - __v)) * {m} - __v * {m})
      + (__v - (__v * 134217729.0 - (__v * 134217729.0 - __v))) * {m}) < 0 THEN -1
    WHEN __v < 0 AND (((__v * 134217729.0 - (__v * 134217729.0 - __v)) * {m} - __v * {m})
      + (__v - (__v * 134217729.0 - (__v * 134217729.0 - __v))) * {m}) > 0 THEN 1
    ELSE 0
  END) / {m})[0]
"""


def round_to_spark(node: exp.Expr) -> exp.Expr:
    """`round(x, n)` as DuckDB rounds a double (see `_ROUND_TEMPLATE`)."""
    if not isinstance(node, exp.Round):
        return node
    decimals = node.args.get("decimals")
    if decimals is None:
        decimals = exp.Literal.number(0)
    if not (isinstance(decimals, exp.Literal) and not decimals.is_string):
        raise RewriteError("round(x, n): n must be a number literal")
    n = int(decimals.this)
    if not 0 <= n <= 15:
        raise RewriteError("round(x, n): n must be between 0 and 15")
    template = sqlglot.parse_one(_ROUND_TEMPLATE.format(m=f"{10**n}.0"), read="spark")
    value = _as_double(node.this)

    def fill(inner: exp.Expr) -> exp.Expr:
        if isinstance(inner, exp.Column) and inner.name == "__round_arg":
            return value.copy()
        return inner

    return exp.paren(template.transform(fill))


def row_ordering_to_spark(node: exp.Expr) -> exp.Expr:
    """`arg_max(v, (a, b))` -> `max_by(v, struct(a, b))` (Spark compares structs field by field)."""
    if isinstance(node, (exp.ArgMax, exp.ArgMin)) and isinstance(node.expression, exp.Tuple):
        node = node.copy()
        node.set("expression", exp.Struct(expressions=node.expression.expressions))
    return node


RULES: tuple[Callable[[exp.Expr], exp.Expr], ...] = (
    asof_to_left_join,
    timezone_to_spark,
    intervals_to_spark,
    infinity_to_spark,
    any_value_to_spark,
    strftime_to_spark,
    epoch_to_spark,
    sorted_list_to_spark,
    datediff_to_spark,
    round_to_spark,
    division_to_spark,
    row_ordering_to_spark,
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
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except ParseError as exc:
        raise RewriteError(f"{origin}: sqlglot cannot parse the view: {exc}") from exc


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
