"""`fct_calls` kept by call (`warehouse/materialize.py`): after random sequences of loads,
re-deliveries (records moved across UTC midnight, transfers broken) and retention, the
table a refresh keeps equals the view's SQL computed whole over the same table versions,
and equals what a whole build writes."""

from __future__ import annotations

import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.ingest.retention import apply_retention
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.schema.personal import pseudonymised_columns
from cdr_pipeline.state.secret import raw_values_sql
from cdr_pipeline.warehouse import build_warehouse, by_call, refresh_warehouse
from cdr_pipeline.warehouse.by_call import steps
from cdr_pipeline.warehouse.catalog import read_sql_file
from cdr_pipeline.warehouse.materialize import MATERIALIZED, SCHEMA
from cdr_pipeline.warehouse.personal_values import TABLE as VALUES
from tests.warehouse.sample_warehouse import small_export

NAME = "fct_calls"


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[object, ...]]:
    return con.execute(f"select * from {relation} order by correlation_id").fetchall()


def _check_parity(settings: Settings) -> list[tuple[object, ...]]:
    """The table equals the view's SQL run now, row for row; the view reads the table."""
    spec = read_sql_file(sql_dir() / f"{NAME}.sql")
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        table = _rows(con, f"{SCHEMA}.{NAME}")
        assert table, "the table is empty"
        assert table == _rows(con, f"({spec.sql})")
        assert len({r[0] for r in table}) == len(table)  # one row per call
        plan = con.execute(f"explain select * from main.{NAME}").fetchall()[0][1]
        assert "READ_PARQUET" not in plan.upper()
        # the analyst tier reads the table with its personal columns pseudonymised: the same
        # rows as its own SQL over its pseudonymised views
        mapped = _rows(con, f"analyst_base.{NAME}")
        con.execute("set search_path = 'analyst_base,main'")
        assert mapped == _rows(con, f"({spec.sql})")
        con.execute("reset search_path")
        assert mapped != table  # numbers, names and user ids replaced
        plan = con.execute(f"explain select * from analyst.{NAME}").fetchall()[0][1]
        assert f'"{SCHEMA}".{NAME}' in plan and "CTE Name: legs" not in plan  # no grouping
        # the legs' personal values kept by day (for the pseudonym map) equal a whole scan
        kept = set(con.execute(leg_values_sql()).fetchall())
        scanned = raw_values_sql("main.stg_call_legs", list(pseudonymised_columns("call_legs")))
        assert kept and kept == set(con.execute(scanned).fetchall())
        return table
    finally:
        con.close()


def leg_values_sql() -> str:
    return f"select distinct column_name, value from {VALUES}"


def _refresh(settings: Settings) -> tuple[str, int, int]:
    result = refresh_warehouse(settings)
    (m,) = [m for m in result.materialized if m.name == NAME]
    return m.mode, m.days, m.rows


def _redelivery(exports: list[Path], out: Path, rng: random.Random) -> Path:
    """Some records of `exports` again, reported later: some unchanged but for the report
    time, some with their start moved by up to a day either way (across UTC midnight, and
    out of reach of the calls transferring to them), some with another outcome."""
    legs = pl.concat([pl.read_csv(p, infer_schema=False) for p in exports], how="vertical")
    pick = legs.sample(n=min(60, legs.height), seed=rng.randrange(1 << 30))

    def moved(start: str) -> str:
        at = datetime.strptime(start[:23], "%Y-%m-%dT%H:%M:%S.%f")
        return (at + timedelta(minutes=rng.choice([-1500, -30, 0, 45, 700, 1500]))).strftime(
            "%Y-%m-%dT%H:%M:%S.%f"
        )[:23] + "Z"

    starts = [moved(s) for s in pick["Start time"].to_list()]
    pick.with_columns(
        pl.Series("Start time", starts),
        pl.lit("2026-11-20T00:00:00.000Z").alias("Report time"),
        pl.Series("Answered", [rng.choice(["true", "false"]) for _ in starts]),
    ).write_csv(out)
    return out


SHIPPED_STEP = (by_call.LEGS_PER_STEP, by_call.COMMIT_AFTER_DELETED)
SMALL_STEP = (150, 0)  # a day or two per step, a commit after every step that deleted a call


def test_refreshed_by_call_equals_computed_whole_after_random_sequences(
    samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refreshes and whole builds alternate between the shipped step size (the samples'
    days fit in one step) and `SMALL_STEP` (calls across steps, transfers to the days beside
    a step): each size meets re-deliveries, and follows a state the other size wrote."""
    assert MATERIALIZED[NAME].by_call
    rng = random.Random(17)
    settings = Settings(warehouse=tmp_path / "wh")
    september = samples_dir / "calling_detailed_call_history_2026-09-01_2026-10-01"
    october = samples_dir / "dch_export_2026-09-30_2026-10-31.csv"
    steps: list[tuple[str, list[Path]]] = [
        ("load", [september]),
        ("load", [october]),
        ("load", [samples_dir / "cdr_feed_2026-10-29.json"]),
        ("load", [samples_dir / "device_snapshots.csv"]),  # another table: no recompute
        ("redeliver", [october]),
        ("redeliver", [*sorted(september.glob("*.csv")), october]),
        ("retention", []),
    ]
    first, rest = steps[0], steps[1:]
    rng.shuffle(rest)
    assert ingest_paths(settings, first[1]).exit_code == 0
    build_warehouse(settings)
    _check_parity(settings)
    modes, sizes = [], set()
    for i, (kind, paths) in enumerate(rest):
        legs, deleted = SMALL_STEP if i % 2 == 0 else SHIPPED_STEP
        monkeypatch.setattr(by_call, "LEGS_PER_STEP", legs)
        monkeypatch.setattr(by_call, "COMMIT_AFTER_DELETED", deleted)
        sizes.add((legs, kind))
        if kind == "load":
            assert ingest_paths(settings, paths).exit_code == 0
        elif kind == "redeliver":
            again = _redelivery([p for p in paths if p.exists()], tmp_path / f"again-{i}.csv", rng)
            assert ingest_paths(settings, [again]).exit_code == 0
        else:
            result = apply_retention(settings, rng.choice([40, 55]), "t", today=date(2026, 11, 5))
            assert result.dropped
        mode, days, calls = _refresh(settings)
        modes.append(mode)
        if kind == "load" and paths[0].name.startswith("device"):
            assert mode == "unchanged"  # it reads call legs only
        elif kind == "retention":  # the dropped days' calls leave by call (then the live
            # rows go into a new file: a copy would keep the dropped days' pages)
            assert mode == "calls" and days > 0
        else:
            assert mode == "calls" and days > 0 and calls > 0
        refreshed = _check_parity(settings)
        build_warehouse(settings)  # computed whole
        assert _check_parity(settings) == refreshed
    assert "calls" in modes
    assert {(SMALL_STEP[0], "redeliver"), (SHIPPED_STEP[0], "redeliver")} <= sizes


def test_a_moved_or_partial_record_is_recomputed_with_its_call(
    samples_dir: Path, tmp_path: Path
) -> None:
    """Three re-deliveries in turn into one October warehouse (each had its own load and
    build; they touch different calls, each refresh is checked against a whole build):

    - one leg of a call moves to the next UTC day, then one leg of another call ten days
      on (two refresh steps away): the call's row comes from both days, once, refreshed
      and built whole alike;
    - the TERMINATING record of a two-record leg comes again on the next UTC day without
      its Remote call ID: the refresh pairs it with the ORIGINATING record stored on the
      day before (one leg, its talk time once), as a whole build does."""
    settings = Settings(warehouse=tmp_path / "wh")
    october = samples_dir / "dch_export_2026-09-30_2026-10-31.csv"
    assert ingest_paths(settings, [october]).exit_code == 0
    build_warehouse(settings)
    legs = pl.read_csv(october, infer_schema=False)
    calls = legs.group_by("Correlation ID").len().filter(pl.col("len") >= 3)
    for i, later in enumerate((1, 10)):
        call = calls["Correlation ID"].sort()[i]
        mine = legs.filter(pl.col("Correlation ID") == call).sort("Start time")
        last = mine.tail(1)
        day = date.fromisoformat(mine["Start time"][0][:10]) + timedelta(days=later)
        # whole, by steps of days: the call's days are in two of them
        assert _moved_then_refreshed(settings, last, day, tmp_path / f"moved{later}.csv") >= 1
        moved_into = f"last_release_time >= timestamptz '{day}'"
        assert _stored(settings, f"record_count, {moved_into}", call) == [(mine.height, True)]

    pairs = legs.filter(
        pl.col("Correlation ID").is_in(
            legs.group_by("Correlation ID")
            .len()
            .filter(pl.col("len") == 2)["Correlation ID"]
            .implode()
        )
        & pl.col("Remote call ID").is_not_null()
        & (pl.col("Answered") == "true")
    )
    term = pairs.filter(pl.col("Direction") == "TERMINATING").sort("Correlation ID").head(1)
    call = term["Correlation ID"][0]
    day = date.fromisoformat(term["Start time"][0][:10]) + timedelta(days=1)
    partial = term.with_columns(pl.lit(None, pl.String).alias("Remote call ID"))
    _moved_then_refreshed(settings, partial, day, tmp_path / "partial.csv")
    assert _stored(settings, "leg_count, record_count", call) == [(1, 2)]


def _moved_then_refreshed(settings: Settings, records: pl.DataFrame, day: date, out: Path) -> int:
    """`records` delivered again, moved to the start of `day` with a later report time, then
    the refresh by call, equal to a whole build; returns the days it recomputed."""
    records.with_columns(
        pl.lit(f"{day}T00:00:01.000Z").alias("Start time"),
        pl.lit(f"{day}T00:02:01.000Z").alias("Release time"),
        pl.lit("2026-11-20T00:00:00.000Z").alias("Report time"),
    ).write_csv(out)
    assert ingest_paths(settings, [out]).exit_code == 0
    mode, days, recomputed = _refresh(settings)
    assert mode == "calls" and recomputed >= 1
    refreshed = _check_parity(settings)
    build_warehouse(settings)
    assert _check_parity(settings) == refreshed
    return days


def _stored(settings: Settings, columns: str, call: str) -> list[tuple[object, ...]]:
    """`columns` of the stored row of `call`."""
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        return con.execute(
            f"select {columns} from {SCHEMA}.{NAME} where correlation_id = ?", [call]
        ).fetchall()
    finally:
        con.close()


def _shifted(legs: pl.DataFrame, hours: int) -> pl.DataFrame:
    """`legs` with every time moved by `hours`, reported later."""
    times = ["Start time", "Answer time", "Release time"]
    return legs.with_columns(
        *[
            (
                pl.col(c).str.strptime(pl.Datetime("ms"), "%Y-%m-%dT%H:%M:%S%.fZ", strict=False)
                + timedelta(hours=hours)
            )
            .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .alias(c)
            for c in times
        ],
        pl.lit("2026-11-20T00:00:00.000Z").alias("Report time"),
    )


def test_transfer_links_follow_the_other_call_on_another_day(
    samples_dir: Path, tmp_path: Path
) -> None:
    """Call X names call Y through Transfer related call ID. Y's legs arrive later, on the
    next UTC day (within 24 hours): X, whose day did not change, gains the link. X's own
    leg comes again: X, recomputed alone, keeps it. Then Y's leg is corrected to another
    Local call ID: X, untouched, loses it."""
    settings = Settings(warehouse=tmp_path / "wh")
    october = pl.read_csv(samples_dir / "dch_export_2026-09-30_2026-10-31.csv", infer_schema=False)
    src = october.filter(pl.col("Transfer related call ID").is_not_null())
    pairs = src.join(
        october.select(pl.col("Correlation ID").alias("y"), "Local call ID"),
        left_on="Transfer related call ID",
        right_on="Local call ID",
    ).filter(
        (pl.col("Correlation ID") != pl.col("y"))
        & (pl.col("Start time").str.slice(11, 2) < "10")  # +20 h stays before its midnight
    )
    x, y = pairs["Correlation ID"][0], pairs["y"][0]
    others = october.filter(pl.col("Correlation ID") != y)
    others.write_csv(tmp_path / "without_y.csv")
    # Y names no call back: only X's legs point at Y's
    y_legs = _shifted(october.filter(pl.col("Correlation ID") == y), 20).with_columns(
        pl.lit(None, pl.String).alias("Transfer related call ID")
    )
    y_legs.write_csv(tmp_path / "y.csv")
    assert ingest_paths(settings, [tmp_path / "without_y.csv"]).exit_code == 0
    build_warehouse(settings)

    def links() -> list[str] | None:
        con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
        try:
            rows = con.execute(
                f"select transfer_correlation_ids from {SCHEMA}.{NAME} where correlation_id = ?",
                [x],
            ).fetchall()
        finally:
            con.close()
        assert len(rows) == 1
        return rows[0][0]

    assert y not in (links() or [])
    assert ingest_paths(settings, [tmp_path / "y.csv"]).exit_code == 0
    mode, days, _ = _refresh(settings)
    assert mode == "calls" and days == 1  # the next day only: X's day is unchanged
    _check_parity(settings)
    assert y in (links() or [])

    # X's transfer leg re-delivered on its own day (Y's day is unchanged and Y is not
    # recomputed): X keeps the link to Y's leg on the day beside
    x_leg = src.filter(pl.col("Correlation ID") == x).head(1)
    x_leg.with_columns(
        pl.lit("2026-11-21T00:00:00.000Z").alias("Report time"),
        pl.lit("false").alias("Answered"),
    ).write_csv(tmp_path / "x_again.csv")
    assert ingest_paths(settings, [tmp_path / "x_again.csv"]).exit_code == 0
    mode, days, _ = _refresh(settings)
    assert mode == "calls" and days == 1
    _check_parity(settings)
    assert y in (links() or [])

    # Y's linked leg corrected: another Local call ID, so nothing on a changed day points
    # back at X; only X's stored link finds it
    linked = y_legs.filter(
        pl.col("Local call ID").is_in(pairs["Transfer related call ID"].implode())
    )
    _shifted(linked, 1).with_columns(pl.lit("999999999:0").alias("Local call ID")).write_csv(
        tmp_path / "y_corrected.csv"
    )
    assert ingest_paths(settings, [tmp_path / "y_corrected.csv"]).exit_code == 0
    mode, days, _ = _refresh(settings)
    assert mode == "calls" and days == 1
    _check_parity(settings)
    assert y not in (links() or [])


def test_a_call_recomputed_from_its_later_day_keeps_the_link_its_earlier_day_names(
    samples_dir: Path, tmp_path: Path
) -> None:
    """Call X crosses midnight: its transfer leg on day D names call Y on day D-1, its
    last leg is on D+1. Only the D+1 leg comes again: X is recomputed, its day D is read for
    X's legs alone, and X keeps the link to Y (whose day is neither changed nor X's)."""
    settings = Settings(warehouse=tmp_path / "wh")
    october = pl.read_csv(samples_dir / "dch_export_2026-09-30_2026-10-31.csv", infer_schema=False)
    legs_of = october.group_by("Correlation ID").len()
    pairs = (
        october.filter(pl.col("Transfer related call ID").is_not_null())
        .join(
            october.select(pl.col("Correlation ID").alias("y"), "Local call ID"),
            left_on="Transfer related call ID",
            right_on="Local call ID",
        )
        .filter(pl.col("Correlation ID") != pl.col("y"))
        .join(legs_of, on="Correlation ID")
        .filter(pl.col("len") >= 2)
    )
    x, y, named = pairs["Correlation ID"][0], pairs["y"][0], pairs["Transfer related call ID"][0]

    def stamp(day: str, time: str) -> str:
        return f"{day}T{time}.000Z"

    def at(frame: pl.DataFrame, start: str, end: str) -> pl.DataFrame:
        return frame.with_columns(
            pl.lit(start).alias("Start time"),
            pl.lit(start).alias("Answer time"),
            pl.lit(end).alias("Release time"),
        )

    x_legs = october.filter(pl.col("Correlation ID") == x)
    is_transfer = pl.col("Transfer related call ID") == named
    transfer = x_legs.filter(is_transfer).head(1)
    later = x_legs.filter(~is_transfer | pl.col("Transfer related call ID").is_null()).head(1)
    assert transfer.height == 1 and later.height == 1
    rows = pl.concat(
        [
            # Y names no call back: only X's transfer leg links the two
            at(
                october.filter(pl.col("Correlation ID") == y).with_columns(
                    pl.lit(None, pl.String).alias("Transfer related call ID")
                ),
                stamp("2026-10-09", "23:45:00"),
                stamp("2026-10-09", "23:50:00"),
            ),
            at(transfer, stamp("2026-10-10", "23:30:00"), stamp("2026-10-10", "23:59:00")),
            at(later, stamp("2026-10-11", "00:10:00"), stamp("2026-10-11", "00:20:00")),
        ]
    )
    rows.write_csv(tmp_path / "calls.csv")
    assert ingest_paths(settings, [tmp_path / "calls.csv"]).exit_code == 0
    build_warehouse(settings)

    def links() -> list[str]:
        con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
        try:
            sql = f"select transfer_correlation_ids from {SCHEMA}.{NAME} where correlation_id = ?"
            return list(con.execute(sql, [x]).fetchall()[0][0] or [])
        finally:
            con.close()

    assert y in links()
    again = rows.filter(pl.col("Start time").str.starts_with("2026-10-11"))
    again.with_columns(pl.lit("2026-11-21T00:00:00.000Z").alias("Report time")).write_csv(
        tmp_path / "again.csv"
    )
    assert ingest_paths(settings, [tmp_path / "again.csv"]).exit_code == 0
    mode, days, recomputed = _refresh(settings)
    assert (mode, days) == ("calls", 1) and recomputed >= 1
    _check_parity(settings)
    assert y in links()


def test_a_fct_calls_of_ones_own_is_computed_whole_and_kept_from_analysts(tmp_path: Path) -> None:
    """A SQL folder whose fct_calls lacks the columns a by-call refresh reads, and shows a
    personal value the shipped view does not: the table is computed whole at every refresh
    and equals its SQL; the analyst tier computes its own version from its pseudonymised
    views, never the table's raw values."""
    own = tmp_path / "sql"
    shutil.copytree(sql_dir(), own)
    (own / f"{NAME}.sql").write_text(
        "-- grain: one row per call session (Correlation ID)\n"
        "-- key: correlation_id\n"
        "select correlation_id, count(*) as legs, min(user_name) as a_user\n"
        "from fct_call_legs group by correlation_id\n",
        encoding="utf-8",
    )
    settings = Settings(warehouse=tmp_path / "wh")
    # a few calls on two days, then a few more on the next two (new calls, new days)
    assert ingest_paths(settings, [small_export(tmp_path / "first.csv")]).exit_code == 0
    build_warehouse(settings, own)
    later = small_export(tmp_path / "later.csv", seed=12, start=date(2026, 9, 3))
    assert ingest_paths(settings, [later]).exit_code == 0
    (m,) = [m for m in refresh_warehouse(settings, own).materialized if m.name == NAME]
    assert m.mode == "full"
    spec = read_sql_file(own / f"{NAME}.sql")
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    try:
        table = _rows(con, f"{SCHEMA}.{NAME}")
        assert table and table == _rows(con, f"({spec.sql})")
        plan = con.execute(f"explain select * from analyst_base.{NAME}").fetchall()[0][1]
        assert f'"{SCHEMA}".{NAME}' not in plan
        raw = {r[2] for r in table if r[2] is not None}
        shown = {r[0] for r in con.execute(f"select a_user from analyst.{NAME}").fetchall()}
    finally:
        con.close()
    assert raw and not raw & shown


def test_steps_hold_at_most_a_step_of_legs_and_keep_every_day() -> None:
    d = [date(2026, 9, 1) + timedelta(days=i) for i in range(6)]
    rows = {d[0]: 100, d[1]: 300, d[2]: 50, d[3]: 1000, d[4]: 10}  # d[5]: dropped
    limit = by_call.LEGS_PER_STEP
    scaled = {k: v * limit // 400 for k, v in rows.items()}
    out = steps(d, scaled)
    assert [x for step in out for x in step] == d  # every day once, in order
    # 100+300 fit; 50 starts a step; the day larger than a step stands alone; 10 and the
    # dropped day (no legs now) share the last
    assert out == [[d[0], d[1]], [d[2]], [d[3]], [d[4], d[5]]]
    assert steps([], scaled) == []
