"""The fold of an id in any case, in polars (ingest) and in SQL (ingest's DuckDB queries,
the views' `ascii_upper`): the ASCII letters in upper case, every other character as it is,
the same on both sides (`upper` is not: DuckDB maps `ß` to `ẞ`, polars to `SS`)."""

from __future__ import annotations

import duckdb
import polars as pl

from cdr_pipeline.ingest.derive.base import ascii_upper
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.text import ascii_upper_sql

IDS = ["SUB-ß1", "sub-ß1", "SUB-SS1", "SUB-ẞ1", "Sub-ﬁ", "SUB-FI", "sub-ı", "SUB-I", ""]
FOLDED = ["SUB-ß1", "SUB-ß1", "SUB-SS1", "SUB-ẞ1", "SUB-ﬁ", "SUB-FI", "SUB-ı", "SUB-I", ""]


def test_polars_and_duckdb_fold_a_non_ascii_id_alike() -> None:
    assert pl.DataFrame({"id": IDS}).select(ascii_upper(pl.col("id")))["id"].to_list() == FOLDED
    con = duckdb.connect()
    con.execute((sql_dir() / "_macros.sql").read_text(encoding="utf-8"))
    for sql in (ascii_upper_sql("id"), "ascii_upper(id)"):
        found = con.execute(f"select {sql} from unnest(?) as t(id)", [IDS]).fetchall()
        assert [r[0] for r in found] == FOLDED, sql
