"""Output fits the terminal: `cdr ingest` (table and progress line), `cdr runs` and the
`cdr report` table run in a pseudo-terminal of 60, 80 or 120 columns print no line longer
than the width."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import pexpect
import pyarrow as pa
import pytest

from cdr_pipeline.cli.render import Progress
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.results import ProgressEvent
from cdr_pipeline.render import display_width, shorten_middle, text_table
from cdr_pipeline.reports import ReportResult
from cdr_pipeline.reports.export import to_text_table
from cdr_pipeline.reports.headline import headline_figures

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "data" / "samples"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def in_terminal(columns: int, *args: str) -> tuple[int, list[str]]:
    """`cdr ARGS` in a pseudo-terminal of `columns`: exit status and every screen line (the
    progress redraws after a carriage return count as lines of their own)."""
    env = {**os.environ, "CDR_CONFIG": "", "CDR_WAREHOUSE": "", "COLUMNS": "", "LINES": ""}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "cdr_pipeline", *args],
        dimensions=(40, columns),
        env=env,
        encoding="utf-8",
        timeout=300,
        cwd=str(ROOT),
    )
    output = child.read()
    child.close()
    lines = [ANSI.sub("", ln) for ln in re.split(r"\r\n|\r|\n", output)]
    return child.exitstatus, lines


@pytest.mark.parametrize("columns", [80, 120])
def test_ingest_runs_and_build_fit_the_terminal(columns: int, tmp_path: Path) -> None:
    wh = str(tmp_path / "wh")
    status, lines = in_terminal(columns, "--warehouse", wh, "ingest", str(SAMPLES))
    assert status == 0, "\n".join(lines)
    assert any("rows" in ln and "%" in ln for ln in lines)  # the progress line was drawn
    # a progress line filling the last column would wrap: it stays one shorter
    progress = [ln for ln in lines if "rows/s" in ln or re.search(r"rows \d+%$", ln)]
    assert all(len(ln) < columns for ln in progress), progress
    assert any(ln.startswith("file ") for ln in lines)  # the table
    # a refresh's summary ran to 213 columns on one line
    for args in (["runs"], ["runs", "--files"], ["build"]):
        status, out = in_terminal(columns, "--warehouse", wh, *args)
        assert status == 0, "\n".join(out)
        assert len([ln for ln in out if ln.strip()]) >= 3
        lines += out
    too_long = [ln for ln in lines if len(ln) > columns]
    assert not too_long, too_long


@pytest.mark.parametrize("columns", [60, 80])
def test_report_table_fits_the_terminal(columns: int, sample_wh: Settings) -> None:
    # the compact reconciliation table is some 190 columns: the terminal wrapped every row
    wh = str(sample_wh.warehouse)
    status, lines = in_terminal(columns, "--warehouse", wh, "report", "reconciliation")
    assert status == 0, "\n".join(lines)
    shown = [ln for ln in lines if ln.strip()]
    assert shown[0].startswith("month ") and shown[0].endswith("…"), shown
    assert len(shown) >= 3 and all(len(ln) <= columns for ln in shown), shown
    assert all(re.match(r"20\d\d-\d\d ", ln) for ln in shown[2:]), shown  # one line a row
    # --wide is every column, never cut: the lines are as long as the data
    status, lines = in_terminal(columns, "--warehouse", wh, "report", "reconciliation", "--wide")
    assert status == 0 and "unassigned_cost" in "".join(lines)


def test_runs_on_a_terminal_wide_or_fitted_never_cuts_a_time(tmp_path: Path) -> None:
    """One warehouse (one ingest in a terminal) read by `cdr runs` at several widths, which
    were three tests, each of which ran its own ingest first:
    - `cdr runs --wide` is "every column, the table versions each run committed and that
      message among them" (README), but on a terminal it was fitted like the compact table:
      at 80 columns it showed run_id, command, status, started_at, finished_at and `…`,
      never the versions or the message. It is now never cut, as `cdr report --wide`;
    - `cdr runs` at 120 columns shows the start time and the duration;
    - at 60 columns `cdr runs` showed its start time cut in the middle, `12-0…1:09`: no
      time at all. The time stays whole (other columns give way) at 50, 60 and 80."""
    wh = str(tmp_path / "wh")
    in_terminal(120, "--warehouse", wh, "ingest", str(SAMPLES / "entitlements.csv"))
    status, lines = in_terminal(80, "--warehouse", wh, "runs", "--wide")
    assert status == 0, "\n".join(lines)
    header = next(ln for ln in lines if ln.startswith("run_id "))
    assert "table_versions" in header and header.rstrip().endswith("message"), header
    assert any("entitlements=0" in ln for ln in lines), lines

    status, lines = in_terminal(120, "--warehouse", wh, "runs")
    assert status == 0
    header = next(ln for ln in lines if ln.startswith("run "))
    assert "started" in header and "took" in header
    row = lines[lines.index(header) + 2]
    assert re.search(r" \d\d-\d\d \d\d:\d\d +\d+\.\ds ", row), row

    for columns in (50, 60, 80):
        status, lines = in_terminal(columns, "--warehouse", wh, "runs")
        assert status == 0, "\n".join(lines)
        header = next(ln for ln in lines if ln.startswith("run "))
        row = lines[lines.index(header) + 2]
        assert re.search(r" \d\d-\d\d \d\d:\d\d ", row), row
        assert all(len(ln) <= columns for ln in lines if not ln.startswith("2026")), lines


def test_text_cells_are_shortened_in_the_middle() -> None:
    cut = shorten_middle("calling_detailed_call_history.csv", 12)
    assert len(cut) == 12 and cut.startswith("callin") and cut.endswith("y.csv") and "…" in cut
    table = text_table(["file", "rows"], [("x" * 100, 5), ("short", 7)], max_width=30)
    assert all(len(ln) <= 30 for ln in table.splitlines())
    assert "short" in table and "…" in table


def test_progress_rate_is_over_a_window_and_percent_of_the_whole_input() -> None:
    p = Progress(quiet=True, total_bytes=1000)
    assert p.rate(0.0, 0) is None
    assert p.rate(0.05, 1_000_000) is None  # too short a span for a rate
    assert p.rate(1.0, 1000) == pytest.approx(1000)
    assert p.rate(20.0, 2000) == pytest.approx(1000 / 19)  # the window drops old samples
    # percentage: 2 files of 500 bytes make one whole
    shown: list[str] = []
    q = Progress(quiet=False, total_bytes=1000)
    q.tty = False

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    handler = Grab()
    logger = logging.getLogger("cdr_pipeline")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        q(ProgressEvent("a.csv", 10, 500, 500, done=True))
        q(ProgressEvent("b.csv", 5, 250, 500, done=True))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert shown[0].endswith(" 50%") and shown[1].endswith(" 75%")


def test_a_number_is_never_cut_columns_that_do_not_fit_are_left_out() -> None:
    headers = ["file", "kind", "status", "read", "loaded", "go", "dup", "rej", "secs"]
    row = ("dch_export.csv", "calls", "loaded", 300_378, 300_377, 1_234, 1, 0, 12.5)
    for width in (30, 40, 50, 60):
        lines = text_table(headers, [row], max_width=width).splitlines()
        assert all(len(ln) <= width for ln in lines)
        numbers = re.findall(r"[\d,.]+", lines[2].split("loaded", 1)[-1])
        assert set(numbers) <= {"300,378", "300,377", "1,234", "1", "0", "12.5"}, lines
        assert lines[0].endswith("…")  # some columns are left out, and it says so
    assert "…" not in text_table(headers, [row], max_width=200)


def test_a_terminal_narrower_than_the_first_column_never_cuts_its_figure() -> None:
    """In a pane of 6 columns `cdr report anomalies` showed its months as `2026-1` (January,
    not October) and a count of 300,378 as `300,3`, with no `…` for the columns left out:
    every line was cut to the width, through a number or a time. Those are kept whole (the
    terminal wraps the line) and the `…` stays; text is still cut to the width."""
    row = (300_378, "2026-10-05 14:17:53Z", "calls")
    for width in (1, 4, 6, 9):
        lines = text_table(["read", "at", "kind"], [row], max_width=width).splitlines()
        assert lines[2].split()[0] == "300,378" and lines[2].endswith("…"), lines
        lines = text_table(["at", "n"], [(row[1], 1)], max_width=width, whole=["at"])
        assert "2026-10-05 14:17:53Z" in lines and lines.splitlines()[0].endswith("…"), lines
        lines = text_table(["kind", "n"], [("dch_export.csv", 1)], max_width=width).splitlines()
        assert all(len(ln) <= width for ln in lines), lines


def test_a_report_table_never_cuts_a_time_or_a_month() -> None:
    """The anomalies table at 40 to 70 columns showed `observed_at` as `2026-1…17:53Z` or
    `2026-…7:53Z`: a time cut in the middle is no time (no day, no hour). A time, a date or
    a month is kept whole, as a number is; the columns that do not fit are left out."""
    table = pa.table(
        {
            "month": [date(2026, 10, 1)],
            "anomaly_type": ["device_unlisted"],
            "observed_at": [datetime(2026, 10, 5, 14, 17, 53, tzinfo=UTC)],
            "device_id": ["Y2lzY29zcGFyazovL3VzL0RFVklDRS9mNmNkOWFjOGM"],
            "detail": ["the device was left out of a snapshot of its org"],
        }
    )
    result = ReportResult("anomalies", None, table, 0.0)
    for width in range(30, 91, 4):
        lines = to_text_table(result, max_width=width).splitlines()
        assert all(len(ln) <= width for ln in lines), lines
        values = lines[2]
        assert values.startswith("2026-10 "), lines
        assert "2026-10-05 14:17:53Z" in values or "observed_at" not in lines[0], lines


@pytest.mark.parametrize("columns", [60, 80])
def test_report_list_fits_the_terminal(columns: int) -> None:
    """The summaries ran to 180 columns, so the terminal wrapped them under the names."""
    status, lines = in_terminal(columns, "report", "--list")
    assert status == 0, "\n".join(lines)
    shown = [ln for ln in lines if ln.strip()]
    assert all(len(ln) < columns for ln in shown), shown
    assert shown[0].startswith("licence-usage ")
    indent = shown[0].index("Webex Go")
    assert shown[1].startswith(" " * indent) and not shown[1][indent].isspace()
    assert any(ln.endswith("[no --month]") for ln in shown), shown


@pytest.mark.parametrize("args", [["report", "--list"], ["report", "--help"], ["--help"]])
def test_a_reader_that_stops_reading_stops_cdr_quietly(args: list[str], tmp_path: Path) -> None:
    """`cdr report --list | head -2` printed "error: unexpected BrokenPipeError ... report
    it" (exit 1): the reader of stdout asked for no more, which is no bug. Now cdr stops
    quietly with 141 (128 + SIGPIPE), as a Unix tool that a closed pipe stops does; so does
    `cdr --help | head`, which click itself ended with 1."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before cdr prints its first line
    env = {**os.environ, "CDR_CONFIG": "", "CDR_WAREHOUSE": str(tmp_path / "wh")}
    done = subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        stdout=write,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        cwd=str(tmp_path),
    )
    os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Error" not in done.stderr and "error" not in done.stderr, done.stderr


def test_a_result_column_wraps_instead_of_losing_its_middle() -> None:
    """The nightly's stage table and validate's failures end in a sentence: fitted to 60
    columns it was cut in the middle ("nothing new to val… views: unchanged", "deleted 0
    file(s) …an 24 hour(s) ago"), so the part that said what happened was gone. The last
    column now wraps under itself; every word is still there and no line passes the width."""
    result = (
        "nothing new to validate; wh/cdr.duckdb, views moved to call_legs=0, device_events=0; "
        "fct_calls: unchanged; device-level views: unchanged"
    )
    rows = [("build", 0, 0.6, result), ("vacuum", 0, 0.0, "deleted 0 file(s)")]
    heads = ["stage", "exit", "seconds", "result"]
    for width in (60, 80):
        lines = text_table(heads, rows, max_width=width, wrap_last=True).splitlines()
        assert all(len(ln) <= width for ln in lines), lines
        assert "…" not in "".join(lines)
        start = lines[0].index("result")
        assert lines[2].startswith("build") and lines[-1].startswith("vacuum")
        words = " ".join(ln[start:].strip() for ln in lines[2:-1]).split()
        assert words == result.split(), lines
        assert all(not ln[:start].strip() for ln in lines[3:-1])  # under the column


def test_ingest_table_tells_monthly_exports_apart_at_80_columns(tmp_path: Path) -> None:
    """Monthly exports differ only at the end of their names. At 80 columns the file and
    kind columns shrank in turn, so both of a bulk set's exports read `calling…-01.csv` and
    an operator could not tell which row was which file; the kind (a few known words) now
    gives way first."""
    inbox = tmp_path / "inbox"
    status, lines = in_terminal(
        80, "-q", "samples", "--bulk", "--rows", "3000", "--out", str(inbox)
    )
    assert status == 0, "\n".join(lines)
    status, lines = in_terminal(80, "--warehouse", str(tmp_path / "wh"), "ingest", str(inbox))
    assert status == 0, "\n".join(lines)
    rows = [ln for ln in lines if ln.startswith("calling") and " loaded " in ln]
    assert len(rows) == 2 and all(len(ln) <= 80 for ln in rows), lines
    assert rows[0].split()[0] != rows[1].split()[0], rows


def test_log_json_on_a_terminal_draws_no_progress_line(tmp_path: Path) -> None:
    """With --log-json every stderr line is one JSON object (README, Logs), but on a
    terminal the progress line was drawn too, and a log record started right after it:
    `activation_events.csv: 82 rows 99%{"time": ...`. The progress goes to the log instead."""
    wh = str(tmp_path / "wh")
    files = [str(SAMPLES / "entitlements.csv"), str(SAMPLES / "activation_events.csv")]
    status, lines = in_terminal(80, "--log-json", "--warehouse", wh, "ingest", *files)
    assert status == 0, "\n".join(lines)
    assert any(ln.startswith('{"time"') for ln in lines)
    drawn = [ln for ln in lines if re.search(r"rows.* \d+%", ln) and not ln.startswith("{")]
    assert not drawn, drawn


def test_demo_stage_results_wrap_instead_of_losing_their_middle(tmp_path: Path) -> None:
    """The demo's stage table, like the nightly's, cut its results in the middle at 60
    columns ("0 error(s), 0 war…a_docs/index.html": the Data Docs path it points to)."""
    status, lines = in_terminal(60, "-q", "--warehouse", str(tmp_path / "wh"), "demo")
    assert status == 0, "\n".join(lines)
    start = lines.index(next(ln for ln in lines if ln.startswith("stage ")))
    end = lines.index("", start)
    table = lines[start:end]
    assert all(len(ln) <= 60 for ln in table) and "…" not in "".join(table), table
    assert "data_docs/index.html" in "".join(ln.strip() for ln in table), table
    # the hints under it wrap between words: the terminal broke them mid-word ("t" / "ier")
    hints = [ln for ln in lines[end:] if ln.strip()]
    words = " ".join(hints).split()
    assert {"analyst.fct_calls", "sql/README.md;", "tier:", "--list"} <= set(words), hints
    assert all(len(ln) <= 60 or " " not in ln.strip() for ln in hints), hints
    # the licence line says bought before held, as the finance summary does (it read "held
    # 3 at month end (peak 4) vs 5 bought"), with the warehouse's own headline figures
    h = headline_figures(Settings(warehouse=tmp_path / "wh"))
    said = (
        f"{h['month']}: Webex Go licences bought {h['licences_bought']} vs held "
        f"{h['licences_held_peak']} (peak; {h['licences_held_month_end']} at month end); "
        f"{h['idle_licences']} idle"
    )
    assert said in " ".join(words), hints


def test_wide_characters_count_two_columns_and_rows_stay_aligned() -> None:
    """A location named `東京本社 (Tokyo)` (or a Japanese file name) was measured by `len`:
    each of its CJK characters takes two terminal columns, so its row ran 4 columns past the
    others and, at 80 columns, past the terminal's edge, which wrapped it in two."""
    headers = ["month", "location_name", "calls", "webex_go_calls", "webex_go_share"]
    rows = [
        ("2026-10", "San Francisco", 163, 44, 0.2699),
        ("2026-10", "東京本社 (Tokyo)", 240, 31, 0.1292),
        ("2026-10", "ベンガルール", 105, 5, 0.0476),
    ]
    for width in (None, 40, 60):
        lines = text_table(headers, rows, max_width=width).splitlines()
        ends = {_columns(ln) for ln in lines[2:]}
        assert len(ends) == 1, lines  # every row ends in the same column
        if width is not None:
            assert all(_columns(ln) <= width for ln in lines), lines
    assert display_width("東京本社 (Tokyo)") == 16 and display_width("Opéra") == 5
    # a decomposed accent and a zero-width space take no column, as on a terminal
    assert display_width("Ope\u0301ra") == 5 and display_width("Canary\u200bWharf") == 11
    cut = shorten_middle("東京本社第二ビル", 9)
    assert display_width(cut) <= 9 and cut.startswith("東京") and cut.endswith("ビル")


def _columns(line: str) -> int:
    """Terminal columns of `line`, as a terminal draws it (East Asian wide: two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def test_text_is_not_shortened_where_columns_left_out_made_room() -> None:
    """At 60 columns the adoption report showed `London… Wharf` with 13 columns free at the
    end of every line: its text was shortened to try to fit all eight columns, and then
    four were left out anyway. Text takes back the room of the columns left out."""
    headers = ["month", "location_name", "calls", "webex_go_calls", "webex_go_share",
               "webex_go_users", "webex_go_minutes", "webex_go_legs"]  # fmt: skip
    row = ("2026-09", "London, Canary Wharf", 159, 54, 0.3396, 9, 54.4, 61)
    lines = text_table(headers, [row], max_width=60).splitlines()
    assert lines[0].endswith("…") and all(len(ln) <= 60 for ln in lines), lines
    assert "London, Canary Wharf" in lines[2], lines
    # still shortened where even the columns shown leave no room for it
    lines = text_table(headers, [row], max_width=30).splitlines()
    assert all(len(ln) <= 30 for ln in lines) and "London, Canary Wharf" not in lines[2], lines


@pytest.mark.parametrize(
    ("args", "code"),
    [(["report", "no-such-report"], 2), (["report", "hourly-volume", "--as-of", "1970-01-01"], 3)],
)
def test_an_error_keeps_its_exit_code_when_the_reader_of_stderr_is_gone(
    args: list[str], code: int, sample_wh: Settings
) -> None:
    """`cdr report ... 2>&1 >/dev/null | head -1` (or `| grep -q error`) exited 1, "a bug",
    for a usage error (2) or a bad --as-of (3): once the reader had gone, writing the hint
    raised BrokenPipeError and click ended the command with 1. The error's own code stays."""
    read, write = os.pipe()
    os.close(read)  # the reader of stderr is gone before cdr writes its error
    env = {**os.environ, "CDR_CONFIG": "", "CDR_WAREHOUSE": str(sample_wh.warehouse)}
    done = subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        stdout=subprocess.DEVNULL,
        stderr=write,
        env=env,
        cwd=str(ROOT),
    )
    os.close(write)
    assert done.returncode == code


def test_log_lines_never_run_on_from_the_progress_line(tmp_path: Path) -> None:
    """`cdr -v ingest` in a 60-column tmux pane: a file's note on its columns was logged
    while its progress line waited for its end, and ran on from it on the same line
    (`drift_columns.csv: 3 rows 100%INFO cdr_pipeline.ingest.drift: ...`)."""
    drift = ROOT / "tests" / "fixtures" / "dch" / "drift_columns.csv"
    status, lines = in_terminal(60, "--warehouse", str(tmp_path / "wh"), "-v", "ingest", str(drift))
    assert status == 0, "\n".join(lines)
    logged = [ln for ln in lines if "INFO cdr_pipeline." in ln]
    assert any("cdr_pipeline.ingest.drift" in ln for ln in logged)
    assert all(ln.startswith("INFO ") for ln in logged), logged
