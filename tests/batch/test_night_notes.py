"""The notes `cdr ingest` prints on stderr (`note: FILE: ...`) reach the nightly's log: a
nightly prints none, and its log said only `loaded, N read, ...` of the file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cdr_pipeline.batch.stages import log_notes
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from tests.ingest.helpers import fixture


def test_a_nightly_logs_the_notes_cdr_ingest_prints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An export with columns the pipeline does not know: `cdr ingest` notes the new
    columns kept in `extra`; a second delivery of it is noted as skipped. The night's
    ingest stage logs both (`log_notes`, which its ingest stage calls)."""
    settings = Settings(warehouse=tmp_path / "wh")
    export = fixture("drift_columns.csv")
    first = ingest_paths(settings, [export])
    again = ingest_paths(settings, [export])
    with caplog.at_level(logging.INFO, logger="cdr_pipeline.batch"):
        log_notes(first)
        log_notes(again)
    notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("note: ")]
    new_columns = f"note: {first.files[0].source}: {first.files[0].new_columns_note()}"
    assert notes[0] == new_columns and "new columns kept in 'extra'" in notes[0]
    (skipped,) = again.files
    assert skipped.status == "skipped" and skipped.message
    assert notes[1:] == [f"note: {skipped.source}: {skipped.message}"]
