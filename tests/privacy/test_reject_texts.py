"""Retention of personal fields reaches the quarantine: the raw line and parse message of a
record rejected before the cutoff are emptied; its file, line, reason and time stay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.privacy.forget import forget
from cdr_pipeline.privacy.retention import apply_personal_retention
from cdr_pipeline.state.ledger import Ledger
from tests.fixtures.make_dch_fixtures import HEADERS, csv_text, row

NAME = "Ingrid Oyelaran-Björk"


def _quarantined(tmp_path: Path) -> tuple[Settings, Path]:
    """A warehouse holding 20 legs, one of them rejected: its start time does not parse,
    and its user name is in its raw line."""
    rows = [row(i) for i in range(20)]
    rows[7][HEADERS.index("Start time")] = f"yesterday, said {NAME}"
    rows[7][HEADERS.index("User")] = NAME
    src = tmp_path / "export.csv"
    src.write_text(csv_text(HEADERS, rows))
    settings = Settings(warehouse=tmp_path / "wh", max_reject_rate=0.1)
    result = ingest_paths(settings, [src])
    assert result.total("rows_rejected") == 1
    (rejects,) = settings.layout.rejects.glob("call_legs/*.parquet")
    return settings, rejects


def test_retention_empties_the_text_of_old_rejects_only(tmp_path: Path) -> None:
    settings, path = _quarantined(tmp_path)
    held = pl.read_parquet(path)
    assert NAME in held["raw_text"][0] and NAME in held["detail"][0]
    today = datetime.now(UTC).date()

    # rejected today: within 30 days, kept as it is
    recent = apply_personal_retention(settings, 30, "run-recent", today)
    assert recent.rejects == [] and pl.read_parquet(path).equals(held)

    # 40 days on, the same reject is older than the cutoff: a dry run counts, then the pass
    later = today + timedelta(days=40)
    dry = apply_personal_retention(settings, 30, "run-dry", later, dry_run=True)
    assert [(e.file, e.rows) for e in dry.rejects] == [(f"call_legs/{path.name}", 1)]
    assert pl.read_parquet(path).equals(held)
    done = apply_personal_retention(settings, 30, "run-later", later)
    assert [(e.file, e.rows) for e in done.rejects] == [(f"call_legs/{path.name}", 1)]

    after = pl.read_parquet(path)
    assert after["raw_text"].to_list() == [None] and after["detail"].to_list() == [None]
    kept = ["run_id", "table_name", "source_file", "source_row", "reason", "rejected_at"]
    assert after.select(kept).equals(held.select(kept))
    assert NAME.encode() not in path.read_bytes()
    assert not list(path.parent.glob(".*tmp*"))  # the rewrite left no temp file
    ledger = Ledger(settings.layout).read("personal_retention")
    mine = ledger.filter(pl.col("table_name") == "rejects/call_legs")
    assert mine["partition"].to_list() == [f"call_legs/{path.name}"]
    assert mine["rows"].to_list() == [1] and mine["cutoff"].to_list() == [later - timedelta(30)]

    # a second pass has nothing left to empty
    assert apply_personal_retention(settings, 30, "run-again", later).rejects == []


def test_the_cutoff_is_the_start_of_the_cutoff_day(tmp_path: Path) -> None:
    """Rejected on day D: still kept by a pass whose cutoff is D, emptied once it is D+1."""
    settings, path = _quarantined(tmp_path)
    day: date = pl.read_parquet(path)["rejected_at"][0].date()
    assert apply_personal_retention(settings, 1, "run-same", day + timedelta(1)).rejects == []
    assert len(apply_personal_retention(settings, 1, "run-next", day + timedelta(2)).rejects) == 1


def test_forget_empties_the_rejected_lines_that_name_the_person(tmp_path: Path) -> None:
    """A person whose only record was rejected: the tables give nothing but the number asked
    for, so replacing values would leave their name and user UUID beside it in the line."""
    settings, path = _quarantined(tmp_path)
    held = pl.read_parquet(path)
    uuid = "0d5e2c1a-0000-4000-8000-000000000007"
    assert "+15550100007" in held["raw_text"][0] and uuid in held["raw_text"][0]

    dry = forget(settings, number="+15550100007", dry_run=True)
    assert f"rejects/call_legs/{path.name}" in dry.other.files
    assert pl.read_parquet(path).equals(held)
    done = forget(settings, number="+15550100007")
    assert f"rejects/call_legs/{path.name}" in done.other.files

    after = pl.read_parquet(path)
    assert after["raw_text"].to_list() == [None] and after["detail"].to_list() == [None]
    kept = ["run_id", "table_name", "source_file", "source_row", "reason", "rejected_at"]
    assert after.select(kept).equals(held.select(kept))
    data = path.read_bytes()
    assert NAME.encode() not in data and uuid.encode() not in data
