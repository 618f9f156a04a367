"""Paths the warehouse tests read (the sample warehouse itself is the `sample_wh` fixture of
tests/conftest.py)."""

from __future__ import annotations

from cdr_pipeline.resources import samples_dir, sql_dir
from tests.conftest import REPO

SAMPLES = samples_dir()
SQL_DIR = sql_dir()

__all__ = ["REPO", "SAMPLES", "SQL_DIR"]
