"""`cdr sql`: the SQL of every view, one portable statement per file, for Spark or DuckDB."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdr_pipeline.cli.context import CliContext, OutPath, pass_cli, writing_output


@click.command("sql", short_help="Write the SQL of every view for DuckDB or Spark.")
@click.option(
    "--dialect",
    type=click.Choice(["spark", "duckdb"]),
    default="spark",
    show_default=True,
    help="SQL dialect to write.",
)
@click.option(
    "--out",
    "out_dir",
    type=OutPath(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write NN_<view>.sql into (earlier NN_*.sql files there are replaced).",
)
@pass_cli
def sql(obj: CliContext, dialect: str, out_dir: Path) -> None:
    """Write every view (sql/ and the generated stg_*/cfg_* views) as NN_<view>.sql, NN the
    dependency order, each one `CREATE OR REPLACE TEMPORARY VIEW` statement. The views read
    the base tables call_legs, device_snapshots, device_events, entitlements, org_directory,
    ledger_runs, ledger_files and ledger_retention by name: register them first
    (docs/spark.md). Settings such as
    reporting_timezone are baked in, as `cdr build` does.

    Exits 3 when a view uses SQL the Spark rewrite cannot express (it names the file)."""
    from cdr_pipeline.spark.views import emit_views, write_views

    views = emit_views(obj.settings(), dialect)
    with writing_output(out_dir):
        paths = write_views(views, out_dir)
    if not obj.quiet:
        for path in paths:
            click.echo(str(path))
    click.echo(f"wrote {len(paths)} {dialect} views into {out_dir}")
    sys.exit(0)


COMMANDS = [sql]
