"""Shared helpers of the device tests: tiny CSV writers, ingest and a view connection."""

from __future__ import annotations

import base64
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import IngestResult, ingest_paths
from cdr_pipeline.warehouse import connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots

ORG = "0f000000-0000-4000-8000-000000000001"
SNAPSHOT_HEADER = (
    "snapshot_time,org_uuid,device_id,user_uuid,person_id,user_email,deployment,phone_number,"
    "extension,location,department_id,subscription_id,status,activation_state,model_type"
)
EVENT_HEADER = (
    "event_time,org_uuid,device_id,event_type,user_uuid,status_after,actor,code_expires_at,"
    "deployment,subscription_id,phone_number,activation_code"
)


def person_id(user_uuid: str) -> str:
    """An API person id without its base64 padding, as the API sometimes returns it."""
    raw = f"ciscospark://us/PEOPLE/{user_uuid}".encode()
    return base64.b64encode(raw).decode().rstrip("=")


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def ingest(warehouse: Path, *paths: Path, **settings: object) -> IngestResult:
    result = ingest_paths(Settings(warehouse=warehouse, **settings), list(paths))  # type: ignore[arg-type]
    assert result.exit_code == 0, [f.message for f in result.files]
    return result


def views(warehouse: Path, **settings: object) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every view of `cdr build` over the warehouse's tables, as
    the library makes one for a question (`connect_snapshots`): the device-level marts kept
    as tables of their views' SQL, which the views after them read."""
    full = Settings(warehouse=warehouse, **settings)  # type: ignore[arg-type]
    return connect_snapshots(full, table_snapshots(full))


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]
