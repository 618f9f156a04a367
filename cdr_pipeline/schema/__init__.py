"""Canonical schemas of every input kind: the single source of truth for columns, their
source spellings, and the input kind a header announces."""

from __future__ import annotations

from cdr_pipeline.schema.base import Column, TableSchema, normalize_header
from cdr_pipeline.schema.calls import CALL_LEGS
from cdr_pipeline.schema.devices import DEVICE_EVENTS, DEVICE_SNAPSHOTS, ENTITLEMENTS
from cdr_pipeline.schema.directory import ORG_DIRECTORY
from cdr_pipeline.schema.headers import (
    HeaderResolution,
    check_forced_kind,
    detect_kind,
    resolve_headers,
)
from cdr_pipeline.schema.registry import (
    SCHEMAS,
    register,
    schema_for_kind,
    schemas_by_table,
    secret_key,
)

__all__ = [
    "CALL_LEGS",
    "DEVICE_EVENTS",
    "DEVICE_SNAPSHOTS",
    "ENTITLEMENTS",
    "ORG_DIRECTORY",
    "SCHEMAS",
    "Column",
    "HeaderResolution",
    "TableSchema",
    "check_forced_kind",
    "detect_kind",
    "normalize_header",
    "register",
    "resolve_headers",
    "schema_for_kind",
    "schemas_by_table",
    "secret_key",
]
