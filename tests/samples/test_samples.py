"""The synthetic generator: determinism, realism of the call legs, Webex Go consistency with
the device lifecycle, writing quirks, labelled anomalies and the streaming bulk export."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cdr_pipeline.samples import SamplesResult, generate_samples, write_call_export
from cdr_pipeline.samples.bulk_template import template
from cdr_pipeline.samples.writer import API_HEADERS
from cdr_pipeline.schema.devices import LIFECYCLE_EVENT_TYPES

ANOMALY_TYPES = {
    "webex_go_call_after_delete",
    "code_reissued_while_online",
    "never_activated_code_expired",
    "lost_stolen_replacement",
    "status_unavailable_snapshot",
    "unknown_device_event",
    "out_of_order_event",
    "deleted_device_in_snapshot",
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SamplesResult]:
    out = tmp_path_factory.mktemp("samples")
    return out, generate_samples(out, legs=3000, seed=11)


def _read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "DCH exports start with a UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _exports(out: Path) -> dict[str, list[dict[str, str]]]:
    """file name -> rows with headers folded to lower case (spellings differ by case)."""
    found: dict[str, list[dict[str, str]]] = {}
    for path in sorted(out.iterdir()):
        if path.suffix == ".json":
            items = json.loads(path.read_text(encoding="utf-8"))["items"]
            blank = {h.lower(): "" for h in API_HEADERS}  # the API leaves out empty values
            found[path.name] = [blank | {k.lower(): str(v) for k, v in it.items()} for it in items]
        elif zipfile.is_zipfile(path) or path.name.startswith("dch_export"):
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as zf:
                    data = zf.read(zf.namelist()[0])
            else:
                data = path.read_bytes()
            found[path.name] = [{k.lower(): v for k, v in r.items()} for r in _read_csv(data)]
    return found


def _latest(out: Path) -> dict[str, dict[str, str]]:
    """One row per Report ID, the version with the latest Report time."""
    best: dict[str, dict[str, str]] = {}
    for rows in _exports(out).values():
        for r in rows:
            rid = r["report id"]
            if rid not in best or r["report time"] > best[rid]["report time"]:
                best[rid] = r
    return best


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T").rstrip("Z") + "+00:00")


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate_samples(tmp_path / "a", legs=600, seed=3, days=20)
    b = generate_samples(tmp_path / "b", legs=600, seed=3, days=20)
    generate_samples(tmp_path / "c", legs=600, seed=4, days=20)
    names = [p.name for p in a.files]
    assert names == [p.name for p in b.files]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    differing = [
        n
        for n in names
        if (tmp_path / "c" / n).exists()
        and (tmp_path / "c" / n).read_bytes() != (tmp_path / "a" / n).read_bytes()
    ]
    assert len(differing) >= 5


def test_result_counts_and_files(samples: tuple[Path, SamplesResult]) -> None:
    out, res = samples
    assert res.legs == 3000 and len(_latest(out)) == 3000
    assert res.devices >= 12 and 0 < res.webex_go_legs < res.legs
    assert res.updated_report_ids and res.redelivered_legs > len(res.updated_report_ids)
    assert all(p.exists() for p in res.files)
    assert any(p.suffix == ".json" for p in res.files)


def test_zip_without_extension_and_csv_quirks(samples: tuple[Path, SamplesResult]) -> None:
    _, res = samples
    zipped = [p for p in res.files if zipfile.is_zipfile(p)]
    assert zipped and all(p.suffix == "" for p in zipped)
    with zipfile.ZipFile(zipped[0]) as zf:
        data = zf.read(zf.namelist()[0])
    assert (
        data.startswith(b"\xef\xbb\xbf")
        and b"\r\n" in data
        and b"\n" not in data.replace(b"\r\n", b"")
    )
    header = data.decode("utf-8-sig").split("\r\n", 1)[0]
    assert "Device Mac" in header and "Call transfer time" in header
    assert "PSTN vendor name" in header and "Answer Indicator" in header
    rows = _read_csv(data)
    assert {r["Answered"] for r in rows} == {"TRUE", "FALSE"}
    assert any(r["Answer time"] == "NA" for r in rows)
    plain = next(p for p in res.files if p.name.startswith("dch_export"))
    text = plain.read_bytes().decode("utf-8-sig")
    assert "Device MAC" in text.split("\r\n", 1)[0]
    rows_b = _read_csv(plain.read_bytes())
    assert {r["Answered"] for r in rows_b} == {"true", "false"}
    assert any(" " in r["Release time"] and not r["Release time"].endswith("Z") for r in rows_b)
    assert any("," in r["User"] for r in rows_b) and any("'" in r["User"] for r in rows_b)


def test_json_page_types(samples: tuple[Path, SamplesResult]) -> None:
    _, res = samples
    page = next(p for p in res.files if p.suffix == ".json")
    items = json.loads(page.read_text(encoding="utf-8"))["items"]
    assert items
    assert all(isinstance(it["Duration"], int) for it in items)
    assert {it["Answered"] for it in items} == {"true", "false"}
    assert all(it["Start time"].endswith("Z") for it in items)
    assert any(not it["Release time"].endswith("Z") for it in items)


def test_pairs_sessions_and_times(samples: tuple[Path, SamplesResult]) -> None:
    out, _ = samples
    legs = _latest(out)
    by_local = {r["local call id"]: r for r in legs.values()}
    internal = [r for r in legs.values() if r["call type"] == "SIP_ENTERPRISE"]
    assert internal
    for r in internal:
        peer = by_local[r["remote call id"]]
        assert peer["remote call id"] == r["local call id"]
        assert peer["correlation id"] == r["correlation id"]
        assert peer["network call id"] == r["network call id"]
        assert {peer["direction"], r["direction"]} == {"ORIGINATING", "TERMINATING"}
    for r in legs.values():
        if r["call type"] == "SIP_INBOUND":
            assert r["direction"] == "TERMINATING"
            assert r["remote call id"] not in by_local
            assert r["pstn vendor name"]
        start, release = _ts(r["start time"]), _ts(r["release time"])
        assert release >= start and _ts(r["report time"]) > release
        if r["answer time"] not in ("", "NA"):
            assert start <= _ts(r["answer time"]) <= release
            assert int(r["duration"]) == int((release - _ts(r["answer time"])).total_seconds())
    fanout = defaultdict(list)
    for r in legs.values():
        if r["answered elsewhere"] == "Yes":
            fanout[r["correlation id"]].append(r)
    assert fanout
    for corr, lost in fanout.items():
        assert all(x["answered"].lower() == "false" for x in lost)
        assert any(
            x["answered"].lower() == "true"
            and x["direction"] == "TERMINATING"
            and x["user type"] == "User"
            for x in legs.values()
            if x["correlation id"] == corr
        )
    transfers = [r for r in legs.values() if r["transfer related call id"]]
    assert transfers
    for r in transfers:
        other = by_local[r["transfer related call id"]]
        assert other["correlation id"] != r["correlation id"]
        assert r["related reason"] == other["related reason"] == "ConsultativeTransfer"


def test_webex_go_legs_follow_device_lifecycle(samples: tuple[Path, SamplesResult]) -> None:
    out, res = samples
    legs = _latest(out)
    assert res.labels is not None and res.labels.parent != out
    labels = json.loads(res.labels.read_text(encoding="utf-8"))
    expected_bad = {
        a["report_id"] for a in labels["anomalies"] if a["type"] == "webex_go_call_after_delete"
    }
    with (out / "activation_events.csv").open(encoding="utf-8", newline="") as fh:
        events = sorted(csv.DictReader(fh), key=lambda e: e["event_time"])
    timeline: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    status_of = {
        "PROVISIONED": "PENDING_ACTIVATION",
        "ACTIVATED": "ONLINE",
        "LOST_STOLEN": "PENDING_ACTIVATION",
        "DELETED": "DELETED",
    }
    for e in events:
        status = (
            e["status_after"]
            if e["event_type"] == "STATUS_CHANGED"
            else status_of.get(e["event_type"], "")
        )
        if status and e["user_uuid"]:
            timeline[e["user_uuid"]].append((_ts(e["event_time"]), status))
    go = [r for r in legs.values() if r["sub client type"].upper() == "MOBILE_NETWORK"]
    assert {r["sub client type"] for r in go} == {"MOBILE_NETWORK", "Mobile_Network"}
    bad = set()
    for r in go:
        assert r["client type"] == "SIP" and r["device mac"] in ("", "NA")
        t = _ts(r["start time"])
        states = [s for when, s in timeline[r["user uuid"]] if when <= t]
        if not states or states[-1] != "ONLINE":
            bad.add(r["report id"])
    assert expected_bad and bad == expected_bad
    others = [r for r in legs.values() if r["client type"] == "WXC_DEVICE"]
    assert all(len(r["device mac"]) == 12 for r in others)


def test_updated_records_are_later_and_changed(samples: tuple[Path, SamplesResult]) -> None:
    out, res = samples
    versions: dict[str, list[dict[str, str]]] = defaultdict(list)
    for rows in _exports(out).values():
        for r in rows:
            if r["report id"] in res.updated_report_ids:
                versions[r["report id"]].append(r)
    assert set(versions) == res.updated_report_ids
    for vs in versions.values():
        vs.sort(key=lambda r: r["report time"])
        assert vs[0]["report time"] < vs[-1]["report time"]
        assert vs[0]["call outcome"] != vs[-1]["call outcome"]
    labels = json.loads(res.labels.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert {u["report_id"] for u in labels["updated_records"]} == res.updated_report_ids


def test_device_files_and_anomaly_labels(samples: tuple[Path, SamplesResult]) -> None:
    out, res = samples
    labels = json.loads(res.labels.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert {a["type"] for a in labels["anomalies"]} == ANOMALY_TYPES
    assert set(res.anomalies) == ANOMALY_TYPES
    with (out / "device_snapshots.csv").open(encoding="utf-8", newline="") as fh:
        snaps = list(csv.DictReader(fh))
    statuses = {s["status"] for s in snaps}
    assert {"Online", "ONLINE", "Status unavailable", "Pending activation"} <= statuses
    assert any(s["person_id"] and not s["user_uuid"] for s in snaps)
    days = sorted({s["snapshot_time"][:10] for s in snaps})
    assert len(days) < (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days + 1
    with (out / "activation_events.csv").open(encoding="utf-8", newline="") as fh:
        events = list(csv.DictReader(fh))
    assert any(e["activation_code"] for e in events)
    times = [e["event_time"] for e in events]
    assert times != sorted(times), "one event is delivered out of order"
    kinds = {e["event_type"] for e in events}
    assert kinds == {
        "PROVISIONED",
        "ACTIVATION_CODE_ISSUED",
        "ACTIVATED",
        "STATUS_CHANGED",
        "LOST_STOLEN",
        "DELETED",
    }
    assert kinds == set(LIFECYCLE_EVENT_TYPES), "the samples cover every lifecycle step"
    assert {e["deployment"] for e in events} == {"BYOD", "MOBILE_OPERATOR"}
    # read_text turns CRLF into LF: the first line is the header
    headers = [
        (out / n).read_text(encoding="utf-8").splitlines()[0].split(",")
        for n in ("entitlements.csv", "entitlements_amendment.csv")
    ]
    assert "licence_type" in headers[0] and "license_type" in headers[1]


def test_write_call_export_streams_requested_count(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    n = write_call_export(path, legs=20_000, seed=5, start=date(2026, 9, 1), days=30)
    assert n == 20_000
    rows = _read_csv(path.read_bytes())
    assert len(rows) == 20_000
    assert len({r["Report ID"] for r in rows}) == 20_000
    by_local = {r["Local call ID"]: r for r in rows}
    for r in rows:
        if r["Call type"] == "SIP_ENTERPRISE":
            peer = by_local[r["Remote call ID"]]
            assert peer["Correlation ID"] == r["Correlation ID"]
    zpath = tmp_path / "big_zip"
    assert (
        write_call_export(
            zpath, legs=1_000, seed=5, start=date(2026, 9, 1), days=30, zip_member=True
        )
        == 1_000
    )
    with zipfile.ZipFile(zpath) as zf:
        assert len(_read_csv(zf.read(zf.namelist()[0]))) == 1_000
    again = tmp_path / "again.csv"
    write_call_export(again, legs=20_000, seed=5, start=date(2026, 9, 1), days=30)
    assert again.read_bytes() == path.read_bytes()
    # the exports above shared the process's cached template (`template`); from a fresh one
    # the bytes are the same: writing never changes a template
    template.cache_clear()
    fresh = tmp_path / "fresh_zip"
    write_call_export(fresh, legs=1_000, seed=5, start=date(2026, 9, 1), days=30, zip_member=True)
    assert template.cache_info().misses == 1
    with zipfile.ZipFile(zpath) as used, zipfile.ZipFile(fresh) as new:
        assert new.read(new.namelist()[0]) == used.read(used.namelist()[0])


@pytest.mark.parametrize("days", [6, 7, 8])
def test_shortest_periods_generate_with_every_anomaly(tmp_path: Path, days: int) -> None:
    from click.testing import CliRunner

    from cdr_pipeline.cli.main import cli

    run = CliRunner().invoke(
        cli, ["samples", "--days", str(days), "--rows", "300", "--out", str(tmp_path / "s")]
    )
    assert run.exit_code == 0, run.output
    labels = json.loads((tmp_path / "s-labels.json").read_text())
    kinds = {a["type"] for a in labels["anomalies"]}
    assert {"out_of_order_event", "unknown_device_event"} <= kinds


def test_too_short_a_period_is_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cdr_pipeline.cli.main import cli

    run = CliRunner().invoke(cli, ["samples", "--days", "5", "--out", str(tmp_path / "s")])
    assert run.exit_code == 2 and "--days" in run.output


def test_a_set_that_runs_past_today_says_validation_will_fail_it(tmp_path: Path) -> None:
    """Records dated after they are loaded fail `cdr validate` (error severity): a set that
    runs past today is said to, and one that ends before it (the default) is not."""
    from click.testing import CliRunner

    from cdr_pipeline.cli.main import cli

    start = date.today() - timedelta(days=2)
    late, early = (
        CliRunner().invoke(cli, ["samples", "--rows", "300", "--out", str(tmp_path / name), *a])
        for name, a in (("late", ["--start", f"{start}", "--days", "6"]), ("early", []))
    )
    assert late.exit_code == 0 and early.exit_code == 0, late.output + early.output
    assert f"the set runs to {start + timedelta(days=5)}, today or later" in late.stderr
    assert "today or later" not in early.stderr


def test_a_set_that_ends_today_is_not_said_to_run_after_it(tmp_path: Path) -> None:
    """A set whose last day is today holds calls of later today, so it is warned of; the
    warning read 'the set runs to <today>, after today (<today> UTC) ... end by today'."""
    from click.testing import CliRunner

    from cdr_pipeline.cli.main import cli

    today = datetime.now(UTC).date()
    args = ["--start", f"{today - timedelta(days=5)}", "--days", "6", "--rows", "300"]
    ran = CliRunner().invoke(cli, ["samples", "--out", str(tmp_path / "s"), *args])
    assert ran.exit_code == 0, ran.output
    assert f"the set runs to {today}, today or later" in ran.stderr
    assert "before today" in ran.stderr


def test_a_set_whose_device_events_run_past_today_says_so(tmp_path: Path) -> None:
    """A device's flap back ONLINE can fall days after the set's last day: a set ending
    yesterday held activation events of the days after today, which `cdr validate` failed
    (`ingested_at >= event_time`), without a word from `cdr samples`."""
    import csv

    from click.testing import CliRunner

    from cdr_pipeline.cli.main import cli

    start = datetime.now(UTC).date() - timedelta(days=30)
    ran = CliRunner().invoke(
        cli, ["samples", "--start", f"{start}", "--days", "30", "--out", str(tmp_path / "s")]
    )
    assert ran.exit_code == 0, ran.output
    with open(tmp_path / "s" / "activation_events.csv", newline="") as fh:
        latest = max(row["event_time"] for row in csv.DictReader(fh))
    assert latest > datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")  # the case shown
    assert f"activation events run to {latest[:10]}" in ran.stderr
    assert "cdr validate fails" in ran.stderr
