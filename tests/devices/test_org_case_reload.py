"""Events loaded by a release that stored an org UUID as delivered (before 79e8fd5): their
synthetic event ids were hashed from the upper-case org. The same events loaded again, now
hashed from the lower-case org, must replace them, not add a second copy of each. So with
the API's base64 org id, stored as given before 8e2720b."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.ingest.derive import devices as derive_devices
from tests.devices.helpers import EVENT_HEADER, ORG, ingest, rows, views, write_csv
from tests.ingest.helpers import table

USER = "0d5e2c1a-0000-4000-8000-00000000000a"
EVENTS = [
    "2026-09-01T06:00:00Z,{org},D1,PROVISIONED,{user},,admin@example.com,,BYOD,S,,",
    "2026-09-01T06:00:00.250Z,{org},D1,ACTIVATION_CODE_ISSUED,{user},,admin@example.com,,BYOD,S,,",
]


def _events(path: Path, org: str, user: str, more: list[str] = []) -> Path:  # noqa: B006
    return write_csv(path, EVENT_HEADER, [e.format(org=org, user=user) for e in EVENTS] + more)


def test_events_of_an_upper_case_org_loaded_by_an_older_release_are_not_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = tmp_path / "wh"
    # the older release: org and user UUIDs stored as delivered
    with monkeypatch.context() as m:
        m.setattr(derive_devices, "_uuid_lower", lambda name: pl.col(name))
        ingest(wh, _events(tmp_path / "old.csv", ORG.upper(), USER.upper()))
    con = views(wh)
    assert rows(con, "select distinct org_uuid from stg_device_events") == [(ORG.upper(),)]
    con.close()
    # a later export of the same events (one more since), in either case
    later = "2026-09-02T08:00:00Z,{org},D1,ACTIVATED,{user},,,,BYOD,S,,"
    result = ingest(
        wh,
        _events(
            tmp_path / "new.csv",
            ORG.upper(),
            USER.upper(),
            [later.format(org=ORG.upper(), user=USER.upper())],
        ),
    )
    assert (result.files[0].rows_loaded, result.files[0].rows_duplicate) == (1, 2)
    ingest(wh, _events(tmp_path / "lower.csv", ORG, USER))
    con = views(wh)
    assert rows(
        con,
        "select event_type, org_uuid, user_uuid, count(*) from stg_device_events "
        "group by all order by 1",
    ) == [
        ("ACTIVATED", ORG, USER, 1),
        ("ACTIVATION_CODE_ISSUED", ORG, USER, 1),
        ("PROVISIONED", ORG, USER, 1),
    ]


def test_events_of_a_base64_org_id_loaded_by_an_older_release_are_not_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to 8e2720b the API's org id (base64 of ciscospark://us/ORGANIZATION/<uuid>) was
    stored as given, and an event without an id hashed from it; now decoded to the org's
    UUID, a reload of the same events hashed to other ids and loaded beside them: two
    PROVISIONED, two codes issued."""
    org_id = base64.b64encode(f"ciscospark://us/ORGANIZATION/{ORG}".encode()).decode()
    wh = tmp_path / "wh"
    with monkeypatch.context() as m:  # the older release: the org id stored as given
        m.setattr(derive_devices, "ORG_URI", re.compile("(?!)"))
        ingest(wh, _events(tmp_path / "old.csv", org_id.rstrip("="), USER))
    assert table(wh, "device_events")["org_uuid"].unique().to_list() == [org_id.rstrip("=")]
    later = "2026-09-02T08:00:00Z,{org},D1,ACTIVATED,{user},,,,BYOD,S,,"
    more = [later.format(org=org_id, user=USER)]
    result = ingest(wh, _events(tmp_path / "new.csv", org_id, USER, more))
    assert (result.files[0].rows_loaded, result.files[0].rows_duplicate) == (1, 2)
    held = table(wh, "device_events").group_by("event_type", "org_uuid").len().sort("event_type")
    assert held.rows() == [
        ("ACTIVATED", ORG, 1),
        ("ACTIVATION_CODE_ISSUED", ORG, 1),
        ("PROVISIONED", ORG, 1),
    ]
