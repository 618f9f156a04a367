"""The org directory: names and cost centres for the ids the other inputs carry.

Call legs and device snapshots identify a department by its Control Hub id and a location by
its name only. Finance reads names and cost centres, so an org directory CSV (our own format,
documented with examples in `docs/inputs-directory.md`) maps each department id to a
department name and cost centre, and each location name to its site and country. One row per
entry; a later load of the same `(entry_type, entry_id)` replaces the earlier one.
"""

from __future__ import annotations

from cdr_pipeline.schema.base import TableSchema, lineage_columns
from cdr_pipeline.schema.base import string_column as _s

ENTRY_DEPARTMENT = "department"
ENTRY_LOCATION = "location"
ENTRY_TYPES = (ENTRY_DEPARTMENT, ENTRY_LOCATION)

DIRECTORY_COLUMNS = (
    _s(
        "entry_type",
        "Entry type",
        "Type",
        "Kind",
        nullable=False,
        required=True,
        values=ENTRY_TYPES,
        closed=True,
        doc="department or location (any case; 'dept' and 'loc' accepted); stored lower case",
    ),
    _s(
        "entry_id",
        "Entry ID",
        "ID",
        "Identifier",
        "Key",
        nullable=False,
        required=True,
        doc="A department's Department ID as call legs and device snapshots carry it, or a "
        "location's Location name, exactly as spelled there (surrounding spaces trimmed)",
    ),
    _s(
        "name",
        "Name",
        "Display name",
        "Department name",
        doc="Department name shown in the reports (a location's own name is its entry_id)",
    ),
    _s(
        "cost_centre",
        "Cost centre",
        "Cost center",
        "costCenter",
        "costCentre",
        "Cost centre code",
        doc="Cost centre the department is billed to",
    ),
    _s("site", "Site", "Site name", "Office", doc="Site (building, campus) of a location"),
    _s(
        "country",
        "Country",
        "Country code",
        "countryCode",
        doc="Country of a location (ISO 3166 code advised); stored upper case",
    ),
)

ORG_DIRECTORY = TableSchema(
    name="org_directory",
    kind="org_directory",
    trim_text=True,
    columns=DIRECTORY_COLUMNS,
    key=("entry_type", "entry_id"),
    version_by=(),
    partition_by=None,
    # `country` is left out: call exports carry a "Country" column too
    signature=("entry_type", "entry_id", "cost_centre", "site"),
    min_signature=2,
    lineage=lineage_columns(extra=True),
)
