"""A call-leg export saved again by a spreadsheet writes a number cell formatted or too
narrow as scientific notation: `Duration` `1.2E+02` loaded as 120 seconds, exit 0, though the
notation says only that the cell was shown rounded, and a spreadsheet that saved the file
changed other values too. Such a figure is quarantined (`spreadsheet_number`) as in the
finance inputs (`Column.exact`), and the export fails saying to load it as downloaded. So
is a `Correlation ID` of digits rounded so: two calls became one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, csv_bytes, line, records, rows

LOST = (
    "was saved in scientific notation by a spreadsheet, the exact figure is lost: load the "
    "export as downloaded"
)


def _export(path: Path, column: str, value: str, at: int = 3) -> Path:
    """Twenty rows of an export whose row `at` holds `value` in `column` (added when the
    export lacks it)."""
    header, body = list(HEADER), rows(20, 91)
    if column not in header:
        header.append(column)
        body = [[*r, ""] for r in body]
    body[at][header.index(column)] = value
    path.write_bytes(csv_bytes([line(r) for r in body], header=line(header)))
    return path


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("Duration", "1.2E+02"),
        ("Ring duration", "4E+00"),
        ("Hold Duration", "1,5E+01"),  # a decimal comma's locale
        ("Site timezone", "-3E+02"),
        ("Route list calls overage", "1E+01"),
        ("Caller Reputation Score", "4.5E+00"),
    ],
)
def test_a_call_legs_figure_in_scientific_notation_fails_the_export(
    tmp_path: Path, column: str, value: str
) -> None:
    wh = tmp_path / "wh"
    src = _export(tmp_path / "resaved.csv", column, value)
    result = load(wh, src)
    (f,) = result.files
    assert (result.exit_code, f.status, f.rows_loaded, f.rows_rejected) == (3, "failed", 0, 1)
    assert "as downloaded" in f.message
    (bad,) = rejects(wh).to_dicts()
    assert (bad["source_row"], bad["reason"]) == (5, "spreadsheet_number")
    assert bad["detail"] == f"{column}: '{value}' {LOST}"
    assert table(wh).is_empty()


def test_a_correlation_id_in_scientific_notation_fails_the_export(tmp_path: Path) -> None:
    """A numeric Correlation ID rounded to `1.23457E+15`: loaded, every leg so rounded was
    one call (the views group legs by it)."""
    wh = tmp_path / "wh"
    src = _export(tmp_path / "resaved.csv", "Correlation ID", "1.23457E+15")
    (f,) = load(wh, src).files
    assert (f.status, f.rows_rejected) == ("failed", 1)
    assert rejects(wh)["detail"][0] == (
        "Correlation ID: '1.23457E+15' is a spreadsheet's scientific notation, its "
        "rounded-away digits are lost"
    )


def test_figures_written_plainly_or_by_a_json_tool_still_load(tmp_path: Path) -> None:
    """`120`, `120.0` (a float re-save, exact), a clock `0:02:00`, and JSON numbers `36` and
    `1.2e1` (12: its exponent stays within its digits, as a JSON tool writes it) load; a JSON
    `1.2E+2`, its zero made up, fails its file as in a CSV."""
    wh = tmp_path / "wh"
    body = rows(3, 92)
    duration = HEADER.index("Duration")
    for row, value in zip(body, ["120", "120.0", "0:02:00"], strict=True):
        row[duration] = value
    src = tmp_path / "plain.csv"
    src.write_bytes(csv_bytes([line(r) for r in body]))

    def feed(name: str, *durations: str) -> Path:
        recs = records(len(durations), 93 + len(durations))
        text = "\n".join(json.dumps({**r, "Duration": f"@{i}@"}) for i, r in enumerate(recs))
        for i, value in enumerate(durations):
            text = text.replace(f'"@{i}@"', value)
        (tmp_path / name).write_text(text + "\n")
        return tmp_path / name

    files = load(wh, src, feed("a.jsonl", "36", "1.2e1"), feed("b.jsonl", "7", "1.2E+2")).files
    assert [(f.status, f.rows_loaded, f.rows_rejected) for f in files] == [
        ("loaded", 3, 0),
        ("loaded", 2, 0),
        ("failed", 0, 1),
    ]
    assert sorted(table(wh)["duration_seconds"].to_list()) == [12, 36, 120, 120, 120]
    assert rejects(wh)["detail"].to_list() == [f"Duration: '1.2E+2' {LOST}"]
