"""Warehouses and runners shared by the notebook tests.

Two warehouses: the demo warehouse plus two drifted exports (one loads with a new column,
one fails with quarantined rows), and a warehouse with nothing ingested. Two ways to run a
notebook: `run_notebook` executes the committed `.ipynb` in a real python3 kernel (nbclient,
as Jupyter does); `run_script` executes the cells of the percent script in this process with
matplotlib's Agg backend, so a test can look at the figures and variables it leaves.
"""

from __future__ import annotations

import csv
import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.quality import validate_warehouse
from cdr_pipeline.warehouse import build_warehouse

REPO = Path(__file__).resolve().parents[2]
NB_DIR = REPO / "notebooks"
SAMPLES = REPO / "data" / "samples"
STEMS = [
    "01_webex_go_adoption",
    "02_licence_reconciliation",
    "03_call_flows",
    "04_data_quality",
]
NEW_COLUMN = "Network slice"
DROPPED_COLUMN = "Client version"
BAD_START = "not-a-timestamp"
PARAMETER_ENV = ("CDR_NOTEBOOK_MONTH", "CDR_NOTEBOOK_LOCATION", "CDR_NOTEBOOK_DEPARTMENT")


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
    """The demo warehouse (the ingest and validation of data/samples/ `cdr demo` runs),
    then two drifted exports: one loads (a new column), one fails its reject rate (rows
    quarantined); then the views are built, once: `cdr demo`'s own build (and its headline
    figures), which the build after the drifted exports replaced, is left out."""
    root = tmp_path_factory.mktemp("nb_demo")
    settings = Settings(warehouse=root / "warehouse")
    demo = ingest_paths(settings, [SAMPLES], command="cdr demo")
    assert demo.exit_code == 0, [(f.path, f.status, f.message) for f in demo.files]
    report = validate_warehouse(settings, "all")
    assert report.exit_code == 0, [r.id for r in report.errors]
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
    build_warehouse(settings)  # as `cdr ingest` ends: else every notebook warns its views lag
    return settings.warehouse


@pytest.fixture(scope="session")
def empty_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with views built but nothing ingested, validated or loaded."""
    settings = Settings(warehouse=tmp_path_factory.mktemp("nb_empty") / "warehouse")
    build_warehouse(settings)
    return settings.warehouse


def run_notebook(stem: str, warehouse: Path, **env: str) -> NotebookNode:
    """Execute a committed notebook in a fresh python3 kernel started in notebooks/ (as
    Jupyter does); nbclient raises CellExecutionError on the first failing cell. `env` sets
    e.g. CDR_NOTEBOOK_MONTH; the parameters not given are empty (no filter)."""
    nb = nbformat.read(NB_DIR / f"{stem}.ipynb", as_version=4)
    full_env = {
        **os.environ,
        **dict.fromkeys(PARAMETER_ENV, ""),
        "CDR_WAREHOUSE": str(warehouse),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        **env,
    }
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(NB_DIR)}}
    )
    client.execute(env=full_env)
    return nb


@dataclass
class ScriptRun:
    """What a notebook script left behind: its variables and its (still open) figures."""

    namespace: dict[str, Any]
    figures: list[Any]


def injected(parameters: dict[str, object]) -> str:
    """The cell papermill adds after the `parameters` cell: plain assignments."""
    return "\n".join(f"{name} = {value!r}" for name, value in parameters.items())


def script_cells(stem: str, parameters: dict[str, object] | None = None) -> list[str]:
    """The code cells of a notebook script; with `parameters`, a papermill-style cell of
    assignments follows the cell tagged `parameters`."""
    notebook = jupytext.read(NB_DIR / f"{stem}.py")
    cells: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cells.append(cell.source)
        if parameters is not None and "parameters" in cell.metadata.get("tags", []):
            cells.append(injected(parameters))
    return cells


@pytest.fixture
def run_script(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """Run a notebook script in this process (Agg backend), cell by cell in one namespace."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    opened: list[Any] = []

    def run(
        stem: str, warehouse: Path, parameters: dict[str, object] | None = None, **env: str
    ) -> ScriptRun:
        plt.close("all")
        monkeypatch.chdir(NB_DIR)
        monkeypatch.setenv("CDR_WAREHOUSE", str(warehouse))
        for name in PARAMETER_ENV:
            monkeypatch.setenv(name, env.get(name, ""))
        namespace: dict[str, Any] = {"__name__": "__main__"}
        with warnings.catch_warnings():
            # plt.show() on Agg only warns that it cannot open a window
            warnings.filterwarnings("ignore", message=".*non-interactive.*")
            for source in script_cells(stem, parameters):
                exec(compile(source, f"{stem}.py", "exec"), namespace)
        opened.append(namespace.get("nb"))
        return ScriptRun(namespace, [plt.figure(n) for n in plt.get_fignums()])

    yield run
    plt.close("all")
    for nb in opened:
        if nb is not None:
            nb.close()
