"""validate_warehouse on real Parquet with real Great Expectations: clean samples pass, each
error expectation fails on a fixture built to break exactly it, warnings never fail a run."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.quality import validate_warehouse
from cdr_pipeline.quality.report import SAMPLE_KEYS
from cdr_pipeline.quality.suites import PAIR_GE
from cdr_pipeline.quality.values import value_text
from cdr_pipeline.state.ledger import Ledger
from tests.quality.conftest import (
    CALL_DAY,
    Validated,
    table_frame,
    write_in_place,
    write_partition,
)

DAY_A = CALL_DAY
DAY_B = "call_date=2026-09-03"
ROW = 3
HOSTILE = "<img src=x onerror=alert(1)>SIDEWAYS"


def _set(df: pl.DataFrame, column: str, value: pl.Expr, row: int = ROW) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(value).otherwise(pl.col(column)).alias(column)
    )


def _later(df: pl.DataFrame, days: int) -> pl.DataFrame:
    """The row's start, answer and release times `days` on (still in order)."""
    for column in ("start_time", "answer_time", "release_time"):
        df = _set(df, column, pl.col(column) + pl.duration(days=days))
    return df


def _null(column: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda df: _set(df, column, pl.lit(None, dtype=df.schema[column]))


CALL_BREAKS: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "call_legs.report_id.not_null": _null("report_id"),
    "call_legs.start_time.not_null": _null("start_time"),
    "call_legs.direction.not_null": _null("direction"),
    "call_legs.correlation_id.not_null": _null("correlation_id"),
    # markup, as a hostile export's value: the Data Docs page must show it, not run it
    "call_legs.direction.in_set": lambda df: _set(df, "direction", pl.lit(HOSTILE)),
    "call_legs.duration_seconds.min_value": lambda df: _set(
        df, "duration_seconds", pl.lit(-5, dtype=df.schema["duration_seconds"])
    ),
    "call_legs.ring_duration_seconds.min_value": lambda df: _set(
        df, "ring_duration_seconds", pl.lit(-1, dtype=df.schema["ring_duration_seconds"])
    ),
    "call_legs.hold_duration_seconds.min_value": lambda df: _set(
        df, "hold_duration_seconds", pl.lit(-30, dtype=df.schema["hold_duration_seconds"])
    ),
    "call_legs.answer_time.start_time.pair_ge": lambda df: _set(
        df, "answer_time", pl.col("start_time") - pl.duration(seconds=1)
    ),
    "call_legs.release_time.answer_time.pair_ge": lambda df: _set(
        df, "release_time", pl.col("answer_time") - pl.duration(seconds=1)
    ),
    # an unanswered leg (no answer time) released before it started
    "call_legs.release_time.start_time.pair_ge": lambda df: _set(
        _null("answer_time")(df), "release_time", pl.col("start_time") - pl.duration(seconds=1)
    ),
    # a mistyped year (2062): the leg, answered and released in order, started after it was
    # loaded; it made a partition and a report month decades ahead, and all checks passed
    "call_legs.ingested_at.start_time.pair_ge": lambda df: _later(df, 36 * 365),
    # another writer's Webex Go leg (Sub client type MOBILE_NETWORK, any case) stored as not
    # Webex Go: every Webex Go view, which selects by the tag, left it out, and all passed
    "call_legs.is_webex_go_mismatch.derived": lambda df: _set(
        _set(df, "sub_client_type", pl.lit(" mobile_network")), "is_webex_go", pl.lit(False)
    ),
}


def test_each_call_leg_error_fails_alone(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """One validation (batches of 7) of the 20 legs with the break of each expectation of
    CALL_BREAKS made on a row of its own (the i-th expectation's on row i): the errors are
    exactly these expectations, and each failed on exactly one row, its own (count 1 and its
    row's key), so no break trips another check: what one validation per break checked, at
    one GX run instead of 13. Per expectation: 20 rows evaluated; a missing value shown as
    `(null)`, not `NaT`; a pair shown `a / b` in the result and on its Data Docs page; the
    Webex Go mismatch shown as `false /  mobile_network`; the hostile direction shown as it
    is, and escaped (never markup) on the pages. Exit 4."""
    names = sorted(CALL_BREAKS)
    assert len(names) < call_rows.height
    # each break acts on row ROW of a frame: made on ROW + 1 copies of row i, kept at row i
    broken_rows = [
        CALL_BREAKS[name](pl.concat([call_rows.slice(i, 1)] * (ROW + 1))).slice(ROW, 1)
        for i, name in enumerate(names)
    ]
    broken = pl.concat([*broken_rows, call_rows.slice(len(names))])
    write_in_place(tmp_path, "call_legs", broken, default=DAY_A)
    # several batches: results are added up across them
    report = validate_warehouse(Settings(warehouse=tmp_path), "all", batch_rows=7)
    assert {r.id for r in report.errors} == set(names)
    pages = report.data_docs_index.parent.glob("validations/call_legs/*/*/*.html")  # type: ignore[union-attr]
    texts = [page.read_text() for page in pages]
    for i, expectation in enumerate(names):
        failed = report.result(expectation)
        assert failed.unexpected_count == 1, expectation
        assert failed.element_count == call_rows.height
        if expectation != "call_legs.report_id.not_null":
            assert failed.sample_keys == [call_rows["report_id"][i]], expectation
        if expectation.endswith(".not_null"):  # a missing time was shown as pandas' `NaT`
            assert failed.unexpected_values == ["(null)"], expectation
        if expectation.endswith(f".{PAIR_GE}"):
            # the result page showed the pair glued into one string: `...00.1000002026-09-02...`
            (pair,) = failed.unexpected_values
            assert " / " in pair
            assert any(pair in text for text in texts), expectation
        if expectation == "call_legs.is_webex_go_mismatch.derived":
            assert failed.unexpected_values == ["false /  mobile_network"]
        if expectation == "call_legs.direction.in_set":
            # GX writes a value into its table as HTML: the value ran as script in the browser
            assert failed.unexpected_values == [HOSTILE]  # as it is, on the terminal and in JSON
            assert not any("<img src=x" in text for text in texts)
            assert any("&lt;img src=x onerror=alert(1)&gt;SIDEWAYS" in text for text in texts)
    assert report.exit_code == 4


def test_a_blank_required_text_value_is_null(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """Another writer's blank key or correlation id passed every check: ingest counts a value
    of blanks only as missing, and so does the not-null check of a required text column.
    One validation (not two): an empty report id on row ROW, a correlation id of blanks on
    row 5; each not-null check fails on one row, its own (the correlation id's key named)."""
    legs = _set(call_rows, "report_id", pl.lit(""))
    legs = _set(legs, "correlation_id", pl.lit(" \t "), row=5)
    write_partition(tmp_path, "call_legs", DAY_A, legs)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    rules = {"call_legs.report_id.not_null", "call_legs.correlation_id.not_null"}
    assert {r.id for r in report.errors} == rules
    for rule in rules:
        assert report.result(rule).unexpected_count == 1, rule
    assert report.result("call_legs.correlation_id.not_null").sample_keys == [
        call_rows["report_id"][5]
    ]
    assert report.exit_code == 4


def test_a_leg_in_another_days_partition_fails(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """Another writer's leg of 3 September in the folder of the 2nd (a Spark job that took
    the day in its own time zone): every view took its day from the folder, and all checks
    passed."""
    write_partition(tmp_path, "call_legs", DAY_A, _later(call_rows, 1))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all", batch_rows=7)
    rule = "call_legs.call_date.partition"
    assert {r.id for r in report.errors} == {rule}
    assert report.result(rule).unexpected_count == 1
    assert report.result(rule).unexpected_values == [DAY_A.split("=")[1]]
    assert report.result(rule).sample_keys == [call_rows["report_id"][ROW]]


def test_duplicate_key_across_partitions_and_batches(
    tmp_path: Path, call_rows: pl.DataFrame
) -> None:
    """Uniqueness is global: the same report_id in two partitions (and batches) fails."""
    write_partition(tmp_path, "call_legs", DAY_A, call_rows)
    write_partition(tmp_path, "call_legs", DAY_B, _later(call_rows, 1).slice(ROW, 1))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all", batch_rows=5)
    assert {r.id for r in report.errors} == {"call_legs.report_id.unique"}
    dup = report.result("call_legs.report_id.unique")
    assert dup.unexpected_count == 2  # both rows carrying the key
    assert dup.sample_keys == [call_rows["report_id"][ROW]]


def test_a_report_id_in_upper_case_is_the_same_key(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """Another writer's copy of a leg with its Report ID in upper case (a SQL Server export)
    passed the uniqueness check, while the leg was in the table twice: a UUID is one id in any
    case (RFC 4122; ingest stores it lower case, the same record from two such exports was
    every leg counted twice). A key that is no UUID keeps its case."""
    copy = call_rows.slice(ROW, 1).with_columns(pl.col("report_id").str.to_uppercase())
    write_partition(tmp_path, "call_legs", DAY_A, pl.concat([call_rows, copy]))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    assert {r.id for r in report.errors} == {"call_legs.report_id.unique"}
    dup = report.result("call_legs.report_id.unique")
    assert dup.unexpected_count == 2
    assert dup.sample_keys == [call_rows["report_id"][ROW]]


def test_entitlement_units_must_not_be_negative(tmp_path: Path, clean: Validated) -> None:
    """0 units is a withdrawn row (docs/inputs-devices.md); a negative count is an error."""
    rows = table_frame(clean.settings, "entitlements")
    withdrawn = _set(rows, "units", pl.lit(0, dtype=rows.schema["units"]), row=0)
    write_partition(tmp_path / "withdrawn", "entitlements", None, withdrawn)
    assert validate_warehouse(Settings(warehouse=tmp_path / "withdrawn"), "all").errors == []
    broken = _set(rows, "units", pl.lit(-2, dtype=rows.schema["units"]), row=0)
    write_partition(tmp_path, "entitlements", None, broken)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    assert {r.id for r in report.errors} == {"entitlements.units.min_value"}
    assert report.result("entitlements.units.min_value").unexpected_count == 1


@pytest.mark.parametrize(("value", "shown"), [(float("nan"), "nan"), (float("-inf"), "-inf")])
def test_an_entitlement_price_that_is_no_finite_number_fails(
    tmp_path: Path, clean: Validated, value: float, shown: str
) -> None:
    """Another writer's NaN price passed every price check (GX's pandas checks skip NaN as a
    missing value) and made the reconciliation exit 1, "report it": it casts costs to
    decimals. Ingest keeps no NaN or infinity in a number column."""
    rows = table_frame(clean.settings, "entitlements")
    write_partition(tmp_path, "entitlements", None, _set(rows, "unit_price", pl.lit(value), row=0))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    rule = "entitlements.unit_price_not_finite.finite"
    assert rule in {r.id for r in report.errors}
    assert report.result(rule).unexpected_count == 1
    assert report.result(rule).unexpected_values == [shown]
    assert report.exit_code == 4


def test_each_entitlement_error_fails_alone(tmp_path: Path, clean: Validated) -> None:
    """One validation of the sample entitlements with a break of its own on each row (one
    GX run instead of five), every rule failing on exactly the rows broken for it, so no
    break trips another check:
    - a count (row 0) or price (rows 1 and 2: 1e12, 1e308) ingest quarantines (a
      purchase-order number typed there) but another writer or an older release stored
      made every reconciliation exit 1, and passed: `max_value` of each;
    - `$` (several currencies, row 3), which ingest quarantines, made the month
      `mixed_currency` beside a `USD` row, its costs gone from every total, and passed;
    - an entitlement that ends before it starts (row 4), never in force, so the
      reconciliation would leave its units out without a word; its pair is shown as a
      reader writes it, not as Python's repr of two dates."""
    rows = table_frame(clean.settings, "entitlements")
    assert rows.height >= 5
    day = rows["valid_from"][4] - timedelta(days=1)
    broken = _set(rows, "units", pl.lit(10_000_000), row=0)
    broken = _set(broken, "unit_price", pl.lit(1e12), row=1)
    broken = _set(broken, "unit_price", pl.lit(1e308), row=2)
    broken = _set(broken, "currency", pl.lit("$"), row=3)
    broken = _set(broken, "valid_to", pl.lit(day, dtype=rows.schema["valid_to"]), row=4)
    write_partition(tmp_path, "entitlements", None, broken)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    pair = f"entitlements.valid_to.valid_from.{PAIR_GE}"
    counts = {
        "entitlements.units.max_value": 1,
        "entitlements.unit_price.max_value": 2,
        "entitlements.currency.pattern": 1,
        pair: 1,
    }
    assert {r.id for r in report.errors} == set(counts)
    assert {rule: report.result(rule).unexpected_count for rule in counts} == counts
    assert report.result("entitlements.currency.pattern").unexpected_values == ["$"]
    start = rows["valid_from"][4]
    assert report.result(pair).unexpected_values == [f"{day.isoformat()} / {start.isoformat()}"]
    assert report.exit_code == 4


@pytest.mark.parametrize(
    ("table", "partition", "column"),
    [
        ("entitlements", None, "valid_from"),
        ("call_legs", CALL_DAY, "start_time"),
        ("org_directory", None, "entry_id"),  # also what the call legs' ids are looked up in
    ],
)
def test_files_without_a_key_or_timestamp_column_fail_its_not_null_check(
    tmp_path: Path, clean: Validated, table: str, partition: str | None, column: str
) -> None:
    """Another writer's files without a column of the key (or the timestamp a partition is
    taken from): the row checks read it as NULL, but the duplicate-key and partition SQL
    named it and `cdr validate` exited 1, "report it"."""
    rows = table_frame(clean.settings, table, partition).drop(column)
    write_partition(tmp_path, table, partition, rows)
    if table == "org_directory":
        write_partition(
            tmp_path, "call_legs", CALL_DAY, table_frame(clean.settings, "call_legs", CALL_DAY)
        )
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    rule = f"{table}.{column}.not_null"
    assert {r.id for r in report.errors} == {rule}
    assert report.result(rule).unexpected_count == rows.height
    assert report.exit_code == 4


def test_each_device_error_fails_alone(tmp_path: Path, clean: Validated) -> None:
    """One validation (not three) of the device events and the first month of snapshots,
    each rule failing on exactly the row broken for it, so no break trips another check:
    - a status outside its set (row ROW of the snapshots), shown as it is;
    - a device observation dated after its load (row 0 of the events and of the
      snapshots): a typed year (2062 for 2026) put the device data horizon decades ahead,
      every report month up to it, every device a reclaim candidate idle for years, and
      validate said all expectations were met. Nothing can be observed after it was
      loaded."""
    later = pl.col("ingested_at") + pl.duration(days=36 * 365)
    events = table_frame(clean.settings, "device_events")
    write_in_place(tmp_path, "device_events", _set(events, "event_time", later, row=0))
    base = clean.settings.layout.tables / "device_snapshots"
    part = sorted(p.name for p in base.glob("snapshot_month=*"))[0]
    snapshots = table_frame(clean.settings, "device_snapshots", part)
    broken = _set(_set(snapshots, "status", pl.lit("BROKEN")), "snapshot_time", later, row=0)
    write_in_place(tmp_path, "device_snapshots", broken)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    counts = {
        "device_snapshots.status.in_set": 1,
        f"device_events.ingested_at.event_time.{PAIR_GE}": 1,
        f"device_snapshots.ingested_at.snapshot_time.{PAIR_GE}": 1,
    }
    assert {r.id for r in report.errors} == set(counts)
    assert {rule: report.result(rule).unexpected_count for rule in counts} == counts
    assert report.result("device_snapshots.status.in_set").unexpected_values == ["BROKEN"]
    assert report.exit_code == 4


def test_each_call_leg_warning_is_a_warning_only(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """One validation (not three) of the 20 legs with each warning's break on a row of its
    own; no error, exit 0, and each warning flags exactly its row:
    - an open enum value (Call type `SIP_HOLOGRAM`, row 3) is a warning only;
    - a reputation score of 7.5 (row 5): Cisco documents the score as 0.0-5.0, 7.5 is
      another scale or a broken source; 4.5 (row 1) is in range;
    - a leg of 200000 s (row 11): a stuck call or a broken value (4e9 s, 126 years) would
      swamp every talk-time figure, and validation passed it; a day exactly (row 9) is
      still a leg.
    (A leg without a Duration has its own test: beside a NULL in its batch, GX's pandas
    shows the 200000 as `200000.0`.)"""
    score = call_rows.schema["caller_reputation_score"]
    seconds = call_rows.schema["duration_seconds"]
    legs = _set(call_rows, "call_type", pl.lit("SIP_HOLOGRAM"), row=3)
    legs = _set(legs, "caller_reputation_score", pl.lit(4.5, dtype=score), row=1)
    legs = _set(legs, "caller_reputation_score", pl.lit(7.5, dtype=score), row=5)
    legs = _set(legs, "duration_seconds", pl.lit(86_400, dtype=seconds), row=9)
    legs = _set(legs, "duration_seconds", pl.lit(200_000, dtype=seconds), row=11)
    write_partition(tmp_path, "call_legs", DAY_A, legs)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    rows = {
        "call_legs.call_type.in_set": 3,
        "call_legs.caller_reputation_score.between": 5,
        "call_legs.duration_seconds.between": 11,
    }
    assert report.errors == []
    assert sorted(r.id for r in report.warnings) == sorted(rows)
    for rule, row in rows.items():
        assert report.result(rule).unexpected_count == 1, rule
        assert report.result(rule).sample_keys == [call_rows["report_id"][row]], rule
    assert report.result("call_legs.call_type.in_set").unexpected_values == ["SIP_HOLOGRAM"]
    assert report.result("call_legs.caller_reputation_score.between").unexpected_values == ["7.5"]
    assert report.result("call_legs.duration_seconds.between").unexpected_values == ["200000"]
    assert report.exit_code == 0


def test_a_leg_without_a_duration_is_flagged(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """The reference: a missing Duration stays NULL, never 0, and is flagged (a warning)."""
    write_partition(tmp_path, "call_legs", DAY_A, _null("duration_seconds")(call_rows))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    rule = "call_legs.duration_seconds.not_null"
    assert report.errors == [] and [r.id for r in report.warnings] == [rule]
    assert report.result(rule).sample_keys == [call_rows["report_id"][ROW]]
    assert report.exit_code == 0


def test_webex_go_leg_without_known_device(
    tmp_path: Path, call_rows: pl.DataFrame, copy_table: Callable[[Path, str], None]
) -> None:
    # a Webex Go leg as ingest tags it (the tag alone, without its source, is an error)
    legs = _set(call_rows, "is_webex_go", pl.lit(True))
    legs = _set(legs, "sub_client_type", pl.lit("MOBILE_NETWORK"))
    legs = _set(legs, "user_uuid", pl.lit("00000000-0000-4000-8000-00000000dead"))
    write_partition(tmp_path, "call_legs", DAY_A, legs)
    settings = Settings(warehouse=tmp_path)
    # no device data at all: not evaluated, and nothing breaks
    report = validate_warehouse(settings, "all")
    check = report.result("call_legs.webex_go_device_known.known_device")
    assert not check.evaluated and "no device data" in check.note
    assert report.exit_code == 0

    copy_table(tmp_path, "device_snapshots")
    copy_table(tmp_path, "device_events")
    report = validate_warehouse(settings, "all")
    check = report.result("call_legs.webex_go_device_known.known_device")
    assert check.evaluated and not check.success and check.severity == "warning"
    known_users = set(pl.read_delta(str(tmp_path / "tables/device_snapshots"))["user_uuid"])
    expected = [
        rid
        for rid, go, user in legs.select("report_id", "is_webex_go", "user_uuid").iter_rows()
        if go and user not in known_users
    ]
    assert check.unexpected_count == len(expected) >= 1
    assert call_rows["report_id"][ROW] in check.sample_keys
    # the user without a device, not the derived flag (`values: False` said nothing)
    assert "00000000-0000-4000-8000-00000000dead" in check.unexpected_values
    assert "False" not in check.unexpected_values
    assert report.exit_code == 0


def test_a_webex_go_user_in_upper_case_has_the_device_of_the_lower_case_one(
    tmp_path: Path, call_rows: pl.DataFrame, copy_table: Callable[[Path, str], None]
) -> None:
    """The views find a leg's device by its user in any case (`lower(user_uuid)`); the check
    compared them as stored, and warned that another writer's leg of a known user, written
    in upper case, had no device."""
    copy_table(tmp_path, "device_snapshots")
    copy_table(tmp_path, "device_events")
    known = pl.read_delta(str(tmp_path / "tables/device_snapshots"))["user_uuid"].drop_nulls()[0]
    legs = _set(call_rows, "is_webex_go", pl.lit(True))
    legs = _set(legs, "sub_client_type", pl.lit("MOBILE_NETWORK"))
    legs = _set(legs, "user_uuid", pl.lit(known.upper()))
    others = pl.int_range(pl.len()) != ROW  # the other legs: not Webex Go
    legs = legs.with_columns(
        pl.when(others).then(False).otherwise(pl.col("is_webex_go")).alias("is_webex_go"),
        pl.when(others).then(None).otherwise(pl.col("sub_client_type")).alias("sub_client_type"),
    )
    write_partition(tmp_path, "call_legs", DAY_A, legs)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    check = report.result("call_legs.webex_go_device_known.known_device")
    assert check.evaluated
    assert check.success, check.unexpected_values


def test_clean_samples_pass(clean: Validated) -> None:
    report = clean.report
    assert report.errors == [], [(r.id, r.sample_keys, r.note) for r in report.errors]
    assert report.exit_code == 0
    stored = pl.scan_delta(str(clean.settings.layout.tables / "call_legs"))
    n_legs = stored.select(pl.len()).collect().item()
    calls = next(s for s in report.suites if s.name == "call_legs")
    assert calls.rows == n_legs
    assert report.result("call_legs.direction.in_set").element_count == n_legs
    assert all(r.evaluated for r in calls.results)


def test_data_docs_index_names_every_suite(clean: Validated) -> None:
    index = clean.report.data_docs_index
    assert index is not None and index.is_file()
    assert index.parent == clean.settings.layout.quality / "data_docs"
    html = index.read_text(encoding="utf-8")
    assert clean.report.suites
    for suite in clean.report.suites:
        assert suite.name in html and f"{suite.name}.scope" in html
        assert (index.parent / "expectations" / f"{suite.name}.html").is_file()


def test_ledger_holds_the_summary(clean: Validated) -> None:
    rows = Ledger(clean.settings.layout).read("validations")
    mine = rows.filter(pl.col("validation_id") == clean.report.validation_id)
    assert sorted(mine["suite"].to_list()) == sorted(s.name for s in clean.report.suites)
    calls = mine.filter(pl.col("suite") == "call_legs").row(0, named=True)
    assert calls["scope"] == "all"
    assert calls["success"] is True and calls["errors_failed"] == 0
    assert calls["rows_validated"] == next(
        s.rows for s in clean.report.suites if s.name == "call_legs"
    )
    assert calls["errors_evaluated"] > 0 and calls["warnings_evaluated"] > 0


def _small_exports(tmp: Path, samples: Path) -> tuple[Path, Path, Path]:
    """Three small DCH CSVs cut from the committed sample; the 2nd and 3rd carry a column no
    schema knows."""
    src = next(p for p in sorted(samples.glob("*.csv")) if "dch" in p.name or "call" in p.name)
    with open(src, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [next(reader) for _ in range(30)]
    out = []
    for i, (extra, chunk) in enumerate(
        [(False, rows[:10]), (True, rows[10:20]), (True, rows[20:])]
    ):
        path = tmp / f"export_{i}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*header, "Hologram mode"] if extra else header)
            for r in chunk:
                w.writerow([*r, "on"] if extra else r)
        out.append(path)
    return out[0], out[1], out[2]


def test_new_columns_and_default_scope(tmp_path: Path, samples_dir: Path) -> None:
    first, second, third = _small_exports(tmp_path, samples_dir)
    settings = Settings(warehouse=tmp_path / "wh")
    ingest_paths(settings, [first])
    report = validate_warehouse(settings)
    assert report.warnings == [] and report.errors == []

    ingest_paths(settings, [second])
    report = validate_warehouse(settings)
    new = report.result("call_legs.new_column.new_columns")
    assert not new.success and new.unexpected_values == ["Hologram mode"]
    assert new.sample_keys == []  # a name, not a row: `cdr validate` showed `(null)` as its key
    assert report.exit_code == 0
    # default scope: only the days the latest run loaded
    days = {s[:10] for s in pl.read_csv(second, infer_schema=False)["Start time"].to_list()}
    calls = next(s for s in report.suites if s.name == "call_legs")
    assert calls.partitions == len(days)
    assert calls.rows == sum(
        table_frame(settings, "call_legs", f"call_date={d}").height for d in days
    )

    ingest_paths(settings, [third])  # the same column again: known since the last run
    report = validate_warehouse(settings)
    assert report.result("call_legs.new_column.new_columns").success


def test_since_scope(tmp_path: Path, samples_dir: Path) -> None:
    first, _, _ = _small_exports(tmp_path, samples_dir)
    settings = Settings(warehouse=tmp_path / "wh")
    ingest_paths(settings, [first])
    today = datetime.now(UTC).date()
    assert validate_warehouse(settings, today - timedelta(days=1)).rows_validated == 10
    later = validate_warehouse(settings, today + timedelta(days=1))
    assert later.suites == [] and later.exit_code == 0


def test_pages_carry_no_batch_fingerprint(clean: Validated) -> None:
    """GX's per-batch fingerprint cost an eighth of a validation: it is not computed."""
    assert clean.report.data_docs_index is not None
    pages = list((clean.report.data_docs_index.parent / "validations").rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "cdr_validation_id" in text  # the batch markers are shown...
        assert "pandas_data_fingerprint" not in text  # ...without the fingerprint


def test_sample_keys_of_rows_in_later_batches(tmp_path: Path, call_rows: pl.DataFrame) -> None:
    """The keys named are those of the failing rows, whichever batch holds them, and a check
    failing on every row names the first few keys, once each."""
    rows = [2, 9, 16]  # batches 1, 2 and 3 of 7 rows
    broken = call_rows
    for row in rows:
        broken = _set(broken, "direction", pl.lit("SIDEWAYS"), row)
    broken = broken.with_columns(
        pl.lit(-5, dtype=call_rows.schema["duration_seconds"]).alias("duration_seconds")
    )
    write_partition(tmp_path, "call_legs", DAY_A, broken)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all", batch_rows=7)
    direction = report.result("call_legs.direction.in_set")
    assert direction.unexpected_count == 3
    assert direction.sample_keys == [call_rows["report_id"][r] for r in rows]
    everywhere = report.result("call_legs.duration_seconds.min_value")
    assert everywhere.unexpected_count == call_rows.height
    assert everywhere.sample_keys == call_rows["report_id"].head(SAMPLE_KEYS).to_list()


def test_sample_keys_of_a_compound_key(tmp_path: Path, clean: Validated) -> None:
    base = clean.settings.layout.tables / "device_snapshots"
    part = sorted(p.name for p in base.glob("snapshot_month=*"))[0]
    # eight rows: the broken one in the second of four batches (the whole partition made
    # some 200 batches of 2, about 30 s of GX runs)
    rows = table_frame(clean.settings, "device_snapshots", part).head(8)
    write_partition(tmp_path, "device_snapshots", part, _set(rows, "status", pl.lit("BROKEN")))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all", batch_rows=2)
    device, taken = rows["device_id"][ROW], rows["snapshot_time"][ROW]
    expected = f"{device} | {taken.astimezone(UTC).replace(tzinfo=None).isoformat()}"  # UTC
    assert report.result("device_snapshots.status.in_set").sample_keys == [expected]


def test_a_blank_value_is_shown_between_quotes() -> None:
    """A Call type of two blanks failed its set and the line read `values:` and nothing
    else: a value that is empty or starts or ends with blanks is shown quoted."""
    assert value_text("  ") == '"  "'
    assert value_text("") == '""'
    assert value_text(" SIP_HOLOGRAM") == '" SIP_HOLOGRAM"'
    assert value_text("SIP_HOLOGRAM") == "SIP_HOLOGRAM"
    assert value_text(("x ", None)) == '"x " / (null)'


def test_asking_for_an_expectation_not_checked_names_the_tables_checked(
    tmp_path: Path, call_rows: pl.DataFrame
) -> None:
    """docs/quality.md's `report.result(...)` on a validation whose scope held other tables
    raised a bare KeyError('call_legs.report_id.unique'): the message now says what was
    checked and what to try."""
    write_in_place(tmp_path, "call_legs", call_rows, default=DAY_A)
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    with pytest.raises(KeyError, match=r"tables checked: call_legs\).*scope='all'"):
        report.result("entitlements.units.not_negative")
    assert report.result("call_legs.report_id.unique").success


def test_a_duplicated_compound_key_is_shown_as_its_key_reads(
    tmp_path: Path, clean: Validated
) -> None:
    """A device snapshot loaded twice by another writer: `cdr validate` listed the values as
    Python's dict, `{'device_id': '...', 'snapshot_time': Timestamp('2026-09-01
    06:00:00+0000', tz='UTC')}`; they now read as the sample key does."""
    base = clean.settings.layout.tables / "device_snapshots"
    part = sorted(p.name for p in base.glob("snapshot_month=*"))[0]
    rows = table_frame(clean.settings, "device_snapshots", part).head(8)
    write_partition(tmp_path, "device_snapshots", part, pl.concat([rows, rows.slice(ROW, 1)]))
    report = validate_warehouse(Settings(warehouse=tmp_path), "all")
    rule = "device_snapshots.device_id.snapshot_time.unique"
    assert {r.id for r in report.errors} == {rule}
    failed = report.result(rule)
    assert failed.unexpected_values == failed.sample_keys
    # in UTC without a zone, as the sample keys of every other check read
    taken = rows["snapshot_time"][ROW].astimezone(UTC).replace(tzinfo=None).isoformat()
    assert failed.unexpected_values == [f"{rows['device_id'][ROW]} | {taken}"]
