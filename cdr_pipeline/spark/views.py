"""Every view as one portable statement per file: `NN_<view>.sql` for Spark or DuckDB.

The views are those `cdr build` creates (`sql/` and the generated ones), in the same
dependency order, with one difference: the generated `stg_<table>` views read the base tables
by name (`call_legs`, `device_snapshots`, `device_events`, `entitlements`, `org_directory`,
and the ledger's `ledger_runs`, `ledger_files`, `ledger_retention`), which the caller registers
(`cdr_pipeline.spark.tables` does it for Spark). Each registered table has at least the
schema's columns; `register_tables` adds a column a file lacks as NULL, as `cdr build` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.schema import SCHEMAS, TableSchema
from cdr_pipeline.schema.base import DUCKDB_TYPES
from cdr_pipeline.spark.rewrite import Macro, parse_macros, to_duckdb, to_spark
from cdr_pipeline.state.ledger import RECORD_ID, WRITTEN_AT
from cdr_pipeline.text import quote
from cdr_pipeline.warehouse.catalog import ViewSpec, order_views, read_macros, read_sql_dir
from cdr_pipeline.warehouse.dialling import dialling_view
from cdr_pipeline.warehouse.staging import LEDGER_TABLES, arrow_to_duckdb, settings_view

DIALECTS = ("spark", "duckdb")
LEDGER_BASE = {table: f"ledger_{table}" for table in LEDGER_TABLES}
"""Base table name of each ledger table (`runs` -> `ledger_runs`)."""


@dataclass(frozen=True)
class EmittedView:
    seq: int
    name: str
    sql: str
    """The SELECT statement in the target dialect."""
    key: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"{self.seq:02d}_{self.name}.sql"

    def statement(self) -> str:
        return f"CREATE OR REPLACE TEMPORARY VIEW {self.name} AS\n{self.sql}\n"


def base_tables() -> list[str]:
    """Names of the base tables the emitted views read (the caller registers them)."""
    return [*sorted(s.name for s in SCHEMAS.values()), *LEDGER_BASE.values()]


def table_columns(schema: TableSchema) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a raw table as `stg_<table>` types it (partition last)."""
    columns = [(c.name, DUCKDB_TYPES[c.dtype]) for c in schema.stored_columns]
    if schema.partition_by:
        columns.append(
            (schema.partition_by, DUCKDB_TYPES[schema.column(schema.partition_by).dtype])
        )
    return columns


def ledger_columns(table: str) -> list[tuple[str, str]]:
    schema, _ = LEDGER_TABLES[table]
    return [(f.name, arrow_to_duckdb(f.type)) for f in schema]


LEDGER_BOOKKEEPING = [(RECORD_ID, "VARCHAR"), (WRITTEN_AT, "BIGINT")]
"""The columns every ledger file carries besides its table's: which record, written when."""


def _latest_ledger_select(columns: list[tuple[str, str]], source: str) -> str:
    """`_typed_select` of each ledger record's latest write: every write is a file of its
    own (state/ledger.py), so the base table holds each rewrite of a record (a run's record
    as it starts, and as it ends). A row without a record id (files older than the ids) is
    kept as it is."""
    rid, written = quote(RECORD_ID), quote(WRITTEN_AT)
    latest = (
        f"(select *, row_number() over (partition by {rid} order by {written} desc) "
        f"as __latest from {source}) as t"
    )
    return _typed_select(columns, latest) + f"\nwhere t.__latest = 1 or t.{rid} is null"


def _typed_select(columns: list[tuple[str, str]], source: str) -> str:
    items = ",\n".join(f"    cast({quote(n)} as {t}) as {quote(n)}" for n, t in columns)
    return f"select\n{items}\nfrom {source}"


def staging_views() -> list[ViewSpec]:
    """`stg_<table>` and `stg_ledger_<table>` over the base tables registered by name."""
    specs = []
    for schema in sorted(SCHEMAS.values(), key=lambda s: s.name):
        specs.append(
            ViewSpec(
                name=f"stg_{schema.name}",
                sql=_typed_select(table_columns(schema), schema.name),
                grain=f"one row per {schema.name} record",
                key=schema.key,
                origin="generated",
            )
        )
    for table, (_, key) in LEDGER_TABLES.items():
        specs.append(
            ViewSpec(
                name=f"stg_ledger_{table}",
                sql=_latest_ledger_select(ledger_columns(table), LEDGER_BASE[table]),
                grain=f"one ledger record of {table}",
                key=key,
                origin="generated",
            )
        )
    return specs


def load_macros(sql_dir: Path) -> dict[str, Macro]:
    text = read_macros(sql_dir)
    if not text.strip():
        return {}
    con = duckdb.connect()
    try:
        # DuckDB's own splitter knows its string and comment syntax (as `cdr build` uses)
        return parse_macros([str(s.query) for s in con.extract_statements(text)])
    finally:
        con.close()


def ordered_specs(settings: Settings, sql_dir: Path | None = None) -> list[ViewSpec]:
    """Every view in dependency order: `cfg_settings`, `cfg_dialling_plans`, staging over base
    tables, `sql/`."""
    folder = sql_dir or default_sql_dir()
    return order_views(
        [settings_view(settings), dialling_view(), *staging_views(), *read_sql_dir(folder)]
    )


def emit_views(
    settings: Settings, dialect: str = "spark", sql_dir: Path | None = None
) -> list[EmittedView]:
    """Every view's SELECT in `dialect` ("spark" or "duckdb"), in dependency order."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}")
    folder = sql_dir or default_sql_dir()
    macros = load_macros(folder)
    convert = to_spark if dialect == "spark" else to_duckdb
    out = []
    for seq, spec in enumerate(ordered_specs(settings, folder)):
        out.append(EmittedView(seq, spec.name, convert(spec.sql, macros, spec.origin), spec.key))
    return out


def write_views(views: list[EmittedView], out_dir: Path) -> list[Path]:
    """One `NN_<view>.sql` per view under `out_dir` (earlier `NN_*.sql` files are removed,
    so the folder holds exactly the current views)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("[0-9][0-9]_*.sql"):
        old.unlink()
    paths = []
    for view in views:
        path = out_dir / view.file_name
        path.write_text(view.statement(), encoding="utf-8")
        paths.append(path)
    return paths


__all__ = [
    "DIALECTS",
    "LEDGER_BASE",
    "EmittedView",
    "base_tables",
    "emit_views",
    "ordered_specs",
    "write_views",
]
