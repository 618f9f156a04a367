"""The text of an Arrow column edited value by value, whatever string type holds it.

`cdr forget` edits the Parquet files outside the tables (rejects, the ledger, report
outputs). Those the pipeline writes hold plain strings and lists of them, but an export
written from polars or pandas keeps a categorical column as a dictionary of strings, and
its values were not looked at: the file read as holding none of the person's values. Text
in a type not edited here (a struct, a map) makes the column `Unsearchable`: the caller
names the file, never passes it over as clean.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

Edit = Callable[[str], str]


class Unsearchable(Exception):
    """A column holds text in a type `edited_column` does not edit."""


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _holds_text(t: pa.DataType) -> bool:
    """`t` or a type nested in it is a string type."""
    return _is_text(t) or any(_holds_text(t.field(i).type) for i in range(t.num_fields))


def edited_column(column: pa.ChunkedArray, edit: Edit) -> pa.ChunkedArray | None:
    """`column` with `edit` applied to each of its strings, in its own type; None when no
    value changed (or it holds no text)."""
    t = column.type
    if _is_text(t):
        values = column.to_pylist()
        new = [None if v is None else edit(v) for v in values]
        return None if new == values else pa.chunked_array([pa.array(new, t)])
    if pa.types.is_dictionary(t) and _is_text(t.value_type):
        plain = edited_column(column.cast(t.value_type), edit)
        return None if plain is None else plain.cast(t)
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and _is_text(t.value_type):
        lists = column.to_pylist()
        new_lists = [
            None if v is None else [None if s is None else edit(s) for s in v] for v in lists
        ]
        return None if new_lists == lists else pa.chunked_array([pa.array(new_lists, t)])
    if _holds_text(t):
        raise Unsearchable(str(t))
    return None
