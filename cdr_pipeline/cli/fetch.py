"""`cdr fetch`: pull call records from the Webex APIs into the warehouse."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from cdr_pipeline.cli.build import refresh_views
from cdr_pipeline.cli.context import (
    CliContext,
    echo,
    json_option,
    max_reject_rate_option,
    pass_cli,
    wait_lock_option,
)
from cdr_pipeline.cli.render import Progress, text_table
from cdr_pipeline.config import REGIONS
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.render import safe_text, to_json
from cdr_pipeline.text import iso_seconds

if TYPE_CHECKING:
    from cdr_pipeline.fetch import FetchResult

REGION_CHOICES = list(REGIONS)


@click.command(short_help="Pull call records from the Webex APIs.")
@click.option(
    "--source",
    type=click.Choice(["feed", "stream"]),
    help="cdr_feed (12 h windows over the last 30 days, on report time) or cdr_stream "
    "(2 h windows over the last 12 h, on insertion time). Default: [fetch] source, else feed.",
)
@click.option("--since", help="Start (UTC ISO-8601, e.g. 2026-10-01T00:00:00Z). Default: "
              "the watermark minus the overlap.")  # fmt: skip
@click.option("--until", help="End (UTC ISO-8601). Default: as late as the API allows.")
@click.option(
    "--locations",
    help="Comma-separated location names (at most 10) to restrict the records to.",
)
@click.option("--report-id", help="Download this Control Hub report (Reports API) and load it.")
@click.option("--region", type=click.Choice(REGION_CHOICES), help="Regional API host.")
@click.option("--base-url", help="Send every request to this base URL (a proxy or test server).")
@max_reject_rate_option
@wait_lock_option
@json_option
@pass_cli
def fetch(
    obj: CliContext,
    source: str | None,
    since: str | None,
    until: str | None,
    locations: str | None,
    report_id: str | None,
    region: str | None,
    base_url: str | None,
    max_reject_rate: float | None,
    lock_wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Pull Detailed Call History records from the Webex APIs into the warehouse.

    The token comes from WEBEX_TOKEN or [fetch] token_file in cdr.toml. Without --since a
    run continues where the last one stopped (per org and source), re-reading an overlap for
    late records. Every page is saved under <warehouse>/state/fetched/ before it is loaded.

    Exits 1 when the API cannot be reached, 3 on a configuration problem or a page that
    could not be loaded, 5 when another writer holds the lock."""
    from cdr_pipeline.fetch import fetch_records
    from cdr_pipeline.fetch.runs import record_idle_run, record_refused_run

    if report_id is not None and not report_id.strip():
        # `--report-id "$ID"` with the variable unset: a feed fetch ran instead, exit 0
        raise click.BadParameter("the report id is empty", param_hint="--report-id")
    if report_id and (source or since or until or locations):
        raise click.UsageError("--report-id cannot be combined with --source/--since/--until")
    _check_range(since, until)
    # a page failing the reject gate says to raise --max-reject-rate: the rerun that does
    # loads the saved page with it
    settings = obj.settings(lock_wait_seconds=lock_wait_seconds, max_reject_rate=max_reject_rate)
    names = [n.strip() for n in locations.split(",") if n.strip()] if locations else None
    if locations is not None and not names:
        # `--locations "$SITES"` with the variable unset: a run over every location (or
        # [fetch] locations) ran instead, exit 0, and moved the watermark of another set
        raise click.BadParameter(
            f"{locations!r} names no location; to fetch every location leave --locations out",
            param_hint="--locations",
        )
    try:
        result = fetch_records(
            settings,
            source,
            since,
            until,
            report_id=report_id,
            locations=names,
            region=region,
            base_url=base_url,
            # a backfill is paced by the API (a minute a window): a line that moves on a
            # terminal, not an hour of silence
            progress=Progress(obj.quiet or as_json),
        )
    except ConfigError as exc:
        record_refused_run(settings, exc, report_id)
        raise
    record_idle_run(settings, result)
    if as_json:
        echo(to_json(result))
    else:
        _render(result)
    if result.error is not None:
        echo(f"error: {result.error.message}", err=True)
        if result.error.hint:
            echo(f"hint: {result.error.hint}", err=True)
    if result.error is not None or any(i.errors for i in result.ingests):
        echo(f"warehouse: {settings.warehouse_text}", err=True)  # as every error ends
    code = refresh_views(
        obj,
        any(i.table_versions for i in result.ingests),
        as_json,
        [i.run_id for i in result.ingests],
    )
    sys.exit(result.exit_code or code)


def _render(result: FetchResult) -> None:
    """The windows as a table, a summary line, then notes and errors on stderr."""
    if result.windows:
        echo(
            text_table(
                ["window start", "window end", "pages", "records"],
                [
                    (
                        f"{w.start:%Y-%m-%d %H:%M:%S}",
                        f"{w.end:%Y-%m-%d %H:%M:%S}",
                        w.pages,
                        w.records,
                    )
                    for w in result.windows
                ],
            )
        )
    what = f"report {result.report_id}" if result.report_id else result.source
    echo(
        f"fetch {what}: {len(result.windows)} window(s), {len(result.pages)} page(s), "
        f"{result.records:,} records; {result.total('rows_loaded'):,} rows loaded, "
        f"{result.total('rows_duplicate'):,} duplicate, "
        f"{result.total('rows_rejected'):,} rejected"
        + (
            f", {result.rows_loaded_before:,} in pages loaded before"
            if result.rows_loaded_before
            else ""
        )
        + f"; {result.seconds:.1f}s"
    )
    if result.replayed_pages:
        echo(f"note: loaded {len(result.replayed_pages)} page(s) saved by an earlier run", err=True)
    if not result.report_id:
        before = iso_seconds(result.watermark_before) if result.watermark_before else "none"
        after = iso_seconds(result.watermark_after) if result.watermark_after else "none"
        echo(f"watermark: {before} -> {after}", err=True)
    for note in result.notes:
        echo(f"note: {note}", err=True)
    for note in result.page_notes():  # as `cdr ingest` prints a file's
        echo(f"note: {note}", err=True)
    for ingest in result.ingests:
        for f in ingest.errors:
            echo(f"error: {safe_text(f.message)}", err=True)


def _check_range(since: str | None, until: str | None) -> None:
    """A usage error (exit 2) for a range that is a typo, not an empty window to note (exit
    0, which a cron job takes for a night with nothing new): swapped, or from the future."""
    first, last = _check_time("--since", since), _check_time("--until", until)
    if first and last and first > last:
        raise click.UsageError(f"--since {since} is after --until {until}: swap them?")
    if first and first > datetime.now(UTC):  # a typo of the year: nothing served from then
        raise click.UsageError(f"--since {since} is in the future: nothing is served from then")


def _check_time(flag: str, text: str | None) -> datetime | None:
    """The time given, or a usage error (exit 2) for one that is not ISO-8601, before the
    lock or the API."""
    from cdr_pipeline.fetch.windows import OutOfRange, parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except OutOfRange:
        raise click.BadParameter(
            f"{text!r} is out of range: in UTC it falls before year 1 or after 9999",
            param_hint=flag,
        ) from None
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 time (e.g. 2026-10-01T00:00:00Z)", param_hint=flag
        ) from None


COMMANDS = [fetch]
