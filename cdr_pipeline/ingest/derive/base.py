"""What a per-kind derivation returns: derived columns and the row checks that quarantine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Check:
    """A row check: rows where `bad` is true are quarantined with `reason` and `detail`."""

    reason: str
    bad: pl.Expr
    detail: pl.Expr


Deriver = Callable[[pl.DataFrame], tuple[pl.DataFrame, list[Check]]]
"""Typed chunk in, the chunk with derived columns and the kind's extra row checks out."""
