"""`python -m cdr_pipeline.spark build`: every view materialised on a Spark cluster;
`python -m cdr_pipeline.spark ingest PATHS...`: files staged by Spark tasks, committed here.

Usable as is (`--master local[4]`), through `spark-submit` (which passes the master), and
with Spark Connect (`SPARK_REMOTE=sc://host:15002`). Exit codes as `cdr` (docs/spark.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cdr_pipeline.config import load_settings
from cdr_pipeline.errors import EXIT_UNEXPECTED, CdrError
from cdr_pipeline.render import to_json
from cdr_pipeline.schema import SCHEMAS

if TYPE_CHECKING:
    from cdr_pipeline.ingest.results import IngestResult


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cdr_pipeline.spark")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="materialise every view as Parquet tables")
    build.add_argument("--warehouse", type=Path, help="warehouse folder (as `cdr --warehouse`)")
    build.add_argument("--config", type=Path, help="cdr.toml to read")
    build.add_argument(
        "--target", required=True, help="where the view tables go (folder, s3://, abfss://...)"
    )
    build.add_argument("--master", help="Spark master (spark-submit passes its own)")
    build.add_argument(
        "--format",
        dest="table_format",
        choices=["auto", "delta", "files"],
        default="auto",
        help="read Delta tables with Spark's Delta reader, or the current file list (auto: "
        "delta when the tables are Delta and the session has the Delta extension)",
    )
    build.add_argument("--reporting-timezone", help="override reporting_timezone")
    ingest = commands.add_parser(
        "ingest", help="load files as `cdr ingest` does, each file read by a Spark task"
    )
    ingest.add_argument("paths", nargs="+", type=Path, help="files or folders")
    ingest.add_argument("--warehouse", type=Path, help="warehouse folder (as `cdr --warehouse`)")
    ingest.add_argument("--config", type=Path, help="cdr.toml to read")
    ingest.add_argument("--master", help="Spark master (spark-submit passes its own)")
    ingest.add_argument("--kind", choices=sorted(SCHEMAS), help="force the input kind")
    ingest.add_argument("--chunk-rows", type=int, help="rows per chunk (memory bound per task)")
    ingest.add_argument(
        "--max-reject-rate", type=float, help="share of a file's rows that may be quarantined"
    )
    ingest.add_argument(
        "--wait-lock", type=float, dest="lock_wait_seconds", help="seconds to wait for the lock"
    )
    ingest.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "ingest":
        return _ingest(args)
    try:
        from cdr_pipeline.spark.build import build_on_spark, require_warehouse
        from cdr_pipeline.spark.session import spark_session

        settings = load_settings(
            args.config,
            {"warehouse": args.warehouse, "reporting_timezone": args.reporting_timezone},
        )
        require_warehouse(settings)  # before Spark starts
        spark = spark_session(args.master, "cdr-pipeline build")
        result = build_on_spark(spark, settings, args.target, args.table_format)
    except Exception as exc:
        return _failed(exc)
    for view in result.views:
        sys.stdout.write(f"{view.name}\t{view.rows} rows\t{view.seconds:.1f}s\n")
    sys.stdout.write(
        f"built {len(result.views)} views into {result.target} in {result.seconds:.1f}s "
        f"(tables read as {result.source}; run {result.run_id})\n"
    )
    return 0


def _failed(exc: Exception) -> int:
    """Say what stopped the command; its exit code (as `cdr`'s)."""
    if isinstance(exc, CdrError):
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code
    logging.getLogger(__name__).exception("unexpected error")
    sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
    return EXIT_UNEXPECTED


def _ingest(args: argparse.Namespace) -> int:
    """Distributed ingest, then the DuckDB views rebuilt over the new versions (as
    `cdr ingest` does). Prints one line per file and a summary, or JSON."""
    try:
        from cdr_pipeline.spark.ingest import ingest_on_spark
        from cdr_pipeline.spark.session import spark_session
        from cdr_pipeline.warehouse import build_warehouse

        settings = load_settings(
            args.config,
            {
                "warehouse": args.warehouse,
                "chunk_rows": args.chunk_rows,
                "max_reject_rate": args.max_reject_rate,
                "lock_wait_seconds": args.lock_wait_seconds,
            },
        )
        spark = spark_session(args.master, "cdr-pipeline ingest")
        result = ingest_on_spark(spark, settings, args.paths, kind=args.kind)
    except Exception as exc:
        code = _failed(exc)
        if args.json and isinstance(exc, CdrError):  # as `cdr ingest --json`: never empty
            document = {"exit_code": code, "error": exc.message, "hint": exc.hint or None}
            sys.stdout.write(to_json(document) + "\n")
        return code
    views = 0
    if result.table_versions:  # committed: the data stays even if a view does not build
        try:
            build_warehouse(settings)
        except Exception as exc:
            views = _failed(exc)
    if args.json:
        sys.stdout.write(to_json(result) + "\n")
    else:
        for f in result.files:
            sys.stdout.write(f"{f.source}\t{f.kind or '-'}\t{f.summary()}\n")
        sys.stdout.write(
            f"run {result.run_id}: {len(result.files)} file(s), "
            f"{result.total('rows_loaded'):,} rows loaded, "
            f"{result.total('rows_rejected'):,} rejected, {result.seconds:.1f}s\n"
        )
        _notes(result)
        for f in result.errors:
            sys.stderr.write(f"error: {f.message}\n")
    return result.exit_code or views


def _notes(result: IngestResult) -> None:
    """The notes `cdr ingest` shows on stderr: a skipped re-delivery, an empty file, new
    columns kept in `extra` (header drift an operator should look at), a crashed run this
    one cleaned up after. Without them the same files said less here than on one machine."""
    for f in result.files:
        if f.status == "skipped" or (f.message and f.status != "failed"):
            sys.stderr.write(f"note: {f.source}: {f.message}\n")
        if f.unknown_columns:
            sys.stderr.write(f"note: {f.source}: {f.new_columns_note()}\n")
    note = result.interrupted_note()
    if note:
        sys.stderr.write(f"note: {note}\n")


if __name__ == "__main__":
    sys.exit(main())
