"""`cdr demo` as library code: the bundled samples ingested, validated, built and summed up."""

from __future__ import annotations

from pathlib import Path

from cdr_pipeline.batch.stages import DemoSummary, ingest_summary, validate_build
from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ProgressFn, ingest_paths
from cdr_pipeline.resources import samples_dir as samples_dir_of_package
from cdr_pipeline.state.lock import check_folder


def find_samples(samples_dir: Path | None, settings: Settings) -> tuple[Path, bool]:
    """The bundled samples (in the checkout or the installed package), else a freshly
    generated set."""
    if samples_dir is not None:
        return samples_dir, False
    bundled = samples_dir_of_package()
    if bundled.is_dir() and any(bundled.iterdir()):
        return bundled, False
    from cdr_pipeline.samples import generate_samples

    out = settings.warehouse.parent / "demo-samples"
    generate_samples(out)
    return out, True


def run_demo(
    settings: Settings, samples_dir: Path | None = None, progress: ProgressFn | None = None
) -> DemoSummary:
    """Ingest the samples, validate, build the views and take the headline figures."""
    check_folder(settings.layout)  # before the first stage: every later one would fail too
    source, generated = find_samples(samples_dir, settings)
    summary = DemoSummary(samples_dir=source, generated=generated, root=settings.warehouse)
    with summary.run_stage("ingest") as out:
        summary.ingest = ingest_paths(settings, [source], command="cdr demo", progress=progress)
        out[:] = [summary.ingest.exit_code, ingest_summary(summary.ingest)]
    validate_build(settings, summary, scope="all")
    if summary.build is not None:
        from cdr_pipeline.reports import headline_figures

        summary.headline = headline_figures(settings)
    return summary
