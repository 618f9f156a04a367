"""What the by-call refresh of `fct_calls` costs (`warehouse/by_call.py`): the shapes that
made the refresh at the end of a 1M-leg ingest slower than its SQL, checked on the samples."""

from __future__ import annotations

import re

from cdr_pipeline.resources import sql_dir


def test_fct_calls_reads_the_legs_once() -> None:
    """The by-call refresh computes `fct_calls` over the legs in scope, which read the
    Parquet files of the changed days: the records without both call IDs and their other
    sides come from the `legs` CTE, not from second and third reads of every column they
    need (a tenth of the refresh of `fct_calls` at 1M legs)."""
    text = (sql_dir() / "fct_calls.sql").read_text(encoding="utf-8")
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    assert len(re.findall(r"\bfct_call_legs\b", code)) == 1
