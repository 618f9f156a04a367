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
        # small data: compiling generated code and re-planning each stage (adaptive
        # execution) cost more than they save; interpreted, without the UI, the Spark tests
        # took 142 s instead of 159 s (-n 0), the parity tests 94 s instead of 124 s. The
        # answers are the same: codegen and AQE are optimisations, not semantics
        "spark.sql.codegen.wholeStage": "false",
        "spark.sql.codegen.factoryMode": "NO_CODEGEN",
        "spark.sql.adaptive.enabled": "false",
        "spark.ui.enabled": "false",
        # a test JVM runs each query plan a few times on small data: C2 spent more CPU
        # optimising the code than it saved (C1 alone, with one GC thread: a fifth to two
        # fifths less JVM CPU on the parity and rewrite tests). Same bytecode, same answers.
        # C1 alone reserves 48 MiB for compiled code, which Spark's generated classes filled
        # half-way through the first parity build ("CodeCache is full. Compiler has been
        # disabled."): every later query ran interpreted. 240 MiB is the tiered default
        "spark.driver.extraJavaOptions": (
            "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=240m"
        ),
    }
    session = spark_session("local[2]", "cdr-tests", conf)
    yield session
    session.stop()
