"""The test session's JVM (conftest.py) keeps compiling: C1 alone reserves 48 MiB for compiled
code, which Spark's generated classes filled half-way through the first parity build, and
the JVM then disabled its compiler ("CodeCache is full"): every later query of the session
ran interpreted."""

from __future__ import annotations

from typing import Any


def test_the_code_cache_holds_a_session_of_spark_tests(spark: Any) -> None:
    jvm = spark.sparkContext._jvm
    pools = jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans()
    code = [p for p in pools if "code" in str(p.getName()).lower()]
    assert code, [str(p.getName()) for p in pools]
    reserved = sum(int(p.getUsage().getMax()) for p in code)
    assert reserved >= 200 * 2**20, f"{reserved / 2**20:.0f} MiB for compiled code"
