"""Property test of the device kinds' ingest against hostile values (deterministic, a few
seconds): whatever a cell holds (half a character, numbers past any range, control
characters, spreadsheet spellings), and whether the file is CSV or JSON lines, the ingest
never raises (exit 1), every record is loaded, a duplicate or quarantined, and loading the
file again adds nothing. The probe that wrote it found two faults of this kind: a lone
`\\ud800` escape in an activation event made the run exit 1, and a unit price of 1e308 loaded
and broke every finance report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths

ORG = "0f000000-0000-4000-8000-000000000001"
SEEDS = {
    "activation_events": [
        ["event_time", "org_uuid", "device_id", "event_type", "actor", "activation_code"],
        ["2026-10-01T06:00:00Z", ORG, "D1", "PROVISIONED", "admin@example.com", ""],
        ["2026-10-01T06:00:05Z", ORG, "D1", "ACTIVATION_CODE_ISSUED", "system", "K3Y9W2ZXQ7"],
        ["2026-10-02T06:00:00Z", ORG, "D1", "ACTIVATED", "system", ""],
    ],
    "device_snapshots": [
        ["snapshot_time", "org_uuid", "device_id", "phone_number", "subscription_id", "status"],
        ["2026-10-01T06:00:00Z", ORG, "D1", "+13125550115", "Sub-1", "Online"],
        ["2026-10-01T06:00:00Z", ORG, "D2", "+13125550116", "Sub-1", "Pending activation"],
    ],
    "entitlements": [
        ["subscription_id", "licence_type", "units", "valid_from", "unit_price", "currency"],
        ["Sub-1", "BYOD", "10", "2026-01-01", "12.50", "USD"],
        ["Sub-1", "Mobile Operator", "2", "2026-01-01", "20", "USD"],
    ],
}
HOSTILE = st.sampled_from(
    [
        "",
        "NA",
        "nan",
        "1e308",
        "-1e308",
        "1000000000000",
        "9" * 30,
        "1.000",
        "4.4477E+11",
        "0001-01-01",
        "2026-02-30",
        "31.12.2026",
        "\ud800",
        "x\ud800y",
        "\x00",
        "\x1b[31m",
        " Online ",
        "DELETED",
        "Lost/Stolen",
        "x" * 70_000,
    ]
)


def _write(path: Path, rows: list[list[str]], as_json: bool) -> None:
    if as_json:  # a lone surrogate is written as the escape a JSON file holds
        lines = [json.dumps(dict(zip(rows[0], r, strict=True))) for r in rows[1:]]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogateescape"))


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 5), HOSTILE), min_size=1),
    as_json=st.booleans(),
)
def test_hostile_values_in_device_files_are_accounted_for(
    tmp_path_factory: object, kind: str, edits: list[tuple[int, int, str]], as_json: bool
) -> None:
    rows = [list(r) for r in SEEDS[kind]]
    for r, c, value in edits:
        row = rows[1 + (r - 1) % (len(rows) - 1)]
        row[c % len(row)] = value
    if not as_json and any("\ud800" in v for row in rows for v in row):
        as_json = True  # no CSV byte sequence decodes to half a character
    folder = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    path = folder / ("f.jsonl" if as_json else "f.csv")
    _write(path, rows, as_json)
    config = Settings(warehouse=folder / "wh")  # type: ignore[call-arg]
    (f,) = ingest_paths(config, [path]).files
    assert f.exit_code in (0, 3), f.message
    assert f.status in ("loaded", "empty", "failed"), f.status
    if f.status == "loaded":
        assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_rejected
    (again,) = ingest_paths(config, [path]).files
    assert again.rows_loaded == 0 and again.exit_code == f.exit_code
