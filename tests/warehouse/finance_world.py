"""Tiny hand-written worlds for the finance rules: device snapshots, lifecycle events,
entitlements and call legs written as CSV, ingested through the real pipeline and read
through every view of `cdr build` (an in-memory DuckDB over the Parquet tables, made as the
library makes one for a question: `connect_snapshots`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import connect_snapshots
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.devices.helpers import EVENT_HEADER, SNAPSHOT_HEADER

ORG = "00000000-0000-4000-8000-0000000000aa"
BYOD = "Webex Go (Bring Your Own Device)"
MOBILE = "Webex Go Mobile (Mobile Operator)"
CALL_HEADER = (
    "Report ID,Report time,Start time,Answer time,Release time,Duration,Answered,Direction,"
    "Call type,Client type,Sub client type,User UUID,User number,User type,Org UUID,Location,"
    "Site timezone,Correlation ID,Local call ID,Remote call ID,Called number"
)


def user(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@dataclass
class World:
    """Rows of the five inputs; `build` ingests them and returns a view connection."""

    snapshots: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    entitlements: list[str] = field(default_factory=list)
    calls: dict[str, list[str]] = field(default_factory=dict)
    """Call export file name -> its rows (the name may declare the export's date range)."""
    directory: list[str] = field(default_factory=list)
    """org_directory.csv rows: entry_type,entry_id,name,cost_centre,site,country."""

    def snapshot(
        self,
        time: str,
        device: str,
        uid: str,
        number: str,
        *,
        deployment: str = "BYOD",
        subscription: str = "Sub-1",
        location: str = "HQ",
        department: str = "Dept-A",
        status: str = "ONLINE",
    ) -> None:
        self.snapshots.append(
            f"{time},{ORG},{device},{uid},,x@example.com,{deployment},{number},1000,"
            f"{location},{department},{subscription},{status},,ESIM"
        )

    def event(
        self,
        time: str,
        device: str,
        kind: str,
        uid: str,
        number: str,
        *,
        deployment: str = "BYOD",
        subscription: str = "Sub-1",
    ) -> None:
        self.events.append(
            f"{time},{ORG},{device},{kind},{uid},,admin,,{deployment},{subscription},{number},"
        )

    def held_through_september(self, devices: list[tuple[str, str, str, str]]) -> None:
        """Each (device, user, number, subscription): provisioned 2026-08-15, activated the
        next day and still seen on 2026-10-01, so held every instant of September 2026."""
        for device, uid, number, sub in devices:
            self.event("2026-08-15T00:00:00Z", device, "PROVISIONED", uid, number, subscription=sub)
            self.event("2026-08-16T00:00:00Z", device, "ACTIVATED", uid, number, subscription=sub)
            self.snapshot("2026-10-01T06:00:00Z", device, uid, number, subscription=sub)

    def entitle(self, subscription: str, licence_type: str, units: int, price: str) -> None:
        self.entitlements.append(f"{subscription},{licence_type},{units},2026-01-01,,{price},USD")

    def leg(
        self,
        file: str,
        rid: str,
        start: str,
        uid: str,
        number: str,
        seconds: int | None,
        *,
        go: bool = True,
        location: str = "HQ",
        correlation: str | None = None,
        local_id: str | None = None,
        remote_id: str | None = None,
        direction: str = "ORIGINATING",
    ) -> None:
        sub, client = ("MOBILE_NETWORK", "SIP") if go else ("", "WXC_CLIENT")
        corr = correlation or f"corr-{rid}"
        duration = "" if seconds is None else seconds  # no Duration: an empty cell
        self.calls.setdefault(file, []).append(
            f"{rid},{start},{start},{start},{start},{duration},true,{direction},SIP_NATIONAL,"
            f"{client},{sub},{uid},{number},User,{ORG},{location},0,{corr},"
            f"{local_id or rid + ':0'},{remote_id or rid + ':1'},+15559999"
        )

    def ingest(self, root: Path, **settings: object) -> Settings:
        """The input files written under `root/inputs` and ingested into `root/wh`, no view
        built (a test that builds or refreshes the warehouse itself)."""
        full = Settings(warehouse=root / "wh", **settings)  # type: ignore[arg-type]
        result = ingest_paths(full, [self.write(root / "inputs")])
        assert result.exit_code == 0, [f.message for f in result.files]
        return full

    def build(self, root: Path, **settings: object) -> duckdb.DuckDBPyConnection:
        full = self.ingest(root, **settings)
        # the device-level marts kept as tables (`materialize.Keeper`), as `cdr build` and
        # every in-memory database of the library keep them: each is the view's SQL
        # computed whole; as views, every licence view bound and computed the whole
        # device-level chain again (seconds per query, even on a few rows)
        return connect_snapshots(full, table_snapshots(full))

    def write(self, inputs: Path) -> Path:
        """The input files in the folder `inputs` (made here), for `cdr ingest`."""
        inputs.mkdir(parents=True)
        if self.snapshots:
            _write(inputs / "device_snapshots.csv", SNAPSHOT_HEADER, self.snapshots)
        if self.events:
            _write(inputs / "activation_events.csv", EVENT_HEADER, self.events)
        if self.entitlements:
            header = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency"
            _write(inputs / "entitlements.csv", header, self.entitlements)
        if self.directory:
            header = "entry_type,entry_id,name,cost_centre,site,country"
            _write(inputs / "org_directory.csv", header, self.directory)
        for name, rows in self.calls.items():
            _write(inputs / name, CALL_HEADER, rows)
        return inputs


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
