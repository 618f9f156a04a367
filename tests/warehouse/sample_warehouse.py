"""Paths the warehouse tests read (the sample warehouse itself is the `sample_wh` fixture of
tests/conftest.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cdr_pipeline.resources import samples_dir, sql_dir
from cdr_pipeline.samples import write_call_export
from tests.conftest import REPO

SAMPLES = samples_dir()
SQL_DIR = sql_dir()

__all__ = ["REPO", "SAMPLES", "SQL_DIR", "small_export"]


def small_export(path: Path, seed: int = 11, start: date = date(2026, 9, 1)) -> Path:
    """A call export of 40 legs over two days from `start` (calls, not their number, are
    the point where it is used: the samples' month costs a second more per load and
    build)."""
    write_call_export(path, legs=40, seed=seed, start=start, days=2)
    return path
