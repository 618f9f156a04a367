"""Ingest derivation of the org directory (docs/inputs-directory.md): canonical entry type,
trimmed ids (a UUID in lower case), upper-case country. A row whose entry type is neither a
department nor a location is quarantined; a row without a name or cost centre loads (the
reports then show the id)."""

from __future__ import annotations

import polars as pl

from cdr_pipeline.ingest.derive.base import Check, conflicting_lines, id_numbers
from cdr_pipeline.ingest.derive.devices import _enum_check, _uuid_lower
from cdr_pipeline.schema.directory import ENTRY_DEPARTMENT, ENTRY_LOCATION, ENTRY_TYPES

ENTRY_ALIASES = {
    "department": ENTRY_DEPARTMENT,
    "dept": ENTRY_DEPARTMENT,
    "location": ENTRY_LOCATION,
    "loc": ENTRY_LOCATION,
}


def derive_directory(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Check]]:
    """Entry type as `department` or `location`; ids and names trimmed, a UUID id in lower
    case; country upper case."""
    squeezed = pl.col("entry_type").str.strip_chars().str.to_lowercase()
    df = df.with_columns(
        pl.col("entry_type").alias("__raw_entry_type"),
        squeezed.replace_strict(ENTRY_ALIASES, default=None, return_dtype=pl.String).alias(
            "entry_type"
        ),
        # a Department ID is a UUID, which call legs and device snapshots carry in lower
        # case: one an HR or finance export wrote in upper case named no department
        _uuid_lower("entry_id", pl.col("entry_id").str.strip_chars()),
        pl.col("name").str.strip_chars(),
        pl.col("cost_centre").str.strip_chars(),
        pl.col("site").str.strip_chars(),
        pl.col("country").str.strip_chars().str.to_uppercase(),
    )
    ids = id_numbers("entry_id", "cost_centre")
    return df, [_enum_check("entry_type", "__raw_entry_type", ENTRY_TYPES), *ids, _CONFLICTING]


DIRECTORY_TERMS = ("name", "cost_centre", "site", "country")  # what a line says of its entry

_CONFLICTING = conflicting_lines(
    ("entry_type", "entry_id"),
    DIRECTORY_TERMS,
    "keep the line that is right and delete the other",
)
"""One department or location twice with other names or cost centres (two HR exports
merged): the table keeps one, and every licence of it would be billed by a guess."""
