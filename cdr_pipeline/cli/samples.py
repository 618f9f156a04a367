"""`cdr samples` and `cdr demo`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdr_pipeline.cli.context import CliContext, echo, json_option, pass_cli, wait_lock_option
from cdr_pipeline.cli.render import Progress, ingest_table, text_table
from cdr_pipeline.render import plain, to_json


@click.command(short_help="Generate synthetic inputs of every kind.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("samples"),
    show_default=True,
    help="Folder to write the inputs into.",
)
@click.option(
    "--rows",
    "legs",
    type=click.IntRange(min=100),
    default=4000,
    show_default=True,
    help="Call legs to generate.",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Random seed: the same seed and options give the same files.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2026-09-01",
    show_default=True,
    help="First day (UTC).",
)
@click.option(
    "--days",
    type=click.IntRange(min=6),
    default=61,
    show_default=True,
    help="Days of calls from --start.",
)
@click.option("--no-zip", is_flag=True, help="Do not wrap the first export in a ZIP.")
@json_option
def samples(
    out: Path, legs: int, seed: int, start: object, days: int, no_zip: bool, as_json: bool
) -> None:
    """Generate synthetic inputs of every kind (call exports, API JSON, device snapshots,
    activation events, entitlements), deterministic by seed. No real subscriber data."""
    from cdr_pipeline.samples import generate_samples

    assert hasattr(start, "date")
    res = generate_samples(
        out, legs=legs, seed=seed, start=start.date(), days=days, zip_export=not no_zip
    )
    if as_json:
        echo(to_json(res))
        return
    for f in res.files:
        echo(str(f))
    echo(
        f"{res.legs:,} legs ({res.webex_go_legs:,} Webex Go), {res.devices} Webex Go "
        f"devices, {len(res.updated_report_ids)} updated records; labels in {res.labels}",
        err=True,
    )


@click.command(short_help="The whole flow on the samples, with a summary.")
@click.option(
    "--samples",
    "samples_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Inputs to load (default data/samples, else generated).",
)
@wait_lock_option
@json_option
@pass_cli
def demo(
    obj: CliContext, samples_dir: Path | None, lock_wait_seconds: float | None, as_json: bool
) -> None:
    """The whole flow on the bundled samples into a local warehouse, with a summary:
    ingest, validate (Data Docs), build the views, headline figures."""
    from cdr_pipeline.batch import run_demo

    settings = obj.settings(lock_wait_seconds=lock_wait_seconds)
    summary = run_demo(settings, samples_dir, progress=Progress(obj.quiet or as_json))
    if as_json:
        echo(to_json({"exit_code": summary.exit_code} | plain(summary)))
        sys.exit(summary.exit_code)
    echo(
        f"cdr demo: {summary.samples_dir}"
        f"{' (generated)' if summary.generated else ''} -> {settings.warehouse}"
    )
    if summary.ingest is not None:
        echo(ingest_table(summary.ingest.files, short_names=True))
        for f in summary.ingest.errors:
            echo(f"error: {f.message}", err=True)
    echo()
    echo(
        text_table(
            ["stage", "exit", "seconds", "result"],
            [(s.name, s.exit_code, round(s.seconds, 1), s.summary) for s in summary.stages],
        )
    )
    h = summary.headline
    if h:
        echo()
        share = h.get("webex_go_share")
        echo(
            f"{h.get('month')}: {h.get('calls', 0):,} calls, "
            f"{h.get('webex_go_calls', 0):,} through Webex Go"
            + (f" ({share:.1%})" if share is not None else "")
        )
        echo(
            f"{h.get('month')}: Webex Go licences held {h.get('licences_held_month_end')} "
            f"at month end (peak {h.get('licences_held_peak')}) vs "
            f"{h.get('licences_bought')} bought; {h.get('idle_licences')} idle"
        )
    if summary.validation is not None:
        echo(f"Data Docs: {summary.validation.data_docs_index}")
    echo(
        f"Query: duckdb.connect('{settings.layout.duckdb}', read_only=True)  "
        "(views listed in sql/README.md)"
    )
    echo("Notebooks: make notebooks  (opens JupyterLab on notebooks/ against this warehouse)")
    echo("Reports: cdr report --list  (then e.g. cdr report licence-usage --month YYYY-MM)")
    sys.exit(summary.exit_code)


COMMANDS = [samples, demo]
