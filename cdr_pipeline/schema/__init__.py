"""Canonical schemas of every input kind: the single source of truth for columns."""

from __future__ import annotations

from cdr_pipeline.schema.base import Column, TableSchema, normalize_header
from cdr_pipeline.schema.calls import CALL_LEGS

SCHEMAS: dict[str, TableSchema] = {CALL_LEGS.kind: CALL_LEGS}
"""Input kind -> schema. Other kinds register themselves here (see `register`)."""


def register(schema: TableSchema) -> None:
    SCHEMAS[schema.kind] = schema


def schema_for_kind(kind: str) -> TableSchema:
    return SCHEMAS[kind]


__all__ = [
    "CALL_LEGS",
    "SCHEMAS",
    "Column",
    "TableSchema",
    "normalize_header",
    "register",
    "schema_for_kind",
]
