"""`cdr forget` refuses a person whose number or e-mail leads to another user as well: every
occurrence of each value is replaced, so the other user would be erased with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.privacy import forget
from cdr_pipeline.state import tables
from tests.privacy.helpers import rows_of

GRACE = "11111111-1111-4111-8111-111111111111"
NORA = "33333333-3333-4333-8333-333333333333"
NUMBER = "+13125550116"
LEGS = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Location,Call type,Duration\n"
    "r1,2026-09-02T09:59:00Z,2026-09-02T09:00:00Z,ORIGINATING,c1,"
    f"{GRACE},{NUMBER},Grace Chen,{NUMBER},+14155550111,Chicago HQ,SIP_NATIONAL,60\n"
    # a month after Grace left, her number went to Nora
    "r2,2026-10-12T09:59:00Z,2026-10-12T09:00:00Z,ORIGINATING,c2,"
    f"{NORA},{NUMBER},Nora Newhire,{NUMBER},+14155550111,Chicago HQ,SIP_NATIONAL,60\n"
)


def _users(settings: Settings) -> list[tuple[object, ...]]:
    """(user_uuid, user_name) of every call leg on disk, by user UUID."""
    files = settings.layout.table("call_legs").rglob("*.parquet")
    return [row[1:] for row in rows_of(files, "report_id, user_uuid, user_name")]


def test_a_number_given_to_a_new_user_is_refused_not_erased_with_the_person(
    tmp_path: Path,
) -> None:
    """Grace's number went to Nora after Grace left. `forget --user Grace` matched Nora's
    leg by the number, took her UUID and name for Grace's and replaced them, for good. Now
    the erasure is refused (exit 3) naming both users, nothing changed; --all-holders
    erases both, as it says."""
    legs = tmp_path / "legs.csv"
    legs.write_text(LEGS, encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    assert ingest_paths(settings, [legs]).exit_code == 0
    root = settings.layout.table("call_legs")
    version = tables.snapshot(root, "call_legs", "call_date").version

    with pytest.raises(ConfigError) as refused:
        forget(settings, user=GRACE.upper())
    assert refused.value.exit_code == 3
    assert f"leads to 2 users ({GRACE}, {NORA})" in str(refused.value)
    assert "--all-holders" in (refused.value.hint or "")
    assert tables.snapshot(root, "call_legs", "call_date").version == version
    assert _users(settings) == [(GRACE, "Grace Chen"), (NORA, "Nora Newhire")]
    assert not settings.layout.pending_erasure.exists()

    with pytest.raises(ConfigError):  # by the number, the same two users
        forget(settings, number=NUMBER, dry_run=True)

    done = forget(settings, user=GRACE, all_holders=True)
    assert done.rows == 2
    assert {uuid for uuid, _ in _users(settings)}.isdisjoint({GRACE, NORA})


def test_one_user_under_two_spellings_is_one_person(tmp_path: Path) -> None:
    """A user UUID in upper case in one export and lower case in another is one user: the
    erasure goes on."""
    legs = tmp_path / "legs.csv"
    legs.write_text(LEGS.replace(NORA, GRACE.upper()), encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    assert ingest_paths(settings, [legs]).exit_code == 0
    assert forget(settings, number=NUMBER).rows == 2
