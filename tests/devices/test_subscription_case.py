"""A subscription id is one id in any case (`SUB-1` is `Sub-1`), and ingest (polars, its
DuckDB queries) and the views (DuckDB, Spark) must fold it alike. `upper` does not: DuckDB's
maps one character to one (`ß` to `ẞ`, `ﬁ` kept), polars', Python's and Spark's to several
(`SS`, `FI`). Every side now folds the ASCII letters only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from cdr_pipeline.resources import sql_dir
from tests.devices.helpers import ingest, write_csv

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency"
BYOD = "Webex Go (Bring Your Own Device)"


def _line(subscription: str, units: int) -> str:
    return f"{subscription},{BYOD},{units},2026-01-01,,10.00,USD"


def _in_force(warehouse: Path) -> list[tuple[object, ...]]:
    """`int_entitlements_in_force` (with the views' macros) over the loaded table: the
    views' own SQL, without building all of them."""
    con = duckdb.connect()
    con.execute((sql_dir() / "_macros.sql").read_text(encoding="utf-8"))
    stg_entitlements = pl.read_delta(str(warehouse / "tables" / "entitlements"))  # noqa: F841
    view = (sql_dir() / "int_entitlements_in_force.sql").read_text(encoding="utf-8")
    found = con.execute(f"select subscription_id, units from ({view}) order by units")
    return [tuple(r) for r in found.fetchall()]


def test_a_non_ascii_subscription_id_is_the_same_id_in_ingest_and_the_views(
    tmp_path: Path,
) -> None:
    """`SUB-ß1` beside `SUB-SS1` (other units) in one sheet: polars' upper case made them one
    key and quarantined both lines as conflicting, while the views (DuckDB's `upper`) kept
    them as two subscriptions; `SUB-ẞ1` loaded as an id of its own, while the views merged it
    into `SUB-ß1` (the later row's units replacing the other's). Now each is an id of its own
    on both sides, and `sub-ß1` re-sent is still `SUB-ß1`, amended."""
    wh = tmp_path / "wh"
    sheet = write_csv(
        tmp_path / "in" / "entitlements.csv",
        HEADER,
        [_line("SUB-ß1", 2), _line("SUB-SS1", 3), _line("SUB-ẞ1", 4)],
    )
    (loaded,) = ingest(wh, sheet, max_reject_rate=1.0).files
    assert (loaded.rows_loaded, loaded.rows_rejected) == (3, 0), loaded.message
    assert _in_force(wh) == [("SUB-ß1", 2), ("SUB-SS1", 3), ("SUB-ẞ1", 4)]
    resent = write_csv(tmp_path / "in2" / "entitlements.csv", HEADER, [_line("sub-ß1", 5)])
    (again,) = ingest(wh, resent).files
    assert "amended 1 entitlement row(s) an earlier run loaded" in again.message
    assert _in_force(wh) == [("SUB-SS1", 3), ("SUB-ẞ1", 4), ("sub-ß1", 5)]
