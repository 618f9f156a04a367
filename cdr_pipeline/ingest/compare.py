"""Classify a partition's incoming rows against the rows it holds, by key and version.

`MergeCounts` is what a merge tells the ledger of one source: rows inserted, updated,
re-delivered, stale, repeated within the file or erased, and the Webex Go legs loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import duckdb

from cdr_pipeline.ingest.moved import STREAM_FIRST, stream_rank
from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.text import quote


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    redelivered: int = 0
    stale: int = 0
    within_file: int = 0
    webex_go: int = 0  # Webex Go legs among the rows loaded (inserted or updated)
    erased: int = 0  # copies of records an erasure reached: they stay erased (`erased.py`)

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated

    @property
    def duplicate(self) -> int:
        return self.redelivered + self.stale + self.within_file + self.erased

    def add(self, other: MergeCounts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def compare(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, inc: str, cur: str, repeats: str
) -> MergeCounts:
    """Classify the latest incoming version of each key against the version held; the keys
    re-delivered with the held content go to the temp table `repeats`.

    An incoming version equal to the one held (or any repeat of a key, for a table without
    a version column, like an entitlement amendment) still replaces it, being the later
    load: it counts as an update when its content differs (a re-export edited in a
    spreadsheet, an amended row), as a re-delivery only when the content is the same."""
    keys = [quote(k) for k in schema.key]
    key = ", ".join(keys)
    join = " AND ".join(f"i.{k} IS NOT DISTINCT FROM c.{k}" for k in keys)
    if schema.version_by:
        v, s = quote(schema.version_by[0]), STREAM_FIRST
        tie = f"i.{v} IS NOT DISTINCT FROM c.{v}"
        later = f"i.{v} > c.{v} OR (c.{v} IS NULL AND i.{v} IS NOT NULL)"
        ranked = f"({tie} AND i.{s} > c.{s})"  # a better source's copy of the same version
        newer = f"({later} OR {ranked})"
        same = f"({tie} AND i.{s} = c.{s})"
        vsel = f", {v}, {stream_rank(schema)} AS {s}"
        vorder = f"{v} DESC NULLS LAST, {stream_rank(schema)} DESC, "
    else:
        newer, ranked, same, vsel, vorder = "false", "false", "true", "", ""

    def latest(content: str = "") -> str:
        return f"""i AS (
            SELECT {key}{vsel}{content} FROM {inc}
            QUALIFY row_number() OVER (PARTITION BY {key}
                ORDER BY {vorder}load_seq DESC, source_row DESC) = 1
        )"""

    row = con.execute(f"""
        WITH {latest()}, c AS (SELECT {key}{vsel}, true AS __present FROM {cur}),
        j AS (
            SELECT c.__present IS NOT NULL AS present,
                   coalesce({newer}, false) AS newer, coalesce({same}, false) AS same,
                   coalesce({ranked}, false) AS ranked
            FROM i LEFT JOIN c ON {join}
        )
        SELECT count(*) FILTER (WHERE NOT present),
               count(*) FILTER (WHERE present AND newer),
               count(*) FILTER (WHERE present AND same),
               count(*) FILTER (WHERE present AND NOT newer AND NOT same),
               count(*) FILTER (WHERE present AND ranked)
        FROM j
    """).fetchall()[0]
    counts = MergeCounts(inserted=row[0], updated=row[1], redelivered=row[2], stale=row[3])
    if counts.redelivered or row[4]:  # read the content only when some versions tie
        # the keys whose latest incoming version repeats the held one, content and all; a
        # better source's copy of the held content is a re-delivery too, but takes the held
        # row's place (a later copy from the source it outranks must still lose to it)
        content = f", hash({', '.join(quote(c) for c in _content_columns(schema))}) AS __content"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {repeats} AS
            WITH {latest(content)},
            c AS (SELECT {key}{vsel}{content} FROM {cur})
            SELECT {", ".join(f"i.{k}" for k in keys)}, {same} AS __same
            FROM i JOIN c ON {join} AND ({same} OR {ranked})
            WHERE i.__content = c.__content
        """)
        same_content, ranked_content = con.execute(
            f"SELECT count(*) FILTER (WHERE __same), count(*) FILTER (WHERE NOT __same) "
            f"FROM {repeats}"
        ).fetchall()[0]
        changed = counts.redelivered - int(same_content)
        counts.redelivered += int(ranked_content) - changed
        counts.updated += changed - int(ranked_content)
    return counts


def without_repeats(schema: TableSchema, inc: str, repeats: str) -> str:
    """The incoming rows but those of a key whose latest incoming version repeats the held
    one (`compare` lists them in `repeats`): the held row stays as it was loaded (its
    file, its load order). A re-sent copy changes nothing, not even the lineage an event's
    load order is judged by (`OUT_OF_ORDER_EVENT`)."""
    match = " AND ".join(f"x.{quote(k)} IS NOT DISTINCT FROM r.{quote(k)}" for k in schema.key)
    held = f"(SELECT * FROM {repeats} WHERE __same)"
    return f"(SELECT x.* FROM {inc} AS x ANTI JOIN {held} AS r ON {match})"


def _content_columns(schema: TableSchema) -> list[str]:
    """The stored columns that say what a record holds: all but where and when it was
    loaded (`extra`, the source columns the schema does not know, is content)."""
    lineage = {c.name for c in schema.lineage} - {"extra"}
    return [c.name for c in schema.stored_columns if c.name not in lineage]
