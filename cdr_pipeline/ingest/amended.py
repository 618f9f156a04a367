"""Entitlement, directory and device snapshot rows a file replaces with other terms. A later
load of a key is its amendment (docs/inputs-devices.md, docs/inputs-directory.md): that is
what a later run says, and the file's result says which rows it amended, from which file,
and what changed (5 units, then 3: a correction, or a top-up bought the same day written as
a line of its own?). Within one run, "later" is only the files' name order
(`paths.expand_paths`), and `entitlements (1).csv` (a sheet downloaded again) or
`org_directory-v2.csv` sorts before `entitlements.csv` / `org_directory.csv`: the original
replaced its correction and both files read `loaded`. Lines of one file that do this are
quarantined (`conflicting_lines`); between files of a run the later one still wins, and the
note says so, so the user can load the terms meant again."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.ingest.derive.devices import ENTITLEMENT_TERMS, SNAPSHOT_TERMS
from cdr_pipeline.ingest.derive.directory import DIRECTORY_TERMS
from cdr_pipeline.ingest.pending import PendingTable
from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.schema.personal import PERSONAL_COLUMNS
from cdr_pipeline.text import ascii_upper_sql, lit, quote

TERMS = {
    "entitlements": ENTITLEMENT_TERMS,
    "org_directory": DIRECTORY_TERMS,
    "device_snapshots": SNAPSHOT_TERMS,
}
"""What a line says under its key, by table (those `conflicting_lines` compares in a file)."""
WHAT = {
    "entitlements": "entitlement",
    "org_directory": "directory",
    "device_snapshots": "device snapshot",
}
SHOWN = 3
"""Keys a note names; the rest are counted."""


def amendment_notes(pending: PendingTable, staged: dict[str, Path], run_id: str) -> list[str]:
    """Notes naming the entitlement or directory rows that the staged rows (one source)
    replace with other terms: one for rows an earlier file of run `run_id` loaded, one for
    rows earlier runs loaded; none when nothing changes (or the table is another). Call it
    before the source is merged."""
    schema = pending.schema
    terms = TERMS.get(schema.name)
    if terms is None:
        return []
    ours = [
        (path, held) for value, path in staged.items() if (held := pending.current_files(value))
    ]
    key = ", ".join(f"i.{quote(k)}" for k in schema.key)
    folded = schema.any_case  # a row re-sent in another case amends the earlier one
    match = " AND ".join(
        f"{ascii_upper_sql(f'i.{quote(k)}')} IS NOT DISTINCT FROM "
        f"{ascii_upper_sql(f'c.{quote(k)}')}"
        if k in folded
        else f"i.{quote(k)} IS NOT DISTINCT FROM c.{quote(k)}"
        for k in schema.key
    )
    differs = " OR ".join(f"i.{quote(t)} IS DISTINCT FROM c.{quote(t)}" for t in terms)
    found: list[tuple[object, ...]] = []
    con = duckdb.connect()
    try:
        for incoming, held in ours:
            found += con.execute(
                f"""SELECT DISTINCT c.run_id = $run, {key}, c.source_file, {_shown(schema.name)}
                FROM read_parquet({lit(incoming)}) AS i
                JOIN read_parquet([{", ".join(lit(f) for f in held)}], union_by_name = true) AS c
                    ON {match}
                WHERE {differs}
                ORDER BY ALL""",
                {"run": run_id},
            ).fetchall()
    finally:
        con.close()
    this_run = [row[1:] for row in found if row[0]]
    before = [row[1:] for row in found if not row[0]]
    what = WHAT[schema.name]
    notes = []
    if this_run:
        notes.append(
            f"replaced {len(this_run)} {what} row(s) an earlier file of this run loaded with "
            f"other terms ({_listed(schema, this_run)}): the later file in name order wins, not "
            "the newer sheet; if the other file's terms are the ones meant, load those lines "
            "again in a file of their own (a file loaded before is skipped)"
        )
    if before:
        notes.append(
            f"amended {len(before)} {what} row(s) an earlier run loaded with other terms "
            f"({_listed(schema, before)}): a later load of a key replaces it; "
            + AMENDED[schema.name]
        )
    return notes


AMENDED = {
    "entitlements": "units bought on top of a purchase starting the same day belong in the "
    "same line, the units added",
    "org_directory": "check the new values are the ones meant",
    "device_snapshots": "a snapshot time read again replaces what it said of each device; "
    "check the new values are the ones meant",
}
"""What an amendment by a later run asks the user to check, by table."""


def _listed(schema: TableSchema, rows: list[tuple[object, ...]]) -> str:
    """The first `SHOWN` replaced rows of a note, and how many more."""
    n = len(schema.key)
    shown = "; ".join(_line(schema.name, row[:n], row[n], row[n + 1 :]) for row in rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


SHOWN_TERMS = {
    "entitlements": ("units",),
    "org_directory": DIRECTORY_TERMS,
    "device_snapshots": tuple(
        t for t in SNAPSHOT_TERMS if t not in PERSONAL_COLUMNS["device_snapshots"]
    ),
}
"""The terms a note shows of an old row and its replacement, by table (no personal value:
a note is kept in the run ledger, which `cdr forget` does not reach)."""


def _shown(table: str) -> str:
    """What a note shows of an old row (c) and its replacement (i), term by term."""
    return ", ".join(f"c.{quote(t)}, i.{quote(t)}" for t in SHOWN_TERMS[table])


def _line(table: str, key: tuple[object, ...], source: object, values: tuple[object, ...]) -> str:
    """One replaced row of a note: its key, what the earlier file said and what this one says."""
    if table == "entitlements":
        sub, licence, start = key
        old, new = values
        return f"{sub} {licence} from {start}: {old} units in {source}, {new} here"
    kind, entry = key
    changed = [
        f"{term} {old!r} in {source}, {new!r} here"
        for term, old, new in zip(SHOWN_TERMS[table], values[::2], values[1::2], strict=True)
        if old != new
    ]
    return f"{kind} {entry}: {', '.join(changed) or 'other personal values'}"
