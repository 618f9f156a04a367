"""`extra`: the JSON object of a record's unknown columns (those that hold a value).

Built from the chunk's values in long form, one row per value present, rather than as one
expression per unknown column: a JSON chunk's columns are the keys of all its records, and
records that each carry keys of their own (1,900 between them, within `max_columns`) made
a query of thousands of expressions per chunk, the costliest step of loading such a file.
A chunk holds at most 2 million fields (`chunk.py`), so the long form is bounded too.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

_OPEN = len('{"v":')  # json_encode of a one-field struct: {"v":<value>}


def _encoded(value: pl.Expr) -> pl.Expr:
    """`value` as a JSON string; polars escapes a struct's field names the same way, so a
    header encoded so is the key `{"header":"value"}` would have."""
    text = pl.struct(value.alias("v")).struct.json_encode()
    return text.str.slice(_OPEN, text.str.len_chars() - _OPEN - 1)


def extra_json(
    raw: pl.DataFrame, columns: list[tuple[str, str]], clean: Callable[[pl.Expr], pl.Expr]
) -> pl.Series:
    """`extra` of each row of `raw`: `{"header":"value",...}` over `columns` (raw column,
    header), in their order, of the values `clean` leaves; NULL for a row where none holds
    a value (a null member would make a record's content depend on its neighbours in the
    chunk, the chunk size and the export)."""
    names = [c for c, _ in columns]
    keys = pl.DataFrame(
        {"__col": names, "__rank": range(len(names)), "__key": [h for _, h in columns]},
        schema={"__col": pl.String, "__rank": pl.Int64, "__key": pl.String},
    ).with_columns(pl.concat_str(_encoded(pl.col("__key")), pl.lit(":")).alias("__key"))
    long = (
        raw.select(names)
        .with_row_index("__row")
        .unpivot(index="__row", variable_name="__col", value_name="__v")
        .filter(pl.col("__v").is_not_null())
        .with_columns(clean(pl.col("__v")).alias("__v"))
        .filter(pl.col("__v").is_not_null())
        .join(keys, on="__col")
        .sort("__row", "__rank")
        .group_by("__row", maintain_order=True)
        .agg(pl.concat_str(pl.col("__key"), _encoded(pl.col("__v"))).str.join(","))
    )
    out = pl.Series("extra", [None] * raw.height, dtype=pl.String)
    if long.height:
        values = pl.concat_str(pl.lit("{"), long["__key"], pl.lit("}"))
        out = out.scatter(long["__row"], long.select(values).to_series())
    return out
