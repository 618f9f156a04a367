"""`validate_warehouse` from `python -c` or `python - <<EOF`: a `__main__` without a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths

REPO = Path(__file__).resolve().parents[2]


def test_validate_from_python_c_returns_to_the_caller(tmp_path: Path, samples_dir: Path) -> None:
    """Great Expectations imports pyspark's Spark Connect client when pyspark is installed
    (the spark extra); without grpc that package calls sys.exit(0) on import when `__main__`
    has no file, taking the process for pyspark's own doctests. A script run as `python -c`
    (or `python - <<EOF`, a heredoc in a cron job) ended inside validate_warehouse with exit 0,
    nothing validated and the rest of the script never run."""
    wh = tmp_path / "warehouse"
    assert ingest_paths(Settings(warehouse=wh), [samples_dir / "entitlements.csv"]).exit_code == 0
    code = (
        "from cdr_pipeline.config import Settings\n"
        "from cdr_pipeline.quality import validate_warehouse\n"
        f"report = validate_warehouse(Settings(warehouse={str(wh)!r}), 'all')\n"
        "print('validated, exit', report.exit_code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args, stdin in (([sys.executable, "-c", code], None), ([sys.executable, "-"], code)):
        out = subprocess.run(
            args, input=stdin, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
        )
        assert out.returncode == 0, out.stderr
        assert "validated, exit 0" in out.stdout, out.stderr
