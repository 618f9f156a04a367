"""`--log-json`: every line of a nightly is a JSON object with the run's id, the command and
the stage, and the per-file, per-stage, per-report and closing lines carry their fields."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from tests.batch.helpers import cdr_here
from tests.ingest.helpers import FIXTURES, run_cdr


def test_every_log_json_line_of_a_nightly_carries_its_fields(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("bom_crlf.csv", "drift_columns.csv", "api_lines.jsonl"):
        shutil.copy(FIXTURES / name, inbox)
    proc = run_cdr(
        "--log-json",
        "-v",
        "--warehouse",
        str(tmp_path / "wh"),
        "nightly",
        "--inbox",
        str(inbox),
        "--run-date",
        "2026-11-03",
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert len(records) > 10
    assert "\r" not in proc.stderr  # no progress bar redraws without a terminal
    for r in records:
        assert {"time", "level", "message", "run_id", "command", "stage"} <= r.keys(), r
        assert r["command"] == "cdr nightly"
        assert r["run_id"], r
        assert r["stage"], r
    assert len({r["run_id"] for r in records}) == 1  # the nightly and its ingest share one id
    assert {"ingest", "validate", "build", "reports"} <= {r["stage"] for r in records}

    # one closing line per file, with its counts
    done = [r for r in records if "rows_loaded" in r]
    assert sorted(Path(r["file"]).name for r in done) == sorted(p.name for p in inbox.iterdir())
    for r in done:
        assert r["stage"] == "ingest" and r["rows_read"] > 0 and r["status"] == "loaded"
        assert r["rows_read"] == r["rows_loaded"] + r["rows_duplicate"] + r["rows_rejected"]
        assert isinstance(r["seconds"], float) and r["exit_code"] == 0
    # drift is one line per file, however many chunks or records it has
    drift = Counter(r["file"] for r in records if "columns_missing" in r)
    assert drift and set(drift.values()) == {1}

    # each stage ends with its exit code and time; reports say which month
    stage_ends = [r for r in records if "exit_code" in r and "seconds" in r and "file" not in r]
    assert {"ingest", "validate", "build", "reports"} <= {r["stage"] for r in stage_ends}
    months = {r["month"] for r in records if r.get("report")}
    assert {"2026-10", "2026-11"} <= months
    assert records[-1]["exit_code"] == proc.returncode == 0
    assert records[-1]["message"].startswith("cdr nightly finished")


def test_a_failed_file_is_an_error_record_and_the_ledger_keeps_the_nights_code(
    tmp_path: Path,
) -> None:
    """A nightly with a file that cannot be loaded: its error and hint are JSON records
    (level error / warning), never plain text between them, and `cdr runs` keeps exit 3."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIXTURES / "bom_crlf.csv", inbox)
    shutil.copy(FIXTURES / "not_dch.csv", inbox / "stray.csv")
    wh = str(tmp_path / "wh")
    proc = run_cdr("--log-json", "--warehouse", wh, "nightly", "--inbox", str(inbox))
    assert proc.returncode == 3, proc.stderr
    records = [json.loads(ln) for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [r for r in records if r["level"] == "error"]
    stray = [r for r in errors if "stray.csv" in r["message"]]
    assert stray, errors
    # README "Logs": errors carry their exit code; the file and its stage say where
    assert stray[0]["exit_code"] == 3 and stray[0]["stage"] == "ingest", stray
    assert Path(stray[0]["file"]).name == "stray.csv"
    runs = cdr_here("--warehouse", wh, "runs", "--json")
    assert json.loads(runs.stdout)[0]["exit_code"] == 3


def test_cdr_runs_keeps_the_exit_code_of_a_failed_check_after_the_load(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # loads (a row the ingest takes), then fails the quality suite: never in force
    (inbox / "entitlements.csv").write_text(
        "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
        "Sub-BAD,Webex Go (Bring Your Own Device),5,2026-10-01,2026-09-01,10.00,USD\n",
        encoding="utf-8",
    )
    wh = str(tmp_path / "wh")
    night = cdr_here("--warehouse", wh, "nightly", "--inbox", str(inbox))
    assert night.exit_code == 4, night.output
    (last, *_) = json.loads(cdr_here("--warehouse", wh, "runs", "--json").stdout)
    assert last["exit_code"] == 4, last  # the ingest alone ended well


def test_a_usage_error_under_log_json_is_one_json_error_line(tmp_path: Path) -> None:
    """A wrong flag in the unit's or cron line's `cdr --log-json ... nightly` (an upgrade
    renamed it, a typo) wrote click's usage text into `nightly.jsonl`: three lines that are
    not JSON, no error-level record. `jq 'select(.level == "error")' nightly.jsonl`, the
    documented way to find a failed run, found nothing for that night, then stopped at its
    "Usage:" line ("parse error") and read no night after it either."""
    wh = str(tmp_path / "wh")
    mistakes = (
        ["nightly", "--inbox", str(tmp_path), "--bogus"],  # the sub-command's flag
        ["nightly", "--inbox", str(tmp_path), "--retain-days", "0"],  # a value out of range
        ["--bogus", "nightly"],  # the group's flag
        ["nightlyy"],  # the command's name
    )
    for args in mistakes:
        proc = run_cdr("--log-json", "--warehouse", wh, *args)
        assert proc.returncode == 2, proc.stderr
        records = [json.loads(ln) for ln in proc.stderr.splitlines() if ln.strip()]
        errors = [r for r in records if r["level"] == "error"]
        assert len(errors) == 1, records
        assert errors[0]["exit_code"] == 2 and "--help" in errors[0]["message"], errors
    assert "--bogus" in errors[0]["message"] or "nightlyy" in errors[0]["message"]


def test_the_time_of_a_log_line_is_rfc_3339() -> None:
    """The `time` field read `2026-12-06T02:30:00+1300`: an offset without its colon, not
    RFC 3339, which a log shipper's timestamp parser refuses (Go's time.RFC3339 layout:
    'cannot parse "+1300" as "Z07:00"'), so every line of nightly.jsonl it read was
    dropped or dated when it was read. It is `2026-12-06T02:30:00+13:00` now."""
    import logging
    import re
    from datetime import datetime

    from cdr_pipeline.cli.context import JsonFormatter

    record = logging.LogRecord("cdr_pipeline.cli", logging.INFO, __file__, 1, "hi", None, None)
    stamp = json.loads(JsonFormatter().format(record))["time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", stamp), stamp
    assert abs(datetime.fromisoformat(stamp).timestamp() - record.created) < 1


def test_a_line_break_in_a_file_name_never_cuts_its_error_line(tmp_path: Path) -> None:
    """inbox/x<LF>y.csv that fails: its error line was cut at the line break, so the JSON
    error record read "error: inbox/x" (`jq 'select(.level == "error")'` showed no reason)
    and the rest came as a line of level info; with -q that rest was dropped."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "x\ny.csv").write_text("junk\n1\n")
    wh = ["--warehouse", str(tmp_path / "wh")]
    for command in (["nightly", "--inbox", str(inbox)], ["ingest", str(inbox)]):
        proc = run_cdr("--log-json", *wh, *command)
        assert proc.returncode == 3, proc.stderr
        records = [json.loads(ln) for ln in proc.stderr.splitlines() if ln.strip()]
        (error,) = [r for r in records if r["level"] == "error" and r.get("file")]
        assert error["message"].startswith("error: ") and "\\x0ay.csv" in error["message"]
        assert "not a recognised export" in error["message"], error
        assert error["file"] == str(inbox / "x\ny.csv")
    quiet = run_cdr("-q", *wh, "ingest", str(inbox))
    assert "\\x0ay.csv line 1: not a recognised export" in quiet.stderr, quiet.stderr
