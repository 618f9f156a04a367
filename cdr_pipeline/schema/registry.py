"""The registry of input kinds: kind -> table schema."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cdr_pipeline.schema.base import TableSchema
from cdr_pipeline.schema.calls import CALL_LEGS
from cdr_pipeline.schema.devices import DEVICE_EVENTS, DEVICE_SNAPSHOTS, ENTITLEMENTS
from cdr_pipeline.schema.directory import ORG_DIRECTORY

SCHEMAS: dict[str, TableSchema] = {
    s.kind: s for s in (CALL_LEGS, DEVICE_SNAPSHOTS, DEVICE_EVENTS, ENTITLEMENTS, ORG_DIRECTORY)
}
"""Input kind -> schema. Other kinds register themselves here (see `register`)."""


_LOOKUPS: dict[str, Callable[[str], str | None]] = {}


def secret_key(key: str) -> bool:
    """Whether `key` (a JSON key or a header) names, in any input kind, a column no table
    stores (`Column.sensitive`: the activation code, dropped on read)."""
    for schema in SCHEMAS.values():
        secret = {c.name for c in schema.input_columns if c.sensitive}
        if secret:
            lookup = _LOOKUPS.setdefault(schema.kind, schema.header_lookup())
            if lookup(key) in secret:
                return True
    return False


def register(schema: TableSchema) -> None:
    SCHEMAS[schema.kind] = schema


def schema_for_kind(kind: str) -> TableSchema:
    return SCHEMAS[kind]


def schemas_by_table(schemas: Mapping[str, TableSchema] | None = None) -> dict[str, TableSchema]:
    """Table name -> schema, of `schemas` (default: the registry, read now, so later
    `register` calls count). `SCHEMAS` itself is keyed by input kind."""
    return {s.name: s for s in (SCHEMAS if schemas is None else schemas).values()}
