"""`build_on_spark` on a session someone else made (a notebook, Databricks): its time zone
is not the views' UTC. The build must still give DuckDB's answers, and leave the session's
own settings as they were."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.spark import build
from cdr_pipeline.spark.views import EmittedView
from cdr_pipeline.warehouse import create_views
from tests.spark.parity import compare_view

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dch"
pytestmark = pytest.mark.slow
ZONE = "spark.sql.session.timeZone"
STAMPS = "spark.sql.parquet.outputTimestampType"


def _legs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Settings:
    """A warehouse of `options` holding a small export, whose Spark build makes only the
    views `fct_call_legs` needs (its local hours and report dates depend on the zone)."""
    settings = Settings(warehouse=tmp_path / "wh", **options)
    assert ingest_paths(settings, [FIXTURES / "overlap_a.csv"]).exit_code == 0
    emit = build.emit_views

    def up_to_call_legs(s: Settings, dialect: str) -> list[EmittedView]:
        wanted = ("cfg_settings", "stg_call_legs", "fct_call_legs")
        return [v for v in emit(s, dialect) if v.name in wanted]

    monkeypatch.setattr(build, "emit_views", up_to_call_legs)
    return settings


def _assert_modes(root: Path, file_mode: int, folder_mode: int) -> None:
    """`root` and everything under it have the warehouse's folder and file modes."""
    paths = [root, *root.rglob("*")]
    assert any(p.name.endswith(".parquet") for p in paths)
    modes = {str(p.relative_to(root.parent)): stat.S_IMODE(p.stat().st_mode) for p in paths}
    expected = {k: folder_mode if (root.parent / k).is_dir() else file_mode for k in modes}
    assert modes == expected


def _build_under_umask_022(spark: Any, settings: Settings, target: Path) -> build.SparkBuildResult:
    before = os.umask(0o022)
    try:
        return build.build_on_spark(spark, settings, str(target), "files")
    finally:
        os.umask(before)


def test_a_session_in_another_time_zone_builds_the_utc_answer(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session in Los Angeles writing INT96 timestamps builds DuckDB's `fct_call_legs`
    (reporting zone Europe/Paris), written as microseconds, and keeps its own settings. The
    same build (file mode 0600, umask 022; one Spark build, not two) checks that the view
    tables get the warehouse file mode: they hold the full tier (names and numbers in
    clear), and Hadoop wrote them 0644 in 0755 folders, readable by every user of the
    machine, whatever the umask."""
    settings = _legs_only(tmp_path, monkeypatch, reporting_timezone="Europe/Paris", file_mode=0o600)
    spark.conf.set(ZONE, "America/Los_Angeles")
    spark.conf.set(STAMPS, "INT96")
    try:
        _build_under_umask_022(spark, settings, tmp_path / "marts")
        assert spark.conf.get(ZONE) == "America/Los_Angeles"
        assert spark.conf.get(STAMPS) == "INT96"
    finally:
        spark.conf.set(ZONE, "UTC")
        spark.conf.set(STAMPS, "TIMESTAMP_MICROS")
    _assert_modes(tmp_path / "marts", 0o600, 0o700)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    create_views(con, settings)
    assert compare_view(con, "fct_call_legs", tmp_path / "marts" / "fct_call_legs") == []
    # timestamps written as microseconds (INT96 is nanoseconds without a time zone)
    files = f"'{tmp_path / 'marts' / 'fct_call_legs' / '*.parquet'}'"
    types = dict(con.execute(f"select name, type from parquet_schema({files})").fetchall())
    assert types["start_time"] == "INT64"


def test_a_target_whose_path_reads_as_a_file_pattern_is_built(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hadoop reads `[...]`, `{...}`, `*` and `?` in a path given to `spark.read` as a file
    pattern: a `--target` under `marts [1]/` wrote `cfg_settings`, then failed re-reading
    it (exit 1, "unexpected AnalysisException: [PATH_NOT_FOUND]"). The same build (file
    mode 0640, umask 022; one Spark build, not two) checks that the view tables get the
    warehouse's file mode, the group's read bit included (0640 files in 0750 folders)."""
    settings = _legs_only(tmp_path, monkeypatch, file_mode=0o640)
    target = tmp_path / "marts [1]" / "{a,b} ü*"
    result = _build_under_umask_022(spark, settings, target)
    _assert_modes(target, 0o640, 0o750)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    create_views(con, settings)
    rows = {v.name: v.rows for v in result.views}
    expected = con.execute("select count(*) from fct_call_legs").fetchone()
    assert expected is not None and rows["fct_call_legs"] == expected[0] > 0
    written = pq.read_table(target / "fct_call_legs")
    assert written.num_rows == expected[0]


def test_a_reporting_time_zone_spark_does_not_know_is_refused_before_anything_is_written(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's and DuckDB's time zone data may know a zone the Java under Spark does not
    (America/Coyhaique, new in tzdata 2025b, is unknown to Java 17 here; Factory to every
    Java): `cdr build` built the views, the Spark build wrote the first views and stopped
    with exit 1 and the traceback of an unexpected INVALID_TIMEZONE."""
    from cdr_pipeline.errors import ConfigError

    settings = _legs_only(tmp_path, monkeypatch, reporting_timezone="Factory")
    target = tmp_path / "marts"
    with pytest.raises(ConfigError, match="'Factory' is not a time zone this Spark knows"):
        build.build_on_spark(spark, settings, str(target), "files")
    assert not target.exists()


def test_a_reporting_time_zone_with_other_rules_in_java_is_refused(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cuba keeps UTC-4 from November 2026 in DuckDB's time zone data; Java 17's (tzdata
    2025a) goes back to UTC-5 on 11-01: every local time, day and month of the views from
    then on differed on Spark, and the build said nothing."""
    from cdr_pipeline.errors import ConfigError

    probe = "timestamp'2026-11-15 12:00:00'"
    java = spark.sql(
        f"select unix_seconds(from_utc_timestamp({probe}, 'America/Havana'))"
        f" - unix_seconds({probe})"
    ).first()[0]
    duck = (
        duckdb.connect()
        .execute(
            "select epoch(timezone('America/Havana', timestamptz '2026-11-15 12:00:00+00'))"
            " - epoch(timestamp '2026-11-15 12:00:00')"
        )
        .fetchone()
    )
    if duck is not None and java == duck[0]:
        pytest.skip("this Java and DuckDB have the same rules for Cuba")
    settings = _legs_only(tmp_path, monkeypatch, reporting_timezone="America/Havana")
    target = tmp_path / "marts"
    with pytest.raises(ConfigError, match=r"'America/Havana' has other rules .* at 2026-11-01T"):
        build.build_on_spark(spark, settings, str(target), "files")
    assert not target.exists()
