"""One local Spark session (local[2], UTC) for the Spark tests of this folder (pyspark comes
with the `spark` extra, which `make test` installs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="package")
def spark() -> Iterator[Any]:
    from cdr_pipeline.spark.session import spark_session

    # small data: two shuffle partitions (one per core) instead of 200
    session = spark_session("local[2]", "cdr-tests", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()
