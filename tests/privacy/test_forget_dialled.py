"""`cdr forget --number` on a few hand-written legs: the person's number as another user
dialled it (an outside-line `9`, a national spelling) is theirs too, and the note of what the
grace period keeps counts every replaced file that holds them."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.privacy import forget

HEADER = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Dialed digits,Call type,Duration\n"
)
BOB = "22222222-2222-4222-8222-222222222222,+14155550111,Bo Smith,+14155550111"


def test_forget_reaches_the_number_as_colleagues_dialled_it(tmp_path: Path) -> None:
    """A colleague's leg holds the person's number as dialled: `913125550120` (outside line,
    then 1 and the number) and `3125550120` (national). Compared only without its `+` and
    marks, neither matched: the erasure left that leg, and the erased person's number in
    its `called_number` and `dialed_digits`, in the tables and every copy. Another number
    (`+13125550121`), another country's number with the same digits (`+86131…`) and digits
    longer than a dialling prefix explains are not theirs."""
    calls = tmp_path / "calls.csv"
    t = "2026-09-02T09:{:02d}:00Z"
    rows = [
        f"r1,{t.format(59)},{t.format(0)},ORIGINATING,c1,"
        "11111111-1111-4111-8111-111111111111,+13125550120,Aiko Muller,+13125550120,"
        "+14155550111,,SIP_ENTERPRISE,60",
        f"r2,{t.format(59)},{t.format(30)},ORIGINATING,c2,{BOB},3125550120,913125550120,"
        "SIP_NATIONAL,60",
        f"r3,{t.format(59)},{t.format(40)},ORIGINATING,c3,{BOB},+13125550121,,SIP_NATIONAL,60",
        f"r4,{t.format(59)},{t.format(50)},ORIGINATING,c4,{BOB},+8613125550120,"
        "99999913125550120,SIP_INTERNATIONAL,60",
    ]
    calls.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [calls]).exit_code == 0
    found = forget(settings, number="+13125550120", dry_run=True)
    assert found.rows == 2  # r1, their own, and r2, the number as dialled to them


def test_forget_counts_the_earlier_replaced_files_that_hold_the_person(tmp_path: Path) -> None:
    """A re-delivered export replaced the file of the first load (a merge), which stays for
    readers of older versions within `vacuum_grace_hours`, and holds the person. The note
    of what the grace period keeps counted only the files the erasure itself replaced: one,
    while two held the person's values."""
    t = "2026-09-02T09:{:02d}:00Z"
    row = (
        "r1,{},{},ORIGINATING,c1,11111111-1111-4111-8111-111111111111,+13125550120,"
        "Aiko Muller,+13125550120,+14155550111,,SIP_ENTERPRISE,60\n"
    )
    settings = Settings(warehouse=tmp_path / "wh")
    for seq, reported in enumerate((t.format(58), t.format(59))):
        calls = tmp_path / f"calls{seq}.csv"
        calls.write_text(HEADER + row.format(reported, t.format(0)), encoding="utf-8")
        assert ingest_paths(settings, [calls]).exit_code == 0
    done = forget(settings, number="+13125550120")
    assert done.data_files == 1
    assert done.kept_files == 2


def test_forget_reaches_the_number_dialled_after_a_feature_access_code(tmp_path: Path) -> None:
    """A colleague who withheld their caller ID dialled `*67` before the person's number:
    `Dialed digits` holds `*6713125550120` (`*67913125550120` through an outside line). The
    star kept it from comparing as digits, so the erasure left the person's number raw there,
    beside the token of the same leg's called number."""
    calls = tmp_path / "calls.csv"
    t = "2026-09-02T09:{:02d}:00Z"
    rows = [
        f"r1,{t.format(59)},{t.format(0)},ORIGINATING,c1,"
        "11111111-1111-4111-8111-111111111111,+13125550120,Aiko Muller,+13125550120,"
        "+14155550111,,SIP_ENTERPRISE,60",
        f"r2,{t.format(59)},{t.format(30)},ORIGINATING,c2,{BOB},+13125550120,*6713125550120,"
        "SIP_NATIONAL,60",
        f"r3,{t.format(59)},{t.format(40)},ORIGINATING,c3,{BOB},3125550120,*67913125550120,"
        "SIP_NATIONAL,60",
    ]
    calls.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [calls]).exit_code == 0
    forget(settings, number="+13125550120")
    legs = pl.read_delta(str(settings.layout.table("call_legs")))
    dialled = legs.sort("report_id")["dialed_digits"].to_list()
    assert not any("3125550120" in (d or "") for d in dialled), dialled
