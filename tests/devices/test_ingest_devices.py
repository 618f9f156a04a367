"""Ingest of the three device kinds: kind detection, vocabularies, quarantine rules, the
activation code never being stored, person-id decoding against the CDRs, idempotency and
chunk-size independence."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.ingest.csv_header import read_header
from cdr_pipeline.ingest.sources import sources_of
from cdr_pipeline.schema import detect_kind
from tests.devices.helpers import (
    EVENT_HEADER,
    ORG,
    SNAPSHOT_HEADER,
    ingest,
    person_id,
    rows,
    views,
    write_csv,
)

SAMPLES = Path(__file__).parents[2] / "data" / "samples"
LINEAGE = ["source_kind", "source_file", "source_row", "run_id", "ingested_at", "load_seq"]
USER = "bbbbbbbb-0000-4000-8000-000000000001"
CODE = "ZXQ7SECRETK3Y9W2"
ENTITLEMENT_HEADER = "subscription_id,license_type,units,valid_from,valid_to,unit_price,currency"


def _table(warehouse: Path, name: str, key: list[str]) -> pl.DataFrame:
    df = pl.read_delta(str(warehouse / "tables" / name))
    return df.drop([c for c in LINEAGE if c in df.columns]).sort(key)


def _rejects(warehouse: Path) -> pl.DataFrame:
    files = sorted((warehouse / "rejects").rglob("*.parquet"))
    return pl.read_parquet(files).sort("source_row") if files else pl.DataFrame()


def _every_stored_text(warehouse: Path) -> str:
    """All strings of every Parquet file under the warehouse, decoded (compression would hide a
    value from a byte grep), plus the raw bytes of every file."""
    parts: list[str] = []
    for path in sorted(warehouse.rglob("*")):
        if not path.is_file():
            continue
        parts.append(path.read_bytes().decode("latin-1"))
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
    return "\n".join(parts)


# -- kind detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("device_snapshots.csv", "device_snapshots"),
        ("activation_events.csv", "activation_events"),
        ("entitlements.csv", "entitlements"),
        ("entitlements_amendment.csv", "entitlements"),
        ("dch_export_2026-09-30_2026-10-31.csv", "calls"),
    ],
)
def test_detect_kind_on_sample_files(name: str, kind: str) -> None:
    source = sources_of(SAMPLES / name)[0]
    with source.open() as stream:
        headers = read_header(stream).names
    assert detect_kind(headers, name).kind == kind


# -- the committed samples, all kinds in one call -----------------------------------------------


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    wh = tmp_path_factory.mktemp("samples") / "wh"
    result = ingest(wh, SAMPLES)
    kinds = {Path(f.path).name: str(f.kind) for f in result.files}
    return wh, kinds


def test_samples_load_every_kind_in_one_call(sample_warehouse: tuple[Path, dict[str, str]]) -> None:
    wh, kinds = sample_warehouse
    assert kinds["device_snapshots.csv"] == "device_snapshots"
    assert kinds["activation_events.csv"] == "activation_events"
    assert kinds["entitlements.csv"] == "entitlements"
    for table in ("device_snapshots", "device_events", "entitlements", "call_legs"):
        assert list((wh / "tables" / table).rglob("*.parquet")), table


def test_sample_activation_codes_are_never_stored(
    sample_warehouse: tuple[Path, dict[str, str]],
) -> None:
    wh, _ = sample_warehouse
    with open(SAMPLES / "activation_events.csv", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
        at = header.index("activation_code")
        codes = [line.rstrip("\n").split(",")[at] for line in fh]
    codes = [c for c in codes if c]
    assert len(codes) > 10  # the generator fills them on purpose
    stored = _every_stored_text(wh)
    assert not [c for c in codes if c in stored]
    assert "activation_code" not in json.dumps(
        _table(wh, "device_events", ["event_id"])["extra"].to_list()
    )


def test_sample_person_ids_join_to_the_cdr_user_uuids(
    sample_warehouse: tuple[Path, dict[str, str]],
) -> None:
    wh, _ = sample_warehouse
    con = duckdb.connect()
    snaps = f"read_parquet('{wh}/tables/device_snapshots/**/*.parquet', hive_partitioning=true)"
    legs = f"read_parquet('{wh}/tables/call_legs/**/*.parquet', hive_partitioning=true)"
    from_person, unmatched = con.execute(
        f"select count(*), count(*) filter (where user_uuid not in "
        f"(select user_uuid from {legs} where user_uuid is not null)) "
        f"from {snaps} where person_id is not null"
    ).fetchone()  # type: ignore[misc]
    assert from_person > 50
    assert unmatched == 0


# -- vocabularies and quarantine ----------------------------------------------------------------


def test_snapshot_vocabulary_and_person_id(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [
            f"2026-10-01T06:00:00Z,{ORG},D1,,{person_id(USER)},a@example.com,BYOD,+1555,1,L,d,S,"
            "Pending activation,ACTIVATING,esim",
            f"2026-10-01T06:00:00Z,{ORG},D2,{USER},,b@example.com,mobile operator,+1556,2,L,d,S,"
            "Status unavailable,,",
            f"2026-10-01T06:00:00Z,{ORG},D3,{person_id(USER)},,c@example.com,BYOD,+1557,3,L,d,S,"
            "OFFLINE,,",
            # rejected: unknown status word; undecodable person id; missing device id
            f"2026-10-01T06:00:00Z,{ORG},D4,{USER},,d@example.com,BYOD,+1558,4,L,d,S,Sleeping,,",
            f"2026-10-01T06:00:00Z,{ORG},D5,,not-a-person-id,e@example.com,BYOD,+1559,5,L,d,S,"
            "ONLINE,,",
            f"2026-10-01T06:00:00Z,{ORG},,{USER},,f@example.com,BYOD,+1550,6,L,d,S,ONLINE,,",
        ],
    )
    ingest(tmp_path / "wh", src, max_reject_rate=1.0)
    got = _table(tmp_path / "wh", "device_snapshots", ["device_id"])
    assert got.select("device_id", "user_uuid", "status", "deployment", "model_type").rows() == [
        ("D1", USER, "PENDING_ACTIVATION", "BYOD", "ESIM"),
        ("D2", USER, "STATUS_UNAVAILABLE", "MOBILE_OPERATOR", None),
        ("D3", USER, "OFFLINE", "BYOD", None),
    ]
    assert got["snapshot_month"].to_list() == ["2026-10"] * 3
    assert _rejects(tmp_path / "wh").select("source_row", "reason").rows() == [
        (5, "bad_enum"),
        (6, "bad_person_id"),
        (7, "missing_required"),
    ]


def test_event_rules_and_code_redacted_from_rejects(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in" / "events.csv",
        EVENT_HEADER,
        [
            f"2026-10-01T00:00:00Z,{ORG},D1,PROVISIONED,{USER},,admin,,BYOD,S,+1555,",
            f"2026-10-01T00:00:02Z,{ORG},D1,activation code reissued,{USER},,admin,,BYOD,S,+1555,"
            f"{CODE}",
            f"2026-10-02T00:00:00Z,{ORG},D1,Status changed,{USER},Offline,,,BYOD,S,+1555,",
            # rejected: unknown event type (carrying a code), STATUS_CHANGED without its status,
            # a ragged record carrying a code
            f"2026-10-03T00:00:00Z,{ORG},D1,FACTORY_RESET,{USER},,admin,,BYOD,S,+1555,{CODE}",
            f"2026-10-04T00:00:00Z,{ORG},D1,STATUS_CHANGED,{USER},,,,BYOD,S,+1555,",
            f"2026-10-05T00:00:00Z,{ORG},D1,ACTIVATION_CODE_ISSUED,{USER},,admin,,BYOD,S,{CODE}",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    got = _table(wh, "device_events", ["event_time"])
    assert got.select("event_type", "status_after").rows() == [
        ("PROVISIONED", None),
        ("ACTIVATION_CODE_ISSUED", None),
        ("STATUS_CHANGED", "OFFLINE"),
    ]
    assert all(e.startswith("evt-") for e in got["event_id"].to_list())
    assert "activation_code" not in got.columns
    rej = _rejects(wh)
    assert rej.select("source_row", "reason").rows() == [
        (5, "bad_enum"),
        (6, "missing_required"),
        (7, "ragged_row"),
    ]
    assert "FACTORY_RESET" in rej["raw_text"][0] and "[redacted]" in rej["raw_text"][0]
    assert "withheld" in rej["raw_text"][2]
    assert CODE not in _every_stored_text(wh)


def test_json_lines_events_drop_the_code(tmp_path: Path) -> None:
    records = [
        {
            "event_time": "2026-10-01T00:00:00Z",
            "org_uuid": ORG,
            "device_id": "D1",
            "event_type": "ACTIVATION_CODE_ISSUED",
            "activationCode": CODE,
            "actor": "admin",
        },
        {
            "event_time": "2026-10-01T00:00:01Z",
            "org_uuid": ORG,
            "device_id": "D1",
            "event_type": "NOT_A_TYPE",
            "activationCode": CODE,
            "actor": "admin",
        },
    ]
    src = tmp_path / "in" / "events.jsonl"
    src.parent.mkdir()
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    assert _table(wh, "device_events", ["event_id"]).height == 1
    raw = _rejects(wh)["raw_text"][0]
    assert "NOT_A_TYPE" in raw and "activationCode" not in raw
    assert CODE not in _every_stored_text(wh)


def test_the_android_code_and_the_qr_payload_are_never_stored(tmp_path: Path) -> None:
    """Control Hub hands an Android user a network provider code and an Apple user a QR code
    holding the activation code (LPA:1$<SM-DP+ address>$<code>): the same secret in other
    columns, which an activation log kept in a spreadsheet carries next to it."""
    header = "event_time,org_uuid,device_id,event_type,Network provider code,QR code,SM-DP+ address"
    qr = f"LPA:1$rsp.example.com${CODE}"
    src = write_csv(
        tmp_path / "in" / "events.csv",
        header,
        [
            f"2026-10-01T00:00:00Z,{ORG},D1,ACTIVATION_CODE_ISSUED,{CODE},{qr},rsp.example.com",
            f"2026-10-01T00:00:01Z,{ORG},D1,FACTORY_RESET,{CODE},{qr},rsp.example.com",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    got = _table(wh, "device_events", ["event_id"])
    assert got["event_type"].to_list() == ["ACTIVATION_CODE_ISSUED"]
    assert json.loads(got["extra"][0]) == {"SM-DP+ address": "rsp.example.com"}
    assert "FACTORY_RESET" in _rejects(wh)["raw_text"][0]
    assert CODE not in _every_stored_text(wh)


def test_a_device_list_with_the_pending_devices_codes_stores_none(tmp_path: Path) -> None:
    """An admin's device list often carries the code sent to each pending device: a snapshot
    drops it as an activation log does (in `extra` and in rejects it would be kept)."""
    src = write_csv(
        tmp_path / "in" / "snap.csv",
        "snapshot_time,org_uuid,device_id,status,Activation code",
        [
            f"2026-10-01T06:00:00Z,{ORG},D1,Pending activation,{CODE}",
            f"2026-10-01T06:00:00Z,{ORG},D2,Sleeping,{CODE}",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    got = _table(wh, "device_snapshots", ["device_id"])
    assert got.select("device_id", "status", "extra").rows() == [("D1", "PENDING_ACTIVATION", None)]
    assert "Sleeping" in _rejects(wh)["raw_text"][0]
    assert CODE not in _every_stored_text(wh)


@pytest.mark.parametrize(
    "header",
    [
        "Activation-Code",
        "QR-Code",
        "Network provider code (Android)",
        "Activation code(s)",
        "eSIM activation code",
        "eSIM QR code",
        "Mobile activation codes",
    ],
)
def test_a_code_column_spelled_with_dashes_or_a_remark_is_never_stored(
    tmp_path: Path, header: str
) -> None:
    """An activation log kept by hand names its code column as people write it: a dash
    (`QR-Code`, the German spelling), a remark in brackets, a word before it naming what it
    activates (`eSIM activation code`). Each went to `extra` as a new column, so the secret,
    which puts the person's number on whichever phone scans it, was stored in the table and
    in rejects' raw text."""
    src = write_csv(
        tmp_path / "in" / "events.csv",
        f"event_time,org_uuid,device_id,event_type,{header}",
        [
            f"2026-10-01T00:00:00Z,{ORG},D1,ACTIVATION_CODE_ISSUED,{CODE}",
            f"2026-10-01T00:00:01Z,{ORG},D1,FACTORY_RESET,{CODE}",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    assert _table(wh, "device_events", ["event_id"])["extra"].to_list() == [None]
    assert "FACTORY_RESET" in _rejects(wh)["raw_text"][0]
    assert CODE not in _every_stored_text(wh)


def test_entitlement_licence_spellings_and_impossible_units(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in" / "ent.csv",
        ENTITLEMENT_HEADER,
        [
            "Sub-1,Webex Go (Bring Your Own Device),5,2026-01-01,,12.50,usd",
            "Sub-1,WEBEX_GO_MOBILE,0,2026-01-01,2026-06-30,20,USD",  # units 0: kept
            "Sub-1,Webex Calling - Professional,5,2026-01-01,,10,USD",  # not Webex Go
        ],
    )
    ingest(tmp_path / "wh", src, max_reject_rate=1.0)
    got = _table(tmp_path / "wh", "entitlements", ["licence_type"])
    assert got.select("licence_type", "units", "currency").rows() == [
        ("Webex Go (Bring Your Own Device)", 5, "USD"),
        ("Webex Go Mobile (Mobile Operator)", 0, "USD"),
    ]
    assert _rejects(tmp_path / "wh")["reason"].to_list() == ["bad_enum"]


# -- idempotency and chunk-size independence ----------------------------------------------------


def _kind_files(folder: Path, reverse: bool = False) -> list[Path]:
    """One small file per kind, with a within-file duplicate each. `reverse` writes the same
    records in the opposite order (other bytes, so the ledger does not skip the file)."""
    snaps = [
        f"2026-10-0{d}T06:00:00Z,{ORG},D{n},{USER},,u@example.com,BYOD,+155{n},{n},L,dp,S,"
        f"{'Online' if d % 2 else 'OFFLINE'},,ESIM"
        for d in range(1, 4)
        for n in range(1, 4)
    ]
    snaps.append(snaps[0])
    events = [
        f"2026-10-0{d}T00:00:00Z,{ORG},D{n},{kind},{USER},{status},admin,,BYOD,S,+155{n},{CODE}"
        for n in range(1, 4)
        for d, kind, status in ((1, "PROVISIONED", ""), (2, "STATUS_CHANGED", "OFFLINE"))
    ]
    events.append(events[1])
    ents = [
        "Sub-1,Webex Go (Bring Your Own Device),5,2026-01-01,,12.50,USD",
        "Sub-1,Webex Go Mobile (Mobile Operator),2,2026-01-01,,20.00,USD",
        "Sub-2,Webex Go (Bring Your Own Device),3,2026-02-01,2026-12-31,12.50,EUR",
    ]
    ents.append(ents[0])
    order = (lambda xs: list(reversed(xs))) if reverse else (lambda xs: xs)
    return [
        write_csv(folder / "snapshots.csv", SNAPSHOT_HEADER, order(snaps)),
        write_csv(folder / "events.csv", EVENT_HEADER, order(events)),
        write_csv(folder / "entitlements.csv", ENTITLEMENT_HEADER, order(ents)),
    ]


TABLE_KEYS = {
    "device_snapshots": ["device_id", "snapshot_time"],
    "device_events": ["event_id"],
    "entitlements": ["subscription_id", "licence_type", "valid_from"],
}


def test_chunk_size_never_changes_the_tables(tmp_path: Path) -> None:
    files = _kind_files(tmp_path / "in")
    ingest(tmp_path / "one", *files, chunk_rows=1)
    ingest(tmp_path / "many", *files, chunk_rows=1000)
    for name, key in TABLE_KEYS.items():
        one, many = _table(tmp_path / "one", name, key), _table(tmp_path / "many", name, key)
        assert one.height > 0
        assert one.equals(many), name


def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    first = ingest(wh, *_kind_files(tmp_path / "a"))
    before = {name: _table(wh, name, key) for name, key in TABLE_KEYS.items()}
    assert [f.rows_duplicate for f in first.files] == [1, 1, 1]
    # the same records again, in other files with other bytes
    again = ingest(wh, *_kind_files(tmp_path / "b", reverse=True))
    assert [f.status for f in again.files] == ["loaded"] * 3
    assert [f.rows_loaded for f in again.files] == [0, 0, 0]
    assert [f.rows_duplicate for f in again.files] == [f.rows_read for f in again.files]
    for name, key in TABLE_KEYS.items():
        after = _table(wh, name, key)
        assert after.equals(before[name]), name
    # and an identical file is skipped by the ledger
    copy = tmp_path / "c" / "events.csv"
    copy.parent.mkdir()
    shutil.copy(tmp_path / "a" / "events.csv", copy)
    assert ingest(wh, copy).files[0].status == "skipped"


@pytest.mark.parametrize("chunk_rows", [25_000, 2, 1])
def test_two_lines_of_one_entitlement_key_with_other_units_are_quarantined(
    tmp_path: Path, chunk_rows: int
) -> None:
    """A finance sheet with two purchase lines of one subscription and licence type starting
    the same day (5 bought, 3 more the same day) kept the last line alone: 3 units for 8
    bought, and nothing said but a duplicate count. Two purchases or a correction typed under
    the original cannot be told apart: both lines are quarantined naming each other. The same
    line twice is still one row. With `--chunk-rows` smaller than the sheet the lines were
    compared within a chunk only, so two chunks apart they passed and the later won: the
    chunk size changed the result. A sheet is now compared whole."""
    src = write_csv(
        tmp_path / "in" / "ent.csv",
        ENTITLEMENT_HEADER,
        [
            "Sub-1,BYOD,5,2026-01-01,,12.50,USD",
            "Sub-2,BYOD,4,2026-01-01,,10,USD",
            "Sub-3,BYOD,2,2026-01-01,,10,USD",
            "Sub-1,Webex Go (Bring Your Own Device),3,2026-01-01,,12.50,USD",
            "Sub-2,BYOD,4,2026-01-01,,10,USD",
            # one subscription in any case (the reconciliation matches ids so): a conflict
            "Sub-5,BYOD,2,2026-01-01,,10,USD",
            "SUB-5,BYOD,3,2026-01-01,,10,USD",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0, chunk_rows=chunk_rows)
    got = _table(wh, "entitlements", ["subscription_id"])
    assert got.select("subscription_id", "units").rows() == [("Sub-2", 4), ("Sub-3", 2)]
    bad = _rejects(wh).sort("source_row")
    assert bad["source_row"].to_list() == [2, 5, 7, 8]
    assert set(bad["reason"]) == {"conflicting_lines"}
    assert "lines 2, 5" in bad["detail"][0]
    assert "lines 7, 8" in bad["detail"][2]
    assert bad["raw_text"].to_list()[1].startswith("Sub-1,Webex Go")


def test_a_file_of_the_run_replacing_another_files_entitlement_says_so(tmp_path: Path) -> None:
    """`cdr ingest finance/` with the sheet and its correction downloaded again, `ent.csv`
    (10 units) and `ent (1).csv` (12): in name order the correction loads first (' ' sorts
    before '.'), the original then replaced its key, and both files read `loaded` with
    nothing said: the reconciliation counted 10 bought. The file that replaces a row an
    earlier file of the same run loaded with other terms now says which, and from where; a
    row a later run amends (what an amendment is) and the same terms twice say nothing."""
    folder = tmp_path / "finance"
    write_csv(folder / "ent.csv", ENTITLEMENT_HEADER, [
        "Sub-1,BYOD,10,2026-01-01,,12.50,USD",
        "Sub-2,BYOD,4,2026-01-01,,10,USD",
    ])  # fmt: skip
    write_csv(folder / "ent (1).csv", ENTITLEMENT_HEADER, [
        "Sub-1,BYOD,12,2026-01-01,,12.50,USD",
        "Sub-2,BYOD,4,2026-01-01,,10,USD",
    ])  # fmt: skip
    wh = tmp_path / "wh"
    result = ingest(wh, folder)
    first, second = result.files
    assert (first.source, second.source) == (str(folder / "ent (1).csv"), str(folder / "ent.csv"))
    got = _table(wh, "entitlements", ["subscription_id"])
    assert got.select("subscription_id", "units").rows() == [("Sub-1", 10), ("Sub-2", 4)]
    assert not first.message
    assert "replaced 1 entitlement row(s) an earlier file of this run loaded" in second.message
    assert "Sub-1 Webex Go (Bring Your Own Device) from 2026-01-01" in second.message
    assert f"12 units in {folder / 'ent (1).csv'}, 10 here" in second.message
    # a later run's amendment is one: it loads and names what it changed (a correction, or
    # a top-up of the same day typed as a line of its own, which replaced what was bought)
    amend = write_csv(tmp_path / "later" / "ent.csv", ENTITLEMENT_HEADER, [
        "Sub-1,BYOD,12,2026-01-01,,12.50,USD",
        "Sub-2,BYOD,4,2026-01-01,,10,USD",
        "Sub-4,BYOD,2,2026-01-01,,10,USD",
    ])  # fmt: skip
    (later,) = ingest(wh, amend).files
    assert later.status == "loaded" and later.rows_updated == 1
    assert "amended 1 entitlement row(s) an earlier run loaded with other terms" in later.message
    assert f"10 units in {folder / 'ent.csv'}, 12 here" in later.message
    assert "replaced" not in later.message and "Sub-2" not in later.message
    (again,) = ingest(wh, write_csv(tmp_path / "again" / "e.csv", ENTITLEMENT_HEADER, [
        "Sub-1,BYOD,12,2026-01-01,,12.50,USD",
        "Sub-3,BYOD,1,2026-01-01,,10,USD",
    ])).files  # fmt: skip
    assert again.status == "loaded" and not again.message  # the same terms: nothing to say
    # the id typed in another case is the same subscription (the reconciliation matches ids
    # so): its other count amends the row, and says so
    (cased,) = ingest(wh, write_csv(tmp_path / "cased" / "e.csv", ENTITLEMENT_HEADER, [
        "SUB-1,BYOD,15,2026-01-01,,12.50,USD",
    ])).files  # fmt: skip
    assert "amended 1 entitlement row(s) an earlier run loaded" in cased.message
    assert "12 units in" in cased.message and "15 here" in cased.message


def test_units_written_with_a_dot_before_three_digits_are_no_count(tmp_path: Path) -> None:
    """In a file of decimal dots, `1.000` units loaded as 1: a thousand licences typed as a
    day-first locale writes them read as one, the reconciliation then short by 999 (in a
    file separated by semicolons the dot groups thousands, as documented). A count is never
    written with three decimals, so it is quarantined; `5.0`, a float re-save, is 5."""
    src = write_csv(
        tmp_path / "in" / "ent.csv",
        ENTITLEMENT_HEADER,
        [
            "Sub-1,BYOD,1.000,2026-01-01,,12.50,USD",
            "Sub-2,BYOD,5.0,2026-01-01,,12.50,USD",
            "Sub-3,BYOD,12.000.000,2026-01-01,,12.50,USD",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    got = _table(wh, "entitlements", ["subscription_id"])
    assert got.select("subscription_id", "units").rows() == [("Sub-2", 5)]
    bad = _rejects(wh)
    assert bad.select("source_row", "reason").rows() == [(2, "bad_integer"), (4, "bad_integer")]


def test_units_or_a_price_past_what_the_costs_can_hold_are_quarantined(tmp_path: Path) -> None:
    """A purchase-order number typed into unit_price (4500012345678), or `1e308`, loaded:
    the costs are decimals of 12 digits before the point, so every reconciliation, finance
    summary and pack exited 1 ('Could not cast value') while the row was in force. Such
    values are quarantined; the largest that load (a count under ten million, test below) are
    costed."""
    snap = write_csv(
        tmp_path / "in" / "snap.csv",
        SNAPSHOT_HEADER,
        [f"2026-09-01T06:00:00Z,{ORG},D1,{USER},,,BYOD,,,L,,Sub-1,ONLINE,,"],
    )
    ent = write_csv(
        tmp_path / "in" / "ent.csv",
        ENTITLEMENT_HEADER,
        [
            "Sub-1,BYOD,9999999,2026-01-01,,999999999999.99,USD",
            "Sub-2,BYOD,5,2026-01-01,,4500012345678,USD",
            "Sub-3,BYOD,5,2026-01-01,,1e308,USD",
            "Sub-4,BYOD,1000000000000000000,2026-01-01,,12.50,USD",
            "Sub-5,BYOD,5,2026-01-01,,-1000000000000,USD",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, snap, ent, max_reject_rate=1.0)
    assert _table(wh, "entitlements", ["subscription_id"])["subscription_id"].to_list() == ["Sub-1"]
    bad = _rejects(wh)
    assert bad.select("source_row", "reason").rows() == [
        (3, "bad_number"),
        (4, "spreadsheet_number"),  # `1e308`: no exponent is read in a figure
        (5, "bad_integer"),
        (6, "bad_number"),
    ]
    assert "out of range" in bad["detail"][0]
    got = rows(
        views(wh),
        "select unassigned_units, unassigned_cost from rpt_licence_reconciliation "
        "where subscription_id = 'Sub-1' and month = date '2026-09-01'",
    )
    assert got == [(9999998, pytest.approx(999999999999.99 * 9999998, rel=1e-12))]


@pytest.mark.parametrize("spelling", ["upper", "api_id"])
def test_an_org_uuid_in_upper_case_is_the_same_org(tmp_path: Path, spelling: str) -> None:
    """UUIDs are case-blind, but a device list whose tool writes them in upper case (a
    PowerShell [guid], a spreadsheet's UPPER) made another org: its snapshot was no listing
    of the org, so D2, left out of the 09-10 listing, kept its licence for ever without a
    DEVICE_UNLISTED. Org and user UUIDs are stored lower case, as Cisco writes them (and
    the CDRs carry them); other user ids and device ids keep their case. A list read from
    the API names the org by its `orgId` (base64 of ciscospark://us/ORGANIZATION/<uuid>):
    it is decoded, as a person id is, and is the same org too."""
    api_id = base64.b64encode(f"ciscospark://us/ORGANIZATION/{ORG}".encode()).decode()
    upper_org = ORG.upper() if spelling == "upper" else api_id.rstrip("=")
    upper_user = USER.upper()
    rows_ = [
        f"2026-09-01T06:00:00Z,{ORG},D1,{USER},,,BYOD,,,L,,S,ONLINE,,",
        f"2026-09-01T06:00:00Z,{ORG},D2,{USER},,,BYOD,,,L,,S,ONLINE,,",
        f"2026-09-05T06:00:00Z,{upper_org},D1,{upper_user},,,BYOD,,,L,,S,ONLINE,,",
        f"2026-09-05T06:00:00Z,{upper_org},D2,{upper_user},,,BYOD,,,L,,S,ONLINE,,",
        f"2026-09-10T06:00:00Z,{ORG},D1,Ab-Stable-Id,,,BYOD,,,L,,S,ONLINE,,",
    ]
    src = write_csv(tmp_path / "in" / "snap.csv", SNAPSHOT_HEADER, rows_)
    wh = tmp_path / "wh"
    ingest(wh, src)
    con = views(wh)
    assert rows(con, "select distinct org_uuid from stg_device_snapshots") == [(ORG,)]
    assert rows(con, "select distinct user_uuid from stg_device_snapshots order by 1") == [
        ("Ab-Stable-Id",),
        (USER,),
    ]
    assert rows(con, "select licence_unit_id, end_reason from fct_licence_holdings order by 1") == [
        ("D1", None),
        ("D2", "UNLISTED"),
    ]


def test_a_finance_sheet_naming_its_currency_column_currency_code(tmp_path: Path) -> None:
    """`Currency Code` (ISO 4217's name, a finance system's export header) went to `extra`
    with only a note: every price of the sheet loaded without its currency."""
    src = write_csv(
        tmp_path / "in" / "fin.csv",
        "Subscription ID,License Type,Quantity,Start Date,End Date,Unit Price,Currency Code",
        ["Sub-1,Webex Go (Bring Your Own Device),5,2026-01-01,,12.50,usd"],
    )
    ingest(tmp_path / "wh", src)
    got = _table(tmp_path / "wh", "entitlements", ["subscription_id"])
    assert got.select("units", "unit_price", "currency", "extra").rows() == [(5, 12.5, "USD", None)]


def test_a_negative_count_of_licences_is_quarantined(tmp_path: Path) -> None:
    """A finance sheet with `-3` units (a credit note typed as a purchase line) loaded and
    the reconciliation bought 3 fewer licences, `entitled_units` and the unassigned cost
    short, with only `cdr validate` to say so; loaded again under a key already held, as an
    amendment, it replaced the 10 units bought. A count of licences is never negative: the
    line is quarantined (`negative_units`, raw text kept, counted) and the row it would
    have amended stays in force."""
    wh = tmp_path / "wh"
    bought = write_csv(
        tmp_path / "in" / "ent.csv",
        ENTITLEMENT_HEADER,
        ["Sub-1,BYOD,10,2026-01-01,,12.50,USD", "Sub-2,BYOD,5,2026-01-01,,10,USD"],
    )
    ingest(wh, bought)
    credit = write_csv(
        tmp_path / "in" / "ent2.csv",
        ENTITLEMENT_HEADER,
        [
            "Sub-1,BYOD,-3,2026-01-01,,12.50,USD",
            "Sub-3,BYOD,-2,2026-02-01,,10,USD",
            "Sub-4,BYOD,-0,2026-02-01,,10,USD",  # a zero all the same: a row taken back
        ],
    )
    result = ingest(wh, credit, max_reject_rate=1.0)
    assert result.total("rows_rejected") == 2
    got = _table(wh, "entitlements", ["subscription_id"])
    assert got.select("subscription_id", "units").rows() == [
        ("Sub-1", 10),
        ("Sub-2", 5),
        ("Sub-4", 0),
    ]
    bad = _rejects(wh)
    assert bad.select("source_row", "reason").rows() == [
        (2, "negative_units"),
        (3, "negative_units"),
    ]
    assert bad["raw_text"][0] == "Sub-1,BYOD,-3,2026-01-01,,12.50,USD"
    assert "units: -3 is negative" in bad["detail"][0]


def test_a_count_of_licences_no_subscription_holds_is_quarantined(tmp_path: Path) -> None:
    """A purchase-order number typed into `units` (4500012345) loaded as 4.5 billion
    licences bought: every reconciliation of the subscription showed billions unassigned and
    their cost, and nothing but the figures said so. A count of ten million or more is no
    subscription's: quarantined (`bad_integer`, out of range, naming the bound); the largest
    count below it loads."""
    src = write_csv(
        tmp_path / "in" / "ent.csv",
        ENTITLEMENT_HEADER,
        [
            "Sub-1,BYOD,4500012345,2026-01-01,,12.50,USD",
            "Sub-2,BYOD,10000000,2026-01-01,,12.50,USD",
            "Sub-3,BYOD,9999999,2026-01-01,,12.50,USD",
        ],
    )
    wh = tmp_path / "wh"
    ingest(wh, src, max_reject_rate=1.0)
    got = _table(wh, "entitlements", ["subscription_id"])
    assert got.select("subscription_id", "units").rows() == [("Sub-3", 9999999)]
    bad = _rejects(wh)
    assert bad.select("source_row", "reason").rows() == [(2, "bad_integer"), (3, "bad_integer")]
    assert "units: 4500012345 is out of range" in bad["detail"][0]
    assert "less than 10,000,000" in bad["detail"][0]


def test_an_entitlement_sheets_end_date_is_read_or_its_absence_said(tmp_path: Path) -> None:
    """A purchase sheet headed `Valid Until` (a spelling the schema did not know) loaded its
    end dates into `extra` and every row open-ended: 10 units bought for January stayed in
    force, and unassigned, every month after, with nothing said but 'new columns kept in
    extra'. `Valid until`, `Valid through`, `Expiry date` and `Expiration date` now name
    valid_to; a sheet still without the column says that its rows are all open-ended."""
    header = "Subscription ID,License Type,Units,Valid From,{},Unit Price,Currency"
    for n, spelling in enumerate(
        ["Valid Until", "valid_through", "Expiry Date", "Expiration date"]
    ):
        src = write_csv(
            tmp_path / f"s{n}" / "ent.csv",
            header.format(spelling),
            ["Sub-1,BYOD,10,2026-01-01,2026-01-31,10.00,USD"],
        )
        wh = tmp_path / f"s{n}" / "wh"
        (loaded,) = ingest(wh, src).files
        got = _table(wh, "entitlements", ["subscription_id"])
        assert got["valid_to"].to_list() == [date(2026, 1, 31)], spelling
        assert "valid_to" not in loaded.missing_columns and not loaded.message
    src = write_csv(
        tmp_path / "ends" / "ent.csv",
        header.format("Ends"),
        ["Sub-1,BYOD,10,2026-01-01,2026-01-31,10.00,USD"],
    )
    (loaded,) = ingest(tmp_path / "ends" / "wh", src).files
    assert "no 'valid_to' column: every row of this file is open-ended" in loaded.message
    assert loaded.unknown_columns == ["Ends"]


def test_a_device_list_without_deployment_or_subscription_says_what_it_costs(
    tmp_path: Path,
) -> None:
    """A device list exported without its Deployment and Subscription columns loaded every
    device as licence type and subscription '(none)': the reconciliation showed each
    subscription's licences all unassigned beside '(none)' rows held without entitlement,
    and the finance summary sent the user to load entitlements that were loaded. The ingest
    said nothing of it; the file's note now names both columns and what their absence does."""
    bare = write_csv(
        tmp_path / "bare" / "devices.csv",
        "snapshot_time,org_uuid,device_id,user_uuid,phone_number,status",
        [f"2026-09-01T06:00:00Z,{ORG},D1,{USER},+15550001,ONLINE"],
    )
    (loaded,) = ingest(tmp_path / "wh", bare).files
    assert "no 'deployment' column" in loaded.message
    assert "no 'subscription_id' column" in loaded.message
    full = write_csv(
        tmp_path / "full" / "devices.csv",
        SNAPSHOT_HEADER,
        [f"2026-09-01T06:00:00Z,{ORG},D2,{USER},,x@example.com,BYOD,+15550002,1000,HQ,"
         "Dept-A,Sub-1,ONLINE,,ESIM"],
    )  # fmt: skip
    (loaded,) = ingest(tmp_path / "wh2", full).files
    assert "column" not in loaded.message
