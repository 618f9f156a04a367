"""Shared pieces of the nightly tests: `cdr` run in this process, and one night killed
between its ingest and its validation that the tests needing it copy."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from tests.ingest.helpers import ROOT, fixture, run_cdr

EXPORT = "bom_crlf.csv"
"""A call export of a few rows: the nights these tests kill and rerun need one file to load
and validate, not the size of the samples' October export."""


def cdr_here(*args: str) -> Result:
    """`cdr ARGS` in this process, from where `run_cdr` runs it: for the runs whose being a
    process of their own is not what a test checks (the one after a kill, a clean run)."""
    with contextlib.chdir(ROOT):
        return CliRunner().invoke(cli, list(args))


def night_args(wh: Path, inbox: Path) -> list[str]:
    return ["--warehouse", str(wh), "nightly", "--inbox", str(inbox), "--run-date", "2026-11-03"]


def kill_a_night_at_validate(tmp: Path) -> tuple[Path, Path]:
    """An inbox with a call export (`EXPORT`) and the warehouse of a `cdr nightly` over it
    that was killed (-9) after its ingest committed, before its validation."""
    inbox = tmp / "inbox"
    inbox.mkdir()
    shutil.copy(fixture(EXPORT), inbox)
    wh = tmp / "wh"
    killed = run_cdr(*night_args(wh, inbox), env={"CDR_FAULT_KILL_AT": "validate"})
    assert killed.returncode == -9, killed.stderr
    return wh, inbox


def copy_of(night: tuple[Path, Path], tmp: Path) -> tuple[Path, Path]:
    """A copy of a killed night's warehouse and inbox under `tmp`, for a test that writes."""
    wh, inbox = night
    shutil.copytree(wh, tmp / "wh")
    shutil.copytree(inbox, tmp / "inbox")
    return tmp / "wh", tmp / "inbox"
