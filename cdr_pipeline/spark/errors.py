"""The error of the Spark rewrite."""

from __future__ import annotations

from cdr_pipeline.warehouse.catalog import ViewError


class RewriteError(ViewError):
    """A view uses a construct the Spark rewrite cannot express (exit 3, naming the view)."""
