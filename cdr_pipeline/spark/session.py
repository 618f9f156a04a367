"""A Spark session set up the way the emitted views need it, and materialising them.

The views assume the session time zone is UTC (the rewrite turns `timezone()` into
`from_utc_timestamp` / `to_utc_timestamp`, which are exact only then) and write timestamps
as microseconds. `SPARK_REMOTE` selects Spark Connect; otherwise `master` (or what
`spark-submit` passed) runs the classic session.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.spark.views import EmittedView

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_session(
    master: str | None = None,
    app_name: str = "cdr-pipeline",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """Get or create the session (`SPARK_REMOTE` -> Spark Connect) with `SESSION_CONF` and
    `conf` (e.g. fewer shuffle partitions for small data on a local session). Raises
    `ConfigError` (exit 3) when pyspark is not installed or Spark's Java cannot start."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            f"pyspark cannot be imported ({exc})",
            hint="install the spark extra: pip install 'cdr-pipeline[spark]' (docs/spark.md)",
        ) from exc

    builder = SparkSession.builder.appName(app_name)
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        builder = builder.remote(remote)
    elif master:
        builder = builder.master(master)
        if master.startswith("local"):
            # Python tasks (distributed ingest) run in worker processes started with
            # PYSPARK_PYTHON, else the `python3` on PATH, which may lack this package;
            # locally the right one is this interpreter (a cluster sets its own)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**SESSION_CONF, **(conf or {})}.items():
        if remote and key.startswith("spark.ui"):
            continue
        builder = builder.config(key, value)
    spark = _start(builder)
    # a session that existed before (spark-submit, a notebook) keeps its settings otherwise
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


SQL_CONF = ("spark.sql.session.timeZone", "spark.sql.parquet.outputTimestampType")
"""The settings of `SESSION_CONF` the views' answers depend on (settable on a running session)."""


@contextmanager
def view_settings(spark: SparkSession) -> Iterator[None]:
    """`SQL_CONF` as the views need them (UTC, microseconds) while the block runs, then as
    they were: a session the caller made (a notebook, Databricks) may have another time
    zone, in which `from_utc_timestamp`, date casts and `hour` give other days and hours."""
    before = {key: spark.conf.get(key, None) for key in SQL_CONF}
    for key in SQL_CONF:
        spark.conf.set(key, SESSION_CONF[key])
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _start(builder: SparkSession.Builder) -> SparkSession:
    """The session; an operator without Java (or with a JAVA_HOME that points nowhere) gets
    a configuration error naming what to fix, not pyspark's JAVA_GATEWAY_EXITED traceback
    as an unexpected error (exit 1, "a bug")."""
    from pyspark.errors import PySparkRuntimeError

    try:
        return builder.getOrCreate()
    except PySparkRuntimeError as exc:
        if exc.getCondition() != "JAVA_GATEWAY_EXITED":
            raise
        home = os.environ.get("JAVA_HOME")
        java = (
            f"JAVA_HOME is {home}"
            if home
            else f"JAVA_HOME is not set, java on PATH: {shutil.which('java') or 'none'}"
        )
        raise ConfigError(
            f"Spark could not start its Java process ({java})",
            hint="install Java 17 or later and set JAVA_HOME to it (or put its java on PATH)",
        ) from exc


@dataclass(frozen=True)
class MaterialisedView:
    name: str
    path: str
    rows: int
    seconds: float


_PATTERN = re.compile(r"([\\{}\[\]*?])")


def literal_path(path: str) -> str:
    """`path` escaped so Hadoop takes it literally: it reads `[...]`, `{...}`, `*` and `?`
    in a path given to `spark.read` as a file pattern (a target under `marts [1]/` was
    written, then not found when read back)."""
    return _PATTERN.sub(r"\\\1", path)


def _writable(df: DataFrame) -> DataFrame:
    """Columns of NULL type (an untyped NULL literal) cannot be written: make them strings."""
    from pyspark.sql.types import NullType

    for f in df.schema.fields:
        if isinstance(f.dataType, NullType):
            df = df.withColumn(f.name, df[f.name].cast("string"))
    return df


def materialise(
    spark: SparkSession, views: list[EmittedView], target: str | os.PathLike[str]
) -> list[MaterialisedView]:
    """Create every view in order and write it as Parquet under `target/<view>/` (any path
    Spark writes: a folder, s3://, abfss://...), then point the view's name at those files,
    so later views read the result instead of recomputing the whole chain (unmaterialised
    chains were measured many times slower)."""
    out = []
    root = str(target).rstrip("/")
    for view in views:
        t0 = time.monotonic()
        spark.sql(view.statement())
        path = f"{root}/{view.name}"
        _writable(spark.table(view.name)).write.mode("overwrite").parquet(path)
        stored = spark.read.parquet(literal_path(path))
        stored.createOrReplaceTempView(view.name)
        rows = stored.count()
        out.append(MaterialisedView(view.name, path, rows, time.monotonic() - t0))
    return out
