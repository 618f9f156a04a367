"""What each Data Docs page validated: tables, table versions, files and rows.

GX's pandas batches know nothing of where a frame came from (its pages say "Data asset:
None"), so the runner notes, for every checkpoint run, which table, version and rows it saw.
Before the site is built the notes go into each stored GX result (`batch_spec.data_asset_name`
and `batch_markers`, which GX shows on the page and in the index's "Asset Name" column); after
it is built, a "Validated data" block naming the validation, its scope, the ingest runs and
every table's version, partitions and files is added to the index and to each result page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from cdr_pipeline.quality.scope import TableScope

PAGE_FILES = 100
"""A result page lists at most this many files (the index lists all)."""

BLOCK_ID = "cdr-validated-data"
_SECTION = re.compile(r'<div id="section-1"')
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@dataclass
class BatchNote:
    """One checkpoint run: which rows of which table version it validated."""

    table: str
    suite: str
    batch: int
    """1, 2, ... for row batches; 0 for the scope-wide suite."""
    first_row: int
    rows: int

    def asset(self, scope: TableScope) -> str:
        head = f"{scope.schema.name} {_version(scope)}, {len(scope.files)} file(s)"
        if self.batch == 0:
            return f"{head}: duplicated keys and new columns over the whole scope"
        return f"{head}: rows {_rows(self)}"


@dataclass
class Lineage:
    """Everything a validation read, for GX's result metadata and the pages."""

    validation_id: str
    scope: str
    run_ids: list[str]
    warehouse: Path
    tables: dict[str, TableScope]
    looked_up: dict[str, int] = field(default_factory=dict)
    """Table -> the version the cross-table checks looked rows up in (devices, directory)."""
    notes: dict[Any, BatchNote] = field(default_factory=dict)
    """GX ValidationResultIdentifier -> what that result validated."""

    def note(self, key: Any, note: BatchNote) -> None:
        self.notes[key] = note

    def rows(self, table: str) -> int:
        return sum(n.rows for n in self.notes.values() if n.table == table and n.batch)

    def batches(self, table: str) -> int:
        return sum(1 for n in self.notes.values() if n.table == table and n.batch)

    def annotate(self, store: Any) -> None:
        """Write table, version and rows into each stored GX result before GX renders it
        (and its unexpected values as text safe in HTML: one pass over the stored results)."""
        for key, note in self.notes.items():
            scope = self.tables[note.table]
            result = store.get(key)
            meta = result.meta
            meta["batch_spec"] = {
                **(meta.get("batch_spec") or {}),
                "data_asset_name": note.asset(scope),
            }
            markers = {
                "cdr_validation_id": self.validation_id,
                "cdr_scope": self.scope,
                "cdr_table": note.table,
                "cdr_table_version": scope.version,
                "cdr_partitions": len(scope.partitions),
                "cdr_files": len(scope.files),
            }
            if note.batch:
                markers |= {"cdr_batch": note.batch, "cdr_rows": _rows(note)}
            meta["batch_markers"] = {**(meta.get("batch_markers") or {}), **markers}
            _values_as_text(result)
            store.set(key, result)

    def index_block(self) -> str:
        """The block for the site index: the whole validation."""
        runs = ", ".join(self.run_ids) or "none recorded"
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{_version(t)}</td><td>{len(t.partitions)}</td>"
            f"<td>{len(t.files)}</td><td>{self.rows(name):,}</td><td>{self.batches(name)}</td></tr>"
            for name, t in self.tables.items()
        )
        files = "".join(self._files(name, len(t.files)) for name, t in self.tables.items())
        # the tables the cross-table checks read rows of (a leg's device, the directory)
        named = ", ".join(f"{escape(n)} version {v}" for n, v in sorted(self.looked_up.items()))
        looked = f'<p class="cdr-looked-up">Looked up by the cross-table checks: {named}.</p>'
        looked = looked if named else ""
        return _block(
            f"<p>Validation <code>{escape(self.validation_id)}</code>, scope "
            f"<b>{escape(self.scope)}</b>, ingest run(s) {escape(runs)}.</p>"
            '<table class="table table-sm cdr-validated-tables"><thead><tr><th>table</th>'
            "<th>version</th><th>partitions</th><th>files</th><th>rows</th><th>batches</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>{looked}{files}"
        )

    def page_block(self, note: BatchNote) -> str:
        """The block for one result page: its table, version, rows and files."""
        t = self.tables[note.table]
        if note.batch:
            what = (
                f"rows {_rows(note)} of {self.rows(note.table):,} "
                f"(batch {note.batch} of {self.batches(note.table)})"
            )
        else:
            what = "the rows whose key is duplicated anywhere in the scope, and the new columns"
        return _block(
            f"<p>Validation <code>{escape(self.validation_id)}</code> (scope "
            f"<b>{escape(self.scope)}</b>): table <b>{escape(note.table)}</b> "
            f"{_version(t)}, {escape(what)}, read from {len(t.files)} file(s) in "
            f"{len(t.partitions)} partition(s).</p>{self._files(note.table, PAGE_FILES)}"
        )

    def _files(self, table: str, limit: int) -> str:
        files = self.tables[table].files
        items = "".join(f"<li><code>{escape(self._relative(f))}</code></li>" for f in files[:limit])
        more = len(files) - limit
        if more > 0:
            items += f"<li>… and {more} more (all listed on the index page)</li>"
        return (
            f"<details><summary>Files of {escape(table)} ({len(files)})</summary>"
            f'<ul class="cdr-validated-files">{items}</ul></details>'
        )

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.warehouse.resolve()).as_posix()
        except ValueError:
            return path.as_posix()


def inject(page: Path, block: str) -> None:
    """Put `block` above the page's first GX section (or at the top of its body)."""
    text = page.read_text(encoding="utf-8")
    if BLOCK_ID in text:
        return
    m = _SECTION.search(text) or _BODY.search(text)
    at = m.start() if m and m.re is _SECTION else (m.end() if m else 0)
    page.write_text(text[:at] + block + text[at:], encoding="utf-8")


def _block(body: str) -> str:
    return (
        f'<div id="{BLOCK_ID}" class="container-fluid mb-3 px-0">'
        '<div class="card"><div class="card-header"><b>Validated data</b></div>'
        f'<div class="card-body">{body}</div></div></div>'
    )


def _version(scope: TableScope) -> str:
    return "version unknown" if scope.version is None else f"version {scope.version}"


def _values_as_text(result: Any) -> None:
    """The unexpected values as the page is to show them. A column pair's as `a / b`, as
    `cdr validate` prints them: GX keeps each as a list and its page printed the two glued
    into one string (`2026-12-05T00:19:55.0602522031-09-30T00:01:54.184000`). And each text
    HTML-escaped: GX writes a value into its table of unexpected values as HTML, so a value
    of an export (`<script>...</script>` as a Call type, an `<img onerror=...>` header
    as a new column) ran as script in the browser of whoever opened the Data Docs."""

    def text(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            value = " / ".join("(null)" if v is None else str(v) for v in value)
        return escape(value, quote=False) if isinstance(value, str) else value

    for er in result.results:
        found = er.result or {}
        for item in found.get("partial_unexpected_counts") or []:
            item["value"] = text(item.get("value"))
        if found.get("partial_unexpected_list"):
            found["partial_unexpected_list"] = [text(v) for v in found["partial_unexpected_list"]]


def _rows(note: BatchNote) -> str:
    if note.rows == 0:
        return "none"
    return f"{note.first_row:,}–{note.first_row + note.rows - 1:,}"
