"""DuckDB macros (`sql/_macros.sql`) expanded in place: Spark has no macros, and each file
`cdr sql` writes must be one statement."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from cdr_pipeline.spark.errors import RewriteError


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...]
    body: exp.Expr


_MACRO = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?macro\s+([A-Za-z_][A-Za-z0-9_]*)"
    r"\s*\(([^)]*)\)\s+as\s+(.+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def parse_macros(statements: list[str]) -> dict[str, Macro]:
    """Scalar macros from `create [or replace] macro name(a, b) as expr` statements
    (already split, comments allowed). A table macro or another statement is an error."""
    macros: dict[str, Macro] = {}
    for statement in statements:
        text = _strip_comments(statement).strip()
        if not text:
            continue
        match = _MACRO.match(text)
        if not match or match.group(3).lower().startswith("table"):
            raise RewriteError(
                f"sql/_macros.sql: not a scalar macro: {text[:60]}...",
                hint="only `create or replace macro name(args) as <expression>;` is portable",
            )
        name, params, body = match.groups()
        macros[name.lower()] = Macro(
            name.lower(),
            tuple(p.strip().lower() for p in params.split(",") if p.strip()),
            sqlglot.parse_one(body, read="duckdb"),
        )
    return macros


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))


def expand_macros(tree: exp.Expr, macros: dict[str, Macro]) -> exp.Expr:
    """Every call of a macro replaced by its body with the arguments substituted."""

    def expand(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Anonymous):
            return node
        macro = macros.get(str(node.this).lower())
        if macro is None:
            return node
        if len(node.expressions) != len(macro.params):
            raise RewriteError(
                f"macro {macro.name} takes {len(macro.params)} arguments, "
                f"got {len(node.expressions)}"
            )
        args = dict(zip(macro.params, node.expressions, strict=True))

        def substitute(inner: exp.Expr) -> exp.Expr:
            if isinstance(inner, exp.Column) and not inner.table and inner.name.lower() in args:
                return _grouped(args[inner.name.lower()].copy())
            return inner

        return _grouped(expand_macros(macro.body.copy().transform(substitute), macros))

    return tree.transform(expand)


def _grouped(node: exp.Expr) -> exp.Expr:
    """`node` in parentheses unless it is atomic: a macro is one operand where it is used."""
    if isinstance(node, (exp.Func, exp.Column, exp.Literal, exp.Paren, exp.Cast)):
        return node
    return exp.paren(node)
