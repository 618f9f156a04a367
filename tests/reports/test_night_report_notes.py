"""The notes `cdr report` prints on stderr reach the nightly's log: its report files hold the
figures only, and the night wrote the reports without a word of the note."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports.standard import report_file_name, write_one


def test_a_nightly_report_logs_the_note_cdr_report_prints(
    sample_wh: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The licence usage of a month outside the device data has no row, and `cdr report`
    says why (`note: January 2025 is outside the device data ...`); the nightly's reports
    stage wrote the empty file and logged nothing of it. It logs the note, naming the
    report and the month."""
    month = date(2025, 1, 1)
    path = tmp_path / report_file_name("licence-usage", month)
    with caplog.at_level(logging.INFO, logger="cdr_pipeline.reports"):
        result = write_one(sample_wh, "licence-usage", month, path)
    assert result.note.startswith("January 2025 is outside the device data")
    assert path.is_file()
    (line,) = [r for r in caplog.records if r.getMessage().startswith("note: ")]
    assert line.getMessage() == f"note: report licence-usage for 2025-01: {result.note}"
    assert (getattr(line, "report", None), getattr(line, "month", None)) == (
        "licence-usage",
        "2025-01",
    )
