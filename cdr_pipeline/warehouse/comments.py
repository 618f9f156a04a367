"""Descriptions in the DuckDB catalog (`COMMENT ON VIEW` / `COMMENT ON COLUMN`), so the
duckdb CLI, DBeaver and `duckdb_views()` / `duckdb_columns()` show what a view and a column
are. One source each, nothing written twice: a view's comment is its file's header comment
(grain, key, free text); a column's is its row in a column table of `sql/README.md`
(`| `column`[, `other`] | [type |] meaning |` under the view's `### `view`` heading, or a
`Columns: `name` (meaning), ...` paragraph).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from cdr_pipeline.warehouse.catalog import ViewSpec

_HEADING = re.compile(r"^###\s+(.*)$")
_NAME = re.compile(r"`([a-z_][a-z0-9_]*)`")
_ROW = re.compile(r"^\|\s*(`[^|]*`)\s*\|(.*)\|\s*$")
_PROSE_ITEM = re.compile(r"`([a-z_][a-z0-9_]*)`\s*\(([^()]*)\)")


def _sections(text: str) -> list[tuple[list[str], list[str]]]:
    """(views named by a `###` heading, the lines under it) for each such section."""
    sections: list[tuple[list[str], list[str]]] = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading or line.startswith("## "):
            sections.append((_NAME.findall(heading.group(1)) if heading else [], []))
        elif sections:
            sections[-1][1].append(line)
    return [s for s in sections if s[0]]


def _section_columns(lines: list[str]) -> dict[str, str]:
    """{column: meaning} of one section: its table rows and its `Columns:` paragraph."""
    out: dict[str, str] = {}
    for line in lines:
        row = _ROW.match(line)
        if row:
            meaning = row.group(2).split("|")[-1].strip()
            out |= dict.fromkeys(_NAME.findall(row.group(1)), meaning)
    for paragraph in "\n".join(lines).split("\n\n"):
        if paragraph.lstrip().startswith("Columns:"):
            for column, meaning in _PROSE_ITEM.findall(" ".join(paragraph.split())):
                out[column] = meaning.strip()
    return out


def documented_columns(readme: Path) -> dict[str, dict[str, str]]:
    """{view: {column: meaning}} from the column tables of `sql/README.md`."""
    if not readme.is_file():
        return {}
    out: dict[str, dict[str, str]] = {}
    for views, lines in _sections(readme.read_text(encoding="utf-8")):
        columns = _section_columns(lines)
        for view in views if columns else []:
            out.setdefault(view, {}).update(columns)
    return out


def view_comment(spec: ViewSpec) -> str:
    """`grain: ...; key: ...` and the header's free text."""
    text = f"grain: {spec.grain}; key: {', '.join(spec.key)}"
    return f"{text}. {spec.doc.strip()}" if spec.doc.strip() else text


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_views(con: duckdb.DuckDBPyConnection, specs: list[ViewSpec], readme: Path) -> int:
    """Comment every view of `specs` and its documented columns; returns the columns
    commented. A documented column the view does not have is skipped (the docs tests
    catch it), never an error that would stop a build."""
    columns = documented_columns(readme)
    done = 0
    for spec in specs:
        con.execute(f"comment on view {spec.name} is {_quote(view_comment(spec))}")
        docs = columns.get(spec.name, {})
        if not docs:
            continue
        have = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where table_name = ?", [spec.name]
            ).fetchall()
        }
        for column, meaning in docs.items():
            if column in have:
                con.execute(f'comment on column {spec.name}."{column}" is {_quote(meaning)}')
                done += 1
    return done
