"""Building every view on Spark: read the base tables, materialise the views in dependency
order as Parquet tables under a target path, and append a run record there."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.spark.session import MaterialisedView, materialise, view_settings
from cdr_pipeline.spark.tables import is_delta, register_tables, table_files
from cdr_pipeline.spark.views import emit_views
from cdr_pipeline.state.files import folder_mode

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

RUNS_FOLDER = "_cdr_runs"
"""Under the target path: one JSON line per build (the run record)."""


@dataclass
class SparkBuildResult:
    run_id: str
    target: str
    source: str
    """How the base tables were read: "delta" or "files" (the current file list)."""
    started_at: str
    seconds: float
    spark_version: str
    views: list[MaterialisedView] = field(default_factory=list)

    def record(self) -> dict[str, object]:
        data = asdict(self)
        data["views"] = json.dumps([asdict(v) for v in self.views])
        return data


def has_delta_reader(spark: SparkSession) -> bool:
    """Whether the session was started with Delta Lake's SQL extension (its jars present)."""
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    return "delta" in extensions.lower()


def choose_source(spark: SparkSession, settings: Settings, requested: str) -> str:
    if requested not in ("auto", "delta", "files"):
        raise ConfigError(f"unknown table format {requested!r}", hint="use auto, delta or files")
    delta = any(is_delta(t) for t in table_files(settings))
    if requested == "delta" and not has_delta_reader(spark):
        raise ConfigError(
            "--format delta, but this Spark session has no Delta Lake extension",
            hint="start Spark with the delta-spark jars and spark.sql.extensions set "
            "(docs/spark.md), or use --format files",
        )
    if requested == "auto":
        return "delta" if delta and has_delta_reader(spark) else "files"
    return requested


def require_warehouse(settings: Settings) -> None:
    """Refuse a folder that is not a warehouse (as `cdr`'s reading commands do): a typo in
    --warehouse read as empty tables and overwrote every view table under the target with
    an empty one."""
    if not settings.layout.is_warehouse():
        raise ConfigError(
            f"{settings.warehouse.absolute()} is not a warehouse "
            "(no state/, tables/ or cdr.duckdb in it)",
            hint="check --warehouse, CDR_WAREHOUSE or cdr.toml, or load data first with "
            "`cdr ingest`",
        )


def require_zone(spark: SparkSession, zone: str) -> None:
    """Refuse a reporting time zone the Java under Spark does not know: Python's and
    DuckDB's time zone data may be newer (America/Coyhaique, tzdata 2025b), and the build
    stopped after its first views with the traceback of an unexpected INVALID_TIMEZONE."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    probe = F.from_utc_timestamp(F.lit("2000-01-01 00:00:00").cast("timestamp"), zone)
    try:
        spark.range(1).select(probe).collect()
    except PySparkException as exc:
        raise ConfigError(
            f"reporting_timezone {zone!r} is not a time zone this Spark knows "
            "(its Java's time zone data is older than Python's)",
            hint="update the Java Spark runs on, or set --reporting-timezone to a zone with "
            "the same clock that Java knows",
        ) from exc


ZONE_RULES_FROM = datetime(2015, 1, 1, tzinfo=UTC)
ZONE_RULES_STEP = 6 * 3600
"""`require_same_zone_rules` compares the zone's offset every 6 hours from 2015 (before
Webex Calling) to the end of next year."""


def _probe_instants() -> range:
    end = datetime(datetime.now(UTC).year + 2, 1, 1, tzinfo=UTC)
    return range(int(ZONE_RULES_FROM.timestamp()), int(end.timestamp()), ZONE_RULES_STEP)


def require_same_zone_rules(spark: SparkSession, zone: str) -> None:
    """Refuse a reporting time zone whose rules differ between the Java under Spark and
    DuckDB: a country that changed its clocks after the Java's time zone data was made (Cuba
    keeps UTC-4 from November 2026 in DuckDB's data, Java 17's tzdata 2025a goes back to
    UTC-5) gave every local time, day and month of the views other values on Spark, silently."""
    import duckdb
    from pyspark.sql import functions as F

    probes = _probe_instants()
    instant = F.timestamp_seconds(F.lit(probes.start) + F.col("id") * probes.step)
    offset = F.unix_seconds(F.from_utc_timestamp(instant, zone)) - F.unix_seconds(instant)
    rows = spark.range(len(probes)).select("id", offset.alias("offset")).collect()
    java = [int(r["offset"]) for r in sorted(rows, key=lambda r: r["id"])]
    con = duckdb.connect()
    try:
        duck = [
            int(r[0])
            for r in con.execute(
                "select cast(epoch(timezone(?, to_timestamp(s))) - s as bigint) "
                "from range(?, ?, ?) t(s) order by s",
                [zone, probes.start, probes.stop, probes.step],
            ).fetchall()
        ]
    finally:
        con.close()
    for at, theirs, ours in zip(probes, java, duck, strict=True):
        if theirs != ours:
            when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%MZ")
            raise ConfigError(
                f"reporting_timezone {zone!r} has other rules in this Spark's Java than in "
                f"DuckDB: at {when} it is UTC{_hours(theirs)} there, UTC{_hours(ours)} in "
                "DuckDB (one of them has older time zone data); the views would differ",
                hint="update the Java Spark runs on (its tzdata) or DuckDB, so that both "
                "have the zone's current rules",
            )


def _hours(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _local_root(target: str) -> Path | None:
    """The folder of a local `target`; None for an object store (`s3://`, `abfss://`),
    whose access control is the store's."""
    if target.startswith("file:"):
        return Path(target.removeprefix("file:"))  # file:/x, file:///x
    return None if "://" in target else Path(target)


def _master(spark: SparkSession) -> str:
    """The session's master (`local[2]`, `yarn`); empty where it cannot be read (Spark
    Connect may refuse a static setting)."""
    try:
        return str(spark.conf.get("spark.master", "") or "")
    except Exception:  # a Connect server's refusal: treat the target as remote
        return ""


def close_local_target(spark: SparkSession, target: str, file_mode: int) -> None:
    """Before the build: a local `target` folder only the owner (and with `file_mode` 0o640
    the group) can enter, so no view table is readable by others while it is written.
    Created here only on a local master: on a cluster a path without a scheme may be on
    the cluster's file system (HDFS, DBFS), not on the driver's disk."""
    root = _local_root(target)
    if root is None:
        return
    if not root.is_dir() and _master(spark).startswith("local"):
        root.mkdir(parents=True, exist_ok=True)
    if root.is_dir():
        os.chmod(root, folder_mode(file_mode))


def restrict_local_output(target: str, file_mode: int) -> None:
    """After the build: the view tables under a local `target` get the warehouse's
    `file_mode` (their folders its search bits too). They hold the full tier, every name and
    number in clear, and Hadoop writes them 0644 in 0755 folders whatever the process umask
    (its own `fs.permissions.umask-mode`, fixed when the session first used the file
    system)."""
    root = _local_root(target)
    if root is None or not (root / RUNS_FOLDER).is_dir():  # not written on this disk
        return
    folders = folder_mode(file_mode)
    os.chmod(root, folders)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), folders)
        for name in files:
            os.chmod(os.path.join(folder, name), file_mode)


def build_on_spark(
    spark: SparkSession, settings: Settings, target: str, table_format: str = "auto"
) -> SparkBuildResult:
    """Materialise every view of `settings`' warehouse under `target` and record the run
    (in the session time zone UTC, whatever the session's own: `view_settings`)."""
    require_warehouse(settings)
    with view_settings(spark):
        return _build(spark, settings, target, table_format)


def _build(
    spark: SparkSession, settings: Settings, target: str, table_format: str
) -> SparkBuildResult:
    t0 = time.monotonic()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    source = choose_source(spark, settings, table_format)
    require_zone(spark, settings.reporting_timezone)
    require_same_zone_rules(spark, settings.reporting_timezone)
    close_local_target(spark, target, settings.file_mode)
    register_tables(spark, table_files(settings), source)
    views = emit_views(settings, "spark")
    result = SparkBuildResult(
        run_id=f"spark-{started.replace(':', '').replace('-', '')[:15]}-{secrets.token_hex(3)}",
        target=target,
        source=source,
        started_at=started,
        seconds=0.0,
        spark_version=spark.version,
    )
    result.views = materialise(spark, views, target)
    result.seconds = round(time.monotonic() - t0, 3)
    spark.createDataFrame([result.record()]).coalesce(1).write.mode("append").json(
        f"{target.rstrip('/')}/{RUNS_FOLDER}"
    )
    restrict_local_output(target, settings.file_mode)
    log.info("built %d views on Spark into %s in %.1fs", len(views), target, result.seconds)
    return result
