"""Month close: frozen figures survive late data, restatements show the difference, reopen,
idempotence, incomplete months, the lock (the nightly's automatic close: test_close_nightly)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT, EXIT_LOCKED, EXIT_USAGE
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.reports import close as close_module
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.close import CloseRefused, close_month
from cdr_pipeline.reports.frozen import FINANCE_REPORTS, list_closed, read_close, read_journal
from cdr_pipeline.reports.restate import restatements
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.warehouse import refresh_warehouse
from tests.reports.finance_helpers import (
    CLOSED_MONTH,
    OPEN_MONTH,
    cdr,
    held_device_of,
    late_call_file,
    late_entitlement_file,
)


@pytest.fixture
def template(sample_wh: Settings) -> Settings:
    """The session's warehouse of the samples (the samples ingested and built): copy it to write."""
    return sample_wh


@pytest.fixture
def wh(fresh_wh: Settings) -> Settings:
    """A writable warehouse of the samples, ingested and built, for this test alone."""
    return fresh_wh


def _totals(rows: list[dict[str, Any]], column: str) -> float:
    return sum(float(r[column] or 0) for r in rows)


def test_late_data_leaves_a_closed_month_unchanged_and_restatements_show_it(
    wh: Settings, tmp_path: Path
) -> None:
    code, out, err = cdr(wh, "close", CLOSED_MONTH)
    assert code == 0, err
    assert f"closed {CLOSED_MONTH}" in out and "call_legs=0" in out
    frozen = {n: run_report(wh, n, CLOSED_MONTH).rows() for n in FINANCE_REPORTS}
    # the close froze what the tables said then
    assert (
        frozen["reconciliation"] == run_report(wh, "reconciliation", "2026-10", current=True).rows()
    )

    # late data: one more Webex Go call in October, and a corrected entitlement
    device = held_device_of(wh, CLOSED_MONTH)
    late = [late_call_file(tmp_path / "late", device), late_entitlement_file(tmp_path / "late")]
    assert ingest_paths(wh, late).exit_code == 0
    refresh_warehouse(wh)  # the views moved to the new versions, as `cdr ingest` does

    usage = run_report(wh, "licence-usage", CLOSED_MONTH)
    assert usage.closed_at is not None and usage.versions["call_legs"] == 0
    assert usage.rows() == frozen["licence-usage"]
    now = run_report(wh, "licence-usage", CLOSED_MONTH, current=True)
    assert now.closed_at is None
    assert (
        _totals(now.rows(), "webex_go_legs")
        == _totals(frozen["licence-usage"], "webex_go_legs") + 1
    )
    assert _totals(now.rows(), "webex_go_minutes") == pytest.approx(
        _totals(frozen["licence-usage"], "webex_go_minutes") + 5.0
    )

    code, out, err = cdr(wh, "report", "licence-usage", "--month", CLOSED_MONTH, "--format", "csv")
    assert code == 0 and "closed on " in err and "--current" in err
    # recomputed (--current, --as-of), a closed month's figures said nothing of the close:
    # they read as the month's, though they differ from the frozen ones
    assert list(now.computed_closes) == [CLOSED_MONTH]
    for flag in (["--current"], ["--as-of", "0"]):
        code, _, err = cdr(wh, "report", "reconciliation", "--month", CLOSED_MONTH, *flag)
        assert code == 0 and "closed on " in err and "not the frozen figures" in err, err
    code, _, err = cdr(wh, "report", "licence-usage", "--current", "--format", "csv")
    assert code == 0 and f"{CLOSED_MONTH} (closed on " in err and "recomputed now" in err
    # the reclaim list of no month has no frozen figures: nothing to say
    assert not run_report(wh, "reclaim-candidates", current=True).computed_closes

    code, out, _ = cdr(wh, "report", "restatements", "--format", "json")
    assert code == 0
    restated = json.loads(out)
    by = {(r["report"], r["measure"]): r for r in restated}
    assert {r["month"] for r in restated} == {"2026-10-01"}
    legs = by[("licence-usage", "webex_go_legs")]
    assert legs["change"] == 1 and legs["rows_changed"] >= 1
    assert by[("licence-usage", "webex_go_minutes")]["change"] == pytest.approx(5.0)
    assert by[("reconciliation", "entitled_units")]["change"] == -2
    cost = by[("reconciliation", "unassigned_cost")]
    assert cost["change"] == pytest.approx(-25.0) and cost["rows_changed"] == 1
    assert cost["current_total"] == pytest.approx(cost["closed_total"] - 25.0)
    assert ("anomalies", None) not in by  # the late call contradicts nothing

    # reopen: the month is recomputed, the old figures are kept, the journal says why
    code, out, err = cdr(wh, "reopen", CLOSED_MONTH, "--reason", "late October calls")
    assert code == 0, err
    assert read_close(wh.layout, date(2026, 10, 1)) is None
    assert run_report(wh, "licence-usage", CLOSED_MONTH).rows() == now.rows()
    kept = list((wh.warehouse / "closed" / ".reopened").iterdir())
    assert len(kept) == 1 and (kept[0] / "licence-usage.parquet").is_file()
    journal = read_journal(wh.layout)
    assert [(e["action"], e["month"]) for e in journal] == [
        ("close", CLOSED_MONTH),
        ("reopen", CLOSED_MONTH),
    ]
    assert journal[1]["reason"] == "late October calls"
    assert restatements(wh).row_count == 0  # nothing closed any more
    # closed again: the new figures, from the new table versions
    again = close_month(wh, CLOSED_MONTH)
    assert not again.already_closed and again.close.versions["call_legs"] == 1
    assert run_report(wh, "licence-usage", CLOSED_MONTH).rows() == now.rows()


def test_close_is_idempotent_and_atomic(wh: Settings) -> None:
    first = close_month(wh, CLOSED_MONTH)
    folder = wh.layout.closed_month(CLOSED_MONTH)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"close.json", *(f"{n}.parquet" for n in FINANCE_REPORTS)}
    manifest = json.loads(before["close.json"])
    for name in FINANCE_REPORTS:
        rows = pq.read_table(folder / f"{name}.parquet").num_rows
        assert manifest["reports"][name]["rows"] == rows
    assert manifest["call_coverage"] == "full" and manifest["covered_days"] == 31
    assert manifest["versions"] == first.close.versions and manifest["forced"] is False

    second = close_month(wh, CLOSED_MONTH)
    assert second.already_closed and second.close.closed_at == first.close.closed_at
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    code, out, _ = cdr(wh, "close", CLOSED_MONTH)
    assert code == 0 and "already closed" in out
    assert "cdr report restatements" in out and f"cdr reopen {CLOSED_MONTH}" in out
    assert len(read_journal(wh.layout)) == 1
    # no temp folder is left, and one (a close killed half way) would not count as closed
    assert [p.name for p in wh.layout.closed.iterdir()] == ["2026-10", "journal.jsonl"]
    (wh.layout.closed / ".2026-09.tmp-dead").mkdir()
    assert [c.month for c in list_closed(wh.layout)] == [CLOSED_MONTH]
    assert read_close(wh.layout, date(2026, 9, 1)) is None


def test_the_next_close_removes_the_folder_of_a_close_killed_half_way(wh: Settings) -> None:
    """A close killed while it wrote its hidden folder (kill -9, a power cut) left it in
    `closed/` for good: no later command removed it. The next close, under the writer lock,
    removes it, whichever month it was for."""
    killed = wh.layout.closed / ".2026-09.tmp-0badc0de"
    killed.mkdir(parents=True)
    (killed / "licence-usage.parquet").write_bytes(b"PAR1 half written")
    close_month(wh, CLOSED_MONTH)
    assert sorted(p.name for p in wh.layout.closed.iterdir()) == ["2026-10", "journal.jsonl"]
    killed.mkdir()  # and when the month is already closed
    assert close_month(wh, CLOSED_MONTH).already_closed
    assert not killed.exists()


def test_an_incomplete_month_is_refused_unless_forced_with_a_reason(wh: Settings) -> None:
    code, _, err = cdr(wh, "close", OPEN_MONTH)
    assert code == EXIT_BAD_INPUT
    assert "not complete" in err and "call coverage is none" in err and "--force" in err
    assert not wh.layout.closed_month(OPEN_MONTH).exists()

    code, _, err = cdr(wh, "close", OPEN_MONTH, "--force")
    assert code == EXIT_USAGE and "--reason" in err

    code, out, err = cdr(wh, "close", OPEN_MONTH, "--force", "--reason", "export lost; AP agreed")
    assert code == 0, err
    assert "forced: export lost; AP agreed" in out
    close = read_close(wh.layout, date(2026, 11, 1))
    assert close is not None and close.forced and close.reason == "export lost; AP agreed"
    assert close.call_coverage == "none"
    assert read_journal(wh.layout)[-1]["reason"] == "export lost; AP agreed"
    assert read_journal(wh.layout)[-1]["forced"] is True


def test_a_month_that_has_not_ended_is_refused(wh: Settings) -> None:
    with pytest.raises(CloseRefused, match="has not ended") as refused:
        close_month(wh, CLOSED_MONTH, today=date(2026, 10, 20))
    # what to do is to wait, not to load data the month cannot have yet
    assert refused.value.hint is not None
    assert "2026-11-01 or later" in refused.value.hint
    assert "missing call data" not in refused.value.hint


def test_a_month_ends_at_midnight_of_the_reporting_time_zone(
    wh: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2026-11-01T03:00Z is still October 31 (20:00) in Los Angeles: October has not ended
    monkeypatch.setattr(close_module, "_now", lambda: datetime(2026, 11, 1, 3, tzinfo=UTC))
    west = replace(wh, reporting_timezone="America/Los_Angeles")
    with pytest.raises(CloseRefused, match=r"has not ended \(today is 2026-10-31\)"):
        close_month(west, CLOSED_MONTH)
    # the nightly's run date is the UTC date (November 1): October has not ended either
    with pytest.raises(CloseRefused, match=r"has not ended \(today is 2026-10-31\)"):
        close_month(west, CLOSED_MONTH, today=date(2026, 11, 1), command="cdr nightly")
    assert not wh.layout.closed_month(CLOSED_MONTH).exists()
    # 2026-10-31T12:00Z is already November 1 (01:00) in Auckland: October has ended there
    monkeypatch.setattr(close_module, "_now", lambda: datetime(2026, 10, 31, 12, tzinfo=UTC))
    east = replace(wh, reporting_timezone="Pacific/Auckland")
    assert close_module.reporting_today(east) == date(2026, 11, 1)


def test_reporting_today_is_the_day_the_views_date_a_call_made_now(
    template: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly's run date and a close's "has the month ended" took today from Python's
    zoneinfo, which reads the system's zone files before the tzdata package: with tzdata
    2025b there, 2026-12-01T07:30Z was 23:30 on November 30 in America/Vancouver (UTC-8),
    while DuckDB's rules (UTC-7 that winter, as tzdata 2026 has it) date a call made then on
    December 1, 00:30, in fct_call_legs.report_date. The date must be the views' own: the
    same expression as fct_call_legs, on the views' engine."""
    vancouver = replace(template, reporting_timezone="America/Vancouver")
    for instant in (
        datetime(2026, 12, 1, 7, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    ):
        monkeypatch.setattr(close_module, "_now", lambda instant=instant: instant)
        views_day = (
            duckdb.connect()
            .execute(
                "select cast(timezone('America/Vancouver', $1::timestamptz) as date)", [instant]
            )
            .fetchall()[0][0]
        )
        assert close_module.reporting_today(vancouver) == views_day, instant


def test_reopen_needs_a_closed_month_and_a_reason(wh: Settings) -> None:
    code, _, err = cdr(wh, "reopen", CLOSED_MONTH, "--reason", "x")
    assert code == EXIT_BAD_INPUT and "not closed" in err
    code, _, err = cdr(wh, "reopen", CLOSED_MONTH)
    assert code == EXIT_USAGE and "--reason" in err


def test_close_and_reopen_print_json_for_scripts(wh: Settings) -> None:
    code, out, err = cdr(wh, "close", CLOSED_MONTH, "--json")
    assert code == 0, err
    assert json.loads(out)["month"] == CLOSED_MONTH
    code, out, err = cdr(wh, "reopen", CLOSED_MONTH, "--reason", "late calls", "--json")
    assert code == 0, err
    reopened = json.loads(out)
    assert reopened["month"] == CLOSED_MONTH and reopened["reason"] == "late calls"
    assert (wh.warehouse / reopened["kept_in"] / "close.json").is_file()
    assert datetime.fromisoformat(reopened["reopened_at"]).tzinfo is not None


def test_close_waits_for_the_writer_lock(wh: Settings) -> None:
    with writer_lock(wh.layout, "another writer"):
        code, _, err = cdr(wh, "close", CLOSED_MONTH)
    assert code == EXIT_LOCKED and "another writer" in err
    assert not wh.layout.closed_month(CLOSED_MONTH).exists()


def test_a_close_killed_before_its_journal_line_writes_it_when_run_again(
    fresh_closed_wh: Settings,
) -> None:
    """A close renames the month's folder into place, then appends its journal line: killed
    between the two, the month was closed, and running the close again returned at once
    ('already closed'), so journal.jsonl, the record of every close and reopen, never
    listed it. The rerun now writes the missing line, once."""
    wh = fresh_closed_wh  # October closed by close_month
    first = read_close(wh.layout, date(2026, 10, 1))
    assert first is not None
    (wh.layout.closed / "journal.jsonl").unlink()  # what the kill left
    assert close_month(wh, CLOSED_MONTH).already_closed
    close_month(wh, CLOSED_MONTH)
    journal = [(e["action"], e["month"], e["at"]) for e in read_journal(wh.layout)]
    assert journal == [("close", CLOSED_MONTH, first.closed_at.isoformat())]


def test_a_reopen_killed_before_its_journal_line_completes_when_run_again(
    fresh_closed_wh: Settings,
) -> None:
    """A reopen moves the month's folder to closed/.reopened/, then appends its journal line
    with the reason: killed between the two, the month was open, and running the reopen
    again exited 3 ('not closed'), so the journal never said it was reopened, nor why."""
    wh = fresh_closed_wh  # October closed by close_month
    journal = wh.layout.closed / "journal.jsonl"
    closed_line = journal.read_bytes()
    close_module.reopen_month(wh, CLOSED_MONTH, "first try")
    journal.write_bytes(closed_line)  # what the kill left
    again = close_module.reopen_month(wh, CLOSED_MONTH, "late invoice")
    assert [e["action"] for e in read_journal(wh.layout)] == ["close", "reopen"]
    assert read_journal(wh.layout)[-1]["reason"] == "late invoice"
    assert again.kept_in.startswith("closed/.reopened/")
    with pytest.raises(Exception, match="not closed"):
        close_module.reopen_month(wh, CLOSED_MONTH, "once more")


def test_a_close_with_no_entitlements_loaded_warns_how_to_redo_it(
    wh: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A month closed before finance's entitlements were loaded froze every reconciliation
    row as `no_entitlement`, without cost, in silence (the nightly's close_after_days does
    it unattended): the close now warns, naming the reopen that redoes it."""
    from cdr_pipeline.reports.frozen import warn_unreconciled

    with caplog.at_level("WARNING", logger="cdr_pipeline"):
        closed = close_month(wh, CLOSED_MONTH).close
    assert "entitlements" in closed.versions and "no entitlements" not in caplog.text
    versions = {t: v for t, v in closed.versions.items() if t != "entitlements"}
    with caplog.at_level("WARNING", logger="cdr_pipeline"):
        warn_unreconciled(replace(closed, versions=versions))
    assert f"{CLOSED_MONTH} closed with no entitlements loaded" in caplog.text
    assert f"cdr reopen {CLOSED_MONTH} --reason" in caplog.text


def test_a_closed_months_reclaim_list_as_of_a_version_is_computed_then(
    fresh_closed_wh: Settings,
) -> None:
    """`cdr report reclaim-candidates --month M` of a closed month shows its frozen list;
    adding `--as-of 0` to see it as the tables were then exited 2 with "--month does not
    apply (except to a closed month, whose frozen list it shows)", of a month that was
    closed. `--as-of` computes, as `--current` does: the list as of that version."""
    wh = fresh_closed_wh  # October closed by close_month: `cdr close` finds it closed
    assert cdr(wh, "close", CLOSED_MONTH)[0] == 0
    code, out, err = cdr(
        wh,
        "report",
        "reclaim-candidates",
        "--month",
        CLOSED_MONTH,
        "--as-of",
        "0",
        "--format",
        "json",
    )
    assert code == 0, err
    then = run_report(wh, "reclaim-candidates", as_of=0)
    assert then.row_count and [r["device_id"] for r in json.loads(out)] == [
        r["device_id"] for r in then.rows()
    ]
    assert run_report(wh, "reclaim-candidates", CLOSED_MONTH, as_of=0).rows() == then.rows()
    # a month that is not closed still has no reclaim list of its own, --as-of or not
    code, _, err = cdr(wh, "report", "reclaim-candidates", "--month", OPEN_MONTH, "--as-of", "0")
    assert code == EXIT_USAGE and "not monthly" in err
