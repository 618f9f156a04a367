"""One local Spark session (local[2], UTC) for the Spark tests of this folder (pyspark comes
with the `spark` extra, which `make test` installs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="package")
def spark() -> Iterator[Any]:
    from cdr_pipeline.spark.session import spark_session

    conf = {
        # small data: two shuffle partitions (one per core) instead of 200
        "spark.sql.shuffle.partitions": "2",
        # a test JVM runs each query plan a few times on small data: C2 spent more CPU
        # optimising the code than it saved (C1 alone, with one GC thread: a fifth to two
        # fifths less JVM CPU on the parity and rewrite tests). Same bytecode, same answers
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    session = spark_session("local[2]", "cdr-tests", conf)
    yield session
    session.stop()
