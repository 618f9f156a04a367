"""The Spark rewrite, construct by construct: the Spark SQL it writes, and (on a local Spark
session) that Spark computes what DuckDB computes, including where plain sqlglot
transpilation runs but answers differently."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest
import sqlglot

from cdr_pipeline.resources import sql_dir
from cdr_pipeline.spark.rewrite import (
    RewriteError,
    parse_macros,
    strftime_pattern,
    to_duckdb,
    to_spark,
)
from cdr_pipeline.spark.views import load_macros

T0 = "cast('2026-10-05 06:34:56.123' as timestamptz)"

# (construct, DuckDB query). Each must give the same rows in DuckDB and, rewritten, in Spark.
CASES: dict[str, str] = {
    "epoch_ms of a timestamp": f"select epoch_ms({T0}) as v, epoch_us({T0}) as u",
    # stored timestamps keep microseconds: DuckDB rounds them to the millisecond, half away
    # from zero (unix_millis cut them: fct_webex_go_device_choices orders devices by it)
    "epoch_ms rounds microseconds": (
        "select t, epoch_ms(cast(t as timestamptz)) as ms from (values"
        " ('2026-10-05 06:34:56.123499+00'), ('2026-10-05 06:34:56.1235+00'),"
        " ('2026-10-05 06:34:56.123999+00'), ('1969-12-31 23:59:59.9996+00'),"
        " ('1969-12-31 23:59:59.9995+00'), ('1969-12-31 23:59:59.998501+00')) v(t) order by t"
    ),
    # rpt_reclaim_candidates' days_since: 29 days 23:59:59.5 are 29 whole days, not 30
    "epoch keeps the fraction of a second": (
        "select cast(floor((epoch(cast('2026-10-31 10:00:00.100' as timestamptz))"
        " - epoch(cast('2026-10-01 10:00:00.600' as timestamptz))) / 86400) as bigint) as days,"
        f" epoch({T0}) as v"
    ),
    # no variable set: NULL in both (cdr report --month sets one in DuckDB only)
    "unset session variable": "select getvariable('cdr_report_month') is null as v",
    # 26 letters in reverse, twice: an unordered list comes out sorted by chance 1 in 26!
    "sorted distinct list": (
        "select list(distinct x order by x) as v from (values "
        + ", ".join(f"('{chr(c)}')" for c in [*range(122, 96, -1), *range(122, 96, -1)])
        + ") t(x)"
    ),
    "sorted distinct list, descending": (
        "select list(distinct x order by x desc) as v from (values (2), (1), (3), (1)) t(x)"
    ),
    "datediff in days counts midnights": (
        "select datediff('day', cast('2026-10-05 23:00:00' as timestamptz), "
        "cast('2026-10-06 01:00:00' as timestamptz)) as v"
    ),
    "datediff in milliseconds": (
        "select datediff('millisecond', cast('2026-10-05 00:00:00.0009' as timestamptz), "
        "cast('2026-10-05 00:00:01.5001' as timestamptz)) / 1000.0 as v"
    ),
    "round of a quotient (657 s = 10.95 min)": (
        "select round(sum(s) / 60.0, 1) as v, round(sum(s) / 7.0, 2) as w "
        "from (values (600), (57)) t(s)"
    ),
    "division is floating point": "select 7 / 2 as a, 1 / 3.0 as b",
    # the reconciliation's money (sql/_macros.sql, cents): the decimal amount rounds half up
    # (2.675 and 3 x 1.005 are 2.6749999... and 3.0149999... as doubles)
    "round of a decimal amount": (
        "select cast(round(cast(n as decimal(18, 0)) * cast(p as decimal(18, 6)), 2) as double)"
        " as v from (values (1, cast(2.675 as double)), (3, cast(1.005 as double))) t(n, p)"
    ),
    "timezone of an instant is the wall clock there": (
        f"select strftime(timezone('Europe/Paris', {T0}), '%Y-%m-%d %H:%M:%S') as summer, "
        "strftime(timezone('Europe/Paris', cast('2026-10-26 06:00:00' as timestamptz)), "
        "'%Y-%m-%d %H:%M:%S') as winter"
    ),
    "timezone of a wall clock is the instant": (
        "select strftime(timezone('America/New_York', cast('2026-11-01 12:00:00' as timestamp)),"
        " '%Y-%m-%d %H:%M:%S') as v"
    ),
    "interval constructors": (
        f"select strftime({T0} + to_minutes(-300), '%Y-%m-%d %H:%M') as m, "
        f"strftime({T0} + to_seconds(86400 * 2), '%Y-%m-%d %H:%M') as s, "
        f"strftime({T0} - to_days(3), '%Y-%m-%d %H:%M') as d, "
        f"strftime({T0} + to_hours(5), '%Y-%m-%d %H:%M') as h"
    ),
    "infinite timestamp": (
        "select max(coalesce(t, 'infinity'::timestamptz)) > cast('2999-01-01' as timestamptz) "
        "as v from (values (cast(null as timestamptz)), (" + T0 + ")) x(t)"
    ),
    "any_value skips NULLs, with a filter": (
        "select any_value(s) filter (where b) as v, any_value(s) as w "
        "from (values (null, true), ('x', true), ('y', false)) t(s, b) where s is null or s <> 'y'"
    ),
    "strftime letters": (
        f"select strftime({T0}, '%Y-%m-%dT%H:%M:%S.%g') as ms, "
        f"strftime({T0}, '%Y-%m-%dT%H:%M:%SZ') as iso"
    ),
    "strptime of a compact stamp": (
        "select strftime(timezone('UTC', strptime('20261001T110116545Z', '%Y%m%dT%H%M%S%gZ')), "
        "'%Y-%m-%d %H:%M:%S.%g') as t"
    ),
    "arg_max over a row value": (
        "select arg_max(v, (a, b)) as v from (values ('p', 1, 'a'), ('q', 2, 'a'), "
        "('r', 2, 'b')) t(v, a, b)"
    ),
    # fct_calls: a call whose first leg has no Location takes the next leg's (DuckDB skips
    # NULL values; Spark's min_by/max_by would return the NULL of the extreme row)
    "arg_min and arg_max skip NULL values": (
        "select arg_min(v, t) as first, arg_max(v, t) as last,"
        " arg_min(v, t) filter (where t > 1) as filtered, arg_max(v, (t, w)) as by_row"
        " from (values (null, 1, 'a'), ('b', 2, 'a'), ('c', 3, 'a'), (null, 4, 'a'))"
        " t(v, t, w)"
    ),
    # int_call_coverage: a file name's impossible date declares nothing (Spark's ANSI cast
    # would fail the whole view, as DuckDB's cast does)
    "try_cast of an impossible date": (
        "select try_cast('2026-02-30' as date) is null as a, try_cast('' as date) is null as b,"
        " try_cast('2028-02-29' as date) as c"
    ),
    "asof left join": (
        "with l as (select * from (values ('k', 5), ('k', 10), ('k', 1), ('z', 7)) t(key, ts)), "
        "r as (select * from (values ('k', 0, 'A'), ('k', 5, 'B'), ('k', 9, 'C')) t(key, ts, v)) "
        "select l.key, l.ts, r.v from l asof left join r on l.key = r.key and l.ts >= r.ts "
        "order by l.key, l.ts"
    ),
    "asof left join, strict and reversed": (
        "with l as (select * from (values ('k', 5), ('k', 10)) t(key, ts)), "
        "r as (select * from (values ('k', 0, 'A'), ('k', 5, 'B')) t(key, ts, v)) "
        "select l.ts, rr.v from l asof left join (select * from r) as rr "
        "on rr.key = l.key and rr.ts < l.ts order by l.ts"
    ),
}

# Constructs plain sqlglot transpiles into Spark SQL that runs but gives another answer.
SILENTLY_WRONG = (
    "epoch_ms of a timestamp",
    "epoch_ms rounds microseconds",
    "epoch keeps the fraction of a second",
    "sorted distinct list",
    "datediff in days counts midnights",
    "round of a quotient (657 s = 10.95 min)",
    "arg_min and arg_max skip NULL values",
)


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else value
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if hasattr(value, "asDict"):
        return _norm(list(value))
    if type(value).__name__ == "Decimal":
        return round(float(value), 6)
    return value


def _duckdb_rows(sql: str) -> list[Any]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    return [_norm(list(r)) for r in con.execute(sql).fetchall()]


def _spark_rows(spark: Any, sql: str) -> list[Any]:
    return [_norm(list(r)) for r in spark.sql(sql).collect()]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_spark_computes_what_duckdb_computes(spark: Any, name: str) -> None:
    sql = CASES[name]
    assert _spark_rows(spark, to_spark(sql)) == _duckdb_rows(sql)


# sql/_macros.sql local_instant: the first instant a zone's clocks show a wall clock. DuckDB's
# timezone(zone, wall clock) takes the later of two (Azores 10-25 00:00: 01:00Z), Spark's
# the earlier (00:00Z): the views' day ends differed. A skipped wall clock (Paris 03-29
# 02:30, Azores 03-29 00:00) is the instant after the gap in both.
LOCAL_INSTANTS = (
    "select strftime(local_instant(z, cast(w as timestamp)), '%Y-%m-%d %H:%M:%S') as v "
    "from (values ('Atlantic/Azores', '2026-10-25 00:00:00'), "
    "('Europe/Paris', '2026-10-25 02:30:00'), ('Australia/Lord_Howe', '2026-04-05 01:45:00'), "
    "('Europe/Paris', '2026-03-29 02:30:00'), ('Atlantic/Azores', '2026-03-29 00:00:00'), "
    "('Asia/Kathmandu', '2026-10-25 00:00:00')) t(z, w)"
)


@pytest.mark.slow
def test_a_wall_clock_shown_twice_is_its_first_instant_in_both(spark: Any) -> None:
    macros = load_macros(sql_dir())
    expected = [
        ["2026-10-25 00:00:00"],
        ["2026-10-25 00:30:00"],
        ["2026-04-04 14:45:00"],
        ["2026-03-29 01:30:00"],
        ["2026-03-29 01:00:00"],
        ["2026-10-24 18:15:00"],
    ]
    assert _duckdb_rows(to_duckdb(LOCAL_INSTANTS, macros)) == expected
    assert _spark_rows(spark, to_spark(LOCAL_INSTANTS, macros)) == expected


@pytest.mark.slow
@pytest.mark.parametrize("name", SILENTLY_WRONG)
def test_plain_sqlglot_is_silently_wrong_where_the_rewrite_is_right(spark: Any, name: str) -> None:
    sql = CASES[name]
    plain = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    try:
        plain_rows = _spark_rows(spark, plain)
    except Exception:  # an error is not silent, but then it is not equal either
        plain_rows = None
    assert plain_rows != _duckdb_rows(sql)
    assert _spark_rows(spark, to_spark(sql)) == _duckdb_rows(sql)


def test_epoch_ms_of_a_timestamp_is_rounded_milliseconds_not_timestamp_millis() -> None:
    out = " ".join(to_spark("select epoch_ms(t) from x").upper().split())
    assert "ROUND(UNIX_MICROS(T), -3) DIV 1000" in out
    assert "TIMESTAMP_MILLIS" not in out
    assert "TIMESTAMP_MILLIS(1000)" in to_spark("select epoch_ms(1000)").upper()


def test_sorted_list_keeps_its_order() -> None:
    out = to_spark("select list(distinct x order by x) from t").upper()
    assert "ARRAY_SORT(COLLECT_SET(X))" in out
    with pytest.raises(RewriteError, match="order by the listed value"):
        to_spark("select list(distinct x order by y) from t")


def test_a_duckdb_session_variable_reads_as_null_in_spark() -> None:
    # the month a report names (sql/_macros.sql, in_report_days): unset in Spark, so every
    # month is read, as in DuckDB without `cdr report --month`
    macros = parse_macros(
        [
            "create or replace macro in_days(day) as getvariable('m') is null"
            " or day between cast(getvariable('m') as date) - 1 and cast(getvariable('m') as date)"
        ]
    )
    out = to_spark("select * from t where in_days(d)", macros).upper()
    assert "GETVARIABLE" not in out
    assert "NULL IS NULL" in " ".join(out.split())


def test_asof_join_becomes_left_join_bounded_by_the_next_row() -> None:
    out = to_spark(
        "select * from l asof left join r on l.k = r.k and l.t >= r.t", origin="sql/x.sql"
    ).upper()
    assert "ASOF LEFT JOIN" not in out
    assert "LEFT JOIN" in out
    assert "LEAD(T) OVER (PARTITION BY K ORDER BY T" in out
    assert "R.__ASOF_UPPER IS NULL OR L.T < R.__ASOF_UPPER" in " ".join(out.split())
    with pytest.raises(RewriteError, match=r"sql/x\.sql: ASOF join"):
        to_spark("select * from l asof left join r on l.k = r.k and l.t = r.t", origin="sql/x.sql")


def test_sql_sqlglot_cannot_parse_names_the_files_line_on_one_line() -> None:
    """sqlglot's error quoted the SQL around the fault over several lines with terminal
    underline codes, which `cdr sql` printed as `\\x0a` and `\\x1b[4m` escapes."""
    bad = "\n-- grain: one row\n-- key: x\nwith final as (\n    selec 1 as x\n)\n"
    bad += "select * from final\n"
    with pytest.raises(RewriteError) as failed:
        to_spark(bad, origin="sql/rpt_x.sql")
    assert (
        str(failed.value)
        == "sql/rpt_x.sql line 5: sqlglot cannot parse the view: Expecting ) at '1'"
    )


def test_timezone_direction_follows_the_argument_type() -> None:
    assert "FROM_UTC_TIMESTAMP(T, 'UTC')" in to_spark("select timezone('UTC', t)").upper()
    assert "TO_UTC_TIMESTAMP(CAST(D AS TIMESTAMP_NTZ), Z)" in to_spark(
        "select timezone(z, cast(d as timestamp))"
    ).upper().replace("\n", " ")


def test_strftime_patterns_quote_literal_letters() -> None:
    assert strftime_pattern("%Y-%m-%dT%H:%M:%SZ") == "yyyy-MM-dd'T'HH:mm:ss'Z'"
    assert strftime_pattern("%Y-%m-%dT%H:%M:%S.%g") == "yyyy-MM-dd'T'HH:mm:ss.SSS"
    with pytest.raises(RewriteError, match="%Q"):
        strftime_pattern("%Q")


def test_datediff_units() -> None:
    assert (
        "DATEDIFF(CAST(B AS DATE), CAST(A AS DATE))"
        in to_spark("select datediff('day', a, b)").upper()
    )
    with pytest.raises(RewriteError, match="month"):
        to_spark("select datediff('month', a, b)")


def test_macros_expand_with_their_arguments() -> None:
    macros = parse_macros(
        [
            "-- a comment\ncreate or replace macro plus_one(x) as x + 1",
            "create macro twice(x) as plus_one(x) * 2;",
        ]
    )
    spark_sql = " ".join(to_spark("select twice(a.b) as v from a", macros).split())
    assert "( A.B + 1 ) * 2" in spark_sql.upper()
    duck_sql = to_duckdb("select twice(a.b) as v from (select 3 as b) as a", macros)
    assert duckdb.execute(duck_sql).fetchall() == [(8,)]
    assert to_duckdb("select 1 -- kept\n", macros) == "select 1 -- kept\n"
    with pytest.raises(RewriteError, match="scalar macro"):
        parse_macros(["create macro t() as table select 1"])


@pytest.mark.slow
def test_integer_results_have_duckdbs_type(spark: Any) -> None:
    # fct_call_legs.start_hour_local, fct_activation_codes.code_seq: BIGINT in DuckDB,
    # written as INT32 by Spark without the cast
    sql = (
        "select hour(t) as h, row_number() over (order by t) as r, rank() over (order by t) as k,"
        " datediff('day', t, t + interval 1 day) as d"
        " from (values (cast('2026-10-05 06:34:56' as timestamp))) x(t)"
    )
    con = duckdb.connect()
    duck = [(str(r[0]), str(r[1])) for r in con.execute(f"describe {sql}").fetchall()]
    assert duck == [("h", "BIGINT"), ("r", "BIGINT"), ("k", "BIGINT"), ("d", "BIGINT")]
    frame = spark.sql(to_spark(sql))
    assert [(f.name, f.dataType.simpleString()) for f in frame.schema.fields] == [
        ("h", "bigint"),
        ("r", "bigint"),
        ("k", "bigint"),
        ("d", "bigint"),
    ]
    assert _spark_rows(spark, to_spark(sql)) == _duckdb_rows(sql)


@pytest.mark.slow
def test_a_wall_clock_is_written_without_a_time_zone(spark: Any, tmp_path: Any) -> None:
    """`timezone(zone, instant)` is a TIMESTAMP in DuckDB: a wall clock (the views'
    `start_time_local`). Spark's `from_utc_timestamp` is an instant that shows that wall
    clock only in a UTC session, and was written as one: the marts' local times read by
    DuckDB were TIMESTAMPTZ, and in any other session zone (a notebook, a Databricks
    session, DuckDB on a laptop) showed other hours (01:30 in Chicago as 10:30 in Tokyo)."""
    sql = (
        "select timezone('America/Chicago', cast('2026-11-01 06:30:00+00' as timestamptz)) as v, "
        "timezone('America/Chicago', cast('2026-11-01 07:30:00+00' as timestamptz)) as w"
    )
    spark.sql(to_spark(sql)).write.parquet(str(tmp_path / "out"))
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Tokyo'")
    written = con.execute(
        f"select typeof(v), v, typeof(w), w from read_parquet('{tmp_path}/out/*.parquet')"
    ).fetchall()
    duck = con.execute(f"select typeof(v), v, typeof(w), w from ({sql})").fetchall()
    assert written == duck
    assert written[0][0] == "TIMESTAMP"


@pytest.mark.slow
def test_an_instant_stays_an_instant_when_the_session_says_timestamp_is_ntz(
    spark: Any, tmp_path: Any
) -> None:
    """A session with `spark.sql.timestampType=TIMESTAMP_NTZ` (a cluster setting the build
    does not touch) read a bare `TIMESTAMP` as a wall clock: the views' instants
    (`start_time`, `as_of_time`, ...) were written as TIMESTAMP_NTZ, which a reader outside
    UTC takes for instants hours away. TIMESTAMPTZ is written TIMESTAMP_LTZ, in the rewritten
    SQL and in the typed empty tables (`spark_type`)."""
    from cdr_pipeline.spark.tables import spark_type

    sql = (
        "select cast('2026-10-05 06:34:56+00' as timestamptz) as t,"
        " coalesce(cast(null as timestamptz), 'infinity'::timestamptz) as u"
    )
    before = spark.conf.get("spark.sql.timestampType", None)
    spark.conf.set("spark.sql.timestampType", "TIMESTAMP_NTZ")
    try:
        frame = spark.sql(to_spark(sql))
        empty = spark.createDataFrame([], schema=f"e {spark_type('TIMESTAMPTZ')}")
        types = [f.dataType.simpleString() for f in [*frame.schema.fields, *empty.schema]]
        frame.write.parquet(str(tmp_path / "out"))
    finally:
        if before is None:
            spark.conf.unset("spark.sql.timestampType")
        else:
            spark.conf.set("spark.sql.timestampType", before)
    assert types == ["timestamp", "timestamp", "timestamp"]
    con = duckdb.connect()
    con.execute("set TimeZone = 'America/Chicago'")
    written = con.execute(f"select typeof(t), t from read_parquet('{tmp_path}/out/*.parquet')")
    assert written.fetchall() == con.execute(f"select typeof(t), t from ({sql})").fetchall()


# sql/_macros.sql e164_number with cfg_dialling_plans' prefixes (regular expressions built
# by concatenation): a national number of GB, US and BY (whose prefix `0|80?` has
# alternatives), an international prefix, an E.164 number and text are read alike.
E164_NUMBERS = (
    "select e164_number(n, cc, np, ip) as v from (values "
    "('02079460018', '44', '0|180020', '00'), ('00442079460018', '44', '0|180020', '00'), "
    "('3125550103', '1', '1', '011'), ('80294911911', '375', '0|80?', '810'), "
    "('0669821234', '39', null, '00'), ('+13125550103', '1', '1', '011'), "
    "('tel:123', '1', '1', '011'), ('0123', null, null, null), "
    "('00442079460018', '1', '1', '011')) t(n, cc, np, ip)"
)


@pytest.mark.slow
def test_a_national_number_reads_as_the_same_e164_number_in_both(spark: Any) -> None:
    macros = load_macros(sql_dir())
    expected = [
        ["+442079460018"],
        ["+442079460018"],
        ["+13125550103"],
        ["+375294911911"],
        ["+390669821234"],
        ["+13125550103"],
        ["tel:123"],
        ["0123"],
        ["+442079460018"],
    ]
    assert _duckdb_rows(to_duckdb(E164_NUMBERS, macros)) == expected
    assert _spark_rows(spark, to_spark(E164_NUMBERS, macros)) == expected
