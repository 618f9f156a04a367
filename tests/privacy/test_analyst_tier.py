"""The analyst tier (schema `analyst` of cdr.duckdb): no personal value in any column of
any view, masked numbers beside stable keyed pseudonyms, the same figures as the full tier."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.notebook import open_notebook
from cdr_pipeline.reports import run_report
from cdr_pipeline.state.secret import MASK, mask_number
from cdr_pipeline.warehouse import build_warehouse, connect
from tests.privacy.helpers import found_in, raw_personal_values, scan_files

ROOT = Path(__file__).parents[2]


def _views(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(
        "select view_name from duckdb_views() where schema_name = ? and not internal "
        "order by view_name",
        [schema],
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_no_analyst_view_shows_a_personal_value(sample_wh: Settings) -> None:
    con = connect(sample_wh)
    try:
        raw = raw_personal_values(con)
        # the samples hold names, e-mails, E.164 numbers and MACs: the scan has teeth
        assert any("@" in v for v in raw) and any(v.startswith("+") for v in raw)
        assert any(len(v) == 12 and v.isalnum() and v.isupper() for v in raw)  # MACs
        views = _views(con, "analyst")
        assert set(_views(con, "main")) <= set(views)
        leaks: dict[str, set[str]] = {}
        for view in views:
            # every text column of every row (one query per view: binding is the cost);
            # numbers, times and flags cannot hold a name, an address or a phone number
            table = con.sql(f'select * from analyst."{view}"').to_arrow_table()
            for name in table.column_names:
                column = table.column(name)
                if not pa.types.is_string(column.type):
                    continue
                cells = {str(v) for v in column.to_pylist() if v is not None}
                hits = found_in(cells, raw)
                if hits:
                    leaks[f"{view}.{name}"] = hits
        assert not leaks
    finally:
        con.close()


def test_analyst_columns_masked_dropped_and_pseudonymised(sample_wh: Settings) -> None:
    con = connect(sample_wh, tier="analyst")
    try:
        columns = {r[0] for r in con.execute("describe fct_call_legs").fetchall()}
        assert not columns & {"device_mac", "extra", "public_calling_ip", "public_called_ip"}
        assert {"calling_number", "calling_number_pseudonym", "user_name"} <= columns
        # the comments of the full views, and what the analyst tier changed
        comments = dict(
            con.execute(
                "select column_name, comment from duckdb_columns() where schema_name = "
                "'analyst' and table_name = 'fct_calls'"
            ).fetchall()
        )
        assert comments["talk_seconds"] and "pseudonym" in comments["called_number_pseudonym"]
        rows = con.execute(
            "select calling_number, calling_number_pseudonym, user_name from fct_call_legs "
            "where calling_number like '+%' limit 50"
        ).fetchall()
        assert rows
        for masked, pseudo, name in rows:
            assert MASK in masked and pseudo.startswith("number_")
            assert name is None or name.startswith("name_")
    finally:
        con.close()


def test_masking_keeps_country_code_and_prefix() -> None:
    assert mask_number("+420211234567", 3) == "+420 211 ••• •••"
    assert mask_number("+420211234567", 0) == "+420 ••• ••• •••"
    assert mask_number("+14155550111", 3).startswith("+1 415")
    assert mask_number("1103", 3) == "••••"
    assert "5" not in mask_number("+999555", 3)  # not a number phonenumbers knows


def test_finance_and_counts_equal_in_both_tiers(sample_wh: Settings) -> None:
    con = connect(sample_wh)
    try:
        for view in ("rpt_licence_usage_monthly", "rpt_licence_reconciliation"):
            diff = con.execute(
                f"select count(*) from (select * from analyst.{view} "
                f"except all select * from main.{view})"
            ).fetchall()
            assert diff == [(0,)], view
        counts = (
            "select count(*), count(distinct user_uuid), count(distinct calling_number), "
            "count(distinct called_number) from {}.fct_call_legs"
        )
        full = con.execute(counts.format("main")).fetchall()
        analyst = con.execute(
            counts.format("analyst")
            .replace("distinct calling_number", "distinct calling_number_pseudonym")
            .replace("distinct called_number", "distinct called_number_pseudonym")
        ).fetchall()
        assert full == analyst and full[0][1] > 1
    finally:
        con.close()


def _pseudonyms(settings: Settings) -> dict[str, str]:
    con = connect(settings)
    try:
        rows = con.execute(
            "select f.report_id, a.user_uuid from main.fct_call_legs f "
            "join analyst.fct_call_legs a using (report_id) where f.user_uuid is not null"
        ).fetchall()
    finally:
        con.close()
    return {str(k): str(v) for k, v in rows}


def test_pseudonyms_stable_across_builds_differ_between_warehouses(
    sample_wh: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = _pseudonyms(sample_wh)
    other = Settings(warehouse=tmp_path / "other")
    # another warehouse: the same data without the key (nor the maps made under it, which
    # would make the missing key an error, as a lost key is)
    ignored = shutil.ignore_patterns("key", "pseudonyms-*.parquet")
    shutil.copytree(sample_wh.warehouse, other.warehouse, ignore=ignored)
    caplog.set_level(logging.DEBUG)
    build_warehouse(other)
    build_warehouse(other)
    again = _pseudonyms(other)
    assert first.keys() == again.keys() and first
    assert all(first[k] != again[k] for k in first)
    # a third build keeps them, and the key file is owner-only
    key = other.layout.pseudonym_key
    assert key.stat().st_mode & 0o777 == 0o600
    build_warehouse(other)
    assert _pseudonyms(other) == again
    # the key is in no log line and in no other file of the warehouse
    secret = key.read_text().strip()
    assert secret not in caplog.text
    found = scan_files(other.warehouse, {secret})
    assert set(found) == {"state/privacy/key"}


def test_notebooks_and_analyst_reports_default_to_the_analyst_tier(
    sample_wh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDR_TIER", raising=False)
    nb = open_notebook(warehouse=sample_wh.warehouse)
    try:
        assert nb.con.execute("select current_schema()").fetchall() == [("analyst",)]
        names = nb.con.execute("select user_name from fct_call_legs where user_name is not null")
        assert all(str(n[0]).startswith("name_") for n in names.fetchall())
    finally:
        nb.close()
    top = run_report(sample_wh, "top-destinations")
    assert "called_number_pseudonym" in top.columns
    assert all(MASK in r["called_number"] for r in top.rows())
    monkeypatch.setenv("CDR_TIER", "full")
    full = run_report(sample_wh, "top-destinations")
    assert "called_number_pseudonym" not in full.columns
    assert [r["calls"] for r in full.rows()] == [r["calls"] for r in top.rows()]
    nb = open_notebook(warehouse=sample_wh.warehouse)
    try:
        assert nb.con.execute("select current_schema()").fetchall() == [("main",)]
    finally:
        nb.close()


def test_the_docs_notebook_query_reads_the_analyst_tier(
    sample_wh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/warehouse.md, "Query from a notebook", gave analysts `connect(load_settings())`,
    which reads the full tier: names and numbers in clear in a notebook. Its block, run as
    written, reads the analyst tier."""
    text = (ROOT / "docs" / "warehouse.md").read_text(encoding="utf-8")
    section = text.split("## Query from a notebook", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.delenv("CDR_TIER", raising=False)
    monkeypatch.setenv("CDR_WAREHOUSE", str(sample_wh.warehouse))
    scope: dict[str, object] = {}
    exec(compile(block, "docs/warehouse.md", "exec"), scope)  # the docs' own code, as written
    con = scope["con"]
    assert isinstance(con, duckdb.DuckDBPyConnection)
    try:
        assert con.execute("select current_schema()").fetchall() == [("analyst",)]
    finally:
        con.close()


def test_full_tier_only_for_the_owner_of_the_warehouse(tmp_path: Path) -> None:
    import os

    from cdr_pipeline.errors import ConfigError
    from cdr_pipeline.warehouse import resolve_tier

    wh = tmp_path / "wh"
    (wh / "state").mkdir(parents=True)
    env = {"CDR_TIER": "full"}
    assert resolve_tier("analyst", env=env, warehouse=wh) == "full"
    assert resolve_tier("analyst", env={}, warehouse=wh) == "analyst"
    assert resolve_tier("full", env={"CDR_TIER": " Analyst "}) == "analyst"
    with pytest.raises(ConfigError, match="CDR_TIER"):
        resolve_tier("analyst", env={"CDR_TIER": "everything"})
    # a group reader of a shared warehouse (someone else owns it) reads the analyst tier
    os.chown(wh / "state", os.geteuid() + 4242, -1)
    with pytest.raises(ConfigError, match="only the owner"):
        resolve_tier("analyst", env=env, warehouse=wh)


def test_analyst_tier_hides_ledger_messages_that_quote_the_input(tmp_path: Path) -> None:
    """A file without its header line fails naming its first record (numbers, a name): the
    ledger keeps that message, and the analyst tier (notebook 04 shows `message`) must not."""
    from cdr_pipeline.ingest import ingest_paths

    settings = Settings(warehouse=tmp_path / "wh")
    part = tmp_path / "part2.csv"
    part.write_text("2026-09-30T00:01:32Z,,0,+14155550177,+14155550178,Walter Headless\n")
    assert ingest_paths(settings, [part]).exit_code == 3
    build_warehouse(settings)
    sql = "select message from ingest_files union all select message from ingest_runs"
    full = connect(settings, tier="full")
    analyst = connect(settings, tier="analyst")
    try:
        assert any("Walter Headless" in m for (m,) in full.execute(sql).fetchall())
        shown = [m for (m,) in analyst.execute(sql).fetchall()]
    finally:
        full.close()
        analyst.close()
    assert len(shown) == 2 and all(m and "analyst tier" in m for m in shown)
    assert not found_in(shown, {"Walter Headless", "+14155550177", "+14155550178"})


def test_an_own_view_over_the_ledger_shows_the_note_not_the_message(tmp_path: Path) -> None:
    """The note replaced a column named `message` only as the analyst tier showed it, so a
    view of one's own SQL folder that renames it (`message as error_text`) showed the
    header-less file's first record, numbers and a name, on the analyst tier."""
    from cdr_pipeline.ingest import ingest_paths

    settings = Settings(warehouse=tmp_path / "wh")
    part = tmp_path / "part2.csv"
    part.write_text("2026-09-30T00:01:32Z,,0,+14155550177,+14155550178,Walter Headless\n")
    assert ingest_paths(settings, [part]).exit_code == 3
    sql_dir = tmp_path / "sql"
    shutil.copytree(Path(__file__).parents[2] / "sql", sql_dir)
    (sql_dir / "rpt_load_errors.sql").write_text(
        "-- grain: one row per file that did not load\n-- key: source\n"
        "select source, message as error_text from ingest_files where status <> 'loaded'\n"
    )
    build_warehouse(settings, sql_dir=sql_dir)
    full = connect(settings, tier="full")
    analyst = connect(settings, tier="analyst")
    try:
        sql = "select error_text from rpt_load_errors"
        assert any("Walter Headless" in m for (m,) in full.execute(sql).fetchall())
        shown = [m for (m,) in analyst.execute(sql).fetchall()]
    finally:
        full.close()
        analyst.close()
    assert len(shown) == 1 and all(m and "analyst tier" in m for m in shown)
    assert not found_in(shown, {"Walter Headless", "+14155550177", "+14155550178"})


def test_analyst_tier_hides_the_unknown_columns_of_a_header_that_was_a_record(
    tmp_path: Path,
) -> None:
    """`cdr ingest --kind calls` of a file without its header line reads its first record as
    the header when one of its values is a column's name (the user type `User`, in nearly
    every record) and none is a time stamp, an E.164 number or a UUID (a device or directory
    record, a number written nationally): the ledger's `unknown_columns` were the rest of
    that record (a name, a number), and `analyst.ingest_files` showed them in clear. Such a
    "header" lacks the required columns, so the file now fails at once, its message quoting
    them: hidden on the analyst tier, as the unknown columns of a failed file are (a loaded
    file's are its header's names, shown for column drift)."""
    from cdr_pipeline.ingest import ingest_paths

    settings = Settings(warehouse=tmp_path / "wh")
    part = tmp_path / "part2.csv"
    part.write_text(
        "Walter Headless,User,4155550177,Sales,1106\nOther Person,User,4155550178,Sales,1107\n"
    )
    ingest_paths(settings, [part], kind="calls")
    build_warehouse(settings)
    sql = "select unnest(unknown_columns) from ingest_files"
    said = "select message from ingest_files where status = 'failed'"
    full = connect(settings, tier="full")
    analyst = connect(settings, tier="analyst")
    try:
        (message,) = full.execute(said).fetchall()
        assert "'Walter Headless'" in message[0]
        shown = [c for (c,) in analyst.execute(sql).fetchall()]
        shown += [m for (m,) in analyst.execute(said).fetchall()]
    finally:
        full.close()
        analyst.close()
    assert len(shown) == 1 and all("analyst tier" in c for c in shown)
    assert not found_in(shown, {"Walter Headless", "4155550177"})


@pytest.mark.parametrize(
    ("report", "key", "pseudonym"),
    [
        ("top-callers", "user_uuid", "user_uuid"),
        ("top-destinations", "called_number", "called_number_pseudonym"),
    ],
)
def test_a_top_list_names_the_same_people_on_both_tiers(
    sample_wh: Settings, monkeypatch: pytest.MonkeyPatch, report: str, key: str, pseudonym: str
) -> None:
    """Ties in a top-20 list were broken by the user id or the number, which the analyst tier
    shows as a pseudonym that sorts otherwise: on the samples 11 users placed 9 calls in
    2026-10 for the last 4 places, and the analyst tier listed two other users there than
    the full tier (the full tier's rank 3 number was another one too)."""
    monkeypatch.setenv("CDR_TIER", "full")
    full = run_report(sample_wh, report)
    monkeypatch.setenv("CDR_TIER", "analyst")
    analyst = run_report(sample_wh, report)
    con = connect(sample_wh)
    try:
        hidden = dict(
            con.execute("select value, pseudonym from analyst_base.pseudonym_map").fetchall()
        )
    finally:
        con.close()
    counts = ("month", "rank", "calls", "answered_calls", "talk_minutes")
    ranked_full = [(*(r[c] for c in counts), hidden[r[key]]) for r in full.rows()]
    ranked_analyst = [(*(r[c] for c in counts), r[pseudonym]) for r in analyst.rows()]
    assert len(ranked_full) > 20  # two months of 20
    assert ranked_analyst == ranked_full
