"""The org directory input: ingest with header drift and quarantine, names and cost centres
in the finance reports, unknown ids shown as the id and listed by a quality warning."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.quality import validate_warehouse
from tests.devices.helpers import ingest, write_csv
from tests.warehouse.finance_world import World, records, user

U1, U2 = user(1), user(2)
ID_DEPT = "device_snapshots.department_id_not_in_directory.known_id"
ID_LOC = "device_snapshots.location_name_not_in_directory.known_id"


def test_directory_ingest_with_header_drift_and_a_bad_row(tmp_path: Path) -> None:
    # headers spelled as another system exports them, an unknown column, a type outside
    # the vocabulary and a row without its id
    src = write_csv(
        tmp_path / "in" / "directory export.csv",
        "Type,ID,Department name,Cost Center,Site name,Country code,Owner",
        [
            "Department,dep-1 ,Ventes Île-de-France,CC-100,,,alice",
            "DEPT,dep-2,Support,CC-200,,,bob",
            "location,HQ,,,Chicago,us,",
            "team,t-9,Tiger team,CC-900,,,carol",
            "department,,Nameless,CC-0,,,",
        ],
    )
    result = ingest(tmp_path / "wh", src, max_reject_rate=1.0)
    assert [f.kind for f in result.files] == ["org_directory"]
    got = (
        pl.read_delta(str(tmp_path / "wh" / "tables" / "org_directory"))
        .sort("entry_type", "entry_id")
        .select("entry_type", "entry_id", "name", "cost_centre", "site", "country", "extra")
    )
    assert got.drop("extra").rows() == [
        ("department", "dep-1", "Ventes Île-de-France", "CC-100", None, None),
        ("department", "dep-2", "Support", "CC-200", None, None),
        ("location", "HQ", None, None, "Chicago", "US"),
    ]
    assert '"Owner": "alice"' in str(got["extra"][0]).replace('":"', '": "')
    rejects = pl.read_parquet(sorted((tmp_path / "wh" / "rejects").rglob("*.parquet")))
    assert sorted(rejects["reason"].to_list()) == ["bad_enum", "missing_required"]
    assert sorted(rejects["source_row"].to_list()) == [5, 6]


def _two_departments(directory: bool) -> World:
    """Two idle devices: D1 in a department and location the directory lists, D2 in ones
    it does not (or no directory at all)."""
    w = World()
    for dev, uid, num, loc, dept in (
        ("D1", U1, "+15550001", "HQ", "Dept-A"),
        ("D2", U2, "+15550002", "Branch", "Dept-B"),
    ):
        w.event("2026-09-01T12:00:00Z", dev, "PROVISIONED", uid, num)
        w.event("2026-09-01T12:00:01Z", dev, "ACTIVATED", uid, num)
        w.snapshot("2026-09-01T13:00:00Z", dev, uid, num, location=loc, department=dept)
        w.snapshot("2026-09-22T11:00:00Z", dev, uid, num, location=loc, department=dept)
    if directory:
        w.directory += [
            "department,Dept-A,Sales,CC-100,,",
            "location,HQ,,,Chicago,US",
            "department,Dept-Z,Unused,CC-999,,",
        ]
    return w


def test_names_in_licence_usage_and_reclaim_candidates(tmp_path: Path) -> None:
    con = _two_departments(directory=True).build(tmp_path, idle_days=10)
    usage = records(
        con,
        "select department_id, department_name, cost_centre, location_name, site, country, "
        "licences_held_peak from rpt_licence_usage_monthly order by department_id",
    )
    assert usage == [
        {
            "department_id": "Dept-A",
            "department_name": "Sales",
            "cost_centre": "CC-100",
            "location_name": "HQ",
            "site": "Chicago",
            "country": "US",
            "licences_held_peak": 1,
        },
        {  # unknown to the directory: the id stands in for the name
            "department_id": "Dept-B",
            "department_name": "Dept-B",
            "cost_centre": None,
            "location_name": "Branch",
            "site": None,
            "country": None,
            "licences_held_peak": 1,
        },
    ]
    reclaim = records(
        con,
        "select device_id, reason, department_name, cost_centre, site, country "
        "from rpt_reclaim_candidates order by device_id",
    )
    assert reclaim == [
        {
            "device_id": "D1",
            "reason": "idle",
            "department_name": "Sales",
            "cost_centre": "CC-100",
            "site": "Chicago",
            "country": "US",
        },
        {
            "device_id": "D2",
            "reason": "idle",
            "department_name": "Dept-B",
            "cost_centre": None,
            "site": None,
            "country": None,
        },
    ]


def test_a_department_uuid_in_upper_case_names_its_department(tmp_path: Path) -> None:
    """A Department ID is a UUID, lower case in Control Hub's data. An HR or finance system's
    directory that wrote it in upper case (as a device list typed in a spreadsheet may too)
    was another department: the licence-usage report showed the id, no name and no cost
    centre, for every device of it. A UUID id is stored lower case on both sides."""
    dept = "d2ba37c1-5d6e-4f70-8a9b-0c1d2e3f4a5b"
    w = World()
    for dev, uid, num, shown in (
        ("D1", U1, "+15550001", dept),
        ("D2", U2, "+15550002", dept.upper()),
    ):
        w.event("2026-09-01T12:00:00Z", dev, "PROVISIONED", uid, num)
        w.snapshot("2026-09-01T13:00:00Z", dev, uid, num, location="HQ", department=shown)
    w.directory += [f"department,{dept.upper()},Sales,CC-100,,", "department,Dept-A,Ops,CC-1,,"]
    con = w.build(tmp_path)
    assert records(
        con,
        "select department_id, department_name, cost_centre, licences_held_peak "
        "from rpt_licence_usage_monthly",
    ) == [
        {
            "department_id": dept,
            "department_name": "Sales",
            "cost_centre": "CC-100",
            "licences_held_peak": 2,
        }
    ]
    ids = records(con, "select department_id from dim_departments order by 1")
    assert ids == [{"department_id": "Dept-A"}, {"department_id": dept}]


def test_unknown_ids_are_listed_by_a_quality_warning(tmp_path: Path) -> None:
    _two_departments(directory=True).build(tmp_path)
    report = validate_warehouse(Settings(warehouse=tmp_path / "wh"), "all")
    dept, loc = report.result(ID_DEPT), report.result(ID_LOC)
    assert (dept.evaluated, dept.success, dept.severity) == (True, False, "warning")
    assert dept.unexpected_values == ["Dept-B"]
    assert dept.unexpected_count == 2  # D2's two snapshots
    assert (loc.evaluated, loc.success, loc.unexpected_values) == (True, False, ["Branch"])
    assert dept in report.warnings and loc in report.warnings
    assert report.exit_code == 0  # a warning, not an error


def test_without_a_directory_the_check_is_not_evaluated(tmp_path: Path) -> None:
    con = _two_departments(directory=False).build(tmp_path, idle_days=10)
    names = records(
        con, "select department_id, department_name from rpt_reclaim_candidates order by 1"
    )
    assert [r["department_name"] for r in names] == ["Dept-A", "Dept-B"]
    report = validate_warehouse(Settings(warehouse=tmp_path / "wh"), "all")
    dept = report.result(ID_DEPT)
    assert (dept.evaluated, dept.note) == (False, "no org directory loaded")
    assert not [r for r in report.warnings if "not_in_directory" in r.id]


@pytest.mark.parametrize("chunk_rows", [25_000, 1])
def test_one_department_twice_with_other_names_is_quarantined(
    tmp_path: Path, chunk_rows: int
) -> None:
    """A directory that lists one department twice with two cost centres (a merge of two HR
    exports) kept the later line: every licence billed to CC-9 where finance may bill CC-1,
    and nothing said but a duplicate count. Both lines are quarantined, naming each other;
    the same line twice is one entry. Whatever `--chunk-rows` cuts the file into."""
    src = write_csv(
        tmp_path / "in" / "directory.csv",
        "entry_type,entry_id,name,cost_centre,site,country",
        [
            "department,dep1,Sales,CC-1,,",
            "DEPT,dep1 ,Sales EMEA,CC-9,,",
            "location,HQ,,,Chicago,US",
            "location,HQ,,,Chicago,us",
        ],
    )
    ingest(tmp_path / "wh", src, max_reject_rate=1.0, chunk_rows=chunk_rows)
    got = pl.read_delta(str(tmp_path / "wh" / "tables" / "org_directory"))
    assert got.select("entry_type", "entry_id").rows() == [("location", "HQ")]
    rejects = pl.read_parquet(sorted((tmp_path / "wh" / "rejects").rglob("*.parquet")))
    assert rejects.sort("source_row").select("source_row", "reason").rows() == [
        (2, "conflicting_lines"),
        (3, "conflicting_lines"),
    ]
    assert "lines 2, 3" in rejects["detail"][0]


def test_a_file_of_the_run_replacing_another_files_entry_says_so(tmp_path: Path) -> None:
    """`cdr ingest finance/` with the HR export and its correction downloaded again,
    `directory.csv` (Sales billed to CC-100) and `directory (1).csv` (CC-150): in name order
    the correction loads first (' ' sorts before '.'), the original then replaced the entry
    and both files read `loaded` with nothing said, every Sales licence billed to the old
    cost centre. As for entitlements, the file that replaces a row an earlier file of the
    same run loaded with other values says which and from where; the same values twice and
    a later run's correction say nothing."""
    header = "entry_type,entry_id,name,cost_centre,site,country"
    folder = tmp_path / "finance"
    write_csv(
        folder / "directory.csv",
        header,
        ["department,dep-1,Sales,CC-100,,", "location,HQ,,,Chicago,US"],
    )
    write_csv(
        folder / "directory (1).csv",
        header,
        ["department,dep-1,Sales,CC-150,,", "location,HQ,,,Chicago,US"],
    )
    wh = tmp_path / "wh"
    first, second = ingest(wh, folder).files
    assert first.source.endswith("directory (1).csv") and not first.message
    got = pl.read_delta(str(wh / "tables" / "org_directory")).sort("entry_type")
    assert got["cost_centre"].to_list() == ["CC-100", None]
    assert "replaced 1 directory row(s) an earlier file of this run loaded" in second.message
    shown = (
        f"department dep-1: cost_centre 'CC-150' in {folder / 'directory (1).csv'}, 'CC-100' here"
    )
    assert shown in second.message
    later = write_csv(
        tmp_path / "later" / "directory.csv", header, ["department,dep-1,Sales,CC-150,,"]
    )
    (again,) = ingest(wh, later).files
    assert again.status == "loaded"
    assert "amended 1 directory row(s) an earlier run loaded with other terms" in again.message
    assert "cost_centre 'CC-100' in" in again.message and "'CC-150' here" in again.message
    same = write_csv(
        tmp_path / "same" / "directory.csv",
        header,
        ["department,dep-1,Sales,CC-150,,", "location,Branch,,,Dallas,US"],
    )
    (f,) = ingest(wh, same).files
    assert f.status == "loaded" and not f.message  # the same values: nothing to say
