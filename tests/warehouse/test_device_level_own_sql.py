"""Device-level views of one's own SQL (`materialize.DEVICE_LEVEL`, kept as tables in both
tiers): after a refresh their tables still equal their SQL over the same table versions,
whatever the SQL reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.resources import sql_dir
from cdr_pipeline.warehouse import build_warehouse, refresh_warehouse
from cdr_pipeline.warehouse.analyst import KEPT_SCHEMA
from cdr_pipeline.warehouse.catalog import read_sql_file
from cdr_pipeline.warehouse.materialize import DEVICE_LEVEL, MATERIALIZED, SCHEMA
from tests.warehouse.sample_warehouse import small_export


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(warehouse=tmp_path / "wh")


def _own_folder(tmp_path: Path, name: str, column: str) -> Path:
    """A copy of the shipped SQL whose view `name` ends with one more column, `column`."""
    own = tmp_path / "sql"
    shutil.copytree(sql_dir(), own)
    path = own / f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    final = "select * from final"
    path.write_text(text[: text.rindex(final)] + f"select f.*, {column}\nfrom final as f\n")
    return own


def _stale(settings: Settings, own: Path) -> list[str]:
    """The device-level tables of either tier that differ from their SQL run now."""
    con = duckdb.connect(str(settings.layout.duckdb), read_only=True)
    out: list[str] = []
    try:
        for tier, schema, path in (
            ("full", SCHEMA, "main"),
            ("analyst", KEPT_SCHEMA, "analyst_base,main"),
        ):
            con.execute(f"set search_path = '{path}'")
            for name in DEVICE_LEVEL:
                sql = read_sql_file(own / f"{name}.sql").sql
                table = f"{schema}.{name}"
                for a, b in ((f"({sql})", table), (table, f"({sql})")):
                    extra = con.execute(f"select count(*) from (from {a} except all from {b})")
                    if extra.fetchall()[0][0]:
                        out.append(f"{tier} {name}")
                        break
            con.execute("reset search_path")
    finally:
        con.close()
    return out


def _build_then_refresh(settings: Settings, own: Path, first: list[Path], then: Path) -> None:
    """Load `first` and build with the folder `own`, then load `then` and refresh: after
    each, no kept table of either tier differs from its SQL run now."""
    assert ingest_paths(settings, first).exit_code == 0
    build_warehouse(settings, own)
    assert _stale(settings, own) == []
    assert ingest_paths(settings, [then]).exit_code == 0
    refresh_warehouse(settings, own)
    assert _stale(settings, own) == []


def test_an_own_device_level_view_reading_call_legs_follows_an_ingest_of_calls(
    settings: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """A device list with each device's leg count (its own SQL reads the call legs): an
    ingest of calls only must recompute it, in both tiers."""
    legs = "(select count(*) from stg_call_legs as l where l.user_uuid = f.user_uuid) as legs_seen"
    own = _own_folder(tmp_path, "dim_webex_go_devices", legs)
    # a few October legs of the devices' users, then a few later ones: the counts move
    devices = samples_dir / "device_snapshots.csv"
    users = pl.read_csv(devices, infer_schema=False)["user_uuid"].drop_nulls().implode()
    october = pl.read_csv(samples_dir / "dch_export_2026-09-30_2026-10-31.csv", infer_schema=False)
    theirs = october.filter(pl.col("User UUID").is_in(users))
    early = pl.col("Start time") < "2026-10-15"
    theirs.filter(early).head(60).write_csv(tmp_path / "first.csv")
    theirs.filter(~early).head(60).write_csv(tmp_path / "then.csv")
    _build_then_refresh(settings, own, [tmp_path / "first.csv", devices], tmp_path / "then.csv")


def test_an_own_device_level_view_reading_one_kept_later_is_computed_after_it(
    settings: Settings, samples_dir: Path, tmp_path: Path
) -> None:
    """A status history stamped with the device data's horizon (`int_device_as_of`, which
    the shipped chain keeps after it): a refresh computes the tables in the order the
    views read each other, in both tiers, never from the table of the previous load."""
    assert not any(MATERIALIZED[n].legs for n in DEVICE_LEVEL)  # the calls' size is no matter
    horizon = "(select as_of_time from int_device_as_of) as data_as_of"
    own = _own_folder(tmp_path, "fct_device_status_history", horizon)
    # a few calls beside the devices: no device-level view reads call legs
    calls = small_export(tmp_path / "calls.csv")
    # the events reach past the last snapshot: the horizon moves
    events = samples_dir / "activation_events.csv"
    _build_then_refresh(settings, own, [calls, samples_dir / "device_snapshots.csv"], events)
