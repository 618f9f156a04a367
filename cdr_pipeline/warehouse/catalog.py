"""The view catalog: every view `cdr build` creates, with its layer, header and references.

Views come from two places:
- `sql/<name>.sql`, one view per file, file stem = view name, starting with a header comment
  (`-- grain: ...` / `-- key: col[, col]`);
- generated views (see `staging.py`): `stg_<table>` for every registered raw table, the raw
  ledger relations and `cfg_settings`.

The load order is derived from the SQL itself: a view depends on every known view name it
mentions (comments and string literals ignored). A cycle, a reference to a view of a higher
layer, or an unknown `stg_/int_/fct_/dim_/rpt_` name after FROM/JOIN is a `ViewError` (exit 3)
naming the file, so nobody keeps an order list by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cdr_pipeline.errors import ConfigError

# Rank of each layer: a view may read views of its own rank or lower, never higher.
LAYER_RANKS: dict[str, int] = {
    "cfg": 0,
    "stg": 1,
    "int": 2,
    "fct": 3,
    "dim": 3,
    "rpt": 4,
    "audit": 4,
}
AUDIT_VIEWS = ("ingest_runs", "ingest_files")
"""Public views without a layer prefix: the ledger, for audit."""

_PREFIXED = re.compile(r"^(stg|int|fct|dim|rpt|cfg)_[a-z0-9_]+$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FROM_JOIN = re.compile(r"\b(?:from|join)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_HEADER = re.compile(r"^--\s*([A-Za-z_ ]+?)\s*:\s*(.*?)\s*$")


class ViewError(ConfigError):
    """A view definition cannot be used: bad header, cycle, layer violation, SQL error."""


@dataclass(frozen=True)
class ViewSpec:
    name: str
    sql: str
    """The SELECT statement (no trailing semicolon)."""
    grain: str
    key: tuple[str, ...]
    origin: str
    """`sql/<name>.sql` for files, `generated` otherwise; error messages name it."""
    doc: str = ""
    refs: frozenset[str] = field(default_factory=frozenset)

    @property
    def layer(self) -> str:
        return layer_of(self.name)

    @property
    def generated(self) -> bool:
        return self.origin == "generated"


def layer_of(name: str) -> str:
    if name in AUDIT_VIEWS:
        return "audit"
    match = _PREFIXED.match(name)
    if not match:
        raise ViewError(
            f"view {name!r} has no layer prefix",
            hint="name views stg_*, int_*, fct_*, dim_* or rpt_* (or one of "
            f"{', '.join(AUDIT_VIEWS)})",
        )
    return match.group(1)


_NOISE = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*'?", re.DOTALL)


def _blank(match: re.Match[str]) -> str:
    token = match.group(0)
    return "" if token.startswith("--") else " " if token.startswith("/*") else "''"


def strip_sql_noise(sql: str) -> str:
    """SQL with comments and string literals blanked, so names inside them are not references.
    (One regular expression: a character loop in Python took a second of every build.)"""
    return _NOISE.sub(_blank, sql)


def parse_header(text: str, origin: str) -> tuple[str, tuple[str, ...], str]:
    """(grain, key columns, free-text description) from the leading `--` comment block."""
    grain = key = None
    doc: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _HEADER.match(stripped)
        label = match.group(1).strip().lower() if match else ""
        if match and label == "grain":
            grain = match.group(2)
        elif match and label == "key":
            key = match.group(2)
        else:
            doc.append(stripped[2:].strip())
    if not grain or not key:
        missing = " and ".join(k for k, v in (("grain", grain), ("key", key)) if not v)
        raise ViewError(
            f"{origin}: header comment lacks {missing}",
            hint="start the file with '-- grain: one row per ...' and '-- key: col[, col]'",
        )
    cols = tuple(c.strip() for c in key.split(",") if c.strip())
    return grain, cols, " ".join(d for d in doc if d)


def read_sql_file(path: Path) -> ViewSpec:
    """Parse one `sql/<view>.sql` file (header and statement)."""
    origin = f"sql/{path.name}"
    text = path.read_text(encoding="utf-8")
    grain, key, doc = parse_header(text, origin)
    body = strip_sql_noise(text).strip().rstrip(";").strip()
    if ";" in body:
        raise ViewError(f"{origin}: holds more than one statement", hint="one view per file")
    if not body:
        raise ViewError(f"{origin}: holds no SELECT statement")
    return ViewSpec(path.stem, _statement(text), grain, key, origin, doc)


def _statement(text: str) -> str:
    """The file's SELECT, comments kept, without the closing `;` and what follows it (only
    comments), ending with a newline: the build also reads it inside parentheses (`select *
    from (...)`), where a file ending with a `--` comment commented out the closing one and
    a `;` ended the statement early (a Parser Error, not the exit 3 naming the file). Blank
    lines before it are kept, so line n of the statement is line n of the file."""
    sql = text.rstrip()
    while True:
        head, semicolon, tail = sql.rpartition(";")
        if not semicolon or strip_sql_noise(tail).strip():
            return sql + "\n"
        sql = head.rstrip()


_ERROR_LINE = re.compile(r"^LINE (\d+):")


def create_view_sql(spec: ViewSpec) -> str:
    """The statement creating `spec`'s view, its SELECT on the `as` line itself: DuckDB's
    `LINE n` of an error in it is then line n of the file (a line break after `as` made it
    the line below the one at fault)."""
    return f"create or replace view {spec.name} as {spec.sql}"


def view_build_error(spec: ViewSpec, exc: Exception) -> ViewError:
    """`spec`'s view failing to build, said on one line: the file and the line DuckDB points
    at (`sql/rpt_x.sql line 3: view rpt_x does not build: Parser Error: syntax error at or
    near "selec"`), with DuckDB's other notes (`Did you mean ...`); the line DuckDB quotes
    and its caret, which a one-line message cannot place, are left out."""
    where, said = spec.origin, []
    for line in filter(None, (line.strip() for line in str(exc).splitlines())):
        at = _ERROR_LINE.match(line)
        if at and not spec.generated:
            where = f"{spec.origin} line {at.group(1)}"
        elif not at and line.strip("^"):  # not the caret under the quoted line
            said.append(line)
    return ViewError(
        f"{where}: view {spec.name} does not build: {' '.join(said)}",
        hint="fix the SQL; `cdr build` keeps the previous cdr.duckdb in place",
    )


MACROS_FILE = "_macros.sql"
"""Macros the views share (`create or replace macro ...;`), created before the views."""


def read_sql_dir(sql_dir: Path) -> list[ViewSpec]:
    """Every view of `sql_dir` (`<view>.sql`; files starting with `_` hold no view)."""
    if not sql_dir.is_dir():
        raise ViewError(f"SQL folder {sql_dir} does not exist")
    return [read_sql_file(p) for p in sorted(sql_dir.glob("*.sql")) if not p.name.startswith("_")]


def read_macros(sql_dir: Path) -> str:
    """The text of `sql_dir/_macros.sql` (`create or replace macro ...;` statements), or ''."""
    path = sql_dir / MACROS_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _with_refs(spec: ViewSpec, known: set[str]) -> ViewSpec:
    body = strip_sql_noise(spec.sql)
    tokens = {t.lower() for t in _IDENT.findall(body)}
    refs = frozenset((tokens & known) - {spec.name})
    for target in _FROM_JOIN.findall(body):
        name = target.lower()
        if name == spec.name and not _is_cte(body, name):  # DuckDB: 'does not exist!'
            raise ViewError(
                f"{spec.origin}: view {name} reads itself",
                hint="a view cannot (indirectly) read itself",
            )
        if name not in known and _PREFIXED.match(name) and not _is_cte(body, name):
            raise ViewError(
                f"{spec.origin}: reads {name!r}, which is no view",
                hint="add sql/" + name + ".sql, or fix the name",
            )
    return replace(spec, refs=refs)


def _is_cte(body: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\s+as\s*\(", body, re.IGNORECASE) is not None


def order_views(specs: Iterable[ViewSpec]) -> list[ViewSpec]:
    """Check layers and return the views in dependency order (stable: by layer, then name)."""
    by_name = _unique(specs)
    known = set(by_name)
    resolved = {name: _with_refs(spec, known) for name, spec in by_name.items()}
    for spec in resolved.values():
        _check_layers(spec)
    order: list[ViewSpec] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: Sequence[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise ViewError(
                f"{resolved[name].origin}: dependency cycle: {' -> '.join(cycle)}",
                hint="a view cannot (indirectly) read itself",
            )
        state[name] = 1
        for ref in sorted(resolved[name].refs, key=_sort_key):
            visit(ref, [*path, name])
        state[name] = 2
        order.append(resolved[name])

    for name in sorted(resolved, key=_sort_key):
        visit(name, [])
    return order


def _unique(specs: Iterable[ViewSpec]) -> dict[str, ViewSpec]:
    by_name: dict[str, ViewSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            other = by_name[spec.name]
            raise ViewError(f"{spec.origin}: view {spec.name!r} is also defined by {other.origin}")
        by_name[spec.name] = spec
    return by_name


def _check_layers(spec: ViewSpec) -> None:
    rank = LAYER_RANKS[spec.layer]
    for ref in sorted(spec.refs):
        ref_layer = layer_of(ref)
        if LAYER_RANKS[ref_layer] > rank:
            raise ViewError(
                f"{spec.origin}: layer violation: {spec.layer} view {spec.name!r} reads "
                f"{ref_layer} view {ref!r}",
                hint="views read only their own layer or lower: stg -> int -> fct/dim -> rpt",
            )


def _sort_key(name: str) -> tuple[int, str]:
    return (LAYER_RANKS[layer_of(name)], name)
