"""`cdr validate` through click (exit codes, what it prints) and lazy import of GX."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import fixture
from tests.quality.conftest import Validated, write_partition


def test_cli_exit_0_on_clean_warehouse(clean: Validated) -> None:
    res = CliRunner().invoke(
        cli, ["--warehouse", str(clean.settings.warehouse), "validate", "--all"]
    )
    assert res.exit_code == 0, res.output
    assert "call_legs" in res.output and "all expectations met" in res.output
    assert "index.html" in res.output


def test_cli_exit_4_names_failure_and_keys(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    bad_id = call_rows["report_id"][0]
    broken = call_rows.with_columns(
        pl.when(pl.col("report_id") == bad_id)
        .then(pl.lit(-7, dtype=call_rows.schema["duration_seconds"]))
        .otherwise(pl.col("duration_seconds"))
        .alias("duration_seconds")
    )
    write_partition(tmp_path, "call_legs", "call_date=2026-09-02", broken)
    res = CliRunner().invoke(cli, ["--warehouse", str(tmp_path), "validate", "--all"])
    assert res.exit_code == 4, res.output
    line = next(ln for ln in res.output.splitlines() if "duration_seconds.min_value" in ln)
    assert line.startswith("error") and bad_id in line and "-7" in line


def test_cli_json_names_the_versions_runs_and_suites_it_checked(clean: Validated) -> None:
    """One `validate --all --json` of the clean samples (a full GX validation each), checked
    for two omissions. `--json` left out which table versions and ingest runs the verdict
    was about (the report, the ledger and the Data Docs say it): a script keeping the
    verdict could not tie it to the data. And the table of `cdr validate` has each suite's
    partitions; `--json` (docs/quality.md: "per suite the counts above", the ledger's,
    partitions among them) left them and the table's name out, so a script could not tell
    how much of a table was checked."""
    res = CliRunner().invoke(
        cli, ["--warehouse", str(clean.settings.warehouse), "validate", "--all", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    runs = Ledger(clean.settings.layout).runs()["run_id"].to_list()
    assert out["ingest_run_ids"] == runs[-1:]
    versions = {
        t: DeltaTable(str(clean.settings.layout.table(t))).version()
        for t in ("call_legs", "device_snapshots", "entitlements")
    }
    assert {t: out["table_versions"][t] for t in versions} == versions
    suites = {s["suite"]: s for s in out["suites"]}
    for suite in clean.report.suites:
        assert suites[suite.name]["partitions"] == suite.partitions > 0
        assert suites[suite.name]["table_name"] == suite.table


@pytest.mark.parametrize("where", ["footer", "pages"])
def test_cli_a_data_file_damaged_in_place_is_exit_6_naming_it(
    tmp_path: Path, call_rows: pl.DataFrame, where: str
) -> None:
    """A data file of the size its log recorded but whose bytes were overwritten (a disk
    fault) ended validation as a bug: exit 1, "unexpected ArrowInvalid" or a thrift error,
    no file named; like a missing or cut file it is damage to restore (exit 6)."""
    path = write_partition(tmp_path, "call_legs", "call_date=2026-09-02", call_rows)
    data = bytearray(path.read_bytes())
    start = len(data) - 64 if where == "footer" else 8
    data[start : start + 64] = b"\xab" * 64
    path.write_bytes(bytes(data))
    res = CliRunner().invoke(cli, ["--warehouse", str(tmp_path), "validate", "--all"])
    assert res.exit_code == 6, res.output
    assert f"data file {path} cannot be read as Parquet" in res.output
    assert "unexpected" not in res.output and "Traceback" not in res.output


def test_cli_says_no_rows_were_checked_when_there_are_none(tmp_path: Path) -> None:
    """A warehouse whose only file was a header: exit 0, but it must not claim that any
    expectation was met."""
    src = tmp_path / "entitlements.csv"
    src.write_text("subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n")
    wh = str(tmp_path / "wh")
    assert CliRunner().invoke(cli, ["-q", "--warehouse", wh, "ingest", str(src)]).exit_code == 0
    res = CliRunner().invoke(cli, ["--warehouse", wh, "validate"])
    assert res.exit_code == 0, res.output
    assert "nothing to validate" in res.output and "no rows checked" in res.output
    assert "expectations met" not in res.output


def test_cli_names_the_run_that_loaded_nothing_and_how_to_check_the_rest(tmp_path: Path) -> None:
    """Entitlements loaded, then a calls export with a header only: `cdr validate` said
    "nothing to validate (scope: last)", exit 0, and nothing said that the entitlements were
    never checked. It now names the run that loaded no rows and `--all`, which checks them."""
    wh = tmp_path / "wh"
    units = tmp_path / "entitlements.csv"
    units.write_text(
        "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
        "Sub-1,Webex Go (Bring Your Own Device),3,2026-01-01,,12.50,USD\n"
    )
    calls = tmp_path / "calls.csv"
    calls.write_text("Start time,Correlation ID,Report ID,Direction\n")
    for src in (units, calls):
        res = CliRunner().invoke(cli, ["-q", "--warehouse", str(wh), "ingest", str(src)])
        assert res.exit_code == 0, res.output
    last = Ledger(Settings(warehouse=wh).layout).runs()["run_id"].to_list()[-1]
    res = CliRunner().invoke(cli, ["--warehouse", str(wh), "validate"])
    assert res.exit_code == 0, res.output
    assert f"run(s) {last} loaded no rows" in res.output and "cdr validate --all" in res.output
    res = CliRunner().invoke(cli, ["--warehouse", str(wh), "validate", "--all"])
    assert res.exit_code == 0 and "entitlements" in res.output, res.output
    assert "all expectations met" in res.output

    empty = tmp_path / "empty"
    (empty / "tables").mkdir(parents=True)
    res = CliRunner().invoke(cli, ["--warehouse", str(empty), "validate", "--all"])
    assert res.exit_code == 0 and "no table holds any rows" in res.output, res.output


def test_cli_rejects_all_with_since(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["--warehouse", str(tmp_path), "validate", "--all", "--since", "2026-01-01"]
    )
    assert res.exit_code == 2


def _modules_after(commands: list[str], tmp_path: Path) -> list[str]:
    """Run the `cdr` argument lists `commands` one after the other in one fresh process and
    say after each which of GX and pandas it has imported by then (modules only accumulate:
    none imported after a command means none imported by it)."""
    steps = "".join(
        f"""
        try:
            cli.main({code}, standalone_mode=False)
        except SystemExit:
            pass
        print("GX" if "great_expectations" in sys.modules else "NO_GX")
        print("PANDAS" if "pandas" in sys.modules else "NO_PANDAS")
        """
        for code in commands
    )
    script = textwrap.dedent("""
        import sys
        from cdr_pipeline.cli.main import cli
        """) + textwrap.dedent(steps)
    # a script file, not `python -c`: with a `__main__` that has no file, pyspark (which GX
    # imports when it is installed) takes the process for a doctest run and exits
    path = tmp_path / "modules_after.py"
    path.write_text(script, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    lines = [ln for ln in out.stdout.splitlines() if ln in {"GX", "NO_GX", "PANDAS", "NO_PANDAS"}]
    assert len(lines) == 2 * len(commands), out.stdout
    pairs = zip(lines[::2], lines[1::2], strict=True)
    return [gx if pandas == "NO_PANDAS" else f"{gx} {pandas}" for gx, pandas in pairs]


def test_help_and_ingest_do_not_import_gx(tmp_path: Path, samples_dir: Path) -> None:
    """`--help`, then ingests, then a validate, in one process (each python start with the
    package imported cost a second): none before the validate imports GX, nor pandas (about a
    second of each ingest process: pyarrow imports it for any array it builds from Python values,
    as the ingest's build once did for its list of files and the call legs' key lookup for
    its partition column); the check itself can fail: validate does import both. The two
    call exports overlap, in one run: the second is looked up in the partitions the run
    wrote for the first."""
    src = samples_dir / "entitlements.csv"
    wh = tmp_path / "wh"
    commands = [
        "['--help']",
        f"['--warehouse', {str(wh)!r}, 'ingest', {str(src)!r}]",
        f"['--warehouse', {str(wh)!r}, 'ingest', {str(fixture('overlap_a.csv'))!r},"
        f" {str(fixture('overlap_b.csv'))!r}]",
        f"['--warehouse', {str(wh)!r}, 'validate']",
    ]
    assert _modules_after(commands, tmp_path) == ["NO_GX", "NO_GX", "NO_GX", "GX PANDAS"]
    assert (wh / "tables" / "entitlements").is_dir()
    assert (wh / "tables" / "call_legs").is_dir()
