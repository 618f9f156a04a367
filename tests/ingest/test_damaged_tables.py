"""A table whose files or log were changed outside cdr, and a version whose files were
vacuumed: a clear error naming what and what to try, with the documented exit code (3 for
a version too old, 6 for damage), never DuckDB's "No files found" as an unexpected error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest.vacuum import vacuum_tables
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from cdr_pipeline.warehouse import build_warehouse
from tests.ingest.helpers import copy_of, fixture, load, partition_files


def _cdr(wh: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--warehouse", str(wh), *args])


def _two_versions(wh: Path) -> None:
    """call_legs version 0 and 1, version 1 replacing files of version 0."""
    load(wh, fixture("overlap_a.csv"))
    load(wh, fixture("overlap_b.csv"))
    build_warehouse(Settings(warehouse=wh))


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`_two_versions` made once per module, never written: a test that damages, vacuums or
    ingests takes a copy (`_copy`), and reads it as of a version (from the tables) or
    ingests into it (tables and ledger), which a copy allows without a build."""
    wh = tmp_path_factory.mktemp("two_versions") / "wh"
    _two_versions(wh)
    return wh


def test_as_of_a_vacuumed_version_exits_3_saying_so(tmp_path: Path, two_versions: Path) -> None:
    wh = copy_of(two_versions, tmp_path)
    assert vacuum_tables(Settings(warehouse=wh), grace_hours=0).files > 0
    old = _cdr(wh, "report", "hourly-volume", "--as-of", "0", "--format", "csv")
    assert old.exit_code == 3, old.output
    assert "call_legs version 0 can no longer be read" in old.output
    assert "deleted by `cdr vacuum`" in old.output and "vacuum_grace_hours" in old.output
    # which version to ask for instead: it said only "a later version or time"
    assert "the first later one that can is version 1 (committed 20" in old.output
    assert "unexpected" not in old.output
    now = _cdr(wh, "report", "hourly-volume", "--as-of", "1", "--format", "csv")
    assert now.exit_code == 0, now.output


def test_a_deleted_or_truncated_data_file_exits_6_naming_it(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    _two_versions(wh)
    victim = next(iter(partition_files(wh).values()))[0]
    good = victim.read_bytes()
    victim.write_bytes(good[:100])
    for args in (["build", "--full"], ["validate"], ["ingest", str(fixture("quoted_fields.csv"))]):
        res = _cdr(wh, *args)
        assert res.exit_code == 6, (args, res.output)
        assert f"data file {victim} is 100 bytes where the log recorded" in res.output
        assert "restore it from a backup" in res.output and "unexpected" not in res.output
    victim.unlink()
    res = _cdr(wh, "report", "hourly-volume", "--as-of", "1")
    assert res.exit_code == 6 and f"data file {victim} is missing" in res.output, res.output
    victim.write_bytes(good)  # restored from the backup: everything works again
    assert _cdr(wh, "build", "--full").exit_code == 0


def _overwrite(victim: Path, where: str) -> None:
    """Bytes of `victim` overwritten in place, its size kept (a disk fault): the end of
    its footer, or every data page (the columns any query reads)."""
    data = bytearray(victim.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    start, end = (
        (len(data) - 64, len(data) - 8) if where == "footer" else (4, len(data) - 8 - footer)
    )
    data[start:end] = b"\xab" * (end - start)
    victim.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["footer", "pages"])
def test_a_data_file_overwritten_in_place_exits_6_naming_it(tmp_path: Path, where: str) -> None:
    """A data file of the size its log recorded whose bytes were overwritten passes the
    size check: build and report ended as a bug (exit 1, "unexpected InvalidInputException"
    or a thrift error, no file named). Like a cut file, it is damage to restore (exit 6)."""
    wh = tmp_path / "wh"
    load(wh, fixture("webex_go_casing.csv"))  # Webex Go legs: the report reads their pages
    build_warehouse(Settings(warehouse=wh))
    (victim,) = partition_files(wh)["2026-10-01"]
    good = victim.read_bytes()
    _overwrite(victim, where)
    # a refresh with nothing new reads the footers only (the staging views' columns)
    runs = (["build"],) if where == "footer" else ()
    runs += (
        ["build", "--full"],
        ["report", "webex-go-adoption", "--format", "csv"],
        ["report", "webex-go-adoption", "--as-of", "0", "--format", "csv"],
    )
    for args in runs:
        res = _cdr(wh, *args)
        assert res.exit_code == 6, (args, res.output)
        assert f"data file {victim} cannot be read as Parquet" in res.output, args
        assert "restore it from a backup" in res.output
        assert "unexpected" not in res.output and "Traceback" not in res.output
    victim.write_bytes(good)  # restored from the backup: everything works again
    assert _cdr(wh, "build", "--full").exit_code == 0
    assert _cdr(wh, "report", "webex-go-adoption", "--format", "csv").exit_code == 0


def test_a_damaged_commit_info_exits_6_for_time_travel(tmp_path: Path, two_versions: Path) -> None:
    """`--as-of` dates versions by reading their commit info itself, before delta-rs reads
    the log: a damaged entry there is the same damaged log (exit 6), not a bug (exit 1)."""
    wh = copy_of(two_versions, tmp_path)
    entry = wh / "tables" / "call_legs" / "_delta_log" / f"{1:020d}.json"
    lines = entry.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"commitInfo"' in lines[0]
    entry.write_text(lines[0][:40] + "\n" + "".join(lines[1:]), encoding="utf-8")
    for as_of in ("1", datetime.now(UTC).isoformat()):
        res = _cdr(wh, "report", "hourly-volume", "--as-of", as_of)
        assert res.exit_code == 6, res.output
        assert f"the Delta log of {wh / 'tables' / 'call_legs'} cannot be read" in res.output
        assert "restore" in res.output and "unexpected" not in res.output


def test_the_ledger_records_a_failed_run_with_its_exit_code_and_message(
    tmp_path: Path, two_versions: Path
) -> None:
    """A run stopped by a known error was recorded as exit 1, "unexpected error", while the
    command exited 6 naming the damaged file: `cdr runs` sent the operator after a bug."""
    wh = copy_of(two_versions, tmp_path)
    victim = next(iter(partition_files(wh).values()))[0]
    victim.unlink()
    assert _cdr(wh, "ingest", str(fixture("quoted_fields.csv"))).exit_code == 6
    last = Ledger(Layout(wh)).runs().row(-1, named=True)
    assert (last["status"], last["exit_code"]) == ("failed", 6)
    assert f"data file {victim} is missing" in last["message"]


@pytest.mark.parametrize("table", ["runs", "files"])
def test_a_cut_ledger_record_exits_6_naming_it(tmp_path: Path, table: str) -> None:
    """A ledger record file cut short (a disk fault) ended `cdr runs`, `cdr ingest`,
    `cdr nightly` and `cdr build` as a bug (exit 1, "unexpected ComputeError", "No magic
    bytes found"). The ledger is the record of
    every run (and of the inputs already loaded): damage to restore (exit 6), not set aside.
    A report reads what the last build kept of the ledger (the call coverage, a table since
    the build read the records): it still answers, as it did before the damage."""
    wh = tmp_path / "wh"
    _two_versions(wh)
    report = ["report", "reconciliation", "--format", "csv"]
    before = _cdr(wh, *report)
    assert before.exit_code == 0, before.output
    record = sorted((wh / "state" / "ledger" / table).glob("*.parquet"))[0]
    good = record.read_bytes()
    record.write_bytes(good[:50])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    commands = [
        ["ingest", str(fixture("quoted_fields.csv"))],
        ["nightly", "--inbox", str(inbox)],
        ["build"],  # its ledger views read the records with DuckDB: "No magic bytes found"
        ["build", "--full"],
    ]
    if table == "runs":  # `cdr runs` reads the files records for --wide only
        commands.append(["runs"])
    for args in commands:
        res = _cdr(wh, *args)
        assert res.exit_code == 6, (args, res.output)
        assert f"ledger record {record} cannot be read as Parquet" in res.output, args
        assert "restore it from a backup" in res.output and "unexpected" not in res.output
    after = _cdr(wh, *report)
    assert (after.exit_code, after.output) == (0, before.output)
    record.write_bytes(good)
    assert _cdr(wh, "runs").exit_code == 0


@pytest.mark.parametrize("where", ["footer", "pages"])
def test_an_ingest_into_a_partition_whose_file_was_overwritten_exits_6_naming_it(
    tmp_path: Path, where: str
) -> None:
    """The partition merge, and the key index before it, read the held file with DuckDB: an
    ingest touching a day whose file was overwritten in place ended as a bug (exit 1,
    "unexpected InvalidInputException: No magic bytes found" or "Variable-length int over
    10 bytes", no file named for the latter). It is damage to restore (exit 6)."""
    wh = tmp_path / "wh"
    load(wh, fixture("overlap_a.csv"))
    before = partition_files(wh)
    for victim in (f for files in before.values() for f in files):
        _overwrite(victim, where)
    res = _cdr(wh, "ingest", str(fixture("overlap_b.csv")))
    assert res.exit_code == 6, res.output
    assert "cannot be read as Parquet" in res.output and "restore it from a backup" in res.output
    assert "unexpected" not in res.output
    assert partition_files(wh) == before  # nothing committed


def test_the_first_readable_version_skips_later_versions_vacuumed_too(tmp_path: Path) -> None:
    """A version whose files vacuum deleted names the first later version whose files are
    all there, not merely the next one (itself vacuumed when a later commit replaced the
    files it added), nor one only the latest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cdr_pipeline.errors import InputError
    from cdr_pipeline.state import tables

    root = tmp_path / "t"
    schema = pa.schema([("x", pa.int64()), ("day", pa.string())])

    def put(name: str, value: str, rewritten: list[str]) -> None:
        path = root / f"day={value}" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"x": [1]}), path)
        tables.commit(root, schema, "day", {value: [path]}, rewritten, name)

    put("a", "1", [])  # v0: day 1
    put("b", "1", ["1"])  # v1: day 1 again (a replaced)
    put("c", "2", [])  # v2: adds day 2
    put("d", "2", ["2"])  # v3: day 2 again (c replaced)
    put("e", "3", [])  # v4
    for gone in ("day=1/a.parquet", "day=2/c.parquet"):  # what vacuum deletes
        (root / gone).unlink()
    for version, first in ((0, 1), (2, 3)):
        with pytest.raises(InputError) as caught:
            tables.snapshot(root, "t", "day", version)
        assert f"the first later one that can is version {first} (" in caught.value.message
    assert tables.snapshot(root, "t", "day", 1).version == 1  # v1 itself reads
