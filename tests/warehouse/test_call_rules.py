"""`fct_calls` rules on records real exports carry: the two records of a leg that start at the
same instant (the call's first record must not depend on the row order), legs paired by
`Network call ID` when their call IDs are incomplete, and `Answered Elsewhere` in any case."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse

HEADER = (
    "Report ID,Report time,Start time,Duration,Answered,Direction,Correlation ID,"
    "Local call ID,Remote call ID,Network call ID,Location,Site timezone,Calling number,"
    "Called number,User type,Call type,User UUID,User,Answered Elsewhere"
)
WHEN = "2026-10-05T10:05:00.000Z,2026-10-05T10:00:00.000Z"
# one leg, both records at the same instant, at sites 9 hours apart
TIE = [
    f"tie-o,{WHEN},60,true,ORIGINATING,T,1:0,2:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ua,Alice,NA",
    f"tie-t,{WHEN},60,true,TERMINATING,T,2:0,1:0,NA,SF,-420,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,NA",
]
# two legs whose records carry no Remote call ID (or no call IDs): the Network call ID pairs
# them; a third call's terminating record says it was answered elsewhere, in lower case
OTHERS = [
    f"as-o,{WHEN},60,true,ORIGINATING,AS,100:0,NA,BW1@10.0.0.1,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ua,Alice,NA",
    f"as-t,{WHEN},60,true,TERMINATING,AS,101:0,NA,BW1@10.0.0.1,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,NA",
    f"nw-o,{WHEN},30,true,ORIGINATING,NW,NA,NA,BW2@10.0.0.1,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ua,Alice,NA",
    f"nw-t,{WHEN},30,true,TERMINATING,NW,NA,NA,BW2@10.0.0.1,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,NA",
    f"ae-t,{WHEN},0,false,TERMINATING,AE,7:0,8:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,yes",
]
# one leg whose originating record has both call IDs and whose terminating record lacks its
# Remote call ID: the two share the Network call ID (MX), or only the originating record's
# Remote call ID is the terminating record's Local call ID (MI)
HALF = [
    f"mx-o,{WHEN},45,true,ORIGINATING,MX,200:0,201:0,BW3@10.0.0.1,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ua,Alice,NA",
    f"mx-t,{WHEN},45,true,TERMINATING,MX,201:0,NA,BW3@10.0.0.1,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,NA",
    f"mi-o,{WHEN},20,true,ORIGINATING,MI,300:0,301:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ua,Alice,NA",
    f"mi-t,{WHEN},20,true,TERMINATING,MI,301:0,NA,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,NA",
]


def _calls(tmp_path: Path, name: str, rows: list[str]) -> dict[str, tuple[object, ...]]:
    export = tmp_path / f"{name}.csv"
    export.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    settings = Settings(warehouse=tmp_path / name)
    assert ingest_paths(settings, [export]).exit_code == 0
    build_warehouse(settings)
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        found = con.execute(
            "select correlation_id, location_name, start_time_local, calling_number, "
            "originating_user_name, leg_count, talk_seconds, has_answered_elsewhere, is_missed, "
            "is_answered from fct_calls"
        ).fetchall()
    finally:
        con.close()
    return {str(r[0]): tuple(r[1:]) for r in found}


def test_a_calls_first_record_does_not_depend_on_the_row_order(tmp_path: Path) -> None:
    forward = _calls(tmp_path, "forward", TIE + OTHERS)
    backward = _calls(tmp_path, "backward", list(reversed(TIE + OTHERS)))
    assert forward == backward
    location, local_start, *_ = forward["T"]
    # the ORIGINATING record is first on a tie: Paris, 12:00 on its site's clock
    assert location == "Paris" and str(local_start) == "2026-10-05 12:00:00"


def test_legs_without_both_call_ids_pair_by_network_call_id(tmp_path: Path) -> None:
    calls = _calls(tmp_path, "wh", TIE + OTHERS)
    assert calls["AS"][4:6] == (1, 60)  # one leg, its talk time counted once
    assert calls["NW"][4:6] == (1, 30)
    assert calls["T"][4:6] == (1, 60)


def test_a_record_missing_a_call_id_pairs_with_its_legs_whole_record(tmp_path: Path) -> None:
    """One record of a leg with both call IDs, the other without its Remote call ID (as an
    export has them, one side knowing less): the Network call ID they share, or the whole
    record's Remote call ID naming the other's Local call ID, makes them one leg, whose talk
    time counts once (docs/webex-dch.md#legs-and-correlation)."""
    calls = _calls(tmp_path, "wh", TIE + OTHERS + HALF)
    assert calls["MX"][4:6] == (1, 45)
    assert calls["MI"][4:6] == (1, 20)
    assert calls["AS"][4:6] == (1, 60) and calls["T"][4:6] == (1, 60)


def test_answered_elsewhere_is_read_in_any_case(tmp_path: Path) -> None:
    calls = _calls(tmp_path, "wh", TIE + OTHERS)
    assert calls["AE"][6] is True
    assert calls["T"][6] is False


# Bob rung and not answered, nobody else (M), and a hunt group call in which Bob rang while
# Carol answered (HG)
RUNG = [
    f"m-o,{WHEN},0,false,ORIGINATING,M,9:0,10:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ua,Alice,NA",
    f"m-t,{WHEN},0,false,TERMINATING,M,10:0,9:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,NA",
    f"hg-b,{WHEN},0,false,TERMINATING,HG,11:0,12:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,ub,Bob,Yes",
    f"hg-c,{WHEN},50,true,TERMINATING,HG,13:0,14:0,NA,Paris,120,1001,2002,User,"
    "SIP_ENTERPRISE,uc,Carol,NA",
]


def test_a_party_that_rang_while_another_answered_is_no_missed_call(tmp_path: Path) -> None:
    """A record whose Answered Elsewhere says Yes rang while another party answered the call
    (docs/webex-dch.md: a hunt group member). When the answering party's leg is not in the
    data (an export of one location, a pickup from another call), the call was answered, not
    missed: it is neither (AE). A party rung with no one answering is a missed call (M); a
    hunt group call answered by another member is answered (HG)."""
    calls = _calls(tmp_path, "wh", TIE + OTHERS + RUNG)
    assert calls["AE"][6:9] == (True, False, False)  # answered elsewhere, not missed
    assert calls["M"][6:9] == (False, True, False)
    assert calls["HG"][6:9] == (True, False, True)
