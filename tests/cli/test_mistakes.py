"""Mistakes caught early: a folder that is not a warehouse is refused by the commands that
only read, errors name the warehouse and where it came from, cdr.toml is found in a parent
folder, report names get a did-you-mean, and every writing command takes --wait-lock."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import load_settings
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.lock import writer_lock
from tests.ingest.helpers import FIXTURES

CLEAN_ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**CLEAN_ENV, **(env or {})})


@pytest.mark.parametrize(
    "command",
    # vacuum only deletes from a warehouse: on a typo it made `state/` there and said
    # "deleted 0 file(s)", exit 0, so a cron line with the typo passed every night
    [
        ["validate"],
        ["build"],
        ["report", "licence-usage"],
        ["runs"],
        ["vacuum"],
        # README: these only change what a warehouse holds, so they refuse one too
        ["close", "2026-10"],
        ["reopen", "2026-10", "--reason", "typo"],
        ["forget", "--user", "aec1f2ea-0000-4000-8000-000000000001"],
        ["keys", "rotate"],
    ],
)
def test_reading_commands_refuse_a_folder_that_is_not_a_warehouse(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "warehuose"
    run = invoke("--warehouse", str(typo), *command)
    assert run.exit_code == 3, run.output
    assert f"{typo} is not a warehouse" in run.output
    assert f"warehouse: {typo} (from --warehouse)" in run.output
    assert not typo.exists()  # nothing was created in the wrong place


def test_the_warehouse_origin_is_named_for_environment_and_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = invoke("runs", env={"CDR_WAREHOUSE": str(tmp_path / "envwh")})
    assert run.exit_code == 3
    assert f"warehouse: {tmp_path / 'envwh'} (from CDR_WAREHOUSE)" in run.output
    run = invoke("runs")
    assert run.exit_code == 3
    assert f"warehouse: {tmp_path / 'warehouse'} (from default)" in run.output


def test_cdr_toml_is_found_in_a_parent_folder_like_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cdr.toml").write_text('warehouse = "wh"\nchunk_rows = 1234\n')
    deep = tmp_path / "notebooks" / "deeper"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    settings = load_settings(env={})
    assert settings.chunk_rows == 1234
    assert settings.warehouse == tmp_path / "wh"  # relative to the file, not the cwd
    assert settings.warehouse_source == f"cdr.toml ({tmp_path / 'cdr.toml'})"
    run = invoke("report", "licence-usage")
    assert run.exit_code == 3
    assert f"warehouse: {tmp_path / 'wh'} (from cdr.toml ({tmp_path / 'cdr.toml'}))" in run.output


def test_a_warehouse_is_accepted_once_it_has_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    wh = tmp_path / "wh"
    assert not Layout(wh).is_warehouse()
    (wh / "state").mkdir(parents=True)
    assert Layout(wh).is_warehouse()
    run = invoke("--warehouse", str(wh), "runs")
    assert run.exit_code == 0, run.output
    assert "no runs recorded yet" in run.output


def test_unknown_report_suggests_the_closest_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wh" / "state").mkdir(parents=True)
    run = invoke("--warehouse", str(tmp_path / "wh"), "report", "licence-usge")
    assert run.exit_code == 2, run.output
    assert "did you mean 'licence-usage'?" in run.output
    run = invoke("--warehouse", str(tmp_path / "wh"), "report", "zzz")
    assert run.exit_code == 2 and "did you mean" not in run.output


def test_missing_required_columns_are_named_in_the_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with (FIXTURES / "bom_crlf.csv").open(encoding="utf-8-sig", newline="") as f:
        header, *rows = list(csv.reader(f))
    start = header.index("Start time")
    with (tmp_path / "blank.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *[[*r[:start], "", *r[start + 1 :]] for r in rows]])
    run = invoke("--warehouse", str(tmp_path / "wh"), "--log-json", "ingest", "blank.csv")
    assert run.exit_code == 3, run.output
    assert f"missing_required: Start time ({len(rows)})" in run.output
    run = invoke("--warehouse", str(tmp_path / "wh"), "runs", "--files", "--json")
    assert f"missing_required: Start time ({len(rows)})" in run.output


@pytest.mark.parametrize("command", ["ingest", "nightly", "demo", "fetch"])
def test_every_writing_command_takes_wait_lock(command: str) -> None:
    params = {p.name for p in cli.commands[command].params}
    assert "lock_wait_seconds" in params


def test_nightly_wait_lock_waits_for_the_other_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wh = tmp_path / "wh"
    with writer_lock(Layout(wh), "cdr nightly (the first run)", name="nightly.lock"):
        t0 = time.monotonic()
        run = invoke("--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--wait-lock", "1")
        waited = time.monotonic() - t0
    assert run.exit_code == 5, run.output
    assert waited >= 0.9
    assert "the first run" in run.output
    # the summary log (stdout) ends with the night's line, not the night before's table
    assert run.stdout.splitlines()[-1].startswith("cdr nightly ")
    assert ": exit 5 (stopped: " in run.stdout and "the first run" in run.stdout
    run = invoke("--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--wait-lock", "1")
    assert run.exit_code == 0, run.output


def test_a_night_refused_by_the_lock_is_dated_as_its_table_would_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 02:30 in Auckland it is still the day before in UTC: the line of a night the lock
    refused carried UTC's date, the date of the night before's `exit 0` line above it in
    the summary log. It says the night's date in `reporting_timezone`, as a table does."""
    from datetime import UTC, datetime

    from cdr_pipeline.reports import close

    monkeypatch.setattr(close, "_now", lambda: datetime(2026, 12, 6, 13, 30, tzinfo=UTC))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wh = tmp_path / "wh"
    env = {"CDR_REPORTING_TIMEZONE": "Pacific/Auckland"}
    with writer_lock(Layout(wh), "cdr nightly (the first run)", name="nightly.lock"):
        run = invoke("--warehouse", str(wh), "nightly", "--inbox", str(inbox), env=env)
    assert run.exit_code == 5, run.output
    assert run.stdout.splitlines()[-1].startswith("cdr nightly 2026-12-07: exit 5 (stopped: ")


def test_a_night_with_a_wrong_flag_is_dated_as_its_table_would_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line of a night refused for a wrong flag in the unit (exit 2) still carried UTC's
    date: at 02:30 in Auckland, the date of the night before's `exit 0` line above it."""
    from datetime import UTC, datetime

    from cdr_pipeline.reports import close

    monkeypatch.setattr(close, "_now", lambda: datetime(2031, 3, 1, 13, 30, tzinfo=UTC))
    env = {"CDR_REPORTING_TIMEZONE": "Pacific/Auckland"}
    args = ["--warehouse", str(tmp_path / "wh"), "nightly", "--inbox", str(tmp_path)]
    run = invoke(*args, "--retain-days", "0", env=env)
    assert run.exit_code == 2, run.output
    assert (
        run.stdout.splitlines()[-1]
        == "cdr nightly 2031-03-02: exit 2 (usage error: see cdr nightly --help)"
    )


def test_a_failure_still_gives_a_script_asking_for_json_a_json_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A held lock (exit 5) or a folder that is not a warehouse (exit 3) fails before the
    command prints its JSON: stdout still holds one document with the code and the error."""
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wh = tmp_path / "wh"
    with writer_lock(Layout(wh), "cdr nightly (the first run)", name="nightly.lock"):
        args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--json"]
        held = CliRunner().invoke(cli, args, env=CLEAN_ENV)
    assert held.exit_code == 5
    document = json.loads(held.stdout)
    assert document["exit_code"] == 5 and "the first run" in document["error"]
    typo = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh2"), "runs", "--json"])
    assert typo.exit_code == 3
    assert json.loads(typo.stdout)["error"].endswith(
        "is not a warehouse (no state/, tables/ or cdr.duckdb in it)"
    )


@pytest.mark.parametrize(
    "command", [["ingest", "."], ["vacuum"], ["demo"], ["nightly", "--inbox", "."]]
)
def test_a_warehouse_that_is_a_file_is_a_configuration_error(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--warehouse refuses a file itself (click, exit 2); from CDR_WAREHOUSE or cdr.toml it
    reached the writer lock's mkdir and came out as a bug (exit 1, NotADirectoryError)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder\n")
    run = invoke(*command, env={"CDR_WAREHOUSE": str(tmp_path / "afile")})
    assert run.exit_code == 3, run.output
    assert "unexpected" not in run.output
    assert f"the warehouse {tmp_path / 'afile'} is not a folder: it is a file" in run.output
    assert f"warehouse: {tmp_path / 'afile'} (from CDR_WAREHOUSE)" in run.output


def test_a_warehouse_under_a_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "state").write_text("not a folder\n")
    for warehouse, culprit in [("afile/wh", "afile"), ("wh", "wh/state")]:
        run = invoke("ingest", ".", env={"CDR_WAREHOUSE": warehouse})
        assert run.exit_code == 3, run.output
        assert f"is not a folder: {tmp_path / culprit} is a file" in run.output


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["ingest", "--wait-lock", "inf", "."], "--wait-lock"),
        (["nightly", "--inbox", ".", "--wait-lock", "nan"], "--wait-lock"),
        (["ingest", "--max-reject-rate", "nan", "."], "--max-reject-rate"),
    ],
)
def test_a_flag_that_is_not_a_finite_number_is_a_usage_error(
    command: list[str], option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """click's FloatRange let nan (and inf past an open bound) through to the settings,
    which refused it with exit 3 blaming `--lock-wait-seconds`, a flag no command has."""
    monkeypatch.chdir(tmp_path)
    run = invoke("--warehouse", str(tmp_path / "wh"), *command)
    assert run.exit_code == 2, run.output
    assert f"Invalid value for '{option}'" in run.output
    assert "--lock-wait-seconds" not in run.output


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["report", "licence-usage", "--format", "csv", "--out", "afile/x.csv"], "--out"),
        (["report", "finance-pack", "--month", "2026-10", "--out", "afile/x.xlsx"], "--out"),
        (["samples", "--out", "afile/x"], "--out"),
        (["samples", "--out", "s", "--labels", "afile/deeper/l.json"], "--labels"),
        (["sql", "--out", "afile/x"], "--out"),
    ],
)
def test_an_output_under_a_file_is_a_usage_error(
    command: list[str], option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """click checked the output path itself, not its folders: a file in the way came out as
    a bug (exit 1, NotADirectoryError or FileExistsError), for a report after the work."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder\n")
    run = invoke("--warehouse", str(tmp_path / "wh"), *command)
    assert run.exit_code == 2, run.output
    assert f"Invalid value for '{option}': {tmp_path / 'afile'} is a file" in run.output
    assert (tmp_path / "afile").read_text() == "not a folder\n"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["report", "top-callers", "--out", "reports/"], "--out"),
        (["samples", "--out", "s", "--labels", "labels/"], "--labels"),
    ],
)
def test_a_file_output_written_as_a_folder_is_a_usage_error(
    command: list[str], option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file path drops its trailing `/`: `--out reports/` wrote the report as a file
    named `reports`, where the user meant a folder."""
    monkeypatch.chdir(tmp_path)
    run = invoke("--warehouse", str(tmp_path / "wh"), *command)
    assert run.exit_code == 2, run.output
    assert f"Invalid value for '{option}': {command[-1]} names a folder" in run.output
    assert not (tmp_path / command[-1]).exists()


@pytest.mark.parametrize(
    "span", [["--days", "99999999999"], ["--start", "9999-12-01", "--days", "100"]]
)
@pytest.mark.parametrize("size", [[], ["--bulk"]])
def test_a_samples_span_past_the_last_year_is_a_usage_error(
    span: list[str], size: list[str], tmp_path: Path
) -> None:
    """`cdr samples --days 99999999999` (or a --start near the year 9999) overflowed the
    date arithmetic: exit 1, "report it", with nothing written."""
    run = invoke("samples", "--out", str(tmp_path / "s"), *span, *size)
    assert run.exit_code == 2, run.output
    assert "Invalid value for --days" in run.output and "runs past 9979-12-31" in run.output
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("folder", ["exports [old]", "cdr*", "what?"])
def test_a_warehouse_path_that_reads_as_a_file_pattern_is_refused_before_anything_is_written(
    folder: str, tmp_path: Path
) -> None:
    """DuckDB, polars and Spark read `[...]`, `*` and `?` in a path as a file pattern. Under
    `exports [old]/` the first `cdr ingest` committed its rows, then failed reading the run
    ledger it had just written (exit 6, "a record of the run ledger was changed outside cdr
    ... restore it from a backup"), and every view and the Spark build failed after it."""
    wh = tmp_path / folder / "warehouse"
    run = invoke("--warehouse", str(wh), "ingest", str(FIXTURES / "bom_crlf.csv"))
    assert run.exit_code == 3, run.output
    assert "read as a file pattern" in run.output
    assert not wh.exists()


def test_a_warehouse_under_a_key_value_folder_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """DuckDB reads each `key=value` folder of a data file's path as a partition column, and
    its value replaces the file's column of that name: under `deployment=prod/` every device
    snapshot's deployment read as 'prod' in the views and reports, with no error."""
    (tmp_path / "deployment=prod").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "deployment=prod")  # the views resolve links
    for wh in (tmp_path / "deployment=prod" / "warehouse", tmp_path / "link" / "warehouse"):
        run = invoke("--warehouse", str(wh), "ingest", str(FIXTURES / "bom_crlf.csv"))
        assert run.exit_code == 3, run.output
        assert "'deployment=prod'" in run.output and "partition column" in run.output
        assert not wh.exists()


@pytest.mark.parametrize("command", [["ingest"], ["nightly", "--inbox"], ["demo", "--samples"]])
def test_a_file_that_fails_names_the_warehouse_too(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: every error ends with the warehouse used and where it came from; the error of
    a file that failed to load (exit 3, the commonest error of all) had no such line."""
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "notes.csv").write_text("hello,world\n1,2\n", encoding="utf-8")
    run = invoke("--warehouse", str(tmp_path / "wh"), *command, str(inbox))
    assert run.exit_code == 3, run.output
    assert "error: " in run.stderr and "notes.csv" in run.stderr
    assert f"warehouse: {tmp_path / 'wh'} (from --warehouse)" in run.stderr


def test_an_ingest_that_finds_no_file_says_so(tmp_path: Path) -> None:
    """A folder holding only a file still being copied under a hidden name (or an empty
    folder, or the wrong one) printed an empty table and exit 0, with no word on why."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / ".export.csv.part").write_bytes((FIXTURES / "bom_crlf.csv").read_bytes())
    (inbox / "Thumbs.db").write_bytes(b"\0" * 64)  # a Windows share's: named in the note
    run = invoke("--warehouse", str(tmp_path / "wh"), "ingest", str(inbox))
    assert run.exit_code == 0, run.output
    assert f"note: no file to load in {inbox}" in run.stderr
    assert "names starting with '.'" in run.stderr and "Thumbs.db" in run.stderr


@pytest.mark.parametrize("day", ["0026-12-05", "0001-01-01", "1969-12-31"])
def test_a_run_date_with_a_typo_in_its_year_is_a_usage_error(tmp_path: Path, day: str) -> None:
    """--run-date 0026-12-05 (2026 mistyped) ran the whole night, then its reports stage
    failed as "bad month '26-11'" (exit 3); 0001-01-01 ended as an unexpected
    OverflowError, exit 1 ("report it"). Refused before anything runs, exit 2."""
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    inbox.mkdir()
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", day]
    run = invoke(*args)
    assert run.exit_code == 2, run.output
    assert f"{day} is before 1970-01-01: a typo of the year?" in run.output
    assert run.stdout.splitlines()[-1].endswith("exit 2 (usage error: see cdr nightly --help)")
    assert not wh.exists()
    assert invoke(*args[:-1], "1970-01-01", "--dry-run").exit_code == 0


def test_a_run_date_past_the_last_report_month_is_a_usage_error(tmp_path: Path) -> None:
    """--run-date 9999-12-31 ran the whole night, then its reports stage failed as "bad
    month '9999-12'" (exit 3), after a plan that listed them. Refused first, exit 2."""
    wh, inbox = tmp_path / "wh", tmp_path / "inbox"
    inbox.mkdir()
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date"]
    run = invoke(*args, "9999-12-01")
    assert run.exit_code == 2, run.output
    assert "9999-12-01 is after 9999-11-30: a typo of the year?" in run.output
    assert not wh.exists()
    assert invoke(*args, "9999-11-30", "--dry-run").exit_code == 0


@pytest.mark.parametrize(
    ("folder", "command"),
    [
        ("closed", ["close", "2026-01", "--force", "--reason", "a test"]),
        ("state/staging", ["ingest", str(FIXTURES / "quoted_fields.csv")]),
    ],
)
def test_a_folder_of_the_warehouse_made_a_file_names_it(
    folder: str, command: list[str], tmp_path: Path
) -> None:
    """`closed` or `state/staging` replaced by a file (a slip while tidying by hand) made
    `cdr close` fail as a bug (exit 1, NotADirectoryError) and `cdr ingest` blame its input
    ("cannot read file: Not a directory", exit 3): the warehouse cannot be written (exit 6),
    and the message names the file in the way."""
    wh = tmp_path / "wh"
    assert invoke("--warehouse", str(wh), "ingest", str(FIXTURES / "bom_crlf.csv")).exit_code == 0
    blocker = wh / folder
    if blocker.is_dir():
        blocker.rmdir()
    blocker.write_text("not a folder\n")
    run = invoke("--warehouse", str(wh), *command)
    assert run.exit_code == 6, run.output
    assert f"{blocker} is a file where the warehouse keeps a folder" in run.output
    assert f"mv {blocker} {blocker}.bak" in run.output


def test_a_command_in_a_removed_folder_names_it_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that replaced the service's working folder, or a shell left in a deleted
    checkout: `os.getcwd()` failed inside the command, exit 1 "report it" with no path."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    wh, inbox = str(tmp_path / "wh"), str(tmp_path / "inbox")
    env = {"PWD": str(gone)}
    for args in (["runs"], ["sql", "--out", "views"], ["nightly", "--inbox", inbox]):
        run = invoke("--warehouse", wh, *args, env=env)
        assert run.exit_code == 3, (args, run.output)
        assert f"the current folder {gone} no longer exists" in run.output
        assert "hint: cd to an existing folder" in run.output
    assert ": exit 3 (stopped: the current folder " in run.stdout  # the night's summary line
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("name", ["-rf.csv", "--help.csv"])
def test_a_file_named_like_an_option_says_how_to_name_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # click read `-rf.csv` as the flags -r -f and said only "No such option: -r"
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text("a,b\n1,2\n")
    run = invoke("--warehouse", str(tmp_path / "wh"), "ingest", name)
    assert run.exit_code == 2, run.output
    assert f"{name} is a file" in run.output
    assert f"write ./{name}, or put -- before the paths (cdr ingest -- {name})" in run.output
    assert "Did you mean" not in run.output
    # an option that is no file keeps click's own message
    run = invoke("--warehouse", str(tmp_path / "wh"), "ingest", "--nope", name)
    assert run.exit_code == 2
    assert "No such option: --nope" in run.output
    assert "is a file" in run.output  # the file after it is still named
    assert not (tmp_path / "wh").exists()
