"""Replace personal values in the warehouse's other files: saved API pages, rejects, the
ledger, quality results and Data Docs, report outputs.

These files hold values as text (a rejected row's raw line, a page's JSON, a report's CSV),
so each value is replaced wherever it occurs, in the spellings a file may use
(`spellings.py`: as it is, JSON-escaped, HTML-escaped and CSV-quoted, in any case; a short
value such as the extension `1106` only as a whole field or string, never inside other text
or a number). The static
assets of the Data Docs are not data. Parquet files are read and written again (the values
are compressed inside); gzip files are decompressed, edited and compressed again (with a
fixed time stamp, as fetch writes them); ZIP files (an `.xlsx` workbook a report wrote) have
each text member edited and are written again. Every rewrite is atomic.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.ingest import faults
from cdr_pipeline.ingest.encoding import UTF16_BOMS
from cdr_pipeline.privacy.arrow_text import Unsearchable, edited_column
from cdr_pipeline.privacy.spellings import Replacement, replace_text, replacement_pairs
from cdr_pipeline.state.files import atomic_write_bytes, file_sha256
from cdr_pipeline.state.layout import Layout

log = logging.getLogger(__name__)

_SKIPPED_SUFFIXES = (".lock",)


@dataclass
class ScrubResult:
    files: list[str] = field(default_factory=list)
    """Files rewritten (or that would be), relative to the warehouse."""
    unreadable: list[str] = field(default_factory=list)
    """Files that cannot be searched (`_Unreadable`): left as they are, and said."""
    pages: list[tuple[Path, str, str]] = field(default_factory=list)
    """Saved API pages rewritten: (path, content SHA-256 before, after)."""


def _scrub_table(table: pa.Table, pairs: list[Replacement]) -> pa.Table | None:
    changed = False
    columns = []
    for column in table.columns:
        try:
            new = edited_column(column, lambda text: replace_text(text, pairs))
        except Unsearchable:
            raise _Unreadable from None
        changed = changed or new is not None
        columns.append(column if new is None else new)
    if not changed:
        return None
    return pa.Table.from_arrays(columns, schema=table.schema)


LEDGER_QUOTES = ("message", "unknown_columns")
"""Ledger columns that may quote a whole input record: the message naming a file by its
first line, the unknown columns of a header that was a record (`cdr ingest --kind`)."""
ERASED_QUOTE = "(emptied by cdr forget: it quoted a record naming an erased person)"


def _empty_quotes(table: pa.Table, quoted: re.Pattern[str]) -> pa.Table:
    """A ledger record's `LEDGER_QUOTES` that name the person (`quoted`) emptied whole, as a
    reject's raw line is: the rest of the quoted record (a name the tables no longer hold,
    retention having replaced it) is theirs too."""
    for name in LEDGER_QUOTES:
        if name not in table.column_names:
            continue
        values = table.column(name).to_pylist()
        new = [
            (ERASED_QUOTE if isinstance(v, str) else [])
            if v and quoted.search(v if isinstance(v, str) else "\n".join(map(str, v)))
            else v
            for v in values
        ]
        if new != values:
            field = table.schema.field(name)
            index = table.schema.get_field_index(name)
            table = table.set_column(index, field, pa.array(new, field.type))
    return table


class _Unreadable(Exception):
    """A binary file that is neither Parquet, gzip nor ZIP, a Parquet file or ZIP that does
    not open, or text that is not UTF-8 (also as a ZIP member)."""


def _scrubbed(path: Path, pairs: list[Replacement], quoted: re.Pattern[str] | None) -> bytes | None:
    """The bytes of `path` with the values replaced; None if it holds none."""
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except pa.ArrowInvalid:  # cut short: a killed ingest's rejects file has no footer
            raise _Unreadable from None
        emptied = _empty_quotes(table, quoted) if quoted is not None else table
        new = _scrub_table(emptied, pairs)
        if new is None and emptied is not table:
            new = emptied
        if new is None:
            return None
        out = io.BytesIO()
        pq.write_table(new, out, compression="zstd")
        return out.getvalue()
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04":
        try:
            return _scrub_zip(data, pairs)
        except zipfile.BadZipFile:
            raise _Unreadable from None
    packed = data[:2] == b"\x1f\x8b"
    if packed:
        data = gzip.decompress(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable from None
    new_text = replace_text(text, pairs)
    if new_text == text:
        return None
    body = new_text.encode("utf-8")
    return gzip.compress(body, compresslevel=6, mtime=0) if packed else body


def scrub_file(
    path: Path,
    pairs: list[Replacement],
    dry_run: bool,
    quoted: re.Pattern[str] | None = None,
    seal: Callable[[bytes], None] | None = None,
) -> bool | None:
    """Replace the values in one file; True if it held any, None if it cannot be read.
    `quoted`: of a ledger record, the text pattern of the person (`_empty_quotes`). `seal`
    gets the new bytes before they are installed (a closed month's manifest names them)."""
    try:
        new = _scrubbed(path, pairs, quoted)
    except _Unreadable:
        return None
    if new is None:
        return False
    if not dry_run:
        if seal is not None:
            seal(new)
        atomic_write_bytes(new, path)
    return True


def _is_text(body: bytes) -> bool:
    """A ZIP member that is not UTF-8 but text all the same: no NUL byte (a CSV saved as
    Windows-1252, a line of it in a saved Control Hub report), or UTF-16 behind
    its byte-order mark. A workbook's images and printer settings have NUL bytes."""
    return b"\x00" not in body or body[:2] in UTF16_BOMS


def _scrub_zip(data: bytes, pairs: list[Replacement]) -> bytes | None:
    """The ZIP `data` with the values replaced in each member that is UTF-8 text (the XML of
    a workbook: its shared strings, cells), binary members as they were; None if no member
    held any. A member that is text in another encoding makes the file `_Unreadable`: its
    values cannot be found, and it was written back as it was, read as holding none."""
    changed = False
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                if _is_text(body):  # searched as UTF-8 it would read as holding nothing
                    raise _Unreadable from None
                dst.writestr(info, body)
                continue
            new_text = replace_text(text, pairs)
            changed = changed or new_text != text
            dst.writestr(info, new_text.encode("utf-8"))
    return out.getvalue() if changed else None


def _candidates(layout: Layout) -> Iterator[Path]:
    """Every file but the Delta tables (rewritten by commits), the views database (rebuilt;
    a DuckDB file of one's own is named, as binary), the pseudonym key and map (the map is
    rebuilt from the tables) and the locks."""
    skip = {layout.tables, layout.privacy, layout.data_docs / "static"}
    views = {layout.duckdb, layout.duckdb.with_name(f"{layout.duckdb.name}.wal")}
    for path in sorted(layout.root.rglob("*")):
        if not path.is_file() or path.name.endswith(_SKIPPED_SUFFIXES) or path in views:
            continue
        if any(path.is_relative_to(s) for s in skip):
            continue
        yield path


def _renamed(path: Path, pairs: list[Replacement], dry_run: bool) -> Path:
    """`path` renamed with the values in its name replaced (a rejects file is named after its
    input, and an export may be named after the person); `path` itself when its name holds
    none or in a dry run (then the returned path is the name it would get)."""
    name = replace_text(path.name, pairs)
    if name == path.name:
        return path
    target = path.with_name(name)
    if not dry_run:
        os.replace(path, target)
    return target


def _renamed_folders(layout: Layout, pairs: list[Replacement], dry_run: bool) -> list[str]:
    """The folders whose name holds a value, renamed as a file is (`_renamed`), deepest
    first; relative to the warehouse. A subject access export kept as
    `reports/grace-chen/calls.csv` had its file edited and the folder kept the name. The
    folders the pipeline names (tables, state, quality results, rejects, closed months)
    hold ids, tables and months only, and are left."""
    named = (layout.tables, layout.state, layout.quality, layout.rejects, layout.closed)
    folders = [
        p
        for p in layout.root.rglob("*")
        if p.is_dir() and not any(p.is_relative_to(n) for n in named)
    ]
    moved = []
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if (target := _renamed(folder, pairs, dry_run)) != folder:
            moved.append(str(target.relative_to(layout.root)))
    return moved


def scrubbed_name(name: str, replacements: Mapping[str, str]) -> str:
    """`name` (a file's, or a path) with the values of `replacements` replaced, as
    `scrub_files` renames a file."""
    return replace_text(name, replacement_pairs(replacements))


CLOSE_MANIFEST = "close.json"
"""A closed month's manifest (`reports/frozen.py`), which lists each frozen file's SHA-256."""


def _frozen_seal(layout: Layout, path: Path) -> Callable[[bytes], None] | None:
    """Of a closed month's frozen report (also of a reopened month's kept folder): records
    the SHA-256 of its new bytes in the month's `close.json` before they are installed, or
    the manifest would vouch for bytes that are gone and the file read as altered since the
    close. Manifest first: a forget killed between the two leaves the old bytes, which still
    hold the person, so running it again rewrites the file and seals it once more."""
    manifest = path.parent / CLOSE_MANIFEST
    if not path.is_relative_to(layout.closed) or not manifest.is_file():
        return None

    def seal(new: bytes) -> None:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for entry in (data.get("reports") or {}).values():
            if isinstance(entry, dict) and entry.get("file") == path.name:
                entry["sha256"] = hashlib.sha256(new).hexdigest()
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(text.encode(), manifest)
        faults.point("frozen-sealed")

    return seal


def scrub_files(
    layout: Layout, replacements: Mapping[str, str], dry_run: bool, texts: str | None = None
) -> ScrubResult:
    """Replace every value of `replacements` (raw value -> pseudonym) in the files outside
    the tables; `texts` (`text_pattern` of the person) empties the ledger's quotes of a
    record naming them (`_empty_quotes`)."""
    pairs = replacement_pairs(replacements)
    quoted = re.compile(texts) if texts else None
    result = ScrubResult()
    if not pairs:
        return result
    result.files.extend(_renamed_folders(layout, pairs, dry_run))
    for path in _candidates(layout):
        page = path.is_relative_to(layout.fetched)
        before = file_sha256(path) if page else ""
        ledger = quoted if path.is_relative_to(layout.ledger) else None
        held = scrub_file(path, pairs, dry_run, ledger, _frozen_seal(layout, path))
        # a ledger file's or saved page's name is ids and times that readers parse: digits
        # of a long number could match there by chance, and no person's value is in one
        named = path.is_relative_to(layout.ledger) or page
        renamed = path if named else _renamed(path, pairs, dry_run)
        moved = renamed != path
        path = path if dry_run else renamed
        rel = str(path.relative_to(layout.root))
        if held and page and not dry_run:
            result.pages.append((path, before, file_sha256(path)))
        if held is None:  # not searched: said, never passed over as holding nothing
            result.unreadable.append(rel)
        if held or moved:
            result.files.append(rel)
    if result.unreadable:
        log.warning(
            "forget: %d binary file(s) not searched: %s",
            len(result.unreadable),
            ", ".join(result.unreadable[:5]),
        )
    return result
