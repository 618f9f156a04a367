"""An activation event names its user by the API's person id (`personId`, as the Webex APIs
write it, or `person_id`, as a device snapshot spells the column): read as the event's user
UUID, decoded, so `cdr forget --user` reaches it. Kept in `extra` instead, it escaped the
erasure: the base64 decodes to the person's UUID."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.privacy import forget
from tests.privacy.helpers import file_texts

GRACE = "11111111-1111-4111-8111-111111111111"
PERSON_ID = base64.b64encode(f"ciscospark://us/PEOPLE/{GRACE}".encode()).decode().rstrip("=")
LEGS = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Call type,Duration\n"
    "r1,2026-09-02T09:50:00Z,2026-09-02T09:00:00Z,ORIGINATING,c1,"
    f"{GRACE},+13125550120,Grace Muller,+13125550120,+14155550111,SIP_NATIONAL,60\n"
)


@pytest.mark.parametrize("key", ["personId", "person_id"])
def test_forget_erases_an_event_naming_its_user_by_person_id(tmp_path: Path, key: str) -> None:
    settings = Settings(warehouse=tmp_path / "wh")
    legs, events = tmp_path / "legs.csv", tmp_path / "events.json"
    legs.write_text(LEGS, encoding="utf-8")
    event = {
        "eventTime": "2026-08-15T03:08:31Z",
        "orgId": "org-1",
        "deviceId": "dev-1",
        "eventType": "PROVISIONED",
        key: PERSON_ID,
        "actor": "it-admin@example.com",
    }
    events.write_text(json.dumps({"items": [event]}), encoding="utf-8")
    assert ingest_paths(settings, [legs, events]).exit_code == 0
    stored = pl.read_delta(str(settings.layout.table("device_events")))
    assert stored.select("user_uuid", "extra").rows() == [(GRACE, None)]

    forget(settings, user=GRACE)
    vacuum_tables(settings, grace_hours=0)
    for path in settings.layout.table("device_events").rglob("*.parquet"):
        text = "\n".join(file_texts(path))
        assert PERSON_ID not in text and GRACE not in text, path
