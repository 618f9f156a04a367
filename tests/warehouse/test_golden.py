"""Golden outputs of every `rpt_` view on `data/samples/`, stored as CSV sorted by key under
`tests/golden/`. After an intended change, regenerate them and review the diff:

    CDR_REGEN_GOLDEN=1 .venv/bin/pytest tests/warehouse/test_golden.py
"""

from __future__ import annotations

import csv
import io
import os

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.warehouse import connect
from cdr_pipeline.warehouse.catalog import read_sql_file
from tests.warehouse.sample_warehouse import REPO, SQL_DIR

GOLDEN = REPO / "tests" / "golden"
REPORT_FILES = sorted(SQL_DIR.glob("rpt_*.sql"))
REGENERATE = os.environ.get("CDR_REGEN_GOLDEN") == "1"


def _as_csv(settings: Settings, view: str, key: tuple[str, ...]) -> str:
    con = connect(settings)
    try:
        order = ", ".join(f"{k} nulls first" for k in key)
        cur = con.execute(f"select columns(*)::varchar from {view} order by {order}")
        headers = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()


@pytest.mark.parametrize("path", REPORT_FILES, ids=[p.stem for p in REPORT_FILES])
def test_report_view_matches_golden(path: object, sample_wh: Settings) -> None:
    spec = read_sql_file(path)  # type: ignore[arg-type]
    actual = _as_csv(sample_wh, spec.name, spec.key)
    golden = GOLDEN / f"{spec.name}.csv"
    if REGENERATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}; run with CDR_REGEN_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    # Compare after sorting by key: the header first, then the rows in key order.
    assert actual.splitlines()[0] == expected.splitlines()[0], "columns changed"
    assert actual.splitlines()[1:] == expected.splitlines()[1:]
    assert len(actual.splitlines()) > 1, f"{spec.name} is empty on the samples"
