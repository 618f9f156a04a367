"""A ZIP archive without a data member (empty, or only folders and archiver metadata) fails
alone with exit 3, named, and the files beside it load. It ended the run as a bug (exit 1,
`zip() argument 2 is longer than argument 1`) and nothing of the run loaded."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.ingest.helpers import cdr_in_process, fixture, load, table

GOOD_ROWS = 6


def _zip(names: list[str]) -> bytes:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as zf:
        for name in names:
            zf.writestr(name, b"" if name.endswith("/") else b"\x00\x05\x16\x07")
    return bio.getvalue()


@pytest.mark.parametrize("names", [[], ["exports/"], ["__MACOSX/", "__MACOSX/._x.csv"]], ids=str)
def test_a_zip_without_data_members_fails_alone(tmp_path: Path, names: list[str]) -> None:
    wh, report = tmp_path / "wh", tmp_path / "report_0042"  # the Reports API's: no .zip
    report.write_bytes(_zip(names))
    good = shutil.copyfile(fixture("bom_crlf.csv"), tmp_path / "good.csv")
    result = load(wh, report, good)
    by_path = {r.path: r for r in result.files}
    assert by_path[str(report)].status == "failed"
    assert "holds no data files" in by_path[str(report)].message
    assert by_path[str(good)].status == "loaded"
    assert table(wh).height == GOOD_ROWS


def test_the_cli_exits_3_naming_the_empty_zip_and_what_to_try(tmp_path: Path) -> None:
    report = tmp_path / "report_0042"
    report.write_bytes(_zip([]))
    run = cdr_in_process("--warehouse", str(tmp_path / "wh"), "ingest", str(report))
    assert run.exit_code == 3, run.output
    assert f"{report}: the ZIP archive holds no data files" in run.output
    assert "download the report again" in run.output


def test_a_corrupt_macos_metadata_member_does_not_end_the_run(tmp_path: Path) -> None:
    """A `._name` member (macOS metadata) whose deflate data is corrupt ended the run as a
    bug (exit 1, "invalid code lengths set") while it was sniffed: it is judged as any other
    member, and the data file beside it in the archive loads."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("._good.csv", b"\x00\x05\x16\x07" + b"A" * 5000)
        zf.writestr("good.csv", fixture("bom_crlf.csv").read_bytes())
    data = bytearray(bio.getvalue())
    at = data.index(b"._good.csv") + len("._good.csv")
    data[at + 2 : at + 20] = bytes(b ^ 0xFF for b in data[at + 2 : at + 20])
    report = tmp_path / "report_0043"
    report.write_bytes(bytes(data))
    run = cdr_in_process("--warehouse", str(tmp_path / "wh"), "ingest", str(report))
    assert run.exit_code != 1 and "unexpected" not in run.output, run.output
    assert table(tmp_path / "wh").height == GOOD_ROWS
