"""Views created without binding them. DuckDB binds a view's query when it creates it, and
binding a view binds every view it reads, the whole chain: where a later statement binds
the view anyway (a view over it), binding it at its creation too is work done twice."""

from __future__ import annotations

import duckdb

DEFERRED = "with (defer_binding)"
"""Create a view without binding it: only its syntax is checked; the first statement that
reads it binds it (and records its columns in the catalog)."""


def deferred(con: duckdb.DuckDBPyConnection) -> str:
    """`DEFERRED` where this DuckDB knows it, else nothing (the view is bound when created).
    Asked of the parser alone: a statement that fails ends the build's transaction."""
    try:
        con.extract_statements(f"create view __probe {DEFERRED} as select 1")
    except duckdb.ParserException:
        return ""
    return DEFERRED


def bound_columns(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list[tuple[str, str]]]:
    """View -> (column, type) of every view of `schema`, as the catalog recorded them when
    the views were created (no view is bound again)."""
    rows = con.execute(
        "select table_name, column_name, data_type from duckdb_columns() "
        "where schema_name = ? and database_name = current_database() "
        "order by table_name, column_index",
        [schema],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for view, column, dtype in rows:
        out.setdefault(str(view), []).append((str(column), str(dtype)))
    return out
