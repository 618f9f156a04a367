"""Comparing a view built by DuckDB with the same view built by Spark (Parquet files).

Both sides are normalised per column from the DuckDB view's type: floating and decimal
values rounded to 6 decimals as DOUBLE, timestamps as UTC TIMESTAMP. A timestamp column
must be a wall clock (TIMESTAMP) or an instant (TIMESTAMP WITH TIME ZONE) on both sides: a
local time written as an instant shows other hours to a reader outside UTC. Equal means the
same row count and an empty EXCEPT ALL both ways.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.text import lit, quote

_FLOATS = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")


def _normalised(column: str, dtype: str) -> str:
    col = quote(column)
    upper = dtype.upper()
    if upper.startswith(_FLOATS):
        return f"round(cast({col} as double), 6) as {col}"
    if upper.startswith("TIMESTAMP"):
        return f"cast({col} as timestamp) as {col}"
    return col


def compare_view(con: duckdb.DuckDBPyConnection, view: str, spark_dir: Path) -> list[str]:
    """Problems found comparing DuckDB's `view` with Spark's Parquet output (empty = equal)."""
    columns = [(str(r[0]), str(r[1])) for r in con.execute(f"describe {view}").fetchall()]
    files = sorted(spark_dir.glob("*.parquet"))
    if not files:
        return [f"{view}: Spark wrote no Parquet file under {spark_dir}"]
    source = f"read_parquet({lit(str(spark_dir / '*.parquet'))})"
    described = con.execute(f"describe select * from {source}").fetchall()
    spark_types = {str(r[0]): str(r[1]).upper() for r in described}
    expected = {c for c, _ in columns}
    if set(spark_types) != expected:
        return [
            f"{view}: columns differ: DuckDB only {sorted(expected - set(spark_types))}, "
            f"Spark only {sorted(set(spark_types) - expected)}"
        ]
    # a wall clock written as an instant shows other hours outside a UTC session
    problems = [
        f"{view}.{c}: {t} in DuckDB, {spark_types[c]} in Spark"
        for c, t in columns
        if t.upper().startswith("TIMESTAMP")
        and spark_types[c].startswith("TIMESTAMP")
        and ("TIME ZONE" in t.upper()) != ("TIME ZONE" in spark_types[c])
    ]
    select = ", ".join(_normalised(c, t) for c, t in columns)
    ours = f"select {select} from {view}"
    theirs = f"select {select} from {source}"
    n_duck = con.execute(f"select count(*) from {view}").fetchone()[0]  # type: ignore[index]
    n_spark = con.execute(f"select count(*) from {source}").fetchone()[0]  # type: ignore[index]
    if n_duck != n_spark:
        problems.append(f"{view}: {n_duck} rows in DuckDB, {n_spark} in Spark")
    for label, left, right in (("DuckDB", ours, theirs), ("Spark", theirs, ours)):
        extra = con.execute(f"select * from ({left} except all {right}) limit 3").fetchall()
        if extra:
            problems.append(f"{view}: rows only in {label}, e.g. {extra}")
    return problems
