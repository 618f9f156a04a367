"""The finance workbook (read back with openpyxl) and the one-page summary (rendered by
headless Chromium from the Debian packages: one A4 page, no request leaving the machine).
The PNG of the page is kept under test-artifacts/ (or $CDR_TEST_ARTIFACTS) to look at."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import threading
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

import openpyxl
import pyarrow as pa
import pypdf
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.reports import ReportResult, write_report
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.export import to_text_table
from cdr_pipeline.reports.frozen import FINANCE_REPORTS
from cdr_pipeline.reports.workbook import column_definitions
from cdr_pipeline.warehouse.snapshots import table_snapshots
from tests.reports.finance_helpers import CLOSED_MONTH, cdr, copy_warehouse

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CDR_TEST_ARTIFACTS") or REPO / "test-artifacts")
BROWSER_OWN_HOSTS = {
    "www.google.com",
    "accounts.google.com",
    "clients2.google.com",
    "update.googleapis.com",
}
"""Hosts Chromium itself contacts at start (sign-in and clock checks; Chromium 156 also asks
its component updater, `--disable-component-update` notwithstanding), page or not."""


@pytest.fixture(scope="module")
def closed_wh(tmp_path_factory: pytest.TempPathFactory, sample_wh: Settings) -> Settings:
    # a copy of the session's warehouse of the samples (the samples ingested and built)
    settings = copy_warehouse(sample_wh, tmp_path_factory.mktemp("finance_outputs"))
    close_month(settings, CLOSED_MONTH)
    return settings


@pytest.fixture(scope="module")
def pack(closed_wh: Settings, tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    out = tmp_path_factory.mktemp("pack") / "october.xlsx"
    code, _, err = cdr(
        closed_wh, "report", "finance-pack", "--month", CLOSED_MONTH, "--out", str(out)
    )
    assert code == 0, err
    assert "closed on" in err
    assert [p.name for p in out.parent.iterdir()] == ["october.xlsx"]  # no temp file left
    return openpyxl.load_workbook(out)


def test_pack_has_a_cover_a_sheet_per_report_and_the_definitions(
    pack: openpyxl.Workbook,
) -> None:
    assert pack.sheetnames == ["Cover", *FINANCE_REPORTS, "Columns"]
    cover = {r[0]: r[1] for r in pack["Cover"].iter_rows(values_only=True) if r[0]}
    assert cover["Month"] == datetime(2026, 10, 1)
    assert cover["Status"].startswith("closed on ")
    assert cover["Call coverage"] == "full" and cover["Days with call data"] == 31
    assert isinstance(cover["Made at (UTC)"], datetime)
    assert cover["  call_legs"] == 0 and cover["  entitlements"] == 0
    for name in FINANCE_REPORTS:
        assert cover[f"Rows: {name}"] == pack[name].max_row - 1
    defs = {(r[0], r[1]): r[2] for r in pack["Columns"].iter_rows(min_row=2, values_only=True)}
    # every column of every sheet has its meaning (README: "the meaning of every column")
    assert [column for column, meaning in defs.items() if not meaning] == []
    # the same words as sql/README.md
    assert "idle_licences × unit_price" in defs[("reconciliation", "idle_cost")]
    readme = (REPO / "sql" / "README.md").read_text(encoding="utf-8")
    for report, column, meaning in column_definitions(FINANCE_REPORTS):
        assert defs[(report, column)] == meaning and meaning.split("`")[0][:20] in readme


def test_pack_cells_keep_their_types_and_formats(pack: openpyxl.Workbook) -> None:
    sheet = pack["reconciliation"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{sheet.max_row}"
    assert all(c.font.b for c in sheet[1])
    col = {name: i + 1 for i, name in enumerate(header)}
    assert sheet.column_dimensions["C"].width > 30  # licence_type, fitted to its text
    for r in range(2, sheet.max_row + 1):
        month = sheet.cell(r, col["month"])
        assert month.value == datetime(2026, 10, 1) and month.number_format == "yyyy-mm"
        units = sheet.cell(r, col["entitled_units"])
        assert units.data_type == "n" and isinstance(units.value, int)
        currency = sheet.cell(r, col["currency"]).value
        for money in ("unit_price", "unassigned_cost", "idle_cost"):
            cell = sheet.cell(r, col[money])
            assert cell.data_type == "n"
            digits = "0.00####" if money == "unit_price" else "0.00"
            assert cell.number_format == f"[${currency}] #,##{digits}"
    anomalies = pack["anomalies"]
    names = [c.value for c in anomalies[1]]
    observed = anomalies.cell(2, names.index("observed_at") + 1)
    assert isinstance(observed.value, datetime) and observed.number_format == "yyyy-mm-dd hh:mm:ss"


def test_a_price_with_more_decimals_than_cents_shows_them(tmp_path: Path) -> None:
    """Worked out by hand: 5 idle licences at 12.345 EUR cost 61.725, 61.73 rounded half up
    to cents. A price cell shown as 12.35 (the cents format) would multiply out to 61.75, so
    finance could not check the cost from the sheet: the price shows its own decimals (up to
    the six the costs take it to), the amounts show cents, both in the currency's format."""
    table = pa.table(
        {
            "idle_licences": [5, 2],
            "unit_price": [12.345, 10.0],
            "currency": ["EUR", "USD"],
            "idle_cost": [61.73, 20.0],
        }
    )
    out = tmp_path / "prices.xlsx"
    write_report(ReportResult("reconciliation", None, table, 0.0), "xlsx", out)
    sheet = openpyxl.load_workbook(out)["reconciliation"]
    assert [c.value for c in sheet[2]] == [5, 12.345, "EUR", 61.73]
    price, cost = sheet.cell(2, 2), sheet.cell(2, 4)
    assert price.number_format == "[$EUR] #,##0.00####"  # shows 12.345; 10 shows 10.00
    assert cost.number_format == "[$EUR] #,##0.00"
    assert sheet.cell(3, 2).number_format == "[$USD] #,##0.00####"
    assert sheet.cell(3, 4).number_format == "[$USD] #,##0.00"


def test_amounts_show_cents_in_the_terminal_table() -> None:
    """The terminal table showed 22.5 and 0.0 where the sheet shows 22.50 and 0.00: amounts
    get their cents, a price its own decimals (at least two), still right-aligned."""
    table = pa.table(
        {
            "unit_price": [12.345, 7.5],
            "currency": ["EUR", "USD"],
            "idle_cost": [61.73, 22.5],
            "unassigned_cost": [0.0, None],
        }
    )
    text = to_text_table(ReportResult("reconciliation", None, table, 0.0), wide=True)
    lines = text.splitlines()
    assert lines[2].split() == ["12.345", "EUR", "61.73", "0.00"]
    assert lines[3].split() == ["7.50", "USD", "22.50"]
    assert lines[3].index("22.50") == lines[2].index("61.73")  # right-aligned, as numbers


def test_formula_triggers_are_text_in_the_workbook(tmp_path: Path) -> None:
    texts = ['=HYPERLINK("http://x","y")', "+1+2", " @SUM(A1)", "－1", "plain"]
    table = pa.table({"name": texts, "n": [-1, 2, 3, 4, 5]})
    out = tmp_path / "t.xlsx"
    write_report(ReportResult("x", None, table, 0.0), "xlsx", out)
    sheet = openpyxl.load_workbook(out)["x"]
    for r, text in enumerate(texts, start=2):
        cell = sheet.cell(r, 1)
        assert cell.value == text and cell.data_type == "s"  # never a formula
        assert cell.quotePrefix == (text != "plain")
    assert sheet.cell(2, 2).value == -1 and sheet.cell(2, 2).data_type == "n"


def test_any_report_as_xlsx(closed_wh: Settings, tmp_path: Path) -> None:
    out = tmp_path / "adoption.xlsx"
    code, _, err = cdr(
        closed_wh, "report", "webex-go-adoption", "--format", "xlsx", "--out", str(out)
    )
    assert code == 0, err
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["webex-go-adoption", "Columns"]
    sheet = book["webex-go-adoption"]
    share = [c.value for c in sheet[1]].index("webex_go_share") + 1
    assert all(isinstance(sheet.cell(r, share).value, float | int) for r in range(2, sheet.max_row))
    code, _, err = cdr(closed_wh, "report", "anomalies", "--format", "xlsx")
    assert code == 2 and "--out" in err


class _Trap(http.server.BaseHTTPRequestHandler):
    """A proxy that answers nothing and records every request the browser makes."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(404)
        self.end_headers()

    def do_CONNECT(self) -> None:
        self.seen.append(self.path)
        self.send_response(502)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _page_requests(chromium: str, page: Path, *flags: str) -> list[str]:
    """Render `page` in headless Chromium behind the trap proxy; the hosts it asked for,
    less the browser's own."""
    _Trap.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-default-apps",
                f"--proxy-server=http://127.0.0.1:{server.server_address[1]}",
                "--proxy-bypass-list=<-loopback>", *flags, page.as_uri(),
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    finally:
        server.shutdown()
    hosts = [re.sub(r"^https?://", "", p).split("/")[0].split(":")[0] for p in _Trap.seen]
    return [h for h in hosts if h not in BROWSER_OWN_HOSTS]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "headless Chromium is needed: apt-get install chromium (.ci/run does)"
    return path


def test_summary_prints_on_one_a4_page_with_no_request(
    closed_wh: Settings, chromium: str, tmp_path: Path
) -> None:
    page = tmp_path / "summary.html"
    code, _, err = cdr(
        closed_wh, "report", "finance-summary", "--month", CLOSED_MONTH, "--format", "html",
        "--out", str(page),
    )  # fmt: skip
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert "October 2026" in html and "closed on" in html and "<svg" in html
    assert not re.search(r"<script|<link|<img|@import|url\(|src=|href=", html, re.IGNORECASE)
    pdf = tmp_path / "summary.pdf"
    asked = _page_requests(chromium, page, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert asked == []
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / "finance-summary.png"
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=794,1123", f"--screenshot={png}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.copy(pdf, ARTIFACTS / "finance-summary.pdf")


def test_the_request_trap_sees_a_page_that_fetches(chromium: str, tmp_path: Path) -> None:
    """The check above can fail: a page with a web font and an image is caught."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<html><head><link rel="stylesheet" href="https://fonts.example.com/a.css"></head>'
        '<body><img src="http://images.example.com/x.png">hi</body></html>',
        encoding="utf-8",
    )
    asked = _page_requests(chromium, page, "--dump-dom")
    assert {"fonts.example.com", "images.example.com"} <= set(asked)


def test_summary_of_an_open_month_says_so(closed_wh: Settings) -> None:
    code, out, err = cdr(closed_wh, "report", "finance-summary", "--month", "2026-09")
    assert code == 0, err
    assert "September 2026" in out and "open (computed" in out
    assert date(2026, 9, 1).strftime("%B") in out


def test_a_closed_month_recomputed_never_reads_open(closed_wh: Settings, tmp_path: Path) -> None:
    """--current recomputes a closed month: the page and the pack's cover said 'open
    (computed ...)', as of a month never closed, where the month is closed and its frozen
    figures stand."""
    code, out, err = cdr(
        closed_wh, "report", "finance-summary", "--month", CLOSED_MONTH, "--current"
    )
    assert code == 0, err
    assert "open (computed" not in out and "open (computed" not in err
    assert "closed on" in out and "recomputed" in out and "not the frozen figures" in out
    book = tmp_path / "current.xlsx"
    code, _, err = cdr(
        closed_wh, "report", "finance-pack", "--month", CLOSED_MONTH, "--current",
        "--out", str(book),
    )  # fmt: skip
    assert code == 0, err
    cover = {r[0]: r[1] for r in openpyxl.load_workbook(book)["Cover"].iter_rows(values_only=True)}
    assert str(cover["Status"]).startswith("closed on"), cover["Status"]
    assert "recomputed" in str(cover["Status"])
    # --as-of computes too: 'as of ...' alone read as the month's figures, though the month
    # is closed and, as of a moment after its close, they can differ from the frozen ones
    # (the pack's cover shows the same status line)
    version = str(table_snapshots(closed_wh)["call_legs"].version)
    code, out, err = cdr(
        closed_wh, "report", "finance-summary", "--month", CLOSED_MONTH, "--as-of", version
    )
    assert code == 0, err
    assert "as of " in out and "closed on" in out and "not the frozen figures" in out


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_summary_in_another_format_is_refused(closed_wh: Settings, fmt: str) -> None:
    """The summary is a page: asked for in another format (the default aside), cdr says so
    rather than print HTML where a table was asked for."""
    code, out, err = cdr(
        closed_wh, "report", "finance-summary", "--month", "2026-09", "--format", fmt
    )
    assert code == 2 and out == "", (code, out[:200])
    assert "--format html" in err


def test_restatement_totals_of_a_cost_show_their_cents() -> None:
    """README: a terminal table shows amounts with their cents. `cdr report restatements`
    printed a cost measure's totals as 127.5 / 165.0 / 37.5; whole counts of units read as
    counts (30, not 30.0)."""
    table = pa.table(
        {
            "measure": ["unassigned_cost", "entitled_units"],
            "currency": ["USD", None],
            "closed_total": [127.5, 30.0],
            "current_total": [165.0, 33.0],
            "change": [37.5, 3.0],
        }
    )
    text = to_text_table(ReportResult("restatements", None, table, 0.0), wide=True)
    cost, units = text.splitlines()[2:4]
    assert cost.split()[-3:] == ["127.50", "165.00", "37.50"]
    assert units.split()[-3:] == ["30", "33", "3"]
