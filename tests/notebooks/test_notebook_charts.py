"""The charts the notebooks draw, inspected as matplotlib figures: each notebook script runs
in this process (Agg backend) against the demo warehouse, then every figure it left open is
checked for the faults analysts met: fractional or negative count ticks, sub-second date
ticks, legends over bars, empty axes. A papermill-style parameters cell is checked too."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from matplotlib.patches import Rectangle

from tests.notebooks.conftest import STEMS, ScriptRun

pytestmark = pytest.mark.slow  # notebooks executed in a real kernel

SUB_SECOND = re.compile(r"\d:\d\d\.\d+")  # e.g. 03:44.500000


def axes_of(run: ScriptRun) -> list[Any]:
    return [ax for fig in run.figures for ax in fig.axes]


def bars(ax: Any) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def tick_texts(axis: Any) -> list[str]:
    low, high = axis.get_view_interval()
    return [
        label.get_text()
        for tick, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=False)
        if min(low, high) <= tick <= max(low, high) and label.get_text()
    ]


@pytest.mark.parametrize("stem", STEMS)
def test_charts_are_readable_with_whole_count_ticks_from_zero(
    run_script: Any, demo_wh: Path, stem: str
) -> None:
    """One run of each notebook (not one per check) on the demo warehouse, its figures
    drawn, then checked: every count axis (a label ending `(count)`, at least one per
    notebook) has whole ticks and starts at zero; no tick of any axis shows sub-seconds;
    every axes draws something (a bar of some height, a line or an image); no legend covers
    a bar."""
    run = run_script(stem, demo_wh)
    assert run.figures
    for fig in run.figures:
        fig.canvas.draw()
    checked = 0
    for ax in axes_of(run):
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_label_text().endswith("(count)"):
                continue
            checked += 1
            values = [float(t.replace("\u2212", "-")) for t in tick_texts(axis)]
            assert values, (ax.get_title(), axis.get_label_text())
            assert all(v == int(v) for v in values), (ax.get_title(), values)
            assert min(axis.get_view_interval()) == 0, (ax.get_title(), axis.get_view_interval())
    assert checked, f"{stem} has no count axis"
    for ax in axes_of(run):
        if ax.get_label() == "<colorbar>":
            continue
        title = ax.get_title()
        for axis in (ax.xaxis, ax.yaxis):
            for text in tick_texts(axis):
                assert not SUB_SECOND.search(text), (title, text)
        # something is drawn: a bar of some height, a line, or an image
        heights = [b.get_height() if b.get_height() else b.get_width() for b in bars(ax)]
        assert any(heights) or ax.lines or ax.images, f"empty axes: {title}"
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent()
            hidden = [b for b in bars(ax) if box.overlaps(b.get_window_extent())]
            assert not hidden, f"the legend covers {len(hidden)} bar(s) in {title}"


def test_outcome_chart_shows_the_legs_that_did_not_succeed(run_script: Any, demo_wh: Path) -> None:
    run = run_script(STEMS[0], demo_wh)
    titles = {ax.get_title(): ax for ax in axes_of(run)}
    assert "Call outcome by client" not in titles  # the old one-colour stacked bars
    ax = titles["Legs that did not succeed, by client"]
    shares = run.namespace["outcome_share"]
    not_success = shares.filter(shares["call_outcome"] != "Success")
    assert not not_success.is_empty()
    # the bars are the non-success shares, so the axis is scaled to them, not to 100 %
    assert ax.get_xlim()[1] < 50
    assert sorted(round(b.get_width(), 2) for b in bars(ax) if b.get_width()) == sorted(
        not_success["pct"].to_list()
    )


def test_data_quality_draws_no_empty_validation_chart(run_script: Any, demo_wh: Path) -> None:
    run = run_script(STEMS[3], demo_wh)
    history = run.namespace["history"]
    assert history["errors_failed"].sum() + history["warnings_failed"].sum() == 0
    assert not any(ax.get_title().startswith("Failed expectations") for ax in axes_of(run))
    drift = [ax for ax in axes_of(run) if "per file" in ax.get_title()]
    assert len(drift) == 2
    for ax in drift:
        ax.figure.canvas.draw()
        assert all(t.isdigit() for t in tick_texts(ax.xaxis)), tick_texts(ax.xaxis)


def test_a_papermill_parameters_cell_filters_by_department(run_script: Any, demo_wh: Path) -> None:
    """Section 1 is the adoption report (calls have no department); the leg sections filter."""
    con = duckdb.connect(str(demo_wh / "cdr.duckdb"), read_only=True)
    rows = con.execute(
        "select department_id, count(*) as legs from fct_call_legs "
        "where is_webex_go and start_time_local is not null and department_id is not null "
        "group by all order by legs desc"
    ).fetchall()
    total = con.execute(
        "select count(*) from fct_call_legs where is_webex_go and start_time_local is not null"
    )
    everything = total.fetchall()[0][0]
    con.close()
    department, legs = rows[0]
    run = run_script(STEMS[0], demo_wh, parameters={"DEPARTMENT": department})
    assert run.namespace["DEPARTMENT"] == department
    assert run.namespace["nb"].department == department
    heat = run.namespace["heat"]
    assert heat["webex_go_legs"].sum() == legs < everything
    assert f"department {department}" in run.namespace["nb"].scope


def test_data_quality_shows_no_raw_rejected_line_on_the_analyst_tier(
    run_script: Any, demo_wh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected row's raw text is the export's line with names and numbers in clear:
    notebook 04, which analysts run on the pseudonymised tier, must not print it."""
    import pyarrow.parquet as pq

    rows = pq.read_table(next((demo_wh / "rejects").glob("*/*.parquet"))).to_pylist()
    fields = {f for r in rows for f in next(csv.reader([r["raw_text"]])) if len(f) >= 7}
    personal = {f for f in fields if f.startswith("+") or "@" in f or " " in f}
    assert personal  # the drifted export's bad rows carry names and numbers
    import IPython.display

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    monkeypatch.delenv("CDR_TIER", raising=False)
    run_script(STEMS[3], demo_wh)
    texts = " ".join(
        str(v) for obj in shown if hasattr(obj, "iter_rows") for row in obj.iter_rows() for v in row
    )
    assert "dch_drift_bad.csv" in texts  # the examples are shown, by file and line
    assert not {p for p in personal if p in texts}
    monkeypatch.setenv("CDR_TIER", "full")
    full = run_script(STEMS[3], demo_wh).namespace["examples"]
    assert "raw_text" in full.columns and "detail" in full.columns


def test_bought_vs_held_never_adds_licence_types(run_script: Any, demo_wh: Path) -> None:
    """A subscription's BYOD-device and Mobile-number licences are different units whose
    peaks fall at different instants (sql/README.md): the chart draws each type on its own
    panel with the reconciliation's own figures, never their sum."""
    import polars as pl

    run = run_script(STEMS[1], demo_wh)
    recon = run.namespace["recon"]
    types = recon.group_by("subscription_id").agg(pl.col("licence_type").n_unique())
    assert types["licence_type"].max() > 1  # the demo has a subscription with several types
    drawn = run.namespace["per_sub"]
    key = ["subscription_id", "licence_type", "month"]
    expected = recon.select(*key, pl.col("consumed_peak").fill_null(0).alias("held (peak)"))
    assert drawn.select(*key, "held (peak)").sort(key).equals(expected.sort(key))
    titles = [ax.get_title() for ax in axes_of(run) if "bought vs held" in ax.get_title()]
    assert len(titles) == recon.select("subscription_id", "licence_type").n_unique()


def test_an_empty_reclaim_list_names_the_location_that_emptied_it(
    run_script: Any, demo_wh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reclaim list is filtered by location and department, not by month; with a
    location set its empty note read "**No data** for reclaim candidates in ...", which
    says the warehouse has none, while the unfiltered list had some."""
    import IPython.display

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    env = {"CDR_NOTEBOOK_LOCATION": "Nowhere", "CDR_NOTEBOOK_MONTH": "2020-01"}
    run = run_script(STEMS[1], demo_wh, **env)
    assert run.namespace["reclaim"].is_empty()
    assert not run.namespace["nb"].query("select * from rpt_reclaim_candidates").is_empty()
    notes = [str(getattr(obj, "data", "")) for obj in shown]
    (note,) = [n for n in notes if "No data** for reclaim candidates" in n]
    assert "reclaim candidates (location Nowhere) in" in note, note
    assert "2020-01" not in note, note  # the month does not filter the list
    # and the notes of the bought-vs-held sections name the month, which alone filters them
    (bought,) = [n for n in notes if "No data** for licence reconciliation" in n]
    assert "licence reconciliation (month 2020-01) in" in bought, bought


def test_idle_cost_totals_leave_unpriced_licences_out_as_the_finance_summary_does(
    run_script: Any, samples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription with entitlements in two currencies in force has no price, so its
    idle licences have no cost (`mixed_currency`). The notebook's totals per currency put
    them under a NULL currency with a total of 0.0 (polars sums NULLs to 0): an unknown cost
    shown as none. They are left out of the totals and named apart, and the totals equal
    the finance figures of the library (`headline_figures`, as `finance-summary`)."""
    import IPython.display
    import polars as pl

    from cdr_pipeline.config import Settings
    from cdr_pipeline.ingest import ingest_paths
    from cdr_pipeline.reports.headline import headline_figures
    from cdr_pipeline.warehouse import build_warehouse

    settings = Settings(warehouse=tmp_path / "warehouse")
    assert ingest_paths(settings, [samples_dir]).exit_code == 0
    build_warehouse(settings)
    month = headline_figures(settings)["month"]
    idle = (
        duckdb.connect(settings.layout.duckdb, read_only=True)
        .execute(
            "select subscription_id, licence_type from rpt_licence_reconciliation "
            "where strftime(month, '%Y-%m') = $m and idle_licences > 0 and currency = 'USD' "
            "order by all limit 1",
            {"m": month},
        )
        .fetchall()
    )
    assert idle, "the samples have an idle licence priced in USD"
    subscription, licence_type = idle[0]
    extra = tmp_path / "entitlements_eur.csv"
    header = ["subscription_id", "licence_type", "units", "valid_from", "unit_price", "currency"]
    with extra.open("w", newline="") as fh:
        row = [subscription, licence_type, 1, f"{month}-02", 11, "EUR"]
        csv.writer(fh).writerows([header, row])
    assert ingest_paths(settings, [extra]).exit_code == 0
    build_warehouse(settings)
    figures = headline_figures(settings)
    assert figures["cost_note"]  # the subscription has no price now (mixed currencies)

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    run_script(STEMS[1], settings.warehouse, CDR_NOTEBOOK_MONTH=month)
    (totals,) = [o for o in shown if isinstance(o, pl.DataFrame) and "total_idle_cost" in o]
    assert totals["currency"].null_count() == 0, totals
    by_currency = dict(totals.select("currency", "total_idle_cost").iter_rows())
    expected = {c: v for c, v in figures["idle_cost"].items() if v}
    assert {c: v for c, v in by_currency.items() if v} == expected
    notes = [str(getattr(obj, "data", "")) for obj in shown]
    assert any("have no price" in n and "mixed_currency" in n for n in notes), notes
