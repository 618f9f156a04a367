"""DuckDB warehouse: the view loader (`sql/` -> `cdr.duckdb`) and connections."""

from __future__ import annotations

from cdr_pipeline.warehouse.build import (
    BuildResult,
    BuiltView,
    build_warehouse,
    connect,
    connect_as_of,
    connect_snapshots,
    create_views,
    refresh_warehouse,
)
from cdr_pipeline.warehouse.catalog import ViewError, ViewSpec
from cdr_pipeline.warehouse.signature import views_behind
from cdr_pipeline.warehouse.tiers import resolve_tier

__all__ = [
    "BuildResult",
    "BuiltView",
    "ViewError",
    "ViewSpec",
    "build_warehouse",
    "connect",
    "connect_as_of",
    "connect_snapshots",
    "create_views",
    "refresh_warehouse",
    "resolve_tier",
    "views_behind",
]
