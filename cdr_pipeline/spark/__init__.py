"""Scale-out on Apache Spark: the views as Spark SQL (a tested rewrite of the DuckDB SQL of
`sql/`), and a build that materialises them on a cluster. See docs/spark.md.

pyspark is imported only where a session is used (the `spark` extra installs it); writing
the SQL (`cdr sql`) needs only sqlglot.
"""
