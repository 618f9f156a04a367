"""The analyst notebooks: committed pairs in sync and without outputs, and run top to bottom.

Every notebook is a jupytext pair: the percent script `notebooks/NN_name.py` is the source of
truth and the `.ipynb` beside it must hold the same cells, without outputs. The executed
tests run each committed `.ipynb` in a real kernel (nbclient) against the demo warehouse
(plus drifted exports), a warehouse with nothing ingested, and the demo warehouse through a
month that has no data; a cell error fails the test, and the tests check what the notebooks
show: charts where there is data, "No data" notes where there is none, the drifted column
and the reject reason in the data quality notebook, the filters of the parameters cell.
"""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import jupytext
import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse
from tests.notebooks.conftest import (
    BAD_START,
    NB_DIR,
    PARAMETER_ENV,
    SAMPLES,
    STEMS,
    run_notebook,
)

pytestmark = pytest.mark.slow  # notebooks executed in a real kernel

MONTHLY = STEMS[:3]  # the data quality notebook is about loads, not a month of calls


def outputs(nb: NotebookNode) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def pngs(nb: NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs(nb))


def text_of(nb: NotebookNode) -> str:
    """Everything the notebook displayed, as text (markdown, HTML tables, plain text)."""
    parts = []
    for o in outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(o["text"])
        for mime in ("text/markdown", "text/html", "text/plain"):
            if mime in o.get("data", {}):
                parts.append(o["data"][mime])
    return "\n".join(parts)


def assert_clean(nb: NotebookNode) -> None:
    bad = [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert not bad, bad
    stderr = [o["text"] for o in outputs(nb) if o.get("name") == "stderr"]
    assert not stderr, stderr


def assert_charts_labelled(nb: NotebookNode) -> None:
    """Every cell that draws a figure sets a title and both axis labels."""
    drawing = [c.source for c in nb.cells if c.cell_type == "code" and "plt.subplots" in c.source]
    assert drawing
    for source in drawing:
        for call in ("set_title(", "set_xlabel(", "set_ylabel("):
            assert call in source, (call, source[:200])


def cells_of(path: Path) -> list[tuple[str, str, list[str]]]:
    """(type, source, tags) of every cell, as jupytext reads the file."""
    notebook = jupytext.read(path)
    return [
        (c.cell_type, c.source.strip(), list(c.metadata.get("tags", []))) for c in notebook.cells
    ]


# --------------------------------------------------------------------------------------------
# committed pairs


def test_the_four_notebooks_are_pairs() -> None:
    assert sorted(p.stem for p in NB_DIR.glob("*.py")) == STEMS
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == STEMS
    assert not (NB_DIR / "build_notebooks.py").exists()


@pytest.mark.parametrize("stem", STEMS)
def test_ipynb_is_in_sync_with_its_script(stem: str) -> None:
    """The script is the source of truth: after an edit, `jupytext --sync notebooks/*.py`."""
    script, notebook = NB_DIR / f"{stem}.py", NB_DIR / f"{stem}.ipynb"
    assert cells_of(notebook) == cells_of(script), (
        f"{notebook.name} differs from {script.name}: run `jupytext --sync notebooks/*.py`"
    )
    kernel = jupytext.read(notebook).metadata.get("kernelspec", {})
    assert kernel.get("name") == "python3"


@pytest.mark.parametrize("stem", STEMS)
def test_committed_without_outputs(stem: str) -> None:
    raw = json.loads((NB_DIR / f"{stem}.ipynb").read_text(encoding="utf-8"))
    nbformat.validate(nbformat.from_dict(raw))
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] for c in code), "commit notebooks without outputs"
    assert all(c["execution_count"] is None for c in code), "commit without execution counts"
    first = raw["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "**Question.**" in "".join(first["source"])
    assert "**How to read it.**" in "".join(first["source"])


@pytest.mark.parametrize("stem", STEMS)
def test_one_parameters_cell_defaulting_from_the_environment(stem: str) -> None:
    """Papermill injects its cell after the one tagged `parameters`; the defaults come from
    CDR_NOTEBOOK_MONTH / _LOCATION / _DEPARTMENT."""
    tagged = [src for kind, src, tags in cells_of(NB_DIR / f"{stem}.py") if "parameters" in tags]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0])
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert list(assigned) == ["MONTH", "LOCATION", "DEPARTMENT"]  # only assignments
    assert len(tree.body) == 3
    for (name, value), env in zip(assigned.items(), PARAMETER_ENV, strict=True):
        assert env in ast.unparse(value), (name, env)


# --------------------------------------------------------------------------------------------
# executed notebooks


@pytest.fixture(scope="session")
def demo_runs(demo_wh: Path) -> dict[str, NotebookNode]:
    return {stem: run_notebook(stem, demo_wh) for stem in STEMS}


@pytest.mark.parametrize("name", STEMS)
def test_runs_on_the_demo_warehouse_with_charts(
    demo_runs: dict[str, NotebookNode], name: str
) -> None:
    nb = demo_runs[name]
    assert_clean(nb)
    assert_charts_labelled(nb)
    assert pngs(nb) >= 3, f"{name} drew {pngs(nb)} chart(s)"
    assert "**No data**" not in text_of(nb) or name == "04_data_quality"


def test_adoption_shows_every_location_and_webex_go_users(
    demo_runs: dict[str, NotebookNode], demo_wh: Path
) -> None:
    import duckdb

    con = duckdb.connect(str(demo_wh / "cdr.duckdb"), read_only=True)
    # notebooks read the analyst tier (docs/privacy.md): users are shown by their pseudonyms
    con.execute("set search_path = 'analyst'")
    locations = [
        r[0] for r in con.sql("select distinct location_name from fct_call_legs").fetchall()
    ]
    top = con.execute(
        "select any_value(user_name) from fct_call_legs where is_webex_go "
        "group by user_uuid order by sum(duration_seconds) desc, count(*) desc, user_uuid limit 1"
    ).fetchone()
    con.close()
    shown = text_of(demo_runs["01_webex_go_adoption"])
    for location in locations:
        assert location in shown
    assert top is not None and top[0] in shown


def test_data_quality_shows_drift_rejects_failed_file_and_validation(
    demo_runs: dict[str, NotebookNode],
) -> None:
    shown = text_of(demo_runs["04_data_quality"])
    assert "dch_drift_bad.csv" in shown  # the failed file is listed
    assert "failed" in shown
    assert "network_slice" in shown.lower().replace(" ", "_")  # the new column (drift)
    assert "client_version" in shown.lower().replace(" ", "_")  # the dropped one
    assert "bad_timestamp" in shown  # a quarantined row's reason
    assert BAD_START not in shown  # its raw text and detail: the full tier's only
    assert "passed" in shown  # the latest validation of the demo
    assert "**Nothing failed** in the latest 1 validation run(s)" in shown  # a note, no chart
    assert "**No data** for rejected rows" not in shown


@pytest.mark.parametrize("name", STEMS)
def test_runs_on_an_empty_warehouse_with_no_data_notes(empty_wh: Path, name: str) -> None:
    nb = run_notebook(name, empty_wh)
    assert_clean(nb)
    assert "**No data**" in text_of(nb)
    assert pngs(nb) == 0  # nothing to plot, and nothing drawn from nothing


@pytest.mark.parametrize("name", MONTHLY)
def test_a_month_without_data_shows_no_data(demo_wh: Path, name: str) -> None:
    nb = run_notebook(name, demo_wh, CDR_NOTEBOOK_MONTH="2020-01")
    assert_clean(nb)
    shown = text_of(nb)
    assert "**No data**" in shown and "month 2020-01" in shown


def test_a_location_set_in_the_environment_filters_the_notebook(demo_wh: Path) -> None:
    con = duckdb.connect(str(demo_wh / "cdr.duckdb"), read_only=True)
    # the location with the most Webex Go legs first, so every section has something to show
    locations = [
        r[0]
        for r in con.sql(
            "select location_name from fct_call_legs group by all "
            "order by count(*) filter (where is_webex_go) desc, location_name"
        ).fetchall()
    ]
    con.close()
    chosen, others = locations[0], locations[1:]
    assert others
    nb = run_notebook(STEMS[0], demo_wh, CDR_NOTEBOOK_LOCATION=chosen)
    assert_clean(nb)
    shown = text_of(nb)
    assert f"location {chosen}" in shown  # the summary and the chart titles say so
    assert chosen in shown
    for other in others:  # every section filters by location, so no other one shows
        assert other not in shown, other
    assert pngs(nb) >= 3
    assert "**No data**" not in shown


def test_a_bad_month_stops_the_notebook_with_a_clear_message(demo_wh: Path) -> None:
    with pytest.raises(CellExecutionError) as failed:
        run_notebook(STEMS[1], demo_wh, CDR_NOTEBOOK_MONTH="2026-13")
    message = str(failed.value)
    assert "NotebookParameterError" in message
    assert "YYYY-MM" in message and "e.g. 2026-10" in message and "'2026-13'" in message


def _warehouse_of(export: Path, rows: list[list[str]]) -> Settings:
    """A warehouse beside `export` holding the export of `rows` (its header first), built."""
    with export.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    settings = Settings(warehouse=export.parent / "warehouse")
    assert ingest_paths(settings, [export]).exit_code == 0
    build_warehouse(settings)
    return settings


def test_top_webex_go_users_are_named_and_placed_as_on_their_latest_leg(
    run_script: Any, tmp_path: Path
) -> None:
    """Notebook 01's top users took any one of a user's names and locations (`any_value`):
    a user renamed or moved during the period showed the old name or location, whichever the
    scan met first, as top-callers did before it named the latest call's."""
    src = SAMPLES / "dch_export_2026-09-30_2026-10-31.csv"
    with src.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(header)}
    go = [r for r in rows if r[col["Sub client type"]] == "MOBILE_NETWORK" and r[col["User UUID"]]]
    user = go[0][col["User UUID"]]
    mine = [r for r in go if r[col["User UUID"]] == user]
    legs = sorted(mine, key=lambda r: r[col["Start time"]])
    assert legs[0][col["Start time"]][:10] < legs[-1][col["Start time"]][:10]
    legs[-1][col["User"]] = "Renamed Person"
    legs[-1][col["Location"]] = "Moved Office"
    settings = _warehouse_of(tmp_path / "dch_renamed.csv", [header, *legs])
    run = run_script("01_webex_go_adoption", settings.warehouse)
    nb = run.namespace["nb"]
    latest = nb.query(
        "select user_name, location_name from fct_call_legs where is_webex_go "
        "order by start_time desc, report_id desc limit 1"
    ).row(0)
    top = run.namespace["top_users"]
    assert top.height == 1
    assert (top["user_name"][0], top["location_name"][0]) == latest
    assert latest[1] == "Moved Office"


def test_top_webex_go_users_tied_are_listed_alike_on_both_tiers(
    run_script: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ties of minutes and legs were broken by the user id, which the analyst tier shows as
    a pseudonym that sorts otherwise: users tied at the cut-off were listed on one tier and
    not the other. Seven users with one Webex Go leg of the same length each: both tiers list
    them in one order (the earlier leg first)."""
    src = SAMPLES / "dch_export_2026-09-30_2026-10-31.csv"
    with src.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(header)}
    go = [r for r in rows if r[col["Sub client type"]] == "MOBILE_NETWORK" and r[col["User UUID"]]]
    firsts: dict[str, list[str]] = {}
    for r in sorted(go, key=lambda r: r[col["Start time"]]):
        firsts.setdefault(r[col["User UUID"]], r)
    tied = list(firsts.values())[:7]
    assert len(tied) == 7
    for r in tied:
        r[col["Duration"]] = "60"
    settings = _warehouse_of(tmp_path / "dch_tied.csv", [header, *tied])
    listed = {}
    for tier in ("full", "analyst"):
        monkeypatch.setenv("CDR_TIER", tier)
        top = run_script("01_webex_go_adoption", settings.warehouse).namespace["top_users"]
        listed[tier] = top["user_uuid"].to_list()
    con = duckdb.connect(str(settings.warehouse / "cdr.duckdb"), read_only=True)
    try:
        hidden = dict(
            con.execute("select value, pseudonym from analyst_base.pseudonym_map").fetchall()
        )
    finally:
        con.close()
    assert len(listed["full"]) == 7
    assert [hidden[u] for u in listed["full"]] == listed["analyst"]
    assert listed["full"] == [r[col["User UUID"]] for r in tied]


def test_top_webex_go_users_count_each_leg_once_and_unknown_minutes_as_unknown(
    run_script: Any, tmp_path: Path
) -> None:
    """Notebook 01's top users summed `coalesce(duration_seconds, 0)` over every record: a leg
    both of whose records were the user's counted twice, and a user whose legs had no
    Duration showed 0.0 minutes, where the webex-go-adoption report (section 1) counts each
    leg once and leaves an unknown Duration unknown. Two users at two locations: one with a
    leg of two records (120 s each), one whose only leg has no Duration."""
    src = SAMPLES / "dch_export_2026-09-30_2026-10-31.csv"
    with src.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(header)}
    go = [
        r
        for r in rows
        if r[col["Sub client type"]] == "MOBILE_NETWORK"
        and r[col["User UUID"]]
        and r[col["Local call ID"]]
        and r[col["Remote call ID"]]
    ]
    first = go[0]
    other = next(
        r
        for r in go
        if r[col["User UUID"]] != first[col["User UUID"]]
        and r[col["Location"]] != first[col["Location"]]
    )
    first[col["Duration"]] = "120"
    mirror = list(first)  # the leg's other record, the same user's
    mirror[col["Report ID"]] = "mirror-" + first[col["Report ID"]]
    mirror[col["Local call ID"]], mirror[col["Remote call ID"]] = (
        first[col["Remote call ID"]],
        first[col["Local call ID"]],
    )
    mirror[col["Direction"]] = "TERMINATING"
    other[col["Duration"]] = ""
    settings = _warehouse_of(tmp_path / "dch_legs.csv", [header, first, mirror, other])
    ns = run_script("01_webex_go_adoption", settings.warehouse).namespace
    top = ns["top_users"]
    assert top.select("location_name", "webex_go_legs", "webex_go_minutes").rows() == [
        (first[col["Location"]], 2, 2.0),
        (other[col["Location"]], 1, None),
    ]
    adoption = ns["adoption"]
    assert dict(zip(top["location_name"], top["webex_go_minutes"], strict=True)) == dict(
        zip(adoption["location_name"], adoption["webex_go_minutes"], strict=True)
    )
