"""The built wheel works outside the checkout: it carries the SQL and the samples, and
`cdr demo` and `cdr build` run from an empty folder of a fresh virtualenv."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        cwd=out,
    )
    (built,) = out.glob("cdr_pipeline-*.whl")
    return built


def test_the_wheel_carries_sql_samples_and_licence(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = {n for n in names if n.startswith("cdr_pipeline/_data/sql/") and n.endswith(".sql")}
    assert {Path(n).name for n in sql} == {p.name for p in (REPO / "sql").glob("*.sql")}
    samples = {Path(n).name for n in names if n.startswith("cdr_pipeline/_data/samples/")}
    assert samples == {p.name for p in (REPO / "data" / "samples").iterdir() if p.is_file()}
    assert any(n.endswith("licenses/LICENSE") for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: Apache-2.0" in text


def test_the_wheel_carries_the_data_docs_assets(wheel: Path) -> None:
    """Offline Data Docs need the vendored scripts, styles, fonts and their licences."""
    from cdr_pipeline.quality.offline import CDN_ASSETS, assets_dir

    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"cdr_pipeline/quality/assets/{p.relative_to(assets_dir()).as_posix()}"
        for p in assets_dir().rglob("*")
        if p.is_file()
    }
    assert shipped <= names
    assert {f"cdr_pipeline/quality/assets/{f}" for f in CDN_ASSETS.values()} <= names
    assert any(n.endswith("fontawesome-free-6.6.0/webfonts/fa-solid-900.woff2") for n in names)
    assert len([n for n in shipped if "/LICENSE" in n]) >= 10


def test_wheel_in_a_fresh_venv_runs_demo_and_build_from_an_empty_folder(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    # no pip of its own (ensurepip took 4 s of CPU): this pip installs into it (`--python`)
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp_path,
    )
    # the dependencies come from this test's environment (no download); a path entry in a
    # .pth file does not run that environment's own .pth files, so the checkout stays unseen
    site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
        ).strip()
    )
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDR_", "PYTHON"))}
    where = _run(
        [str(py), "-c", "import cdr_pipeline; print(cdr_pipeline.__file__)"], cwd=empty, env=env
    )
    assert Path(where.strip()).is_relative_to(venv), where
    cdr = str(venv / "bin" / "cdr")
    out = _run([cdr, "-q", "demo"], cwd=empty, env=env)
    assert "rows loaded" in out
    assert (empty / "warehouse" / "cdr.duckdb").is_file()
    _run([cdr, "build"], cwd=empty, env=env)
    report = _run([cdr, "report", "reconciliation", "--format", "csv"], cwd=empty, env=env)
    assert report.splitlines()[0].startswith("month,")


def test_the_wheel_imported_from_its_zip_finds_its_sql(wheel: Path, tmp_path: Path) -> None:
    """docs/spark.md's spark-submit passes the wheel with `--py-files`: Spark puts the zip
    first on the driver's path, so the package is imported from inside it. The build then
    failed (exit 3, "SQL folder .../cdr_pipeline-0.1.0-py3-none-any.whl/cdr_pipeline/_data/sql
    does not exist"): a folder inside a zip is no folder on disk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDR_", "PYTHON"))}
    env["PYTHONPATH"] = str(wheel)
    where = _run(
        [sys.executable, "-c", "import cdr_pipeline; print(cdr_pipeline.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert Path(where.strip()).is_relative_to(wheel), where
    out = tmp_path / "spark_sql"
    _run(
        [sys.executable, "-m", "cdr_pipeline", "sql", "--dialect", "spark", "--out", str(out)],
        cwd=tmp_path,
        env=env,
    )
    views = {p.stem.split("_", 1)[1] for p in out.glob("*.sql")}
    assert {p.stem for p in (REPO / "sql").glob("*.sql") if not p.stem.startswith("_")} <= views
