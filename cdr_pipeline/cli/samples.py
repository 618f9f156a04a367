"""`cdr samples` and `cdr demo`."""

from __future__ import annotations

import logging
import shlex
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cdr_pipeline.cli.context import (
    CliContext,
    OutPath,
    echo,
    json_option,
    pass_cli,
    wait_lock_option,
    writing_output,
)
from cdr_pipeline.cli.render import Progress, ingest_table, paragraph, text_table
from cdr_pipeline.render import plain, to_json

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cdr_pipeline.samples import SamplesResult, ScaleResult

BULK_ROWS = 20_000
"""Above this many rows `cdr samples` writes the bulk set (the small one takes minutes)."""


@click.command(short_help="Generate synthetic inputs of every kind.")
@click.option(
    "--out",
    type=OutPath(path_type=Path, file_okay=False),
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
    type=click.IntRange(min=1),
    default=61,
    show_default=True,
    help="Days covered from --start (at least 6 for the small set; ending by 9979-12-31).",
)
@click.option("--no-zip", is_flag=True, help="Do not wrap the first export in a ZIP.")
@click.option(
    "--bulk/--no-bulk",
    default=None,
    help=f"Force the fast bulk set (default above {BULK_ROWS:,} rows) or the small set.",
)
@click.option(
    "--labels",
    "labels_path",
    type=OutPath(path_type=Path, dir_okay=False),
    help="Where to write the anomaly labels (small set: OUT-labels.json beside --out; "
    "bulk set: OUT/.labels.json, hidden from `cdr ingest`).",
)
@json_option
@pass_cli
def samples(
    obj: CliContext,
    out: Path,
    legs: int,
    seed: int,
    start: object,
    days: int,
    no_zip: bool,
    bulk: bool | None,
    labels_path: Path | None,
    as_json: bool,
) -> None:
    """Generate synthetic inputs of every kind (call exports, API JSON, device snapshots,
    activation events, entitlements, org directory), deterministic by seed. No real subscriber data.

    Above 20,000 rows (or with --bulk) the fast bulk set is written instead: monthly Control
    Hub exports cloned from whole calls, with the device files of the same world, streamed
    in bounded memory with progress."""
    from cdr_pipeline.samples import generate_samples

    assert hasattr(start, "date")
    _check_span(start.date(), days)
    warned = _warn_future(start.date(), days)
    if bulk or (bulk is None and legs > BULK_ROWS):
        _bulk(obj, out, legs, seed, start.date(), days, labels_path, as_json, warned)
        return
    if days < 6:
        raise click.BadParameter("the small set needs at least 6 days", param_hint="--days")
    with writing_output(out):
        res = generate_samples(
            out,
            legs=legs,
            seed=seed,
            start=start.date(),
            days=days,
            zip_export=not no_zip,
            labels_path=labels_path,
        )
    if not warned:
        _warn_future_events(res.last_event_time)
    if _printed_as_json_or_files(res, as_json):
        return
    echo(
        f"{res.legs:,} legs ({res.webex_go_legs:,} Webex Go), {res.devices} Webex Go "
        f"devices, {len(res.updated_report_ids)} updated records; labels in {res.labels}",
        err=True,
    )


LAST_DAY = date(9979, 12, 31)
"""Sets end by then: past it the dates of the set (and the bulk set's device spans, up to
ten years on) overflowed Python's last year, 9999 (`--days 99999999999`: exit 1, "report
it")."""


def _check_span(start: date, days: int) -> None:
    """A usage error (exit 2) for a window that runs past `LAST_DAY`."""
    if days > (LAST_DAY - start).days:
        raise click.BadParameter(
            f"{start} plus {days:,} day(s) runs past {LAST_DAY}: give fewer days or an "
            "earlier --start",
            param_hint="--days",
        )


def _warn_future(start: date, days: int) -> bool:
    """Say so when the set runs past now: its records would be dated after they are
    loaded, which `cdr validate` fails (error severity: call legs, device snapshots and
    events), so a nightly over it would exit 4."""
    end = datetime.combine(start + timedelta(days=days), datetime.min.time(), UTC)
    now = datetime.now(UTC)
    if end > now:
        log.warning(
            "the set runs to %s, today or later (today is %s UTC): cdr validate fails "
            "records dated after they were loaded; pick --start and --days whose last day is "
            "before today to validate it",
            f"{end - timedelta(days=1):%Y-%m-%d}",
            f"{now:%Y-%m-%d}",
        )
        return True
    return False


def _warn_future_events(latest: str) -> None:
    """A device back ONLINE after a flap can be dated days after the set's last day: say so
    when that is after now, as `_warn_future` says it of the last day."""
    if latest > f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}":
        log.warning(
            "the set's activation events run to %s, after now: cdr validate fails records "
            "dated after they were loaded; pick an earlier --start to validate it",
            latest[:10],
        )


def _bulk(
    obj: CliContext,
    out: Path,
    legs: int,
    seed: int,
    start: date,
    days: int,
    labels_path: Path | None,
    as_json: bool = False,
    warned: bool = False,
) -> None:
    from cdr_pipeline.ingest import ProgressEvent
    from cdr_pipeline.samples import GenerationProgress, generate_scale_samples

    progress = Progress(obj.quiet or as_json)

    def report(p: GenerationProgress) -> None:
        # Progress shows bytes_read / total_bytes as the percentage: here, rows of the target
        progress(ProgressEvent(p.source, p.rows_written, p.rows_written, p.rows_total, p.done))

    t0 = time.monotonic()
    with writing_output(out):
        res = generate_scale_samples(
            out,
            legs=legs,
            seed=seed,
            start=start,
            days=days,
            labels_path=labels_path,
            progress=report,
        )
    seconds = time.monotonic() - t0
    if not warned:
        _warn_future_events(res.last_event_time)
    if _printed_as_json_or_files(res, as_json):
        return
    echo(
        f"{res.legs:,} legs ({res.webex_go_legs:,} Webex Go) in {len(res.files) - 4} monthly "
        f"exports, {res.bytes_written / 1e9:.2f} GB, {seconds:.0f} s; {res.devices} Webex Go "
        f"devices; labels in {res.labels}",
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
        if summary.ingest.errors:  # as every error ends: which warehouse, from where
            echo(f"warehouse: {settings.warehouse_text}", err=True)
    echo()
    echo(
        text_table(
            ["stage", "exit", "seconds", "result"],
            [(s.name, s.exit_code, round(s.seconds, 1), s.summary) for s in summary.stages],
            wrap_last=True,
        )
    )
    h = summary.headline
    if h:
        echo()
        share = h.get("webex_go_share")
        echo(
            paragraph(
                f"{h.get('month')}: {h.get('calls', 0):,} calls, "
                f"{h.get('webex_go_calls', 0):,} through Webex Go"
                + (f" ({share:.1%})" if share is not None else "")
            )
        )
        echo(
            paragraph(
                f"{h.get('month')}: {h['licence_note']}"
                if h.get("licence_note")
                else f"{h.get('month')}: Webex Go licences bought "
                f"{h.get('licences_bought')} vs held {h.get('licences_held_peak')} (peak; "
                f"{h.get('licences_held_month_end')} at month end); "
                f"{h.get('idle_licences')} idle"
            )
        )
    if summary.validation is not None:
        echo(paragraph(f"Data Docs: {summary.validation.data_docs_index}"))
    echo(
        paragraph(
            f"Query: duckdb.connect('{settings.layout.duckdb}', read_only=True), then the "
            "pseudonymised analyst tier: select * from analyst.fct_calls  (views listed in "
            "sql/README.md; main.* is the full tier with personal data)"
        )
    )
    echo(paragraph(notebooks_hint(settings.warehouse)))
    reports = "cdr report --list  (then e.g. cdr report licence-usage --month YYYY-MM)"
    echo(paragraph(f"Reports: {reports}"))
    sys.exit(summary.exit_code)


def notebooks_hint(warehouse: Path) -> str:
    """How to open the notebooks on the warehouse the demo built. `make notebooks` alone
    reads the checkout's `warehouse/` (docs/notebooks.md): the demo's only when it ran
    there, so the line names the warehouse."""
    where = shlex.quote(str(warehouse.resolve()))
    return (
        f"Notebooks: CDR_WAREHOUSE={where} make notebooks  (in the checkout: JupyterLab on "
        "notebooks/ against this warehouse; docs/notebooks.md)"
    )


COMMANDS = [samples, demo]


def _printed_as_json_or_files(res: SamplesResult | ScaleResult, as_json: bool) -> bool:
    """Print the result as JSON (True: nothing more to say) or the files written, one a line."""
    if as_json:
        echo(to_json(res))
        return True
    for f in res.files:
        echo(str(f))
    return False
