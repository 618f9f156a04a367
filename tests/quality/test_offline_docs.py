"""Data Docs render with no network and say what they validated.

`cdr validate --all` runs on a copy of the sample warehouse whose `call_legs` got one more
table version; the index and a result page are then rendered by headless Chromium with every
host name unresolvable and a dead proxy, and the DOM Chromium returns after the scripts ran is
checked for the tables the scripts build and for the tables, versions and files validated.
Chromium's net log must show no request of the page leaving the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.schema import schemas_by_table
from cdr_pipeline.state.tables import snapshot
from tests.quality.conftest import Validated, write_partition

pytestmark = pytest.mark.slow  # a GX validation and two browser runs

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def browser() -> str:
    """Headless Chromium: $CDR_TEST_BROWSER or the first known name on PATH. Never a skip:
    CI installs the Debian package `chromium` (.ci/run)."""
    named = os.environ.get("CDR_TEST_BROWSER")
    for name in ([named] if named else []) + list(BROWSERS):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium to render Data Docs: install the Debian package `chromium`")


@dataclass
class Rendered:
    dom: str
    requests: list[str]
    """http(s) URLs the page asked for (Chromium's own background requests left out)."""


def render(page: Path, work: Path) -> Rendered:
    """The DOM of `page` after its scripts ran, in Chromium with the network blocked."""
    work.mkdir(parents=True, exist_ok=True)
    netlog = work / "net.json"
    cmd = [
        browser(),
        "--headless",
        "--no-sandbox",  # tests may run as root (containers)
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={work / 'profile'}",
        # no name resolves and every proxied request goes to a closed port
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
        "--proxy-server=127.0.0.1:9",
        f"--log-net-log={netlog}",
        "--virtual-time-budget=10000",  # let the scripts build the tables
        "--dump-dom",
        page.as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0 and "</html>" in out.stdout, out.stderr[-2000:]
    return Rendered(out.stdout, page_requests(netlog))


def page_requests(netlog: Path) -> list[str]:
    """URLs of the http(s) requests a file:// page started (the browser's own update and
    account requests have no file:// isolation key)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start or not params.get("url", "").startswith(("http:", "https:")):
            continue
        key = params.get("network_isolation_key", "") + params.get("initiator", "")
        if "file://" in key or params.get("initiator") == "null":
            urls.append(params["url"])
    return urls


class Rows(HTMLParser):
    """Each <tr>'s text, with the ids and classes of its ancestors; and the URLs the page
    loads by itself (script, link, img, iframe, source, embed)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.rows: list[tuple[str, str | None, str]] = []
        """(ancestors' ids and classes, the row's data-index, its text)"""
        self.loads: list[str] = []
        self._open: list[tuple[str, str | None, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "link", "img", "iframe", "source", "embed"):
            self.loads += [a[k] for k in ("src", "href") if a.get(k)]
        if tag in VOID:
            return
        self.stack.append((tag, f"#{a.get('id', '')} .{a.get('class', '')}"))
        if tag == "tr":
            self._open.append((" ".join(s for _, s in self.stack), a.get("data-index"), []))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack[-1][0] != tag:
            self.stack.pop()
        if self.stack:
            self.stack.pop()
        if tag == "tr" and self._open:
            where, index, text = self._open.pop()
            self.rows.append((where, index, re.sub(r"\s+", " ", " ".join(text)).strip()))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)

    def within(self, marker: str, *, built: bool = False) -> list[str]:
        """Texts of the rows inside an element whose id or class contains `marker` (with
        `built`: only rows bootstrap-table made, which carry a data-index)."""
        return [t for w, i, t in self.rows if marker in w and (i is not None or not built)]


@dataclass
class Docs:
    warehouse: Path
    index: Path
    validation_id: str
    versions: dict[str, int]
    files: dict[str, list[str]]
    """Table -> its data files (relative to the warehouse) in the validated version."""


@pytest.fixture(scope="module")
def docs(clean: Validated, tmp_path_factory: pytest.TempPathFactory) -> Docs:
    wh = tmp_path_factory.mktemp("offline") / "warehouse"
    shutil.copytree(clean.settings.warehouse, wh, ignore=shutil.ignore_patterns("quality"))
    # a second version of call_legs: one partition's rows rewritten to a new file
    base = wh / "tables" / "call_legs"
    part = sorted(p.name for p in base.glob("call_date=*"))[0]
    rows = pl.read_parquet(sorted((base / part).glob("*.parquet")))
    write_partition(wh, "call_legs", part, rows)
    res = CliRunner().invoke(
        cli, ["--warehouse", str(wh), "--quiet", "validate", "--all", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    versions, files = {}, {}
    for name, schema in schemas_by_table().items():
        snap = snapshot(wh / "tables" / name, name, schema.partition_by)
        if snap.all_files():
            versions[name] = snap.version
            files[name] = sorted(p.relative_to(wh).as_posix() for p in snap.all_files())
    assert versions["call_legs"] == 1 and files["call_legs"]
    return Docs(wh, Path(report["data_docs_index"]), report["validation_id"], versions, files)


def test_no_page_loads_anything_from_the_network(docs: Docs) -> None:
    site = docs.index.parent
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 3
    for page in pages:
        text = page.read_text(encoding="utf-8")
        loads = Rows(text).loads
        assert loads, page
        assert "newsletter" not in text and "utm_" not in text, page  # GX's footer
        external = [u for u in loads if EXTERNAL.match(u)]
        assert not external, (page, external)
        for url in loads:
            target = (page.parent / url.split("?")[0]).resolve()
            assert target.is_file(), (page, url)  # every vendored file is really there
    for css in (site / "static").rglob("*.css"):
        urls = re.findall(r"url\(\s*[\"']?([^)\"']+)", css.read_text(encoding="utf-8"))
        assert not [u for u in urls if EXTERNAL.match(u)], css


def test_index_renders_its_tables_offline(docs: Docs, tmp_path: Path) -> None:
    raw = docs.index.read_text(encoding="utf-8")
    assert "data-index" not in raw  # the rows below can only come from the scripts
    shown = render(docs.index, tmp_path)
    assert shown.requests == []
    dom = Rows(shown.dom)
    results = dom.within("ge-index-page-validation-results-table", built=True)
    pages = list((docs.index.parent / "validations").rglob("*.html"))
    # GX's index table shows 10 results a page (bootstrap-table's default page size)
    assert len(results) == min(len(pages), 10) > 0, dom.rows
    assert all(docs.validation_id in r for r in results)
    assert any(f"call_legs version {docs.versions['call_legs']}" in r for r in results)
    validated = dom.within("#cdr-validated-data")
    for table, version in docs.versions.items():
        assert any(r.startswith(f"{table} version {version} ") for r in validated), validated
    for table, names in docs.files.items():
        listed = re.findall(rf"tables/{table}/[^\s<]+\.parquet", shown.dom)
        assert sorted(set(listed)) == names, table


def test_result_page_names_table_version_and_files(docs: Docs, tmp_path: Path) -> None:
    folder = docs.index.parent / "validations" / "call_legs" / docs.validation_id
    page = sorted(folder.glob("*/*.html"))[0]
    raw = page.read_text(encoding="utf-8")
    assert "bootstrap-table bootstrap4" not in raw
    shown = render(page, tmp_path)
    assert shown.requests == []
    assert 'class="bootstrap-table bootstrap4"' in shown.dom  # bootstrap-table ran
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown.dom))
    version = docs.versions["call_legs"]
    assert f"Data asset: call_legs version {version}" in text
    assert "Data asset: None" not in text
    rows = Rows(shown.dom)
    expectations = [r for r in rows.within("bootstrap-table") if "unexpected" in r or "null" in r]
    assert len(expectations) >= 10, rows.rows
    assert any("report_id is never null" in r for r in expectations)
    block = text[text.index("Validated data") :]
    assert f"table call_legs version {version}" in block and docs.validation_id in block
    listed = re.findall(r"tables/call_legs/[^\s<]+\.parquet", shown.dom)
    assert listed and set(listed) <= set(docs.files["call_legs"])


def test_the_network_check_sees_a_cdn_request(tmp_path: Path) -> None:
    """The request check above can fail: a page that loads a CDN script is caught."""
    page = tmp_path / "cdn.html"
    page.write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/vega@5"></script></head>'
        "<body><table><tr><td>x</td></tr></table></body></html>",
        encoding="utf-8",
    )
    shown = render(page, tmp_path / "chromium")
    assert shown.requests == ["https://cdn.jsdelivr.net/npm/vega@5"]
