"""Rules for DuckDB functions and operators Spark spells differently or computes otherwise
(the list and the reasons are in `cdr_pipeline.spark.rewrite` and docs/spark.md)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from cdr_pipeline.spark.errors import RewriteError

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
    instant (DuckDB tells them by type: TIMESTAMPTZ / TIMESTAMP). The wall clock is a
    TIMESTAMP_NTZ, as DuckDB's TIMESTAMP: `from_utc_timestamp` alone is an instant that
    shows that clock in a UTC session only, and was written as an instant (a view's local
    times read in another session zone showed other hours)."""
    if not (isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone"):
        return node
    zone, value = node.expressions
    if isinstance(value, exp.Cast) and value.to.this in _WALL_CLOCK:
        return _fn("to_utc_timestamp", value, zone)
    local = _fn("from_utc_timestamp", value, zone)
    return exp.Cast(this=local, to=exp.DataType.build("timestamp_ntz", dialect="spark"))


def variables_to_spark(node: exp.Expr) -> exp.Expr:
    """`getvariable(name)` (a DuckDB session variable: `cdr report --month` names the month
    its views may read, `sql/_macros.sql` in_report_days) -> NULL: Spark sessions set none,
    so the views read every month there, as DuckDB's do without the variable."""
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "getvariable":
        return exp.Null()
    return node


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


def strptime_to_spark(node: exp.Expr) -> exp.Expr:
    """`strptime(text, fmt)` -> `to_timestamp(text, pattern)`, the pattern built like
    strftime's (sqlglot's own translation leaves DuckDB letters such as %g and an unquoted T
    in the Java pattern)."""
    if not isinstance(node, exp.StrToTime):
        return node
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise RewriteError("strptime: the format must be a string literal")
    return _fn("to_timestamp", node.this, exp.Literal.string(strftime_pattern(fmt.this)))


def epoch_to_spark(node: exp.Expr) -> exp.Expr:
    """`epoch_ms(ts)` -> the rounded `unix_micros(ts)` in milliseconds (`_epoch_ms`), and
    `epoch_us(ts)` -> `unix_micros(ts)`. sqlglot reads both as the
    number-to-timestamp overload; the portable subset uses only the timestamp-to-number one,
    so a number literal argument is the only case kept as `timestamp_millis`.
    `epoch(ts)` is DuckDB's seconds with their fraction (a DOUBLE); sqlglot writes Spark's
    `unix_timestamp`, which drops the fraction, so a difference of two epochs could be a
    second off and a whole-day count built on it (rpt_reclaim_candidates) a day off."""
    if isinstance(node, exp.TimeToUnix):
        micros = exp.Cast(this=_fn("unix_micros", node.this), to=_DOUBLE.copy())
        return exp.paren(exp.Div(this=micros, expression=exp.Literal.number(1000000)))
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":
        return _fn("unix_micros", *node.expressions)
    if not isinstance(node, exp.UnixToTime):
        return node
    scale = node.args.get("scale")
    scale_value = int(scale.this) if isinstance(scale, exp.Literal) else 0
    names = {3: ("unix_millis", "timestamp_millis"), 6: ("unix_micros", "timestamp_micros")}
    if scale_value not in names:
        raise RewriteError("epoch functions: only epoch_ms and epoch_us are supported")
    to_number, to_timestamp = names[scale_value]
    arg = node.this
    if isinstance(arg, exp.Literal) and not arg.is_string:
        return _fn(to_timestamp, arg)
    if scale_value == 3:
        return _epoch_ms(arg)
    return _fn(to_number, arg)


def _epoch_ms(ts: exp.Expr) -> exp.Expr:
    """DuckDB's `epoch_ms(ts)` rounds the microseconds to the nearest millisecond (half away
    from zero: .123500 is ...124); Spark's `unix_millis` cuts them (...123), so a stored
    microsecond timestamp (docs/webex-dch.md) gave another millisecond. Spark's `round` of a
    BIGINT to -3 digits rounds the integer exactly, half away from zero."""
    rounded = _fn("round", _fn("unix_micros", ts), exp.Literal.number(-3))
    return exp.paren(exp.IntDiv(this=rounded, expression=exp.Literal.number(1000)))


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
    if unit == "DAY":  # Spark's datediff is INT, DuckDB's BIGINT
        days = _fn(
            "datediff",
            exp.Cast(this=end, to=exp.DataType.build("date")),
            exp.Cast(this=start, to=exp.DataType.build("date")),
        )
        return exp.Cast(this=days, to=exp.DataType.build("bigint"))
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


def _is_decimal(node: exp.Expr) -> bool:
    """A value of DECIMAL type: a cast to DECIMAL, or a product, sum or difference of them."""
    if isinstance(node, exp.Paren):
        return _is_decimal(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this == exp.DataType.Type.DECIMAL
    if isinstance(node, (exp.Mul, exp.Add, exp.Sub)):
        return _is_decimal(node.this) and _is_decimal(node.expression)
    return False


def round_to_spark(node: exp.Expr) -> exp.Expr:
    """`round(x, n)` as DuckDB rounds a double (see `_ROUND_TEMPLATE`); a decimal `x` (the
    `cents` macro's money) is left to Spark's round, which rounds it half up as DuckDB does."""
    if not isinstance(node, exp.Round) or _is_decimal(node.this):
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


def arg_extreme_to_spark(node: exp.Expr) -> exp.Expr:
    """`arg_max(v, o)` -> `max_by(v, CASE WHEN v IS NOT NULL THEN o END)` (and arg_min).
    DuckDB skips the rows whose value is NULL; Spark's max_by returns the value of the
    extreme row even when it is NULL (a call whose first leg has no Location had no
    location in Spark's fct_calls). Both skip rows whose ordering is NULL, so a NULL
    ordering for a NULL value gives DuckDB's answer. A row value `(a, b)` as the ordering
    becomes `struct(a, b)` (Spark compares structs field by field)."""
    if not isinstance(node, (exp.ArgMax, exp.ArgMin)) or node.args.get("count") is not None:
        return node
    node = node.copy()
    ordering = node.expression
    if isinstance(ordering, exp.Tuple):
        ordering = exp.Struct(expressions=ordering.expressions)
    guard = exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null()))
    node.set("expression", exp.Case(ifs=[exp.If(this=guard, true=ordering)]))
    return node


_BIGINT = exp.DataType.build("bigint")
_BIGINT_FUNCTIONS = (
    exp.Hour,
    exp.Minute,
    exp.Second,
    exp.Year,
    exp.Quarter,
    exp.Month,
    exp.Week,
    exp.Day,
    exp.DayOfMonth,
    exp.DayOfWeek,
    exp.DayOfYear,
    exp.Length,
)
_BIGINT_WINDOWS = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile)


def bigint_results_to_spark(node: exp.Expr) -> exp.Expr:
    """DuckDB's `hour()` (and the other date parts, `length`) and `row_number()` (`rank`,
    `dense_rank`, `ntile`) are BIGINT, Spark's INT: cast, so a view's column has DuckDB's
    type (a BIGINT `start_hour_local` or `code_seq` was written as INT32 by Spark)."""
    ranking = isinstance(node, exp.Window) and isinstance(node.this, _BIGINT_WINDOWS)
    if ranking or isinstance(node, _BIGINT_FUNCTIONS):
        return exp.Cast(this=node.copy(), to=_BIGINT.copy())
    return node


_LTZ = exp.DataType.build("timestamp_ltz", dialect="spark")


def instant_type_to_spark(node: exp.Expr) -> exp.Expr:
    """DuckDB's TIMESTAMPTZ (an instant) -> `TIMESTAMP_LTZ`, not the bare `TIMESTAMP` sqlglot
    writes: that means TIMESTAMP_NTZ (a wall clock) in a session with
    `spark.sql.timestampType=TIMESTAMP_NTZ`, and every instant column of the view tables was
    then written as a wall clock, which a reader outside UTC takes for other instants."""
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.TIMESTAMPTZ:
        return _LTZ.copy()
    return node
