"""The view loader: header parsing, order derived from the SQL, cycles, layer violations,
atomic build. Uses throwaway `sql/` folders under tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cdr_pipeline.cli.main import cli
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.warehouse import ViewError, build_warehouse, connect
from cdr_pipeline.warehouse.catalog import parse_header, strip_sql_noise


def _write(folder: Path, name: str, body: str, grain: str = "one row", key: str = "x") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(f"-- grain: {grain}\n-- key: {key}\n{body}\n")


def test_order_is_derived_from_references(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    # Names sort the wrong way round on purpose: dim_a reads fct_z, int_b reads int_c.
    _write(sql, "rpt_a", "select x from dim_a")
    _write(sql, "dim_a", "select x from fct_z")
    _write(sql, "fct_z", "select x from int_b")
    _write(sql, "int_b", "select x from int_c")
    _write(sql, "int_c", "select 1 as x -- not a reference: from rpt_a\n")
    result = build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    names = result.names()
    assert names.index("int_c") < names.index("int_b") < names.index("fct_z")
    assert names.index("fct_z") < names.index("dim_a") < names.index("rpt_a")
    con = connect(Settings(warehouse=tmp_path / "wh"))
    assert con.execute("select x from rpt_a").fetchall() == [(1,)]


def test_cycle_is_an_error_naming_the_file(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    _write(sql, "int_a", "select x from int_b")
    _write(sql, "int_b", "select x from int_a")
    with pytest.raises(ViewError, match=r"sql/int_a\.sql: dependency cycle: int_a -> int_b"):
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    # a view reading itself: DuckDB's 'Table with name int_a does not exist! Did you mean
    # "pg_index"?' did not say what was wrong
    _write(sql, "int_b", "select 1 as x")
    _write(sql, "int_a", "select x from int_a")
    with pytest.raises(ViewError, match=r"sql/int_a\.sql: view int_a reads itself"):
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)


def test_layer_violation_is_an_error(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    _write(sql, "fct_a", "select 1 as x")
    _write(sql, "stg_b", "select x from fct_a")
    with pytest.raises(ViewError, match=r"sql/stg_b\.sql: layer violation.*'fct_a'") as info:
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_missing_header_and_unknown_view(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "fct_a.sql").write_text("-- grain: one row\nselect 1 as x\n")
    with pytest.raises(ViewError, match=r"sql/fct_a\.sql: header comment lacks key"):
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    _write(sql, "fct_a", "select x from int_nothere")
    with pytest.raises(ViewError, match=r"sql/fct_a\.sql: reads 'int_nothere', which is no view"):
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)


def test_sql_that_does_not_build_names_its_line_of_the_file(tmp_path: Path) -> None:
    """DuckDB's error came as `LINE 6:` of the statement the build wrapped the file in (one
    line below the fault, and below again for each blank line before the header), over
    three lines the CLI prints escaped (`\\x0a`, a caret out of place): the line of the
    file, on one line, with what DuckDB said."""
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "rpt_a.sql").write_text(
        "\n-- grain: one row\n-- key: x\nwith final as (\n    selec 1 as x\n)\n"
        "select * from final\n"
    )
    with pytest.raises(ViewError) as failed:
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    message = str(failed.value)
    assert message == (
        "sql/rpt_a.sql line 5: view rpt_a does not build: "
        'Parser Error: syntax error at or near "selec"'
    )
    _write(sql, "rpt_a", "select\n    no_such_column\nfrom cfg_settings")
    with pytest.raises(ViewError) as failed:
        build_warehouse(Settings(warehouse=tmp_path / "wh"), sql_dir=sql)
    message = str(failed.value)
    assert message.startswith("sql/rpt_a.sql line 4: view rpt_a does not build: Binder Error:")
    assert "no_such_column" in message and "Candidate bindings" in message and "\n" not in message


def test_bad_sql_keeps_previous_database(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    settings = Settings(warehouse=tmp_path / "wh")
    _write(sql, "fct_a", "select 1 as x")
    build_warehouse(settings, sql_dir=sql)
    _write(sql, "fct_a", "select no_such_column from cfg_settings")
    with pytest.raises(ViewError, match=r"sql/fct_a\.sql line 3: view fct_a does not build"):
        build_warehouse(settings, sql_dir=sql)
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    assert con.execute("select x from fct_a").fetchall() == [(1,)]
    con.close()
    # besides cdr.duckdb, only the analyst tier's pseudonym key and map (state/privacy/)
    leftovers = [
        p.name for p in settings.warehouse.iterdir() if p.name not in ("cdr.duckdb", "state")
    ]
    assert leftovers == []
    names = sorted(p.name for p in settings.layout.privacy.iterdir())
    assert names[0] == "key" and len(names) == 2
    assert names[1].startswith("pseudonyms-") and names[1].endswith(".parquet")


def test_fresh_warehouse_builds_typed_empty_views(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh", reporting_timezone="Europe/Paris")
    result = build_warehouse(settings)
    assert "call_legs" in result.empty_tables
    con = connect(settings)
    assert con.execute("select count(*) from stg_call_legs").fetchone() == (0,)
    types = dict(
        con.execute("select column_name, column_type from (describe stg_call_legs)").fetchall()
    )
    assert types["start_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["call_date"] == "DATE"
    assert types["site_timezone_offset_minutes"] == "SMALLINT"
    assert con.execute(
        "select reporting_timezone, code_expiry_days from cfg_settings"
    ).fetchall() == [("Europe/Paris", 90)]


def test_bad_timezone_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a time zone"):
        build_warehouse(Settings(warehouse=tmp_path / "wh", reporting_timezone="Mars/Olympus"))


def test_header_parser_and_noise_stripper() -> None:
    grain, key, doc = parse_header(
        "-- grain: one row per call\n-- key: a, b\n-- Text.\nselect 1", "f"
    )
    assert (grain, key, doc) == ("one row per call", ("a", "b"), "Text.")
    assert "fct_x" not in strip_sql_noise("select 'fct_x' /* fct_x */ -- fct_x\n")


@pytest.mark.parametrize(
    ("sql", "blanked"),
    [
        ("select 'it''s fct_x' from fct_y", "select '' from fct_y"),  # doubled quote
        ("a /* x */ b -- y\nc", "a   b \nc"),  # block comment is a space; line keeps newline
        ("select '-- not a comment', x", "select '', x"),
        ("select 1 /* open", "select 1  "),  # unterminated comment runs to the end
        ("select 'open", "select ''"),  # unterminated string runs to the end
        ("x -- a 'quote' in a comment\ny", "x \ny"),
    ],
)
def test_strip_sql_noise_cases(sql: str, blanked: str) -> None:
    assert strip_sql_noise(sql) == blanked


def test_cli_build_prints_views_and_seconds(tmp_path: Path) -> None:
    (tmp_path / "wh" / "state").mkdir(parents=True)  # build refuses a folder that is not one
    res = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "build"])
    assert res.exit_code == 0, res.output
    assert "stg_call_legs" in res.output
    assert "built " in res.output and "s" in res.output.splitlines()[-1]


def test_cli_build_notes_only_tables_that_wait_for_data(tmp_path: Path) -> None:
    # the retention ledger stays empty until retention drops a partition: every build of a
    # loaded warehouse said it would fill "after ingest"
    wh = str(tmp_path / "wh")
    entitlements = Path(__file__).parents[2] / "data" / "samples" / "entitlements.csv"
    assert CliRunner().invoke(cli, ["--warehouse", wh, "ingest", str(entitlements)]).exit_code == 0
    res = CliRunner().invoke(cli, ["--warehouse", wh, "build"])
    assert res.exit_code == 0, res.output
    note = next(ln for ln in res.stderr.splitlines() if ln.startswith("note: "))
    assert "call_legs" in note and "entitlements" not in note and "until an ingest" in note
    assert "ledger/" not in res.stderr


def test_cli_build_error_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDR_REPORTING_TIMEZONE", "Nowhere/Never")
    res = CliRunner().invoke(cli, ["--warehouse", str(tmp_path / "wh"), "build"])
    assert res.exit_code == EXIT_BAD_INPUT
    assert "not a time zone" in res.output


def test_macros_are_created_before_the_views_and_kept_in_the_database(
    sample_wh: Settings,
) -> None:
    """Views call the shared macros of sql/_macros.sql; a read-only connection to cdr.duckdb
    can call them too (they are catalog entries of the file)."""
    con = duckdb.connect(str(sample_wh.layout.duckdb), read_only=True)
    try:
        got = con.execute(
            "select iso_utc(timestamptz '2026-10-05 06:34:56.789+00'), "
            "utc_ms_key(timestamptz '2026-10-05 06:34:56.789+00')"
        ).fetchone()
    finally:
        con.close()
    assert got == ("2026-10-05T06:34:56Z", "2026-10-05T06:34:56.789")


def test_a_file_ending_with_a_comment_or_a_semicolon_and_comment_builds(tmp_path: Path) -> None:
    """The build reads a kept mart's SQL inside parentheses: a last `--` line commented out
    the closing one, and `; -- note` ended the statement inside them (a Parser Error)."""
    sql = tmp_path / "sql"
    shutil.copytree(sql_dir(), sql)
    with (sql / "fct_webex_go_leg_devices.sql").open("a") as fh:
        fh.write("\n-- our own copy, from the shipped one\n")
    with (sql / "fct_calls.sql").open("a") as fh:
        fh.write("; -- ends here\n")
    settings = Settings(warehouse=tmp_path / "wh")
    build_warehouse(settings, sql_dir=sql)
    con = connect(settings)
    for view in ("fct_calls", "fct_webex_go_leg_devices", "analyst.fct_calls"):
        assert con.execute(f"select count(*) from {view}").fetchone() == (0,)
