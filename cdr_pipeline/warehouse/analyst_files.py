"""File names in the analyst tier without the personal values they hold.

Every row records the file it was loaded from (`source_file`), and the ledger the file's
`path` and `source`: full paths, as the file was named. An export named after a person
(`calls of Grace Chen.csv`, `calls for grace.chen@example.com.csv`: a subject access
request, an investigation) named them there, on the analyst tier too, beside the pseudonym
of the same name. So the map holds, as rows of kind `file`, each such name with every
personal value in it (a name, an e-mail, a user id, a number of 7 digits or more, in any
case, a name also with its words joined by `_`, `-` or a blank as file names join them) replaced by
its pseudonym, and the analyst tier's staging and ledger views show that. The names come
from the ledger, which records each loaded file (`source` is the rows' `source_file`), so
no table is scanned for them.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import polars as pl
import pyarrow as pa

from cdr_pipeline.schema.personal import EMAIL, ID, NAME, NUMBER
from cdr_pipeline.state.secret import pseudonym
from cdr_pipeline.text import file_name_joins, is_name_of_words, lit, quote, unicode_forms

FILE_KIND = "file"
"""The map rows of file names (value: the name; pseudonym: the name without personal
values)."""
FILE_COLUMNS = frozenset({"source_file", "path", "source"})
"""Columns of the staging and ledger views that hold a file name."""
LEDGER_VIEW = "stg_ledger_files"
_KINDS = (NAME, EMAIL, ID, NUMBER)
_MIN_CHARS = 7
"""A shorter value (an extension, a short word) is not looked for in file names: dates,
times and counters there hold such digits and words by chance; a name of several words is
(`text.is_name_of_words`)."""


def _forms(value: str) -> list[str]:
    """`value` as a file name may write it: words joined by `_`, `-` or a blank, a comma
    between them dropped and a `Last, First` name also first-last (`text.file_name_joins`),
    an accented letter as one character or as the letter and its combining mark (as macOS
    writes names)."""
    return [joined for form in sorted(unicode_forms(value)) for joined in file_name_joins(form)]


def _index(values: Mapping[str, set[str]], key: bytes) -> dict[str, str]:
    """Each personal value (and joined form), case-folded -> its pseudonym."""
    out: dict[str, str] = {}
    for kind in _KINDS:
        for value in values.get(kind, ()):
            if (len(value) < _MIN_CHARS and not (kind == NAME and is_name_of_words(value))) or (
                kind == NUMBER and sum(map(str.isdigit, value)) < 7
            ):
                continue
            for form in _forms(value):
                out.setdefault(form.casefold(), pseudonym(key, kind, value))
    return out


def hidden_name(name: str, index: Mapping[str, str], longest: int) -> str:
    """`name` with each value of `index` that stands between characters that are not
    letters or digits (or the ends) replaced, the longest first at each position. Only
    such edges are tried as a value's start and end: a path has a few dozen, so a ledger
    of thousands of files costs milliseconds."""
    folded = name.casefold()
    if len(folded) != len(name):  # a letter whose case-fold is longer: compare as is
        folded = name
    edges = [k for k in range(len(name) + 1) if k == len(name) or not name[k].isalnum()]
    starts = {0} | {k + 1 for k in edges}
    out: list[str] = []
    i = 0
    while i < len(name):
        found = None
        if i in starts:
            for j in reversed(edges):
                if i < j <= i + longest and folded[i:j] in index:
                    found = j
                    break
        if found is None:
            out.append(name[i])
            i += 1
        else:
            out.append(index[folded[i:found]])
            i = found
    return "".join(out)


def file_rows(
    con: duckdb.DuckDBPyConnection, values: Mapping[str, set[str]], key: bytes
) -> pa.Table:
    """Map rows (kind `file`) of the ledger's file names that hold a personal value of
    `values` (kind -> values), each with its name without them."""
    names: set[str] = set()
    views = con.execute(
        "select 1 from duckdb_views() where schema_name = 'main' and view_name = ? "
        "and database_name = current_database()",
        [LEDGER_VIEW],
    ).fetchall()
    if views:
        rows = con.execute(f"select distinct path, source from main.{LEDGER_VIEW}").fetchall()
        names = {str(v) for row in rows for v in row if v is not None}
    index = _index(values, key) if names else {}
    longest = max(map(len, index), default=0)
    changed = {n: h for n in sorted(names) if (h := hidden_name(n, index, longest)) != n}
    columns = {
        "kind": [FILE_KIND] * len(changed),
        "value": list(changed),
        "pseudonym": list(changed.values()),
        "masked": [None] * len(changed),
    }
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String)).to_arrow()


def file_sql(value: str, source: str) -> str:
    """SQL of the file name `value` as the analyst tier shows it (the map `source`)."""
    lookup = f"(select m.pseudonym from {source} as m where m.kind = {lit(FILE_KIND)} "
    return f"coalesce({lookup}and m.value = {value}), {value})"


def with_files(
    con: duckdb.DuckDBPyConnection, table: pa.Table, values: Mapping[str, set[str]], key: bytes
) -> pa.Table:
    """The map `table` with the rows of the file names holding its values (`file_rows`)."""
    return pa.concat_tables([table, file_rows(con, values, key).cast(table.schema)])


def file_or(name: str, dtype: str, value: str, source: str) -> str:
    """The SQL select item of `value` (column `name` of a staging or ledger view): as it is,
    or a file name without the personal values it holds."""
    hidden = name in FILE_COLUMNS and dtype == "VARCHAR"
    return f"{file_sql(value, source)} as {quote(name)}" if hidden else value
