"""`python -m cdr_pipeline.spark build`: every view materialised on a Spark cluster.

Usable as is (`--master local[4]`), through `spark-submit` (which passes the master), and
with Spark Connect (`SPARK_REMOTE=sc://host:15002`). Exit codes as `cdr` (docs/spark.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cdr_pipeline.config import load_settings
from cdr_pipeline.errors import EXIT_UNEXPECTED, CdrError


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from cdr_pipeline.spark.build import build_on_spark
        from cdr_pipeline.spark.session import spark_session

        settings = load_settings(
            args.config,
            {"warehouse": args.warehouse, "reporting_timezone": args.reporting_timezone},
        )
        spark = spark_session(args.master, "cdr-pipeline build")
        result = build_on_spark(spark, settings, args.target, args.table_format)
    except CdrError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code
    except Exception as exc:
        logging.getLogger(__name__).exception("unexpected error")
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
        return EXIT_UNEXPECTED
    for view in result.views:
        sys.stdout.write(f"{view.name}\t{view.rows} rows\t{view.seconds:.1f}s\n")
    sys.stdout.write(
        f"built {len(result.views)} views into {result.target} in {result.seconds:.1f}s "
        f"(tables read as {result.source}; run {result.run_id})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
