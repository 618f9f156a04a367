"""`cdr forget` collects the person's extension but never finds anyone by it: an extension
is unique within a location only, and a user without a phone number has it as `User number`
(reference: "E.164, or extension if the user has no number")."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.privacy import forget
from tests.privacy.helpers import rows_of

GRACE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"
LEGS = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Location,Call type,Duration\n"
    "r1,2026-09-02T09:59:00Z,2026-09-02T09:00:00Z,ORIGINATING,c1,"
    f"{GRACE},+13125550120,Grace Muller,+13125550120,+14155550111,Chicago HQ,SIP_NATIONAL,60\n"
    "r2,2026-09-02T09:59:00Z,2026-09-02T09:10:00Z,ORIGINATING,c2,"
    f"{BOB},1106,Bob Otherperson,1106,2101,London,SIP_ENTERPRISE,60\n"
)
DEVICES = (
    "snapshot_time,org_uuid,device_id,user_uuid,user_email,deployment,phone_number,"
    "extension,location\n"
    f"2026-09-02T06:00:00Z,org-1,dev-1,{GRACE},grace.muller@example.com,BYOD,+13125550120,"
    "1106,Chicago HQ\n"
)


def _stored(settings: Settings, table: str, columns: str) -> list[tuple[object, ...]]:
    """`columns` of the rows of every data file of `table` on disk, by the first."""
    return rows_of(settings.layout.table(table).rglob("*.parquet"), columns)


def test_forget_does_not_erase_another_user_whose_number_is_the_persons_extension(
    tmp_path: Path,
) -> None:
    """Grace has extension 1106 in Chicago; Bob, in London, has no phone number, so his
    legs carry the same 1106 as `User number`. Her extension went in with the numbers the
    next round matched rows on: Bob's leg was taken for hers, and his user UUID, name and
    MAC were erased, for good, with hers. (The value 1106 itself is replaced wherever it
    stands, his `User number` too, as a colleague's leg that dialled her keeps a token.)"""
    legs, devices = tmp_path / "legs.csv", tmp_path / "devices.csv"
    legs.write_text(LEGS, encoding="utf-8")
    devices.write_text(DEVICES, encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    loaded = ingest_paths(settings, [legs, devices])
    assert loaded.exit_code == 0, [f.message for f in loaded.errors]

    forget(settings, email="grace.muller@example.com")
    rows = _stored(settings, "call_legs", "report_id, user_uuid, user_name")
    assert rows[1] == ("r2", BOB, "Bob Otherperson")
    assert rows[0][1:] != (GRACE, "Grace Muller")


def test_an_extension_is_no_selector(tmp_path: Path) -> None:
    """`cdr forget --number 1106` found no row of Grace's (an extension is matched on no
    owner column) yet reported "1 value of the person" and replaced 1106 in every table:
    her name, UUID, e-mail and number stayed while the erasure read as done."""
    import pytest

    from cdr_pipeline.errors import ConfigError

    legs, devices = tmp_path / "legs.csv", tmp_path / "devices.csv"
    legs.write_text(LEGS, encoding="utf-8")
    devices.write_text(DEVICES, encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh")
    assert ingest_paths(settings, [legs, devices]).exit_code == 0
    for spelled in ("1106", "+1106", "11-06"):
        with pytest.raises(ConfigError, match="extension") as err:
            forget(settings, number=spelled, dry_run=True)
        assert err.value.exit_code == 3
    with pytest.raises(ConfigError, match="extension"):
        forget(settings, number="1106")
    assert not (settings.layout.ledger / "erasures").exists()


def test_a_user_without_a_phone_number_is_found_by_their_uuid_alone(tmp_path: Path) -> None:
    """Bob (London) and Carol (Paris) have no phone number: each leg's `User number` is the
    extension, 1106 for both. Erasing Bob by his UUID took his 1106 as a key, found Carol's
    leg by it and erased her UUID and name with his."""
    carol = "33333333-3333-4333-8333-333333333333"
    legs = tmp_path / "legs.csv"
    legs.write_text(
        LEGS + "r3,2026-09-02T09:59:00Z,2026-09-02T09:20:00Z,ORIGINATING,c3,"
        f"{carol},1106,Carol Tiers,1106,2101,Paris,SIP_ENTERPRISE,60\n",
        encoding="utf-8",
    )
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    assert ingest_paths(settings, [legs]).exit_code == 0
    forget(settings, user=BOB)
    rows = _stored(settings, "call_legs", "report_id, user_uuid, user_name")
    assert rows[2] == ("r3", carol, "Carol Tiers")
    assert rows[1][1:] != (BOB, "Bob Otherperson")


def test_a_caller_id_name_beside_the_persons_extension_alone_is_not_theirs(
    tmp_path: Path,
) -> None:
    """Bob (London, no phone number) calls with 1106, Grace's extension in Chicago, as his
    calling number and `Bob Otherperson` as his caller ID. The caller-ID names shown beside
    the person's numbers and no other were taken as hers, her extension counted as one of
    those numbers: forgetting Grace tokenised Bob's name in every row, his `User` too, for
    good. A name beside one of her numbers of 7 digits or more is still hers."""
    legs, devices = tmp_path / "legs.csv", tmp_path / "devices.csv"
    legs.write_text(
        "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
        "Calling number,Called number,Calling line ID,Called line ID,Location,Call type,"
        "Duration\n"
        "r1,2026-09-02T09:59:00Z,2026-09-02T09:00:00Z,ORIGINATING,c1,"
        f"{GRACE},+13125550120,Grace Muller,+13125550120,+14155550111,G MULLER,,"
        "Chicago HQ,SIP_NATIONAL,60\n"
        "r2,2026-09-02T09:59:00Z,2026-09-02T09:10:00Z,ORIGINATING,c2,"
        f"{BOB},1106,Bob Otherperson,1106,2101,Bob Otherperson,Dana Smith,London,"
        "SIP_ENTERPRISE,60\n"
        "r3,2026-09-02T09:59:00Z,2026-09-02T09:20:00Z,ORIGINATING,c3,"
        f"{GRACE},+13125550120,Grace Muller,1106,1107,G MULLER,Ann Lee,Chicago HQ,"
        "SIP_ENTERPRISE,60\n",
        encoding="utf-8",
    )
    devices.write_text(DEVICES, encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    assert ingest_paths(settings, [legs, devices]).exit_code == 0

    forget(settings, email="grace.muller@example.com")
    rows = _stored(settings, "call_legs", "report_id, user_name, calling_line_id, called_line_id")
    assert rows[1] == ("r2", "Bob Otherperson", "Bob Otherperson", "Dana Smith")
    # her caller ID, beside her number and her extension, went with her
    assert rows[0][2] == rows[2][2] not in (None, "G MULLER")
    assert rows[2][3] == "Ann Lee"
