"""The shared renderer: control characters never reach a terminal, one table renderer, one
JSON encoder that lets result objects serialise themselves; CSV cells never evaluate."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.context import JsonFormatter, SafeFormatter
from cdr_pipeline.cli.main import cli
from cdr_pipeline.cli.render import Progress
from cdr_pipeline.ingest.results import FileResult, IngestResult, ProgressEvent
from cdr_pipeline.render import os_text, plain, safe_text, text_table, to_json
from cdr_pipeline.reports import ReportResult, safe_cell, write_report

FIXTURES = Path(__file__).parent / "fixtures" / "dch"
HOSTILE = "a\x1b]0;owned\x07b\x1b[2J\rc\x08d\x7fe\x9bf\u202eg"
RAW = ("\x1b", "\x07", "\r", "\x08", "\x7f", "\x9b", "\u202e")


def _clean(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"raw {ch!r} in output"


def test_safe_text_shows_controls_as_escapes() -> None:
    out = safe_text(HOSTILE)
    _clean(out)
    assert out == "a\\x1b]0;owned\\x07b\\x1b[2J\\x0dc\\x08d\\x7fe\\x9bf\\u202eg"
    assert safe_text("Müller 日本 O'Brien\ttab") == "Müller 日本 O'Brien\\x09tab"
    assert safe_text("two\nlines\x1b", newlines=True) == "two\nlines\\x1b"
    assert safe_text("two\nlines") == "two\\x0alines"
    assert safe_text(safe_text(HOSTILE)) == safe_text(HOSTILE)  # idempotent


def test_a_file_name_that_is_not_utf8_is_written_escaped() -> None:
    # what Python makes of the name bytes `lat\xe9n.csv` (surrogateescape)
    name = os.fsdecode(b"/in/lat\xe9n.csv")
    assert os_text(name) == safe_text(name) == "/in/lat\\xe9n.csv"
    assert os_text("Müller.csv") == "Müller.csv"
    assert os_text("x\ud800") == "x\\ud800"  # a lone surrogate from data, not a name byte
    assert json.loads(to_json({name: Path(name)})) == {"/in/lat\\xe9n.csv": "/in/lat\\xe9n.csv"}


def test_text_table_escapes_cells_and_aligns_numbers() -> None:
    out = text_table(["name\x1b", "n"], [(HOSTILE, 1234), ("x", None), ("y", 5)])
    _clean(out)
    lines = out.splitlines()
    assert len(lines) == 5 and lines[0].startswith("name\\x1b")
    assert lines[2].endswith("1,234") and lines[4].endswith("    5")
    # report data: numbers in full, no grouping
    assert text_table(["year"], [(2026,)], grouped=False).splitlines()[2] == "2026"


@dataclass
class _Thing:
    when: datetime
    path: Path
    amount: Decimal
    ratio: float

    def to_dict(self) -> dict[str, Any]:
        return {"when": self.when, "path": self.path, "amount": self.amount, "x": self.ratio}


def test_json_encoder_uses_to_dict_and_plain_types() -> None:
    t = _Thing(datetime(2026, 10, 1, 12, tzinfo=UTC), Path("a/b"), Decimal("1.5"), float("nan"))
    data = json.loads(to_json({"thing": t, "day": date(2026, 10, 1), "set": {1}}))
    assert data == {
        "thing": {"when": "2026-10-01T12:00:00+00:00", "path": "a/b", "amount": 1.5, "x": None},
        "day": "2026-10-01",
        "set": [1],
    }
    # a dataclass without to_dict: by its fields
    assert plain(FileResult("p", "s", "loaded", rows_read=3))["rows_read"] == 3


def test_json_escapes_every_control_and_round_trips() -> None:
    text = to_json({"v": HOSTILE})
    _clean(text)
    assert json.loads(text) == {"v": HOSTILE}


def test_results_serialise_themselves() -> None:
    result = IngestResult("run-1", [FileResult("p", "p", "failed", exit_code=3)], 1.5)
    data = json.loads(to_json(result))
    assert (data["run_id"], data["exit_code"], data["files"][0]["status"]) == ("run-1", 3, "failed")
    report = ReportResult("r", date(2026, 9, 1), pa.table({"a": [1, 2]}), 0.1)
    data = json.loads(to_json(report))
    assert (data["month"], data["rows"], data["row_count"]) == (
        "2026-09-01",
        [{"a": 1}, {"a": 2}],
        2,
    )


def test_progress_label_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(quiet=False)
    progress.tty = True
    progress(ProgressEvent(f"file{HOSTILE}.csv", 10, 5, 10, done=True))
    err = capsys.readouterr().err
    # only the progress line's own redraw (CR, and ESC[K which click drops off a terminal)
    redraw = "\r\x1b[K" if err.startswith("\r\x1b[K") else "\r"
    assert err.startswith(redraw)
    _clean(err[len(redraw) :])
    assert "file a" not in err and "filea\\x1b" in err


def test_log_lines_are_escaped() -> None:
    record = logging.LogRecord(
        "cdr_pipeline.x", logging.WARNING, "f", 1, "bad %s", (HOSTILE,), None
    )
    _clean(SafeFormatter("%(message)s").format(record))
    line = JsonFormatter().format(record)
    _clean(line)
    assert json.loads(line)["message"] == f"bad {HOSTILE}"


def test_cli_notes_tables_and_errors_are_escaped(tmp_path: Path) -> None:
    # a header with an escape sequence: the "new columns" note and the table name it
    text = (FIXTURES / "drift_columns.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    src = tmp_path / f"export{HOSTILE[:8]}.csv"
    # (a bare CR in a header is the reader's business: it is left out here)
    src.write_text(
        header.replace("Future column", f"Future{HOSTILE.replace(chr(13), '')}") + "\n" + rest
    )
    run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "ingest", str(src)])
    assert run.exit_code == 0, run.output
    _clean(run.output)
    assert "new columns kept in 'extra'" in run.output and "\\x1b]0;owned\\x07" in run.output
    # an error naming a hostile file name: through the one error boundary
    missing = tmp_path / f"gone{HOSTILE}.csv"
    run = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "ingest", str(missing)])
    assert run.exit_code == 3, run.output
    _clean(run.output)
    assert "gone" in run.output


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        " =1+1",
        "\n=1+1",
        "\r\n=1+1",
        "\t=1",
        "  \t @SUM(A1)",
        "＝1+1",
        "＋1",
        "－1",
        "＠SUM(A1)",
        " ＝1",
        "\u3000=1",
        "\u00a0+1",
        "﹦1",
        "−1",
        "\tx",
        "\rx",
    ],
)
def test_formula_triggers_are_neutralised(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "Müller", "a=1", "1-2", "", "   ", "O'Brien", 5, None])
def test_ordinary_cells_are_unchanged(value: Any) -> None:
    assert safe_cell(value) == value


def test_csv_export_neutralises_after_whitespace_and_full_width(tmp_path: Path) -> None:
    names = [' =HYPERLINK("http://x")', "\n=1+1", "＝1+1", "fine"]
    result = ReportResult("t", None, pa.table({"name": names, "n": [-1, 2, 3, 4]}), 0.0)
    out = tmp_path / "t.csv"
    write_report(result, "csv", out)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["'" + n for n in names[:3]] + ["fine"]
    assert [r[1] for r in rows[1:]] == ["-1", "2", "3", "4"]
    table = write_report(ReportResult("t", None, pa.table({"name": [HOSTILE]}), 0.0), "table")
    assert table is not None
    _clean(table)


def test_usage_errors_echoing_the_command_line_are_escaped(tmp_path: Path) -> None:
    run = CliRunner().invoke(cli, ["demo", "--samples", str(tmp_path / f"x{HOSTILE}")])
    assert run.exit_code == 2
    _clean(run.output)
    assert "does not exist" in run.output and "\\x1b]0;owned" in run.output


def test_zip_members_of_the_same_name_keep_apart_in_short_labels() -> None:
    from cdr_pipeline.cli.render import file_label

    a = file_label("/in/export.zip!2026-09/calls.csv")
    b = file_label("/in/export.zip!2026-10/calls.csv")
    assert (a, b) == ("export.zip!2026-09/calls.csv", "export.zip!2026-10/calls.csv")
    assert file_label("/in/dch.csv") == "dch.csv"
