"""Entitlement and directory rows a file replaces that an earlier file of the same run loaded
with other terms. A later load of a key is its amendment (docs/inputs-devices.md,
docs/inputs-directory.md): that is what a later run says. Within one run, "later" is only the
files' name order (`paths.expand_paths`), and `entitlements (1).csv` (a sheet downloaded
again) or `org_directory-v2.csv` sorts before `entitlements.csv` / `org_directory.csv`: the
original replaced its correction and both files read `loaded`. Lines of one file that do this
are quarantined (`conflicting_lines`); between files of a run the later one still wins, and
the file's result says which rows it replaced and from which file, so the user can load the
terms meant again."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.ingest.derive.devices import ENTITLEMENT_TERMS
from cdr_pipeline.ingest.derive.directory import DIRECTORY_TERMS
from cdr_pipeline.ingest.pending import PendingTable
from cdr_pipeline.text import lit, quote

TERMS = {
    "entitlements": ENTITLEMENT_TERMS,
    "org_directory": DIRECTORY_TERMS,
}
"""What a line says under its key, by table (those `conflicting_lines` compares in a file)."""
WHAT = {"entitlements": "entitlement", "org_directory": "directory"}
SHOWN = 3
"""Keys a note names; the rest are counted."""


def same_run_amendments(pending: PendingTable, staged: dict[str, Path], run_id: str) -> str:
    """A note naming the entitlement or directory rows that the staged rows (one source)
    replace with other terms, which an earlier file of run `run_id` loaded; '' when there
    are none (or the table is another). Call it before the source is merged."""
    schema = pending.schema
    terms = TERMS.get(schema.name)
    if terms is None:
        return ""
    ours = [
        (path, held)
        for value, path in staged.items()
        if (held := pending.rewritten.get(value)) is not None  # written by this run
    ]
    key = ", ".join(f"i.{quote(k)}" for k in schema.key)
    match = " AND ".join(f"i.{quote(k)} IS NOT DISTINCT FROM c.{quote(k)}" for k in schema.key)
    differs = " OR ".join(f"i.{quote(t)} IS DISTINCT FROM c.{quote(t)}" for t in terms)
    shown_as = _shown(schema.name)
    found: list[tuple[object, ...]] = []
    con = duckdb.connect()
    try:
        for incoming, held in ours:
            found += con.execute(
                f"""SELECT DISTINCT {key}, c.source_file, {shown_as}
                FROM read_parquet({lit(incoming)}) AS i
                JOIN read_parquet({lit(held)}) AS c ON {match}
                WHERE c.run_id = $run AND ({differs})
                ORDER BY ALL""",
                {"run": run_id},
            ).fetchall()
    finally:
        con.close()
    if not found:
        return ""
    what = WHAT[schema.name]
    n = len(schema.key)
    shown = "; ".join(_line(schema.name, row[:n], row[n], row[n + 1 :]) for row in found[:SHOWN])
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return (
        f"replaced {len(found)} {what} row(s) an earlier file of this run loaded with "
        f"other terms ({shown}{more}): the later file in name order wins, not the newer sheet; "
        "if the other file's terms are the ones meant, load those lines again in a file of "
        "their own (a file loaded before is skipped)"
    )


def _shown(table: str) -> str:
    """What a note shows of an old row (c) and its replacement (i)."""
    if table == "entitlements":
        return "c.units, i.units"
    return "c.name, i.name, c.cost_centre, i.cost_centre, c.site, i.site, c.country, i.country"


def _line(table: str, key: tuple[object, ...], source: object, values: tuple[object, ...]) -> str:
    """One replaced row of a note: its key, what the earlier file said and what this one says."""
    if table == "entitlements":
        sub, licence, start = key
        old, new = values
        return f"{sub} {licence} from {start}: {old} units in {source}, {new} here"
    kind, entry = key
    changed = [
        f"{name} {values[2 * i]!r} in {source}, {values[2 * i + 1]!r} here"
        for i, name in enumerate(("name", "cost_centre", "site", "country"))
        if values[2 * i] != values[2 * i + 1]
    ]
    return f"{kind} {entry}: {', '.join(changed)}"
