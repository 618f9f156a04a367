"""An export named after the person as file names are written, words joined by `_` or `-`
(`aiko_muller_calls.csv`): `cdr forget` renamed `Aiko Muller calls.csv` and its rejects
file, and rewrote the `source_file` of the rows loaded from it, but left this spelling in
the rejects file's name, the rejects' and the ledger's paths and every row's `source_file`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.privacy import forget
from tests.privacy.helpers import scan_files

AIKO = "11111111-1111-4111-8111-111111111111"
HEADER = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Call type,Duration\n"
)
ROWS = (
    f"r1,2026-09-02T09:59:00Z,2026-09-02T09:00:00Z,ORIGINATING,c1,{AIKO},+13125550120,"
    "Aiko Muller,+13125550120,+14155550111,SIP_NATIONAL,60\n"
    "r2,2026-09-02T09:59:00Z,2026-09-02T09:10:00Z,ORIGINATING,c2,"
    "22222222-2222-4222-8222-222222222222,+14155550111,Bo Smith,+14155550111,+13125550199,"
    "SIP_NATIONAL,60\n"
    # quarantined (a start time that does not parse): a rejects file named after the export
    f"r3,2026-09-02T09:59:00Z,x7,ORIGINATING,c3,{AIKO},+13125550120,Aiko Muller,"
    "+13125550120,+14155550111,SIP_NATIONAL,60\n"
)


LAST_FIRST = '"Muller, Aiko"'
"""Her display name as Control Hub writes it (`Last, First`): a file saved after her drops
the comma (`muller_aiko_calls.csv`) or names her as her name is spoken (`aiko_muller.csv`).
The words were joined with the comma kept (`Muller,_Aiko`), which no file name holds, and
never in first-last order, so the name stayed in the file's, the rejects file's and the
ledger's names and every row's `source_file`."""


@pytest.mark.parametrize(
    ("recorded", "name"),
    [
        ("Aiko Muller", "aiko_muller_calls.csv"),
        ("Aiko Muller", "Aiko-Muller.csv"),
        (LAST_FIRST, "muller_aiko_calls.csv"),
        (LAST_FIRST, "Muller-Aiko.csv"),
        (LAST_FIRST, "Muller Aiko.csv"),
        (LAST_FIRST, "aiko_muller_calls.csv"),
        (LAST_FIRST, "Aiko Muller.csv"),
    ],
)
def test_forget_renames_a_file_named_after_the_person_with_joined_words(
    tmp_path: Path, recorded: str, name: str
) -> None:
    settings = Settings(warehouse=tmp_path / "wh", max_reject_rate=1.0)
    export = tmp_path / name
    export.write_text(HEADER + ROWS.replace("Aiko Muller", recorded), encoding="utf-8")
    assert ingest_paths(settings, [export]).exit_code == 0
    assert list(settings.layout.rejects.rglob(f"*{name}*"))

    forget(settings, user=AIKO)
    vacuum_tables(settings, grace_hours=0)
    joined = name.removesuffix(".csv").removesuffix("_calls")
    names = [p.name for p in settings.warehouse.rglob("*")]
    assert not [n for n in names if joined.casefold() in n.casefold()]
    assert scan_files(settings.warehouse, {joined, joined.lower()}) == {}
