"""A closed month's frozen files are the figures finance signed off: `close.json` records
each file's SHA-256, and a file that no longer has it is refused, never reported as the
month's closed figures."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.errors import EXIT_BAD_INPUT
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.warehouse import build_warehouse
from tests.reports.finance_helpers import cdr
from tests.warehouse.finance_world import BYOD, World, user


def test_a_frozen_file_changed_since_the_close_is_refused(tmp_path: Path) -> None:
    """One licence held idle all September 2026, bought at 10.00 USD: by hand its idle cost
    is 1 × 10.00 = 10.00. The close freezes 10.00; the frozen file is then rewritten with
    0.00 (an edit, a restore of the wrong file): the month's reports must not say 0.00 as
    the closed figure."""
    w = World()
    w.held_through_september([("D1", user(1), "+15550001", "Sub-1")])
    w.entitle("Sub-1", BYOD, 1, "10.00")
    w.leg("calls_2026-09-01_2026-10-01.csv", "DESK", "2026-09-15T10:00:00Z", user(3), "+1", 30,
          go=False)  # fmt: skip
    settings = w.ingest(tmp_path)
    build_warehouse(settings)
    close_month(settings, "2026-09")
    month = ("--month", "2026-09", "--format", "csv")
    code, out, err = cdr(settings, "report", "reconciliation", *month)
    assert code == 0, err
    assert ",10.0,USD,10.0," in out  # unit_price, currency, idle_cost

    frozen = settings.layout.closed_month("2026-09") / "reconciliation.parquet"
    table = pq.read_table(frozen)
    at = table.column_names.index("idle_cost")
    pq.write_table(table.set_column(at, "idle_cost", pa.array([0.0])), frozen)

    for args in (
        ("report", "reconciliation", "--month", "2026-09"),
        ("report", "reconciliation"),  # every month: the closed ones from their files
        ("report", "finance-pack", "--month", "2026-09", "--out", str(tmp_path / "p.xlsx")),
        ("report", "restatements"),
    ):
        code, out, err = cdr(settings, *args)
        assert code == EXIT_BAD_INPUT, (args, out, err)
        assert "reconciliation.parquet" in err and "changed since the close" in err, err
        assert ",0.0," not in out
    assert not (tmp_path / "p.xlsx").exists()
    # the figures computed now are still there
    code, out, err = cdr(settings, "report", "reconciliation", *month, "--current")
    assert code == 0 and ",10.0,USD,10.0," in out, err
