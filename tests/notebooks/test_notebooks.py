"""The analyst notebooks run top to bottom (nbclient, real kernel) against real warehouses.

Three warehouses: the demo warehouse plus two drifted exports (one loads with a new column,
one fails with quarantined rows), a warehouse with nothing ingested, and the demo warehouse
looked at through a month that has no data. A cell error fails the test (nbclient raises);
the tests also check what the notebooks show: charts where there is data, "No data" notes
where there is none, the drifted column and the reject reason in the data quality notebook.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from cdr_pipeline.batch import run_demo
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.warehouse import build_warehouse

REPO = Path(__file__).resolve().parents[2]
NB_DIR = REPO / "notebooks"
SAMPLES = REPO / "data" / "samples"
NOTEBOOKS = sorted(p.name for p in NB_DIR.glob("*.ipynb"))
EXPECTED = [
    "01_webex_go_adoption.ipynb",
    "02_licence_reconciliation.ipynb",
    "03_call_flows.ipynb",
    "04_data_quality.ipynb",
]
MONTHLY = EXPECTED[:3]  # the data quality notebook is about loads, not a month of calls
NEW_COLUMN = "Network slice"
DROPPED_COLUMN = "Client version"
BAD_START = "not-a-timestamp"


# --------------------------------------------------------------------------------------------
# warehouses


def _drifted_export(src: Path, out: Path, n: int, bad_rows: int, salt: str) -> None:
    """`n` rows of a sample export with fresh Report/Correlation IDs (so they are new calls,
    not duplicates), one column dropped, one new column, and `bad_rows` unparseable start
    times."""
    with src.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1 : n + 1]
    drop = header.index(DROPPED_COLUMN)
    fresh = {header.index("Report ID"), header.index("Correlation ID")}
    start = header.index("Start time")
    out_rows = [[h for i, h in enumerate(header) if i != drop] + [NEW_COLUMN]]
    for r, row in enumerate(body):
        new = [
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}:{v}")) if i in fresh else v
            for i, v in enumerate(row)
        ]
        if r < bad_rows:
            new[start] = BAD_START
        out_rows.append([v for i, v in enumerate(new) if i != drop] + ["5g-slice-1"])
    with out.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(out_rows)


@pytest.fixture(scope="session")
def demo_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo warehouse (ingest + validate + build of data/samples/), then two drifted
    exports: one loads (a new column), one fails its reject rate (rows quarantined)."""
    root = tmp_path_factory.mktemp("nb_demo")
    settings = Settings(warehouse=root / "warehouse")
    summary = run_demo(settings, SAMPLES)
    assert summary.exit_code == 0, [(s.name, s.summary) for s in summary.stages]
    src = SAMPLES / "dch_export_2026-09-30_2026-10-31.csv"
    drift_dir = root / "drift"
    drift_dir.mkdir()
    _drifted_export(src, drift_dir / "dch_drift_ok.csv", n=12, bad_rows=0, salt="ok")
    _drifted_export(src, drift_dir / "dch_drift_bad.csv", n=10, bad_rows=3, salt="bad")
    result = ingest_paths(settings, [drift_dir], command="cdr ingest")
    by_name = {Path(f.path).name: f for f in result.files}
    assert by_name["dch_drift_ok.csv"].rows_loaded == 12
    assert by_name["dch_drift_bad.csv"].status == "failed"
    assert by_name["dch_drift_bad.csv"].rows_rejected == 3
    return settings.warehouse


@pytest.fixture(scope="session")
def empty_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with views built but nothing ingested, validated or loaded."""
    settings = Settings(warehouse=tmp_path_factory.mktemp("nb_empty") / "warehouse")
    build_warehouse(settings)
    return settings.warehouse


def run_notebook(name: str, warehouse: Path, month: str = "") -> NotebookNode:
    """Execute a committed notebook in a fresh python3 kernel started in notebooks/ (as
    Jupyter does); nbclient raises CellExecutionError on the first failing cell."""
    nb = nbformat.read(NB_DIR / name, as_version=4)
    env = {
        **os.environ,
        "CDR_WAREHOUSE": str(warehouse),
        "CDR_NOTEBOOK_MONTH": month,
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(NB_DIR)}}
    )
    client.execute(env=env)
    return nb


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


# --------------------------------------------------------------------------------------------
# committed notebooks


def test_the_four_notebooks_exist() -> None:
    assert NOTEBOOKS == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_without_outputs(name: str) -> None:
    raw = json.loads((NB_DIR / name).read_text(encoding="utf-8"))
    nbformat.validate(nbformat.from_dict(raw))
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] for c in code), "commit notebooks without outputs"
    assert all(c["execution_count"] is None for c in code), "commit without execution counts"
    first = raw["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "**Question.**" in "".join(first["source"])
    assert "**How to read it.**" in "".join(first["source"])


def test_committed_notebooks_equal_the_generator() -> None:
    """notebooks/build_notebooks.py is the source of truth: run it after editing a cell."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", NB_DIR / "build_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.NOTEBOOKS) == EXPECTED
    for name in EXPECTED:
        assert (NB_DIR / name).read_text(encoding="utf-8") == module.render(name), (
            f"{name} differs from build_notebooks.py: run `python notebooks/build_notebooks.py`"
        )


def _repo_root_function() -> Any:
    """`repo_root` as defined in the setup cell of notebook 01, compiled on its own."""
    nb = nbformat.read(NB_DIR / EXPECTED[0], as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    tree = ast.parse("\n".join(line for line in setup.splitlines() if not line.startswith("%")))
    keep: list[ast.stmt] = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "repo_root"
    ]
    assert keep, "the setup cell defines repo_root()"
    namespace: dict[str, Any] = {"Path": Path, "NOTEBOOK": EXPECTED[0]}
    exec(compile(ast.Module(keep, type_ignores=[]), "setup", "exec"), namespace)
    return namespace["repo_root"]


def test_default_warehouse_is_next_to_notebooks_from_any_start_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo_root = _repo_root_function()
    for start in (NB_DIR, REPO, REPO / "sql"):
        monkeypatch.chdir(start)
        assert repo_root() == REPO.resolve(), start


# --------------------------------------------------------------------------------------------
# executed notebooks


@pytest.fixture(scope="session")
def demo_runs(demo_wh: Path) -> dict[str, NotebookNode]:
    return {name: run_notebook(name, demo_wh) for name in EXPECTED}


@pytest.mark.parametrize("name", EXPECTED)
def test_runs_on_the_demo_warehouse_with_charts(
    demo_runs: dict[str, NotebookNode], name: str
) -> None:
    nb = demo_runs[name]
    assert_clean(nb)
    assert_charts_labelled(nb)
    assert pngs(nb) >= 3, f"{name} drew {pngs(nb)} chart(s)"
    assert "**No data**" not in text_of(nb) or name == "04_data_quality.ipynb"


def test_adoption_shows_every_location_and_webex_go_users(
    demo_runs: dict[str, NotebookNode], demo_wh: Path
) -> None:
    import duckdb

    con = duckdb.connect(str(demo_wh / "cdr.duckdb"), read_only=True)
    locations = [
        r[0] for r in con.sql("select distinct location_name from fct_call_legs").fetchall()
    ]
    top = con.execute(
        "select any_value(user_name) from fct_call_legs where is_webex_go "
        "group by user_uuid order by sum(duration_seconds) desc, count(*) desc, user_uuid limit 1"
    ).fetchone()
    con.close()
    shown = text_of(demo_runs["01_webex_go_adoption.ipynb"])
    for location in locations:
        assert location in shown
    assert top is not None and top[0] in shown


def test_data_quality_shows_drift_rejects_failed_file_and_validation(
    demo_runs: dict[str, NotebookNode],
) -> None:
    shown = text_of(demo_runs["04_data_quality.ipynb"])
    assert "dch_drift_bad.csv" in shown  # the failed file is listed
    assert "failed" in shown
    assert "network_slice" in shown.lower().replace(" ", "_")  # the new column (drift)
    assert "client_version" in shown.lower().replace(" ", "_")  # the dropped one
    assert BAD_START in shown  # a quarantined row's raw text
    assert "passed" in shown  # the latest validation of the demo
    assert "**No data** for rejected rows" not in shown


@pytest.mark.parametrize("name", EXPECTED)
def test_runs_on_an_empty_warehouse_with_no_data_notes(empty_wh: Path, name: str) -> None:
    nb = run_notebook(name, empty_wh)
    assert_clean(nb)
    assert "**No data**" in text_of(nb)
    assert pngs(nb) == 0  # nothing to plot, and nothing drawn from nothing


@pytest.mark.parametrize("name", MONTHLY)
def test_a_month_without_data_shows_no_data(demo_wh: Path, name: str) -> None:
    nb = run_notebook(name, demo_wh, month="2020-01")
    assert_clean(nb)
    shown = text_of(nb)
    assert "**No data**" in shown and "month 2020-01" in shown
