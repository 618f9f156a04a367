"""`cdr report`: exit codes, --list, formats, spreadsheet-safe CSV, bad --month."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT, EXIT_USAGE
from cdr_pipeline.reports import REPORTS, ReportResult, headline_figures, run_report, write_report
from cdr_pipeline.reports.registry import SPECIAL_REPORTS
from cdr_pipeline.reports.run import ReportUsageError


def _run(settings: Settings, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--warehouse", str(settings.warehouse), "report", *args])
    return res.exit_code, res.stdout, res.stderr


def test_list_names_every_report_on_one_line(sample_wh: Settings) -> None:
    code, out, _ = _run(sample_wh, "--list")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == [*REPORTS, *SPECIAL_REPORTS]
    for required in ("licence-usage", "reconciliation", "reclaim-candidates", "anomalies"):
        assert required in REPORTS
    assert {"webex-go-adoption", "top-callers", "top-destinations", "hourly-volume"} <= set(REPORTS)


def test_list_describes_both_sources_of_anomalies(sample_wh: Settings) -> None:
    """`--list` said anomalies were Webex Go legs only; most rows of the samples' report are
    device-side rule violations (anomaly_source `device`), as docs/warehouse.md says."""
    sources = set(run_report(sample_wh, "anomalies").table.column("anomaly_source").to_pylist())
    assert sources == {"call", "device"}
    summary = REPORTS["anomalies"].summary
    assert "Webex Go legs" in summary and "device-side rule violations" in summary


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_runs_as_json(sample_wh: Settings, name: str) -> None:
    code, out, err = _run(sample_wh, name, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list)
    if name != "reclaim-candidates":
        assert rows, f"{name} is empty on the samples"


def test_month_filter(sample_wh: Settings) -> None:
    code, out, _ = _run(sample_wh, "licence-usage", "--month", "2026-10", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and {r["month"] for r in rows} == {"2026-10-01"}
    every = run_report(sample_wh, "licence-usage")
    assert every.row_count > len(rows)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "october", "2026-10'; drop table x; --"])
def test_bad_month_is_a_clear_input_error(sample_wh: Settings, month: str) -> None:
    code, _, err = _run(sample_wh, "anomalies", "--month", month)
    assert code == EXIT_BAD_INPUT
    assert "bad month" in err and "YYYY-MM" in err


@pytest.mark.parametrize("args", [["close", "2026-9"], ["reopen", "2026-9", "--reason", "x"]])
def test_a_bad_month_of_close_or_reopen_suggests_no_month_flag(
    tmp_path: Path, args: list[str]
) -> None:
    """`cdr close 2026-9` answered "hint: for example --month 2026-10", a flag close and
    reopen do not have (their month is an argument): the hint now shows the month alone."""
    (tmp_path / "state").mkdir()
    res = CliRunner().invoke(cli, ["--warehouse", str(tmp_path), *args])
    assert res.exit_code == EXIT_BAD_INPUT, res.output
    assert "bad month '2026-9'" in res.stderr and "--month" not in res.stderr
    assert "2026-10" in res.stderr


@pytest.mark.parametrize("month", ["0000-01", "9999-12"])
@pytest.mark.parametrize(
    "args",
    [
        ["report", "reconciliation", "--month"],
        ["report", "finance-summary", "--out", "x.html", "--month"],
        ["report", "finance-pack", "--out", "x.xlsx", "--month"],
        ["close"],
        ["reopen", "--reason", "x"],
    ],
)
def test_a_month_outside_the_calendar_is_a_bad_month(
    sample_wh: Settings, tmp_path: Path, args: list[str], month: str
) -> None:
    """`cdr close 0000-01` (year 0 is no calendar year) and `cdr close 9999-12` (its month
    ends on 10000-01-01, a day no date reaches) matched YYYY-MM and then ended in an
    unexpected error, exit 1 "report it"; they are bad months, exit 3, as 2026-13 is."""
    args = [a.replace("x.", f"{tmp_path}/x.") for a in args]
    res = CliRunner().invoke(cli, ["--warehouse", str(sample_wh.warehouse), *args, month])
    assert res.exit_code == EXIT_BAD_INPUT, res.output
    assert f"bad month '{month}'" in res.stderr and "0001-01 to 9999-11" in res.stderr
    assert "unexpected" not in res.stderr


def test_usage_errors(sample_wh: Settings, tmp_path: Path) -> None:
    code, _, err = _run(sample_wh, "no-such-report")
    assert code == EXIT_USAGE and "unknown report" in err
    code, _, err = _run(sample_wh, "reclaim-candidates", "--month", "2026-10")
    assert code == EXIT_USAGE and "not monthly" in err
    code, _, err = _run(sample_wh, "anomalies", "--format", "parquet")
    assert code == EXIT_USAGE and "--out" in err
    code, _, err = _run(sample_wh)
    assert code == EXIT_USAGE


def test_missing_warehouse_is_refused_and_missing_views_say_run_build(tmp_path: Path) -> None:
    # a folder that is not a warehouse: never "run cdr build", which would make one there
    code, _, err = _run(Settings(warehouse=tmp_path / "empty"), "anomalies")
    assert code == EXIT_BAD_INPUT
    assert "is not a warehouse" in err and "cdr build" not in err
    assert not (tmp_path / "empty").exists()
    # a warehouse whose views were never built
    (tmp_path / "wh" / "state").mkdir(parents=True)
    code, _, err = _run(Settings(warehouse=tmp_path / "wh"), "anomalies")
    assert code == EXIT_BAD_INPUT
    assert "cdr build" in err


def test_parquet_out(sample_wh: Settings, tmp_path: Path) -> None:
    out = tmp_path / "r" / "rec.parquet"
    code, _, err = _run(sample_wh, "reconciliation", "--format", "parquet", "--out", str(out))
    assert code == 0, err
    assert pq.read_table(out).num_rows == run_report(sample_wh, "reconciliation").row_count


def test_csv_on_samples_neutralises_formula_starts(sample_wh: Settings) -> None:
    # Called numbers start with '+': a spreadsheet would read them as formulas.
    code, out, _ = _run(sample_wh, "top-destinations", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["called_number"].startswith("'+") for r in rows)
    # Negative numbers stay numbers (variance of an over-consumed subscription).
    code, out, _ = _run(sample_wh, "reconciliation", "--format", "csv")
    variances = [int(r["variance_units"]) for r in csv.DictReader(io.StringIO(out))]
    assert min(variances) < 0


def test_csv_injection_cells(tmp_path: Path) -> None:
    table = pa.table(
        {
            "name": ['=HYPERLINK("http://x")', "+1-555", "-2+3", "@SUM(A1)", "\tx", "plain"],
            "n": [-1, 2, 3, 4, 5, 6],
        }
    )
    result = ReportResult("t", None, table, 0.0)
    out = tmp_path / "t.csv"
    write_report(result, "csv", out)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1-555",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "plain",
    ]
    assert rows[1][1] == "-1"


def test_headline_figures(sample_wh: Settings) -> None:
    figures = headline_figures(sample_wh)
    adoption = run_report(sample_wh, "webex-go-adoption", figures["month"]).rows()
    calls = sum(r["calls"] for r in adoption)
    go = sum(r["webex_go_calls"] for r in adoption)
    assert (figures["calls"], figures["webex_go_calls"]) == (calls, go)
    assert 0 < figures["webex_go_share"] < 1
    assert figures["licences_bought"] > 0 and figures["licences_held_peak"] > 0


def _small_disk() -> None:
    """A full disk for a `cdr report` process: a file size limit (RLIMIT_FSIZE)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "finance-pack"])
def test_a_failed_write_leaves_the_earlier_report_whole(
    sample_wh: Settings, tmp_path: Path, fmt: str
) -> None:
    """A report written over an earlier one on a full disk: the earlier file stays as it
    was (the new one is written beside it and renamed), no temp file is left, and the error
    names the output, not the warehouse (the disk to free is the output's). A workbook left
    its temp file behind and printed a traceback of its zip file's clean-up."""
    import subprocess
    import sys

    suffix = "xlsx" if fmt == "finance-pack" else fmt
    out = tmp_path / f"volume.{suffix}"
    args = ["--warehouse", str(sample_wh.warehouse), "report"]
    if fmt == "finance-pack":
        args += ["finance-pack", "--month", "2026-10", "--out", str(out)]
    else:
        args += ["hourly-volume", "--format", fmt, "--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    earlier = out.read_bytes()
    assert len(earlier) > 600

    done = subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        capture_output=True,
        text=True,
        preexec_fn=_small_disk,
    )
    assert done.returncode == 6, done.stderr
    assert out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    assert f"error: the file size limit stops writing {out} " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


@pytest.mark.parametrize("disk", ["full", "partial"])
def test_a_full_stdout_names_the_standard_output(
    sample_wh: Settings, tmp_path: Path, disk: str
) -> None:
    """`cdr report NAME > file` on a full disk blamed the warehouse ("no space left writing
    WAREHOUSE ... df -h WAREHOUSE"): the disk to free is the one stdout goes to. On a disk
    that took part of the report (`partial`: 512 bytes of it) under PYTHONUNBUFFERED, as
    containers and units often set, the report was cut short with exit 0."""
    import os
    import subprocess
    import sys

    args = ["--warehouse", str(sample_wh.warehouse), "report", "hourly-volume", "--wide"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # /dev/full: every write fails with ENOSPC; a file size limit lets the first 512 bytes in
    target = "/dev/full" if disk == "full" else str(tmp_path / "volume.txt")
    with open(target, "w") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "cdr_pipeline", *args],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=None if disk == "full" else _small_disk,
        )
    assert done.returncode == 6, done.stderr
    said = "no space left" if disk == "full" else "the file size limit stops"
    assert f"error: {said} writing the standard output" in done.stderr, done.stderr
    assert str(sample_wh.warehouse) not in done.stderr.split("warehouse:")[0], done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


@pytest.mark.parametrize("where", ["/proc/volume.csv", "/proc/made/volume.csv"])
def test_an_out_path_no_file_can_have_is_an_output_error(sample_wh: Settings, where: str) -> None:
    """`--out /proc/x` (a folder that takes no new file: ENOENT), or a folder there made for
    the output, was "unexpected ... report it", exit 1, after the report was computed. It is
    an output that cannot be written: exit 6, naming it."""
    args = ["--warehouse", str(sample_wh.warehouse), "report", "hourly-volume"]
    done = CliRunner().invoke(cli, [*args, "--out", where])
    assert done.exit_code == 6, done.output
    assert f"error: cannot write {where} (" in done.output, done.output
    assert "report it" not in done.output


@pytest.mark.parametrize("where", ["", "long", "long folder"])
def test_an_out_path_no_file_system_takes_is_a_bad_flag(
    sample_wh: Settings, tmp_path: Path, where: str
) -> None:
    """A name longer than a file system's 255 bytes (ENAMETOOLONG: the file, or a folder
    made for it) was "unexpected ... report it", exit 1, the file's after the report was
    computed; an empty `--out ""` wrote to "." (IsADirectoryError, exit 1). Both are bad
    flag values, exit 2, before any work."""
    out = {
        "": "",
        "long": str(tmp_path / ("v" * 300 + ".csv")),
        "long folder": str(tmp_path / ("v" * 300) / "volume.csv"),
    }[where]
    args = ["--warehouse", str(sample_wh.warehouse), "report", "hourly-volume"]
    done = CliRunner().invoke(cli, [*args, "--out", out])
    assert done.exit_code == 2, done.output
    said = "an empty path" if not where else "a name longer than 255 bytes"
    assert said in done.output, done.output
    assert "report it" not in done.output and list(tmp_path.iterdir()) == []


def test_a_closed_stdout_is_an_output_error(sample_wh: Settings) -> None:
    """`cdr report NAME >&-` (stdout closed before the start): "unexpected AttributeError ...
    report it", exit 1. It is the output that cannot be written: exit 6, naming it."""
    import os
    import subprocess
    import sys

    args = ["--warehouse", str(sample_wh.warehouse), "report", "hourly-volume"]
    done = subprocess.run(
        [sys.executable, "-m", "cdr_pipeline", *args],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 6, done.stderr
    assert "error: cannot write the standard output: it is closed" in done.stderr


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("finance-pack", "reports.finance.finance_pack"),
        ("finance-summary", "reports.finance.finance_summary"),
        ("restatements", "reports.restate.restatements"),
    ],
)
def test_run_report_of_a_finance_output_names_its_function(
    tmp_path: Path, name: str, function: str
) -> None:
    """`cdr report --list` lists them, but `run_report(settings, 'finance-pack')` said
    "unknown report 'finance-pack'; did you mean 'finance-pack'?"."""
    with pytest.raises(ReportUsageError) as failed:
        run_report(Settings(warehouse=tmp_path), name)
    text = f"{failed.value} {failed.value.hint}"
    assert "unknown report" not in text and "did you mean" not in text, text
    assert f"cdr_pipeline.{function}" in text and f"cdr report {name}" in text, text


def test_a_month_given_as_a_datetime_is_its_month(sample_wh: Settings) -> None:
    """`run_report(settings, name, datetime(2026, 10, 1, 5))` (a notebook's `datetime.now()`
    or a timestamp column's value) set the report's month variable to that instant: the
    month's Webex Go legs before it were left out, and webex-go-adoption answered 0 Webex Go
    users, legs and minutes for every location, with exit 0."""
    by_text = run_report(sample_wh, "webex-go-adoption", "2026-10")
    assert sum(by_text.table.column("webex_go_legs").to_pylist()) > 0
    for when in (datetime(2026, 10, 1, 5), datetime(2026, 10, 31, 23, 59, tzinfo=UTC)):
        result = run_report(sample_wh, "webex-go-adoption", when)
        assert result.month == date(2026, 10, 1) and type(result.month) is date
        assert result.table == by_text.table, when


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet", ".xlsx", ".XLSX"])
def test_out_extension_names_the_format(sample_wh: Settings, tmp_path: Path, suffix: str) -> None:
    """`--out top.xlsx` without --format wrote the terminal table (padded text) into a file
    named .xlsx (and .parquet, .csv, .json): no spreadsheet or reader opens it, while
    `--format xlsx --out top.csv` is refused. Without --format the extension names it."""
    out = tmp_path / f"top{suffix}"
    code, _, err = _run(sample_wh, "top-callers", "--month", "2026-10", "--out", str(out))
    assert code == 0, err
    data = out.read_bytes()
    if suffix == ".csv":
        assert data.startswith(b"\xef\xbb\xbfmonth,rank,")
    elif suffix == ".json":
        assert json.loads(data)[0]["rank"] == 1
    elif suffix == ".parquet":
        assert pq.read_table(out).num_rows == 20
    else:
        assert data[:2] == b"PK"  # a ZIP: the workbook


@pytest.mark.parametrize("name", ["top.csv.gz", "top.tsv", "top.jsonl", "top.html"])
def test_an_out_extension_naming_no_format_is_refused(
    sample_wh: Settings, tmp_path: Path, name: str
) -> None:
    """`--out top.csv.gz` (or .tsv, .jsonl, .html) without --format wrote the compact
    terminal table into the file, its columns cut down and its ids shortened to `…` and
    ten characters: a script asking for data got a lossy text table, exit 0. The extension
    names no format this report writes: exit 2 before any work, saying which do."""
    out = tmp_path / name
    code, _, err = _run(sample_wh, "top-callers", "--month", "2026-10", "--out", str(out))
    assert code == EXIT_USAGE, err
    assert f"--out {name}" in err and ".csv .json .parquet .xlsx" in err, err
    assert not out.exists()


@pytest.mark.parametrize("name", ["top.txt", "top"])
def test_the_table_is_written_to_a_text_file_or_a_name_without_extension(
    sample_wh: Settings, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    code, _, err = _run(sample_wh, "top-callers", "--month", "2026-10", "--out", str(out))
    assert code == 0, err
    assert out.read_text(encoding="utf-8").startswith("month    rank")
    other = tmp_path / "top.tsv"
    args = ["--month", "2026-10", "--format", "table", "--out", str(other)]
    assert _run(sample_wh, "top-callers", *args)[0] == 0  # --format writes any name
    assert other.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_explicit_format_wins_over_the_extension(sample_wh: Settings, tmp_path: Path) -> None:
    out = tmp_path / "top.csv"
    code, _, err = _run(sample_wh, "top-callers", "--format", "table", "--out", str(out))
    assert code == 0, err
    assert out.read_text(encoding="utf-8").startswith("month    rank")


def test_finance_pack_refuses_another_format(sample_wh: Settings, tmp_path: Path) -> None:
    """`finance-pack --format csv --out p.xlsx` wrote the workbook and said nothing of the
    csv asked for, where finance-summary refuses a format other than its html."""
    out = tmp_path / "p.xlsx"
    args = ["finance-pack", "--month", "2026-10", "--format", "csv", "--out", str(out)]
    code, _, err = _run(sample_wh, *args)
    assert code == EXIT_USAGE, err
    assert "xlsx" in err and not out.exists()


def test_finance_summary_refuses_an_out_whose_extension_names_another_format(
    sample_wh: Settings, tmp_path: Path
) -> None:
    """`finance-summary --out s.csv` (no --format) wrote the HTML page into `s.csv`, while
    `--out` names the format of every other report; `--out s.html` writes the page."""
    out = tmp_path / "s.csv"
    code, _, err = _run(sample_wh, "finance-summary", "--month", "2026-10", "--out", str(out))
    assert code == EXIT_USAGE, err
    assert "html" in err and not out.exists()
    page = tmp_path / "s.html"
    code, _, err = _run(sample_wh, "finance-summary", "--month", "2026-10", "--out", str(page))
    assert code == 0, err
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_out_dash_is_the_standard_output(
    sample_wh: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out -` wrote a file named `-` in the current folder; as for most tools, it is
    stdout (a format that needs a file is refused as without --out)."""
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(
        sample_wh, "top-callers", "--month", "2026-10", "--format", "csv", "--out", "-"
    )
    assert code == 0, err
    assert out.startswith("month,rank,") and not (tmp_path / "-").exists()
    code, _, err = _run(sample_wh, "top-callers", "--format", "parquet", "--out", "-")
    assert code == 2 and "needs --out FILE" in err
