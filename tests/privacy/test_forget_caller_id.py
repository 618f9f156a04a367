"""`cdr forget` of an outside caller: their only name in the records is the caller ID their
carrier presents beside their number (`Calling line ID`, `Called line ID`); it goes with the
number. A caller-ID name shown beside other numbers too is no one person's and stays."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.privacy import forget
from cdr_pipeline.privacy.retention import apply_personal_retention
from cdr_pipeline.state import tables
from tests.privacy.helpers import rows_of

AIKO = "11111111-1111-4111-8111-111111111111"
HEADER = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Calling line ID,Called line ID,Call type,Duration\n"
)
CALLER = "+14155550199"
T = "2026-09-02T09:{:02d}:00Z"


def _leg(rid: str, minute: int, direction: str, calling: str, called: str, names: str) -> str:
    return (
        f"{rid},{T.format(59)},{T.format(minute)},{direction},c{rid},{AIKO},+13125550120,"
        f"Aiko Muller,{calling},{called},{names},SIP_INBOUND,60\n"
    )


LEGS = HEADER + "".join(
    [
        # the outside caller rings Aiko, and Aiko calls them back
        _leg("r1", 0, "TERMINATING", CALLER, "+13125550120", "JOHN Q SMITH,Aiko Muller"),
        _leg("r2", 10, "ORIGINATING", "+13125550120", CALLER, "Aiko Muller,JOHN Q SMITH"),
        # their carrier's generic caller ID, which other callers show too
        _leg("r3", 20, "TERMINATING", CALLER, "+13125550120", "WIRELESS CALLER,Aiko Muller"),
        _leg("r4", 30, "TERMINATING", "+14155550188", "+13125550120", "WIRELESS CALLER,"),
    ]
)


def _names(settings: Settings) -> list[tuple[object, ...]]:
    """(report_id, calling_line_id, called_line_id) of the call legs' latest version."""
    snap = tables.snapshot(settings.layout.table("call_legs"), "call_legs", "call_date")
    return rows_of(snap.all_files(), "report_id, calling_line_id, called_line_id")


@pytest.mark.parametrize("retained", [False, True], ids=["raw", "after-retention"])
def test_forget_of_an_outside_caller_erases_the_caller_id_name_beside_their_number(
    tmp_path: Path, retained: bool
) -> None:
    """The caller's number became a token and `JOHN Q SMITH` stayed beside it, on the leg
    they called in on and the one Aiko called them back on: the erased person still named
    in every copy of the table. Also when retention had replaced the old legs' numbers and
    names by pseudonyms (the pseudonym of their name stayed beside their number's token)."""
    legs = tmp_path / "legs.csv"
    legs.write_text(LEGS, encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    assert ingest_paths(settings, [legs]).exit_code == 0
    if retained:
        apply_personal_retention(settings, 1, "test-retention")
    before = _names(settings)

    forget(settings, number=CALLER)

    after = {rid: (calling, called) for rid, calling, called in _names(settings)}
    was = {rid: (calling, called) for rid, calling, called in before}
    # the caller's own name is gone from both legs; a token stands in its place
    assert after["r1"][0] not in (None, was["r1"][0])
    assert after["r2"][1] not in (None, was["r2"][1])
    assert after["r1"][0] == after["r2"][1]  # one token: the two legs still join
    # Aiko's name, and the generic caller ID other callers show, stay as they were
    assert after["r1"][1] == was["r1"][1]
    assert after["r3"] == was["r3"]
    assert after["r4"] == was["r4"]
    assert (was["r1"][0] == "JOHN Q SMITH") is not retained
    # no data file holds the name: the grace period is 0, the replaced files are gone
    every = [str(p) for p in settings.layout.table("call_legs").rglob("*.parquet")]
    con = duckdb.connect()
    try:
        held = con.execute(
            "select count(*) from read_parquet(?, union_by_name = true) "
            "where 'JOHN Q SMITH' in (calling_line_id, called_line_id)",
            [every],
        ).fetchall()
    finally:
        con.close()
    assert held == [(0,)]
