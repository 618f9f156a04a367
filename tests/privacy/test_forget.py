"""`cdr forget`: after the erasure and a vacuum with no grace period, none of the person's
raw values is left in any file of the warehouse (Parquet read and searched value by value,
gzip decompressed, every other file as bytes); the finance figures are unchanged."""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.privacy import forget
from cdr_pipeline.state import tables
from cdr_pipeline.warehouse import build_warehouse, connect
from tests.privacy.helpers import MIN_SUBSTRING, file_texts, scan_files

FINANCE = ("rpt_licence_usage_monthly", "rpt_licence_reconciliation", "rpt_reclaim_candidates")


def _person(settings: Settings) -> tuple[str, set[str]]:
    """An e-mail of a user who has devices and calls, and every raw value of theirs."""
    con = connect(settings)
    try:
        email, uuid = con.execute(
            "select s.user_email, s.user_uuid from main.stg_device_snapshots s "
            "where s.user_email is not null and s.user_uuid in "
            "(select user_uuid from main.stg_call_legs where user_name is not null) "
            "order by s.user_email limit 1"
        ).fetchall()[0]
        values = {email, uuid}
        for row in con.execute(
            "select distinct person_id, phone_number, extension from main.stg_device_snapshots "
            "where user_email = ? or user_uuid = ?",
            [email, uuid],
        ).fetchall():
            values |= {v for v in row if v}
        for row in con.execute(
            "select distinct user_name, user_number, device_mac from main.stg_call_legs "
            "where user_uuid = ?",
            [uuid],
        ).fetchall():
            values |= {v for v in row if v}
    finally:
        con.close()
    return email, values


def _finance(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    con = connect(settings)
    try:
        return {v: sorted(map(tuple, con.execute(f"select * from {v}").fetchall()), key=repr)
                for v in FINANCE}  # fmt: skip
    finally:
        con.close()


def _add_page_and_reject(settings: Settings, values: set[str], tmp: Path, samples: Path) -> None:
    """A saved API page and a quarantined row that hold the person's values."""
    page = settings.layout.fetched / "feed" / "org" / "w1" / "page-001.json.gz"
    page.parent.mkdir(parents=True)
    body = json.dumps({"items": [{"userName": v, "note": f"x {v} y"} for v in sorted(values)]})
    page.write_bytes(gzip.compress(body.encode(), mtime=0))
    src = next(samples.glob("dch_export_*.csv"))
    with src.open(encoding="utf-8-sig") as fh:
        header = fh.readline()
    bad = tmp / "bad.csv"
    long = sorted(v for v in values if len(v) >= MIN_SUBSTRING)
    bad.write_text(header + "not-a-time," + ",".join(long) + "\n", encoding="utf-8")
    result = ingest_paths(replace(settings, max_reject_rate=1.0), [bad])
    assert result.files[0].rows_rejected == 1


def _add_reports(settings: Settings, values: set[str]) -> tuple[Path, Path, str]:
    """Two reports saved under the warehouse that name the person: a workbook (`--format
    xlsx --out reports/...`, a ZIP of XML) of their long values, and a table-format text
    report (`cdr report top-callers --format table`) that shows their UUID as `…` and its
    last 10 characters, beside another user's. The workbook, the text and the UUID."""
    import pyarrow as pa

    from cdr_pipeline.reports.export import write_report
    from cdr_pipeline.reports.run import ReportResult

    long = sorted(v for v in values if len(v) >= MIN_SUBSTRING)
    book = settings.warehouse / "reports" / "2026-12-04" / "people.xlsx"
    book.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"who": long, "calls": list(range(len(long)))})
    write_report(ReportResult("people", None, table, 0.0), "xlsx", book)
    uuid = next(v for v in values if len(v) == 36 and v.count("-") == 4)
    text = settings.warehouse / "reports" / "top-callers.txt"
    table = pa.table({"user_uuid": [uuid, "00000000-0000-4000-8000-000000000000"], "calls": [3, 1]})
    write_report(ReportResult("top-callers", None, table, 0.0), "table", text)
    return book, text, uuid


def _members(path: Path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def _ledger_messages(settings: Settings) -> str:
    texts = []
    for table in ("files", "runs"):
        for path in (settings.layout.ledger / table).glob("*.parquet"):
            texts += [m for m in pq.read_table(path).column("message").to_pylist() if m]
    return "\n".join(texts)


def test_forget_leaves_no_raw_value_in_any_file(
    sample_wh: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """One erasure of one person (by e-mail) on a copy of the samples, checked everywhere it
    must reach (one test: each erasure rewrites and rebuilds the whole copy):

    - the dry run counts rows, data files and other files and changes nothing; the erasure
      counts the same rows in one commit, keeps the replaced files within the grace period;
      after a vacuum none of the person's long values is in any file (saved page, reject)
      nor a short one in any Parquet text cell; the finance figures are unchanged; the
      ledger's erasure record counts the rows;
    - a workbook a report wrote into reports/ (a ZIP of XML, once left "binary, not
      searched") is searched, rewritten without the values, and still a workbook;
    - a table-format report showing the person's UUID as `…` and its last 10 characters
      loses that fragment too (once left beside the token), another user's id stays;
    - a file without its header line fails naming its first record, and the ledger keeps
      that message: the scrub replaced the values the tables hold and left a name they do
      not hold in clear; like a reject's raw line, the message is now emptied whole."""
    import openpyxl

    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=24)
    # the copy's tables are the sample's: the person and the figures are read from its views
    # (the copy's would list the sample's files until a build of its own)
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    email, values = _person(sample_wh)
    assert len(values) >= 5  # e-mail, uuid, number, name, MAC at least
    _add_page_and_reject(settings, values, tmp_path, samples_dir)
    long = {v for v in values if len(v) >= MIN_SUBSTRING}
    book, report, uuid = _add_reports(settings, values)
    assert all(v in _members(book) for v in long)
    assert uuid not in report.read_text("utf-8") and f"…{uuid[-10:]}" in report.read_text("utf-8")
    number = next(v for v in sorted(values) if v.startswith("+"))
    part = tmp_path / "part2.csv"
    part.write_text(f"2026-09-30T00:01:32Z,,0,{number},+14155550178,Walter Headless\n")
    assert ingest_paths(settings, [part]).exit_code == 3
    assert "Walter Headless" in _ledger_messages(settings) and number in _ledger_messages(settings)
    before = scan_files(settings.warehouse, long)
    assert any(f.startswith("tables/call_legs/") for f in before)
    assert any(f.startswith("rejects/") for f in before) and any("fetched" in f for f in before)
    finance = _finance(sample_wh)
    legs = settings.layout.table("call_legs")
    version = tables.version_at(legs)

    dry = forget(settings, email=email, dry_run=True)
    assert dry.rows > 0 and dry.data_files > 0 and dry.other.files
    assert tables.version_at(legs) == version
    assert scan_files(settings.warehouse, long) == before

    done = forget(settings, email=email)
    assert done.rows == dry.rows and done.values >= len(values)
    assert tables.version_at(legs) == version + 1  # one commit
    # the workbook: searched, rewritten without the values, still a workbook
    assert "reports/2026-12-04/people.xlsx" in done.other.files
    assert not done.other.unreadable
    assert not [v for v in long if v in _members(book)]
    sheet = openpyxl.load_workbook(book).worksheets[0]
    shown = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(shown) == len(long) and all(
        str(c).startswith(("email_", "id_", "number_", "name_", "mac_")) for c in shown
    )
    # the table-format report: the shortened id is gone, another user's id stays
    assert "reports/top-callers.txt" in done.other.files
    assert uuid[-10:] not in report.read_text("utf-8")
    assert "…0000000000" in report.read_text("utf-8")
    # the ledger message quoting the header-less record is emptied whole
    messages = _ledger_messages(settings)
    assert "Walter Headless" not in messages and number not in messages
    assert "emptied by cdr forget" in messages
    # within the grace period the replaced files stay, for readers of older versions
    assert any(f.startswith("tables/") for f in scan_files(settings.warehouse, long))
    vacuum_tables(settings, grace_hours=0)
    assert scan_files(settings.warehouse, long) == {}
    # short values (an extension) are gone as whole values of every Parquet text cell
    short = values - long
    for path in settings.warehouse.rglob("*.parquet"):
        cells = set(file_texts(path))
        assert not cells & short, path
    assert _finance(settings) == finance
    erasures = pq.read_table(next((settings.layout.ledger / "erasures").glob("*.parquet")))
    assert erasures.column("rows").to_pylist() == [done.rows]


def test_forget_needs_exactly_one_selector(sample_wh: Settings) -> None:
    from cdr_pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="exactly one"):
        forget(sample_wh, dry_run=True)
    with pytest.raises(ConfigError, match="exactly one"):
        forget(sample_wh, user="u", number="+1", dry_run=True)


@pytest.mark.parametrize(
    ("selector", "exact", "variants"),
    [
        ("number", "+13125550116", ["+1 (312) 555-0116", " 1 312 555 0116 ", "13125550116"]),
        # the trunk 0 in brackets, as British, German or Swiss letterheads write a number
        ("number", "+442079460011", ["+44 (0)20 7946 0011"]),
        # also as a mail client writes it (other such forms: test_forget_selector.py)
        ("email", "grace.chen@example.com", ["Grace Chen <Grace.Chen@Example.COM>"]),
        ("user", "aec1f2ea-4e96-41a4-a1cd-2c3e3af89d4c", ["AEC1F2EA-4E96-41A4-A1CD-2C3E3AF89D4C"]),
    ],
)
def test_forget_finds_the_person_however_the_request_spells_them(
    sample_wh: Settings, tmp_path: Path, selector: str, exact: str, variants: list[str]
) -> None:
    """A request names a person as they write themselves; the export spells them its own
    way. Another spelling must find the same rows, never nothing reported as done."""
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)  # forget reads the tables, no view
    want = forget(settings, **{selector: exact}, dry_run=True)  # type: ignore[arg-type]
    assert want.rows > 0
    for variant in variants:
        got = forget(settings, **{selector: variant}, dry_run=True)  # type: ignore[arg-type]
        assert (got.rows, got.data_files) == (want.rows, want.data_files), variant


def test_forget_of_nobody_is_an_error_not_a_done_erasure(
    sample_wh: Settings, tmp_path: Path
) -> None:
    from cdr_pipeline.errors import ConfigError

    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)  # forget reads the tables, no view
    legs = settings.layout.table("call_legs")
    version = tables.version_at(legs)
    for dry_run in (True, False):
        with pytest.raises(ConfigError, match="nothing was erased"):
            forget(settings, email="nobody@nowhere.example", dry_run=dry_run)
    assert tables.version_at(legs) == version
    assert not (settings.layout.ledger / "erasures").exists()


def test_forget_leaves_nothing_the_warehouse_key_links_to_the_person(
    sample_wh: Settings, tmp_path: Path
) -> None:
    """Erased values must not become what the warehouse key makes of them: the key's
    holder (or anyone with an analyst export from before) could recompute the pseudonym of
    the person's number and pick out their calls. That covers the pseudonyms retention
    already put in old legs in place of their name."""
    from datetime import date

    from cdr_pipeline.privacy.retention import apply_personal_retention
    from cdr_pipeline.schema.personal import PSEUDONYM_KINDS
    from cdr_pipeline.state.secret import load_key, pseudonym

    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    email, values = _person(sample_wh)  # the copy's tables are the sample's
    retained = apply_personal_retention(settings, 1, "retention-run", today=date(2027, 1, 1))
    assert retained.rows > 0
    key = load_key(settings.layout)
    keyed = {pseudonym(key, kind, v) for v in values for kind in PSEUDONYM_KINDS}
    assert scan_files(settings.layout.tables, keyed)  # retention wrote some of them
    finance = _finance(sample_wh)  # neither retention nor the erasure moves a figure
    done = forget(settings, email=email)
    assert done.rows > 0
    vacuum_tables(settings, grace_hours=0)
    assert scan_files(settings.warehouse, keyed | {v for v in values if len(v) >= 7}) == {}
    assert _finance(settings) == finance


def test_forget_reaches_the_free_text_of_rows_that_are_not_theirs(
    sample_wh: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """Rows that are not the person's but name them, after one erasure and a vacuum (one
    test: each erasure rewrites and rebuilds the whole copy):

    - an unknown source column is kept in `extra`, where it can name anyone: another user's
      leg ("Escalation contact") or a directory entry ("Head") holding the person's e-mail,
      name and number must not keep them;
    - an export named after the person (`calls for <e-mail>.csv`) names them in the
      `source_file` of every row loaded from it, a colleague's too: forget renamed the
      rejects file and edited the ledger's path, but the rows kept the name, in the tables
      after the vacuum (and on the analyst tier, which shows `source_file`). The colleague's
      row stays theirs; only the name of its file changes."""
    import csv

    settings = Settings(warehouse=tmp_path / "wh", vacuum_grace_hours=0)
    shutil.copytree(sample_wh.warehouse, settings.warehouse)  # forget reads the tables, no view
    email, values = _person(sample_wh)  # the copy's rows
    name = max((v for v in values if " " in v), key=len)
    number = next(v for v in values if v.startswith("+"))
    src = next(samples_dir.glob("dch_export_*.csv"))
    with src.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    other = next(r for r in rows if not set(r) & values)
    other[header.index("Report ID")] = "0b7c6a4e-9d1f-4c2a-8e7b-5f3d2a1c0e99"
    legs = tmp_path / "legs.csv"
    with legs.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([*header, "Escalation contact", "Forwarded to"])
        out.writerow([*other, email.upper(), f"{name} <{number}>"])
    directory = tmp_path / "directory.csv"
    directory.write_text(
        f"entry_type,entry_id,name,cost_centre,site,country,Head\n"
        f"department,d-extra,Legal,CC-9,,,{email}\n",
        encoding="utf-8",
    )
    colleague = list(other)
    colleague[header.index("Report ID")] = "0b7c6a4e-9d1f-4c2a-8e7b-5f3d2a1c0e98"
    named = tmp_path / f"calls for {email}.csv"
    with named.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, colleague])
    loaded = ingest_paths(settings, [legs, directory, named])
    assert loaded.exit_code == 0, [f.message for f in loaded.errors]
    assert scan_files(settings.layout.tables, {email, number, name})

    forget(settings, email=email)
    vacuum_tables(settings, grace_hours=0)
    texts = {email, email.upper(), number, name}
    assert scan_files(settings.warehouse, texts) == {}
    # forget builds the views this reads
    con = connect(settings)
    try:
        kept = con.execute(
            "select source_file, user_uuid from main.stg_call_legs where report_id = ?",
            [colleague[header.index("Report ID")]],
        ).fetchall()
    finally:
        con.close()
    assert kept == [(kept[0][0], colleague[header.index("User UUID")])]
    renamed = Path(kept[0][0]).name
    assert renamed.startswith("calls for email_") and renamed.endswith(".csv"), renamed


def test_forget_finds_every_spelling_of_the_values_it_finds(
    sample_wh: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """A device list saved by a spreadsheet spells the person's number without its `+`,
    the call records to them with it: found through their e-mail, the number must be
    erased in both spellings, not only in the one their own rows hold."""
    import csv

    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    snapshot = tmp_path / "snapshot.csv"
    snapshot.write_text(
        "snapshot_time,org_uuid,device_id,user_uuid,user_email,deployment,phone_number,status\n"
        "2026-09-01T06:00:00Z,9a581b46-53c9-4d27-90a0-d6beadbc1da4,dev-zed,"
        "7e57e57e-0000-4000-8000-000000000199,zed.quinn@example.com,BYOD,13125550987,ONLINE\n",
        encoding="utf-8",
    )
    src = next(samples_dir.glob("dch_export_*.csv"))
    with src.open(encoding="utf-8-sig", newline="") as fh:
        header, row, *_ = list(csv.reader(fh))
    row[header.index("Report ID")] = "0b7c6a4e-9d1f-4c2a-8e7b-5f3d2a1c0e98"
    row[header.index("Called number")] = "+13125550987"
    legs = tmp_path / "legs.csv"
    with legs.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, row])
    loaded = ingest_paths(settings, [snapshot, legs])
    assert loaded.exit_code == 0, [f.message for f in loaded.errors]

    dry = forget(settings, email="zed.quinn@example.com", dry_run=True)
    assert {t.table: t.rows for t in dry.tables}["call_legs"] == 1


@pytest.fixture(scope="module")
def closed_september(
    sample_wh: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, str]:
    """The sample warehouse copied, built and September closed, once for the module (read
    it, don't write: a test takes a copy, `_closed_september`), and a user UUID its frozen
    anomalies name."""
    from cdr_pipeline.reports.close import close_month

    settings = Settings(warehouse=tmp_path_factory.mktemp("closed") / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    build_warehouse(settings)
    close_month(settings, "2026-09", force=True, reason="test")
    frozen = pq.read_table(settings.layout.closed_month("2026-09") / "anomalies.parquet")
    return settings, next(u for u in frozen.column("user_uuid").to_pylist() if u)


def _closed_september(closed: tuple[Settings, str], tmp_path: Path) -> tuple[Settings, Path, str]:
    """A copy of the warehouse with September closed: its settings, the closed month's
    folder and a user UUID its frozen anomalies name. The copy's views list the shared
    warehouse's files until a build of its own: forget reads the tables, and builds."""
    shared, user = closed
    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(shared.warehouse, settings.warehouse)
    return settings, settings.layout.closed_month("2026-09"), user


def _assert_sealed_without(folder: Path, user: str) -> None:
    """Every frozen file of the closed month `folder` has the SHA-256 its close.json lists,
    and its anomalies no longer name `user`."""
    from cdr_pipeline.state.files import file_sha256

    manifest = json.loads((folder / "close.json").read_text(encoding="utf-8"))
    for entry in manifest["reports"].values():
        assert entry["sha256"] == file_sha256(folder / entry["file"]), entry["file"]
    assert user not in pq.read_table(folder / "anomalies.parquet").column("user_uuid").to_pylist()


def test_forget_keeps_a_closed_month_manifest_true_to_its_files(
    closed_september: tuple[Settings, str], tmp_path: Path
) -> None:
    """A closed month's frozen anomalies name user UUIDs; the erasure rewrites the file, and
    close.json went on listing the SHA-256 of the bytes before it, so the frozen figures
    read as altered since the close."""
    settings, folder, user = _closed_september(closed_september, tmp_path)
    done = forget(settings, user=user)
    assert "closed/2026-09/anomalies.parquet" in done.other.files
    _assert_sealed_without(folder, user)


def test_a_forget_killed_between_a_manifest_and_its_file_completes_when_run_again(
    closed_september: tuple[Settings, str], tmp_path: Path
) -> None:
    """The new SHA-256 goes into close.json before the rewritten file is installed: killed
    between the two, the file still holds the person, so the same forget run again finds
    them there, rewrites it and seals it; sealed after the file, the rerun found nobody and
    the month's figures were refused as altered since the close for good."""
    from tests.batch.helpers import cdr_here
    from tests.ingest.helpers import run_cdr

    settings, folder, user = _closed_september(closed_september, tmp_path)
    args = ("--warehouse", str(settings.warehouse), "forget", "--user", user)
    killed = run_cdr(*args, env={"CDR_FAULT_KILL_AT": "frozen-sealed"})
    assert killed.returncode == -9, killed.stderr
    again = cdr_here(*args)  # the rerun and the report need no process of their own
    assert again.exit_code == 0, again.output
    _assert_sealed_without(folder, user)
    report = cdr_here(
        "--warehouse", str(settings.warehouse), "report", "anomalies", "--month", "2026-09"
    )
    assert report.exit_code == 0, report.output


def _owner_tokens(settings: Settings, table: str, rows: pl.DataFrame, keys: list[str]) -> set[str]:
    """The `user_uuid` values `table` now holds in the rows `rows` (keyed by `keys`) name."""
    now = pl.read_delta(str(settings.layout.table(table)))
    return set(now.join(rows.select(keys), on=keys)["user_uuid"].to_list())


def test_a_forget_killed_between_its_table_commits_completes_the_same_erasure(
    sample_wh: Settings, tmp_path: Path
) -> None:
    """Killed after rewriting the call legs, before the device tables, the rerun found the
    person in the device tables only: their name and device MAC (only the call legs held
    them) stayed in the other files (a saved page), and the devices got tokens of another
    one-time key, so the person's Webex Go calls no longer joined their devices (licences
    read idle, their calls as anomalies)."""
    from tests.ingest.helpers import run_cdr

    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    con = connect(sample_wh)
    try:
        uuid, name, mac = con.execute(
            "select user_uuid, max(user_name), max(device_mac) from main.stg_call_legs "
            "where user_uuid in (select user_uuid from main.stg_device_snapshots) group by 1 "
            "having max(device_mac) is not null and max(user_name) is not null order by 1 limit 1"
        ).fetchall()[0]
        legs = pl.DataFrame(
            con.execute(
                "select report_id from main.stg_call_legs where user_uuid = ?", [uuid]
            ).fetchall(),
            schema=["report_id"],
            orient="row",
        )
        devices = pl.DataFrame(
            con.execute(
                "select device_id, snapshot_time from main.stg_device_snapshots "
                "where user_uuid = ?",
                [uuid],
            ).fetchall(),
            schema=["device_id", "snapshot_time"],
            orient="row",
        )
    finally:
        con.close()
    page = settings.layout.fetched / "feed" / "org" / "w1" / "page-001.json.gz"
    page.parent.mkdir(parents=True)
    body = json.dumps({"items": [{"userName": name, "mac": mac}]})
    page.write_bytes(gzip.compress(body.encode(), mtime=0))
    args = ("--warehouse", str(settings.warehouse), "forget", "--user", uuid)
    killed = run_cdr(*args, env={"CDR_FAULT_KILL_AT": "erasure-commit"})
    assert killed.returncode == -9, killed.stderr
    assert tables.version_at(settings.layout.table("device_snapshots")) == 0  # not yet
    forget(settings, user=uuid)
    kept = gzip.decompress(page.read_bytes()).decode()
    assert name not in kept and mac not in kept  # values only the call legs held
    on_legs = _owner_tokens(settings, "call_legs", legs, ["report_id"])
    on_devices = _owner_tokens(
        settings, "device_snapshots", devices, ["device_id", "snapshot_time"]
    )
    assert uuid not in on_legs | on_devices
    assert on_legs == on_devices  # one token for the person's UUID in every table
    assert not settings.layout.pending_erasure.exists()  # the erasure is complete


def test_a_forget_whose_build_did_not_run_rebuilds_the_views_when_run_again(
    sample_wh: Settings, tmp_path: Path
) -> None:
    """Stopped after its commits and ledger record, before the views were rebuilt (a full
    disk during that build exits 6 and says to run it again; kill -9), the rerun found the
    person nowhere in the tables and exited 3, 'nothing was erased', while cdr.duckdb's
    kept marts still held their values until some later build."""
    from tests.ingest.helpers import run_cdr

    settings = Settings(warehouse=tmp_path / "wh")
    shutil.copytree(sample_wh.warehouse, settings.warehouse)
    _, values = _person(sample_wh)
    uuid = next(v for v in values if len(v) == 36 and v.count("-") == 4)
    args = ("--warehouse", str(settings.warehouse), "forget", "--user", uuid)
    killed = run_cdr(*args, env={"CDR_FAULT_KILL_AT": "erasure-recorded"})
    assert killed.returncode == -9, killed.stderr
    forget(settings, user=uuid)  # raised 'nothing was erased'
    long = sorted(v for v in values if len(v) >= MIN_SUBSTRING)
    con = connect(settings)
    try:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() where "
            "schema_name in ('materialized', 'cdr_meta') and data_type = 'VARCHAR'"
        ).fetchall()
        held = [
            f"{schema}.{table}.{column}"
            for schema, table, column in columns
            if con.execute(
                f'select count(*) from {schema}.{table} where "{column}" in (select unnest(?))',
                [long],
            ).fetchall()
            != [(0,)]
        ]
    finally:
        con.close()
    assert held == []  # the kept marts no longer hold the person
    assert not settings.layout.pending_erasure.exists()
