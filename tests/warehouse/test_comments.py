"""The DuckDB catalog describes every view and every column documented in sql/README.md, so
the duckdb CLI, DBeaver and `duckdb_views()` / `duckdb_columns()` show them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.warehouse import build_warehouse
from cdr_pipeline.warehouse.comments import documented_columns

README = sql_dir() / "README.md"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    wh = tmp_path_factory.mktemp("comments") / "wh"
    build_warehouse(Settings(warehouse=wh))
    return duckdb.connect(str(wh / "cdr.duckdb"), read_only=True)


def public_views() -> list[str]:
    text = README.read_text(encoding="utf-8").split("## Public views", 1)[1]
    text = text.split("### Device views", 1)[0]
    return [n for h in re.findall(r"^### (.*)$", text, re.M) for n in re.findall(r"`(\w+)`", h)]


def test_every_view_has_a_comment_from_its_header(catalog: duckdb.DuckDBPyConnection) -> None:
    views = dict(
        catalog.execute(
            "select view_name, comment from duckdb_views() where not internal "
            "and schema_name = 'main'"
        ).fetchall()
    )
    assert len(views) > 15
    assert all(c and c.startswith("grain: ") and "; key: " in c for c in views.values()), views
    assert set(public_views()) <= set(views) and len(public_views()) >= 8
    header = (sql_dir() / "fct_calls.sql").read_text(encoding="utf-8").splitlines()[0]
    assert header.removeprefix("-- grain: ") in views["fct_calls"]


def test_every_view_of_sql_is_named_in_its_readme() -> None:
    """sql/README.md describes every view; `int_device_observations` was in no line of it."""
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`(\w+)`", text))
    views = {f.stem for f in sql_dir().glob("*.sql") if not f.name.startswith("_")}
    assert len(views) > 30
    assert views - named == set()


def test_every_documented_column_has_its_comment(catalog: duckdb.DuckDBPyConnection) -> None:
    docs = documented_columns(README)
    assert {"fct_call_legs", "fct_calls", "rpt_licence_usage_monthly"} <= set(docs)
    comments = {
        (t, c): m
        for t, c, m in catalog.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main'"
        ).fetchall()
    }
    for view, columns in docs.items():
        for column, meaning in columns.items():
            assert (view, column) in comments, f"sql/README.md documents {view}.{column}"
            assert comments[view, column] == meaning and meaning
    # and a view the README describes column by column has every column described: of
    # fct_webex_go_calls only the four columns with a parenthesis in its prose list had one
    undescribed = [(v, c) for (v, c), m in comments.items() if v in docs and not m]
    assert undescribed == []


def test_no_column_comment_is_only_a_pointer_to_the_text_above() -> None:
    """DBeaver showed `fct_calls.is_answered`, `is_missed` and `talk_seconds` described as
    "above": their sql/README.md rows pointed at the definitions above the table, which a
    catalog comment does not have. Each comment says what its column holds."""
    for view, columns in documented_columns(README).items():
        for column, meaning in columns.items():
            words = re.sub(r"\(?\babove\b\)?", "", meaning).strip(" .;,")
            assert words, f"{view}.{column}: {meaning!r}"


def test_a_changed_readme_row_changes_the_comment(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(sql_dir(), sql)
    readme = sql / "README.md"
    text = readme.read_text(encoding="utf-8")
    row = next(ln for ln in text.splitlines() if ln.startswith("| `talk_seconds` |"))
    readme.write_text(text.replace(row, "| `talk_seconds` | BIGINT | it's new |"), "utf-8")
    build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    con = duckdb.connect(str(tmp_path / "wh" / "cdr.duckdb"), read_only=True)
    got = con.execute(
        "select comment from duckdb_columns() where table_name = 'fct_calls' "
        "and column_name = 'talk_seconds' and schema_name = 'main'"
    ).fetchone()
    assert got == ("it's new",)
