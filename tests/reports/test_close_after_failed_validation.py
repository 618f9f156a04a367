"""No close freezes a month over data that failed validation: a close is kept for good.
The nightly's never does (nobody is there to look at the Data Docs first); one by hand does
only with --force --reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cdr_pipeline.batch import run_nightly
from cdr_pipeline.config import Settings
from cdr_pipeline.errors import EXIT_BAD_INPUT, EXIT_QUALITY
from cdr_pipeline.quality.report import VALIDATIONS_SCHEMA
from cdr_pipeline.reports import run_report
from cdr_pipeline.reports.close import close_month
from cdr_pipeline.reports.close_hold import failed_validations
from cdr_pipeline.reports.frozen import read_close, read_journal
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.reports.finance_helpers import CLOSED_MONTH, cdr

HEADER = "subscription_id,licence_type,units,valid_from,valid_to,unit_price,currency\n"
TYPO = "Sub-39015,Webex Go (Bring Your Own Device),40,2026-10-01,2025-10-31,12.50,USD\n"
"""A top-up whose end year is typed wrong: it ends before it starts, so it is never in force
and its 40 units vanish without a word, which the quality suite fails (error). (A negative
count, the earlier typo here, is quarantined by ingest now.)"""
TAKEN_BACK = "Sub-39015,Webex Go (Bring Your Own Device),0,2026-10-01,,12.50,USD\n"
"""The same key loaded again with 0 units: the row is taken back, never in force."""


@pytest.fixture
def nightly_wh(validated_wh: Settings) -> Settings:
    # a fresh copy of the session's warehouse of the samples (the samples ingested and
    # built, their loads validated and passed): the nights validate their own loads only
    return replace(validated_wh, close_after_days=3)


def _sub_39015_byod(settings: Settings) -> dict[str, object]:
    rows = run_report(settings, "reconciliation", "2026-10").rows()
    return next(
        r for r in rows if r["subscription_id"] == "Sub-39015" and "Bring" in r["licence_type"]
    )


def test_the_nightly_does_not_close_a_month_over_data_that_failed_validation(
    nightly_wh: Settings, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "entitlements_topup.csv").write_text(HEADER + TYPO, encoding="utf-8")
    # by hand: October's Sub-39015 BYOD rows in force on 10-31 are the samples' 8 units only:
    # the typo's range is empty, so the figures a close would freeze miss the 40 bought
    assert _sub_39015_byod(nightly_wh)["entitled_units"] == 8
    night = run_nightly(nightly_wh, inbox, run_date=date(2026, 11, 4))
    assert night.exit_code == EXIT_QUALITY, night.stages
    assert _sub_39015_byod(nightly_wh)["entitled_units"] == 8  # what is computed now
    close = night.stage("close")
    assert close is not None
    assert close.summary.startswith("2026-10 not closed: the latest validation of entitlements")
    assert read_close(nightly_wh.layout, date(2026, 10, 1)) is None

    # a night with nothing new runs no validation: the failure still stands
    again = run_nightly(nightly_wh, inbox, run_date=date(2026, 11, 5))
    stage = again.stage("close")
    assert stage is not None and "not closed" in stage.summary
    assert read_close(nightly_wh.layout, date(2026, 10, 1)) is None

    # the typo taken back (0 units), the validation of that load passes: the next night closes
    (inbox / "entitlements_fix.csv").write_text(HEADER + TAKEN_BACK, encoding="utf-8")
    fixed = run_nightly(nightly_wh, inbox, run_date=date(2026, 11, 6))
    assert fixed.exit_code == 0, fixed.stages
    stage = fixed.stage("close")
    assert stage is not None and stage.summary.startswith("closed 2026-10"), stage.summary
    assert read_close(nightly_wh.layout, date(2026, 10, 1)) is not None
    assert _sub_39015_byod(nightly_wh)["entitled_units"] == 8  # the frozen figure


def test_the_nightly_does_not_close_a_month_while_a_file_of_the_night_failed_to_load(
    nightly_wh: Settings, tmp_path: Path
) -> None:
    """Finance's October top-up sheet had a line of -2 units: ingest quarantines it, and the
    file fails whole (1 of 2 rows rejected, past --max-reject-rate), so none of it loads.
    The nightly then closed October with the entitlements of before, freezing 8 licences
    bought where the sheet says 12, with nothing but the ingest error to say so (when such a
    line loaded, its failed validation held the close back). The close waits while a file
    of the night failed to load, naming it; once corrected it loads and the month closes."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sheet = inbox / "entitlements_topup.csv"
    topup = "Sub-39015,Webex Go (Bring Your Own Device),4,2026-10-15,,12.50,USD\n"
    sheet.write_text(
        HEADER + topup + "Sub-39015,Webex Go Mobile (Mobile Operator),-2,2026-10-15,,20,USD\n",
        encoding="utf-8",
    )
    night = run_nightly(nightly_wh, inbox, run_date=date(2026, 11, 4))
    assert night.exit_code == EXIT_BAD_INPUT, night.stages
    close = night.stage("close")
    assert close is not None
    assert close.summary.startswith("2026-10 not closed: a file failed to load"), close.summary
    assert "entitlements_topup.csv" in close.summary
    assert read_close(nightly_wh.layout, date(2026, 10, 1)) is None

    # the line corrected: the sheet loads and the next night closes October with its top-up
    sheet.write_text(
        HEADER + topup + "Sub-39015,Webex Go Mobile (Mobile Operator),2,2026-10-15,,20,USD\n",
        encoding="utf-8",
    )
    fixed = run_nightly(nightly_wh, inbox, run_date=date(2026, 11, 5))
    assert fixed.exit_code == 0, fixed.stages
    stage = fixed.stage("close")
    assert stage is not None and stage.summary.startswith("closed 2026-10"), stage.summary
    assert _sub_39015_byod(nightly_wh)["entitled_units"] == 12  # the frozen figure: 8 + 4


def test_a_validation_after_the_clock_was_set_back_is_the_latest(tmp_path: Path) -> None:
    """A night ran with the clock a month ahead (a machine booted so) and its validation of
    the entitlements failed; NTP set the clock right, the sheet was corrected and its
    validation passed. The close still read the future night's failure as the latest (by
    its run time), so the month stayed open, its stage blaming data already corrected, until
    the clock caught up. The latest validation is the one the ledger wrote last."""
    layout = Layout(tmp_path / "wh")
    now = datetime.now(UTC)
    _validation(layout, "v-ahead", now + timedelta(days=30), errors_failed=1)
    _validation(layout, "v-after", now, errors_failed=0)
    assert failed_validations(layout) == []
    # and a failure after a pass still holds the close, as before
    _validation(layout, "v-later", now + timedelta(minutes=1), errors_failed=2)
    # a record of a release that kept no check ids: their count
    assert failed_validations(layout) == [
        f"entitlements failed 2 error-severity check(s) (validation v-later of "
        f"{now + timedelta(minutes=1):%Y-%m-%d %H:%M} UTC)"
    ]


PAIR_CHECK = "entitlements.valid_to.valid_from.pair_ge"
"""The check a row whose valid_to is before its valid_from fails (the top-up's typo)."""


def test_a_close_by_hand_is_refused_while_the_latest_validation_failed(
    fresh_wh: Settings,
) -> None:
    """The nightly would not close October over entitlements that failed validation, but a
    `cdr close 2026-10` by hand closed it, freezing the figures of data known bad. The hand
    close keeps the same rule: refused (exit 3) naming the table, the check and when, with
    what to do; `--force --reason` closes it all the same, forced, its reason kept."""
    when = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)
    _validation(fresh_wh.layout, "v-typo", when, errors_failed=1, checks=[PAIR_CHECK])
    code, _, err = cdr(fresh_wh, "close", CLOSED_MONTH)
    assert code == EXIT_BAD_INPUT, err
    assert (
        f"2026-10 is not closed: the latest validation of entitlements failed check "
        f"{PAIR_CHECK} (validation v-typo of 2026-11-04 02:00 UTC)"
    ) in err
    assert "cdr validate --all" in err and '--force --reason "why"' in err
    assert read_close(fresh_wh.layout, date(2026, 10, 1)) is None

    code, out, err = cdr(fresh_wh, "close", CLOSED_MONTH, "--force", "--reason", "agreed w/ AP")
    assert code == 0, err
    assert "forced: agreed w/ AP" in out
    close = read_close(fresh_wh.layout, date(2026, 10, 1))
    assert close is not None and close.forced and close.reason == "agreed w/ AP"
    assert read_journal(fresh_wh.layout)[-1]["forced"] is True


def test_a_close_by_hand_goes_ahead_once_a_later_validation_passed(fresh_wh: Settings) -> None:
    now = datetime.now(UTC)
    _validation(fresh_wh.layout, "v-typo", now, errors_failed=1, checks=[PAIR_CHECK])
    _validation(fresh_wh.layout, "v-fixed", now, errors_failed=0)
    result = close_month(fresh_wh, CLOSED_MONTH)
    assert not result.already_closed and not result.close.forced


def _validation(
    layout: Layout,
    vid: str,
    run_time: datetime,
    errors_failed: int,
    checks: list[str] | None = None,
) -> None:
    row = dict.fromkeys(VALIDATIONS_SCHEMA.names) | {
        "validation_id": vid,
        "run_time": run_time,
        "scope": "pending",
        "table_name": "entitlements",
        "errors_failed": errors_failed,
        "errors_failed_checks": checks,
    }
    Ledger(layout).write("validations", vid, [row], VALIDATIONS_SCHEMA)
