"""A file whose name is not UTF-8 (`lat<0xE9>n.csv`, saved by a Latin-1 system) loads like
any other: Python hands such a name over with a lone surrogate (`'\\udce9'`), which no Parquet,
JSON or log writer takes, so it is written and shown as `lat\\xe9n.csv`; the file itself is
still opened, and archived, under its real name."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import fixture, run_cdr, settings, table

RAW = b"lat\xe9n.csv"
SHOWN = "lat\\xe9n.csv"
ENV = {"CDR_WAREHOUSE": "", "CDR_CONFIG": "", "CDR_INBOX": ""}


def latin_named(folder: Path, source: Path) -> Path:
    """`source` copied into `folder` under a name that is not UTF-8."""
    folder.mkdir(parents=True, exist_ok=True)
    target = Path(os.fsdecode(os.path.join(os.fsencode(folder), RAW)))
    try:
        shutil.copyfile(source, target)
    except OSError as exc:  # a file system that only takes UTF-8 names (APFS)
        pytest.skip(f"this file system refuses a name that is not UTF-8: {exc}")
    return target


def test_a_folder_with_a_name_that_is_not_utf8_loads_whole(tmp_path: Path) -> None:
    wh, inbox = tmp_path / "wh", tmp_path / "in"
    latin_named(inbox, fixture("bad_rows.csv"))  # rows quarantined: rejects/ names it too
    shutil.copyfile(fixture("bom_crlf.csv"), inbox / "good.csv")
    env = {"CDR_MAX_REJECT_RATE": "1", "CDR_CONFIG": ""}

    run = run_cdr("--warehouse", str(wh), "ingest", "--json", str(inbox), env=env)
    assert run.returncode == 0, run.stderr
    files = {Path(f["source"]).name: f for f in json.loads(run.stdout)["files"]}
    assert set(files) == {SHOWN, "good.csv"}
    assert files[SHOWN]["status"] == "loaded" and files[SHOWN]["rows_loaded"] > 0
    assert files[SHOWN]["rows_rejected"] > 0

    runs = run_cdr("--warehouse", str(wh), "runs", "--json", env=env)
    assert runs.returncode == 0, runs.stderr
    assert [r["status"] for r in json.loads(runs.stdout)] == ["ok"]
    listed = run_cdr("--warehouse", str(wh), "runs", "--files", env=env)
    assert listed.returncode == 0 and SHOWN in listed.stdout, listed.stderr

    ledger = Ledger(Layout(wh)).files()
    assert sorted(Path(p).name for p in ledger["source"]) == sorted([SHOWN, "good.csv"])
    lineage = table(wh, lineage=True)["source_file"].unique().to_list()
    assert sorted(Path(p).name for p in lineage) == sorted([SHOWN, "good.csv"])
    # DuckDB finds and reads the quarantined rows (its glob skips names with a backslash)
    glob = str(wh / "rejects" / "**" / "*.parquet")
    sources = duckdb.sql(f"SELECT DISTINCT source_file FROM read_parquet('{glob}')").fetchall()
    assert [Path(s).name for (s,) in sources] == [SHOWN]


def test_nightly_loads_and_archives_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    wh, inbox, archive = tmp_path / "wh", tmp_path / "inbox", tmp_path / "archive"
    latin_named(inbox, fixture("bom_crlf.csv"))
    shutil.copyfile(fixture("quoted_fields.csv"), inbox / "good.csv")
    args = ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--archive", str(archive)]

    run = CliRunner().invoke(cli, [*args, "--run-date", "2026-11-03", "--json"], env=ENV)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    assert sorted(Path(f["path"]).name for f in summary["inbox"]) == sorted([SHOWN, "good.csv"])
    assert not any(inbox.iterdir())  # both moved, under their real names
    assert sorted(os.listdir(os.fsencode(archive))) == sorted([RAW, b"good.csv"])
    files = Ledger(Layout(wh)).files()
    assert sorted(files["status"].to_list()) == ["loaded", "loaded"]


def test_an_export_named_with_255_bytes_keeps_its_quarantined_rows(tmp_path: Path) -> None:
    """The rejects file is named by the source: `<hash>-<name>.parquet` of a file named with
    the 255 bytes a file system allows was too long, and the export, quarantined rows and
    all, failed as 'cannot read file: File name too long' (exit 3), at every try."""
    wh, inbox = tmp_path / "wh", tmp_path / "in"
    inbox.mkdir()
    name = "Détail_" + "x" * 243 + ".csv"  # 255 bytes, 254 characters
    assert len(os.fsencode(name)) == 255
    shutil.copyfile(fixture("bad_rows.csv"), inbox / name)
    env = {**ENV, "CDR_MAX_REJECT_RATE": "1"}

    run = CliRunner().invoke(cli, ["--warehouse", str(wh), "ingest", "--json", str(inbox)], env=env)
    assert run.exit_code == 0, run.output
    (loaded,) = json.loads(run.stdout)["files"]
    assert loaded["status"] == "loaded" and loaded["rows_rejected"] > 0
    (rejects,) = (wh / "rejects").rglob("*.parquet")
    assert rejects.name.startswith(f"{rejects.name[:12]}-Détail_xxx")
    assert len(os.fsencode(rejects.name)) <= 255 - 14  # its temp file (cdr forget) fits too
    sources = duckdb.sql(f"SELECT DISTINCT source_file FROM read_parquet('{rejects}')").fetchall()
    assert [Path(s).name for (s,) in sources] == [name]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    """`cdr ingest exports/*.gz exports/x.gz`, `x.gz ./x.gz`, a folder and a file in it: each
    path was read again, a damaged file failed as often as it was named (its error printed
    each time, `files_failed` 2 for one file) and a good one was hashed again to be skipped.
    One spelling of a path or another, it is one file of the run."""
    folder = tmp_path / "exports"
    folder.mkdir()
    cut = folder / "cut.csv.gz"
    cut.write_bytes(gzip.compress(fixture("bad_rows.csv").read_bytes())[:60])
    named = [cut, cut, folder / ".." / "exports" / "cut.csv.gz", folder]
    result = ingest_paths(settings(tmp_path / "wh"), named)
    assert [(f.source, f.status) for f in result.files] == [(str(cut), "failed")], result.files
    assert result.exit_code == 3
