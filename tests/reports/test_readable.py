"""Readable report tables (compact columns, short ids, YYYY-MM; --wide for everything) and
the UTF-8 BOM of CSV for Excel (--excel-csv, or the excel_csv setting)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.reports import REPORTS, run_report, write_report

BOM = "\ufeff"


def _run(settings: Settings, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    res = CliRunner().invoke(
        cli, ["--warehouse", str(settings.warehouse), "report", *args], env=env
    )
    assert res.exit_code == 0, res.stderr
    return res.exit_code, res.stdout


def test_table_is_compact_with_short_ids_and_months(sample_wh: Settings) -> None:
    _, out = _run(sample_wh, "anomalies", "--month", "2026-10")
    header = out.splitlines()[0].split()
    assert header == list(REPORTS["anomalies"].compact)
    result = run_report(sample_wh, "anomalies", "2026-10")
    device = next(r["device_id"] for r in result.rows() if r["device_id"])
    assert device not in out and "…" + device[-10:] in out
    months = {line.split()[0] for line in out.splitlines()[2:]}
    assert months == {"2026-10"}

    _, wide = _run(sample_wh, "anomalies", "--month", "2026-10", "--wide")
    assert wide.splitlines()[0].split() == result.columns
    assert device in wide
    width = max(len(line) for line in out.splitlines())
    assert width < max(len(line) for line in wide.splitlines()) / 2


def test_reports_without_a_compact_set_show_every_column(sample_wh: Settings) -> None:
    _, out = _run(sample_wh, "top-callers", "--month", "2026-10")
    assert out.splitlines()[0].split() == run_report(sample_wh, "top-callers").columns


def test_excel_csv_puts_the_bom_on_stdout_and_files(sample_wh: Settings, tmp_path: Path) -> None:
    _, plain = _run(sample_wh, "reconciliation", "--format", "csv")
    assert not plain.startswith(BOM) and plain.startswith("month,")
    _, excel = _run(sample_wh, "reconciliation", "--format", "csv", "--excel-csv")
    assert excel == BOM + plain
    _, by_setting = _run(
        sample_wh, "reconciliation", "--format", "csv", env={"CDR_EXCEL_CSV": "true"}
    )
    assert by_setting == BOM + plain

    out = tmp_path / "r.csv"
    _run(sample_wh, "reconciliation", "--format", "csv", "--out", str(out))
    assert out.read_bytes().startswith(BOM.encode())  # a file is for a spreadsheet
    _run(sample_wh, "reconciliation", "--format", "csv", "--out", str(out), "--no-excel-csv")
    assert out.read_text(encoding="utf-8") == plain
    # accented names survive the round trip through the BOM
    result = run_report(replace(sample_wh, excel_csv=True), "licence-usage")
    text = write_report(result, "csv", excel_csv=True)
    assert text is not None and text.startswith(BOM) and "Opéra" in text
