"""Calls linked to other calls (other Correlation IDs) in `fct_calls`: Transfer related call
ID and Related call ID hold the other call's Local call ID (docs/webex-dch.md#legs-and-
correlation). Cisco's field docs give a Transfer related call ID as `2340586843:0A` and a
Local call ID as `113104021:0`: the letter after the number is matched without it as well.
The refresh by call keeps the links a whole build computes (parity)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse
from cdr_pipeline.warehouse.materialize import SCHEMA
from tests.warehouse.test_materialize_calls import _check_parity, _refresh

HEADER = (
    "Report ID,Report time,Start time,Release time,Duration,Answered,Direction,Correlation ID,"
    "Local call ID,Remote call ID,Transfer related call ID,Related call ID,Location,"
    "Calling number,Called number,User type,Call type,User UUID,User"
)


def _row(rid: str, start: str, corr: str, local: str, trcid: str = "", related: str = "") -> str:
    return (
        f"{rid},2026-10-06T12:00:00.000Z,{start},{start},30,true,ORIGINATING,{corr},{local},"
        f"{local}r,{trcid},{related},Paris,+3311{rid},+3322{rid},User,SIP_ENTERPRISE,u-{rid},"
        f"Name {rid}"
    )


AT = "2026-10-05T10:00:00.000Z"
WHOLE = [
    # A's transfer names B's Local call ID with a letter after it (as Cisco's example)
    _row("a", AT, "A", "100:0", trcid="500:0A"),
    _row("b", AT, "B", "500:0"),
    # C was created by a service of D: its Related call ID is D's Local call ID
    _row("c", AT, "C", "200:0", related="600:0"),
    _row("d", AT, "D", "600:0"),
    # E's transfer names F's Local call ID exactly; G's names a call ID no record has
    _row("e", AT, "E", "300:0", trcid="700:0"),
    _row("f", AT, "F", "700:0"),
    _row("g", AT, "G", "400:0", trcid="500:1A"),
]


def _links(settings: Settings, relation: str = "fct_calls") -> dict[str, tuple[object, ...]]:
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        rows = con.execute(
            "select correlation_id, transfer_correlation_ids, has_transfer, "
            f"related_correlation_ids from {relation}"
        ).fetchall()
    finally:
        con.close()
    return {str(r[0]): tuple(r[1:]) for r in rows}


def _load(settings: Settings, path: Path, rows: list[str]) -> None:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    assert ingest_paths(settings, [path]).exit_code == 0


def test_transfer_and_related_call_ids_link_calls(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    _load(settings, tmp_path / "calls.csv", WHOLE)
    build_warehouse(settings)
    links = _links(settings)
    assert links["A"] == (["B"], True, None)
    # a service-created call is related, not a transfer
    assert links["C"] == (None, False, ["D"])
    assert links["E"] == (["F"], True, None)
    assert links["G"] == (None, False, None)  # 500:1 is not B's 500:0
    assert links["B"] == links["D"] == links["F"] == (None, False, None)
    _check_parity(settings)


def test_the_refresh_links_a_call_named_by_related_call_id_on_the_next_day(
    tmp_path: Path,
) -> None:
    """C names D by Related call ID and A names B by a Transfer related call ID with a
    letter after it; B and D arrive later, on the next UTC day (within 24 hours): A and C,
    whose day did not change, gain their links. Then D comes again with another Local call
    ID: C, untouched, loses its link through the one stored."""
    settings = Settings(warehouse=tmp_path / "wh")
    early = "2026-10-05T20:00:00.000Z"
    later = "2026-10-06T08:00:00.000Z"
    _load(
        settings,
        tmp_path / "first.csv",
        [
            _row("a", early, "A", "100:0", trcid="500:0A"),
            _row("c", early, "C", "200:0", "", "600:0"),
        ],
    )
    build_warehouse(settings)
    assert _links(settings)["C"] == (None, False, None)
    _load(
        settings,
        tmp_path / "second.csv",
        [_row("b", later, "B", "500:0"), _row("d", later, "D", "600:0")],
    )
    mode, days, _ = _refresh(settings)
    assert (mode, days) == ("calls", 1)  # the new day only
    _check_parity(settings)
    links = _links(settings, f"{SCHEMA}.fct_calls")
    assert links["A"] == (["B"], True, None)
    assert links["C"] == (None, False, ["D"])
    corrected = _row("d", later, "D", "999:0").replace("2026-10-06T12:00", "2026-10-07T12:00")
    _load(settings, tmp_path / "third.csv", [corrected])
    mode, days, _ = _refresh(settings)
    assert (mode, days) == ("calls", 1)
    _check_parity(settings)
    assert _links(settings, f"{SCHEMA}.fct_calls")["C"] == (None, False, None)
