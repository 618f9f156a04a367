"""The columns a source lacks keep what the held copy of the same record says.

Control Hub's report templates gain columns between releases, and people keep older
downloads: two exports of one record can differ only in the columns one of them has. A column
an export lacks is unknown there, not empty, yet a copy of the same version (the same report
time), loaded later, won the tie with NULL in it: the device's MAC, a leg's `Sub client type`
(and with it its Webex Go tag) erased by an older file. So an incoming row of a record the
table holds in the same version takes the held values of the columns its whole source lacks
(`HeaderResolution.missing`, every chunk's), before the merge compares the two: the same
content is then a re-delivery, and any other difference an update that keeps them. A later
version takes its own values (the record changed: what it lacks may have changed too), and so
does every repeat of an entitlement or directory key, which is an amendment of what was bought
or named (docs/inputs-devices.md), not another copy."""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.text import quote

COPIES = frozenset({"calls", "device_snapshots", "activation_events"})
"""Kinds whose repeat of a key in the same version is a copy of one record or observation."""
DERIVED_FROM = {"sub_client_type": ("is_webex_go",)}
"""Stored columns computed from an input column: carried with it."""


def carried(schema: TableSchema, lacking: Collection[str]) -> list[str]:
    """The input columns of `lacking` an incoming copy takes from the held one."""
    if schema.kind not in COPIES:
        return []
    fixed = {*schema.key, *schema.version_by, schema.partition_by}
    stored = {c.name for c in schema.stored_columns}
    return [
        c.name
        for c in schema.input_columns
        if c.name in lacking and c.name in stored and c.name not in fixed and not c.required
    ]


def held_lacking(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, held: str, lacking: Collection[str]
) -> list[str]:
    """The columns of `lacking` a copy takes from the held rows (`held`, a relation over the
    held files of every partition the source touches) that some held row has a value in:
    most exports lacking a column join a table whose rows all lack it too, and one count,
    which reads those columns alone, spares each partition's merge the lookup."""
    columns = carried(schema, lacking)
    if not columns:
        return []
    counts = ", ".join(f"count({quote(c)})" for c in columns)
    found = con.execute(f"SELECT {counts} FROM {held}").fetchall()[0]
    return [c for c, n in zip(columns, found, strict=True) if n]


def with_held_values(
    con: duckdb.DuckDBPyConnection,
    schema: TableSchema,
    inc: str,
    cur: str,
    lacking: Collection[str],
) -> str:
    """`inc` (a relation of incoming rows) with the held values (`cur`, one row per key) of
    the `lacking` columns (`held_lacking`) where the held row is the same key and version."""
    columns = carried(schema, lacking)
    if not columns:
        return inc
    same = [*schema.key, *schema.version_by]
    match = " AND ".join(f"x.{quote(c)} IS NOT DISTINCT FROM h.{quote(c)}" for c in same)
    replaced = []
    for c in columns:
        col = quote(c)
        replaced.append(f"coalesce(x.{col}, h.{col}) AS {col}")
        for d in DERIVED_FROM.get(c, ()):
            taken = f"x.{col} IS NULL AND h.{col} IS NOT NULL"
            replaced.append(
                f"CASE WHEN {taken} THEN h.{quote(d)} ELSE x.{quote(d)} END AS {quote(d)}"
            )
    held = ", ".join(
        quote(c)
        for c in dict.fromkeys(
            [*same, *columns, *(d for c in columns for d in DERIVED_FROM.get(c, ()))]
        )
    )
    return (
        f"(SELECT x.* REPLACE ({', '.join(replaced)}) FROM {inc} AS x "
        f"LEFT JOIN (SELECT {held} FROM {cur}) AS h ON {match})"
    )
