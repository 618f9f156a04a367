"""Records whose new version lives in another partition than the version held.

A call leg is partitioned by the day of its start time, but its key is the Report ID: a
re-delivered leg whose start time moved across midnight lands in another `call_date` than
the version the table holds. Before the partitions of a file are merged, its incoming keys
are looked up in the table's key index (`keyindex.py`) and in the partitions this run
already rewrote; for each key found in another partition the later version wins (later
`report_time`, then the later load):

- the incoming version wins: the held row is dropped from its partition (which is rewritten
  too) and the incoming row counts as an update, not an insert;
- the held version wins: the incoming row is dropped (a stale duplicate).

A file that itself holds one key in two partitions keeps only its latest version (the
others are duplicates within the file). Only candidate keys (by hash: in two partitions of
the file, or held in another partition) are read in full and ranked, so a file of new days
costs one grouped pass over its keys. The decisions land in a DuckDB table `moved_drop`
(`side`: 's' staged / 'c' current, `part`, `k`) that the partition merges filter on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from cdr_pipeline.ingest.keyindex import ensure_index
from cdr_pipeline.ingest.pending import PendingTable
from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.text import lit, quote

DROP_TABLE = "moved_drop"


STREAM_FIRST = "__stream_first"
"""The rank of a copy's source in a tie of versions: of two versions with the same
`report_time`, the `cdr_stream` copy wins (docs/webex-dch.md#dedup-key), then a copy from the
APIs (JSON) over one from a CSV, then the later load, then the later line."""

API_KINDS = ("api_feed", "api_json")
"""JSON records of the APIs: they carry every field the API has, where a CSV (a Control Hub
report, whose template may lack the newer fields) may not, and loaded later its copy of a
record would erase them (a leg's Sub client type: its Webex Go tag)."""


def stream_rank(schema: TableSchema, alias: str = "") -> str:
    """SQL of a row's `STREAM_FIRST` rank (0 for a table without a `source_kind` column),
    of the relation `alias` if given: 2 for the stream, 1 for other API JSON (in a table
    whose versions tie on a version column), else 0."""
    if not any(c.name == "source_kind" for c in schema.stored_columns):
        return "0"
    column = f'{alias}."source_kind"' if alias else '"source_kind"'
    if not schema.version_by:
        return f"CAST(coalesce({column} = 'api_stream', false) AS INTEGER)"
    api = ", ".join(f"'{k}'" for k in API_KINDS)
    return f"(CASE WHEN {column} = 'api_stream' THEN 2 WHEN {column} IN ({api}) THEN 1 ELSE 0 END)"


@dataclass
class MovedPlan:
    """What the partition merges must leave out, and how to count it."""

    staged_drops: dict[str, int] = field(default_factory=dict)
    """partition value -> incoming rows dropped there."""
    current_drops: set[str] = field(default_factory=set)
    """Partitions whose held rows lose some keys (to be rewritten)."""
    stale: int = 0
    """Incoming records older than the version held in another partition."""
    within_file: int = 0
    """Incoming rows that lost to a later row of the same file in another partition."""
    moved: int = 0
    """Incoming records that replace a version held in another partition."""
    held_parts: set[str] | None = None
    """Partitions holding a key (by hash) of the incoming records; None: not looked up. A
    staged partition outside it holds none of them: its rows are all new."""

    def staged_filter(self, value: str, key: str) -> str:
        """A WHERE clause keeping the staged rows of partition `value` that stay."""
        if value not in self.staged_drops:
            return ""
        return _not_dropped("s", value, key)

    def current_filter(self, value: str, key: str) -> str:
        if value not in self.current_drops:
            return ""
        return _not_dropped("c", value, key)


def _not_dropped(side: str, value: str, key: str) -> str:
    return (
        f" WHERE {quote(key)} NOT IN (SELECT k FROM {DROP_TABLE} "
        f"WHERE side = {lit(side)} AND part = {lit(value)})"
    )


def plan_moves(
    con: duckdb.DuckDBPyConnection, pending: PendingTable, staged: Mapping[str, Path]
) -> MovedPlan:
    """Decide, for the staged partitions of one source, which rows move out of which
    partition. Creates (replaces) the `moved_drop` table on `con`."""
    schema = pending.schema
    if not staged:  # every row of the source was rejected
        return MovedPlan()
    key = quote(schema.key[0])
    version = quote(schema.version_by[0]) if schema.version_by else "NULL"
    ranked = f"{version} AS v, {stream_rank(schema)} AS s"  # the stream copy wins a tie
    order = "v DESC NULLS LAST, s DESC, load_seq DESC, source_row DESC"

    values = sorted(staged)

    def incoming(columns: str, numbered: bool = False) -> str:
        """Every staged row's `columns` and its partition (the value, or its number)."""
        return " UNION ALL ".join(
            f"SELECT {columns}, {f'{i}::UINTEGER' if numbered else lit(value)} AS part "
            f"FROM read_parquet({lit(staged[value])})"
            for i, value in enumerate(values)
        )

    # Candidates first, by the hash of the key: a key in two partitions of the file, or held
    # in another partition of the table. Most files have none, so the full rows and the
    # window below run over the few rows of candidate keys only (a hash that collides just
    # adds a candidate: the decision itself compares keys). One group per incoming record:
    # partitions by number, not by value (text), took a 5M-leg file's grouping from 700 to
    # 500 MiB peak and 1.3 to 0.8 s; `moved_parts` names them.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_parts AS
        SELECT * FROM (VALUES {", ".join(f"({i}, {lit(v)})" for i, v in enumerate(values))})
            AS t(p, part)
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_keys AS
        SELECT h, min(part) AS p0, max(part) AS p1
        FROM ({incoming(f"hash({key}) AS h", numbered=True)}) GROUP BY h
    """)
    located = _locate(con, pending)
    elsewhere = ""
    plan = MovedPlan(held_parts=set())
    if located:  # where the table holds the incoming keys (their hashes), read once
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE moved_held_at AS
            SELECT x.h, x.part FROM ({located}) x WHERE x.h IN (SELECT h FROM moved_keys)
        """)
        plan.held_parts = {
            str(r[0]) for r in con.execute("SELECT DISTINCT part FROM moved_held_at").fetchall()
        }
        elsewhere = (
            " UNION SELECT m.h FROM moved_keys m JOIN moved_held_at x USING (h) "
            "JOIN moved_parts n ON n.p = m.p0 WHERE x.part <> n.part"
        )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_cand AS
        SELECT h FROM moved_keys WHERE p0 <> p1{elsewhere}
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_in AS
        SELECT * FROM ({incoming(f"{key} AS k, {ranked}, load_seq, source_row")})
        WHERE hash(k) IN (SELECT h FROM moved_cand)
    """)
    # the latest incoming version of each key, with the partition it goes to
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_win AS
        SELECT k, v, s, load_seq, source_row, part FROM moved_in
        QUALIFY row_number() OVER (PARTITION BY k ORDER BY {order}) = 1
    """)
    # rows of the file that lost to its own later row in another partition
    con.execute(f"""
        CREATE OR REPLACE TABLE {DROP_TABLE} AS
        SELECT 's' AS side, i.part, i.k FROM moved_in i JOIN moved_win w USING (k)
        WHERE i.part <> w.part
    """)
    if located:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE moved_loc AS
            SELECT DISTINCT w.k, x.part FROM moved_win w
            JOIN moved_held_at x ON hash(w.k) = x.h
            WHERE x.part <> w.part
        """)
        _decide(con, pending, key, ranked, order, plan)
    for part, n in con.execute(
        f"SELECT part, count(*) FROM {DROP_TABLE} WHERE side = 's' GROUP BY part"
    ).fetchall():
        plan.staged_drops[str(part)] = int(n)
    # every dropped incoming row is a duplicate: one per key that lost to a held version
    # (stale), the others lost to a later row of the same file
    plan.within_file = sum(plan.staged_drops.values()) - plan.stale
    plan.current_drops = {
        str(r[0])
        for r in con.execute(f"SELECT DISTINCT part FROM {DROP_TABLE} WHERE side = 'c'").fetchall()
    }
    return plan


def _locate(con: duckdb.DuckDBPyConnection, pending: PendingTable) -> str:
    """SQL of (h, part) for every record the table holds as this run sees it: the committed
    version's index outside the partitions this run rewrote, plus the rewritten ones and
    the files of new records appended beside a partition."""
    schema = pending.schema
    selects = []
    index = ensure_index(con, pending.layout, schema, pending.snapshot)
    if index is not None:
        selects.append(
            f"SELECT h, part FROM read_parquet({lit(index)}){_not_in(list(pending.rewritten))}"
        )
    news = [(v, p) for v, p in pending.rewritten.items() if p is not None]
    news += [(v, p) for v, paths in pending.appended.items() for p in paths]
    if news:
        con.register(RUN_KEYS, _run_keys(con, pending, news))
        selects.append(f"SELECT h, part FROM {RUN_KEYS}")
    return " UNION ALL ".join(selects)


RUN_KEYS = "moved_run_keys"


def _run_keys(
    con: duckdb.DuckDBPyConnection, pending: PendingTable, news: list[tuple[str, Path]]
) -> pa.Table:
    """(h, part) of every record in the files this run wrote, `news` (partition value,
    file). Each file's rows are read once a run and kept (9 bytes a record: the hash and
    the partition, dictionary-encoded): a run of many files (the pages of a fetch) read every
    earlier file of the run again for each file, which took most of a page's lookup. DuckDB
    gives the partition as a one-value ENUM (a dictionary column; DuckDB reads it back as
    text): an array built by pyarrow from a Python value imports pandas, which cost every
    `cdr ingest` process about a second (0.4 to 1.4 s of CPU in paired runs on the samples,
    of about 12 s); nothing else of an ingest or build needs it."""
    kept = pending.key_hashes
    for gone in set(kept) - {path for _, path in news}:  # replaced: no longer the table's
        del kept[gone]
    key = quote(pending.schema.key[0])
    for value, path in news:
        if path not in kept:
            part = f"{lit(value)}::ENUM({lit(value)})"
            rows = con.sql(
                f"SELECT hash({key}) AS h, {part} AS part FROM read_parquet({lit(path)})"
            )
            kept[path] = rows.to_arrow_table()
    return pa.concat_tables(kept[path] for _, path in news)


def _not_in(values: list[str]) -> str:
    """` WHERE part NOT IN (...)`, or nothing for no values (NOT IN (NULL) keeps no row)."""
    if not values:
        return ""
    return f" WHERE part NOT IN ({', '.join(lit(v) for v in sorted(values))})"


def _decide(
    con: duckdb.DuckDBPyConnection,
    pending: PendingTable,
    key: str,
    ranked: str,
    order: str,
    plan: MovedPlan,
) -> None:
    """Read the held versions of the candidate keys and pick the winners."""
    parts = [str(r[0]) for r in con.execute("SELECT DISTINCT part FROM moved_loc").fetchall()]
    held = []
    for part in sorted(parts):
        files = pending.current_files(part)
        if not files:
            continue
        listed = ", ".join(lit(f) for f in files)
        held.append(
            f"SELECT {key} AS k, {ranked}, load_seq, source_row, {lit(part)} AS part "
            f"FROM read_parquet([{listed}]) WHERE {key} IN "
            f"(SELECT k FROM moved_loc WHERE part = {lit(part)})"
        )
    if not held:
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_held AS {" UNION ALL ".join(held)}
    """)
    # per key: the winner among the incoming winner and the held versions elsewhere
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE moved_best AS
        SELECT k, side, part FROM (
            SELECT k, v, s, load_seq, source_row, part, 's' AS side FROM moved_win
            WHERE k IN (SELECT k FROM moved_held)
            UNION ALL
            SELECT k, v, s, load_seq, source_row, part, 'c' AS side FROM moved_held
        )
        QUALIFY row_number() OVER (PARTITION BY k ORDER BY {order}) = 1
    """)
    # incoming won: the held rows go; held won: every incoming row of the key goes
    con.execute(f"""
        INSERT INTO {DROP_TABLE}
        SELECT 'c', h.part, h.k FROM moved_held h JOIN moved_best b USING (k) WHERE b.side = 's'
        UNION ALL
        SELECT 's', i.part, i.k FROM moved_in i JOIN moved_best b USING (k)
        WHERE b.side = 'c' AND i.part = (SELECT part FROM moved_win w WHERE w.k = i.k)
    """)
    row = con.execute(
        "SELECT count(*) FILTER (WHERE side = 's'), count(*) FILTER (WHERE side = 'c') "
        "FROM moved_best"
    ).fetchone()
    assert row is not None
    plan.moved, plan.stale = int(row[0]), int(row[1])
