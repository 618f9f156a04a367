"""Entitlement rows a file replaces that an earlier file of the same run loaded with other
terms. A later load of an entitlement's key is its amendment (docs/inputs-devices.md): that is
what a later run says. Within one run, "later" is only the files' name order
(`paths.expand_paths`), and `entitlements (1).csv` (a sheet downloaded again) or
`entitlements-v2.csv` sorts before `entitlements.csv`: the original replaced its correction
and both files read `loaded`. Lines of one file that do this are quarantined
(`conflicting_lines`); between files of a run the later one still wins, and the file's
result says which rows it replaced and from which file, so the user can load the terms meant
again."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.ingest.derive.devices import ENTITLEMENT_TERMS
from cdr_pipeline.ingest.pending import PendingTable
from cdr_pipeline.text import lit, quote

TERMS = ENTITLEMENT_TERMS
"""What a purchase line says under its key (those `conflicting_lines` compares in a file)."""
SHOWN = 3
"""Keys a note names; the rest are counted."""


def same_run_amendments(pending: PendingTable, staged: dict[str, Path], run_id: str) -> str:
    """A note naming the entitlement rows that the staged rows (one source) replace with other
    terms, which an earlier file of run `run_id` loaded; '' when there are none (or the
    table is not `entitlements`). Call it before the source is merged."""
    schema = pending.schema
    if schema.name != "entitlements":
        return ""
    ours = [
        (path, held)
        for value, path in staged.items()
        if (held := pending.rewritten.get(value)) is not None  # written by this run
    ]
    key = ", ".join(f"i.{quote(k)}" for k in schema.key)
    match = " AND ".join(f"i.{quote(k)} IS NOT DISTINCT FROM c.{quote(k)}" for k in schema.key)
    differs = " OR ".join(f"i.{quote(t)} IS DISTINCT FROM c.{quote(t)}" for t in TERMS)
    found: list[tuple[object, ...]] = []
    con = duckdb.connect()
    try:
        for incoming, held in ours:
            found += con.execute(
                f"""SELECT DISTINCT {key}, c.source_file, c.units, i.units
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
    shown = "; ".join(
        f"{sub} {licence} from {start}: {old} units in {source}, {new} here"
        for sub, licence, start, source, old, new in found[:SHOWN]
    )
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return (
        f"replaced {len(found)} entitlement row(s) an earlier file of this run loaded with "
        f"other terms ({shown}{more}): the later file in name order wins, not the newer sheet; "
        "if the other file's terms are the ones meant, load those lines again in a file of "
        "their own (a file loaded before is skipped)"
    )
