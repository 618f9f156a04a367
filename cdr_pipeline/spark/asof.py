"""DuckDB's ASOF LEFT JOIN as a plain LEFT JOIN Spark runs (Spark has no ASOF join)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from cdr_pipeline.spark.errors import RewriteError

_ASOF_UPPER = "__asof_upper"
_FLIP: dict[type[exp.Expr], type[exp.Binary]] = {
    exp.GTE: exp.LTE,
    exp.GT: exp.LT,
    exp.LTE: exp.GTE,
    exp.LT: exp.GT,
}


def _asof_parts(on: exp.Expr, right: str) -> tuple[list[exp.Column], exp.Expr, exp.Column, bool]:
    """(right-side equality keys, left time, right time, strict) of an ASOF condition."""
    keys: list[exp.Column] = []
    inequality: tuple[exp.Expr, exp.Column, bool] | None = None
    for cond in on.flatten() if isinstance(on, exp.And) else [on]:
        if isinstance(cond, exp.EQ):
            side = [c for c in (cond.this, cond.expression) if _is_of(c, right)]
            if len(side) != 1:
                raise RewriteError(f"ASOF join: cannot tell the keys of {cond.sql('duckdb')}")
            keys.append(side[0])
            continue
        if type(cond) not in _FLIP or inequality is not None:
            raise RewriteError(f"ASOF join: unsupported condition {cond.sql('duckdb')}")
        # normalise to `left >= right` / `left > right`
        if _is_of(cond.expression, right) and not _is_of(cond.this, right):
            left, r_time, op = cond.this, cond.expression, type(cond)
        else:
            left, r_time, op = cond.expression, cond.this, _FLIP[type(cond)]
        if op not in (exp.GTE, exp.GT) or not isinstance(r_time, exp.Column):
            raise RewriteError(f"ASOF join: only >= or > is supported: {cond.sql('duckdb')}")
        inequality = (left, r_time, op is exp.GT)
    if inequality is None:
        raise RewriteError("ASOF join without an inequality")
    return keys, *inequality


def _is_of(node: exp.Expr, alias: str) -> bool:
    return isinstance(node, exp.Column) and node.table.lower() == alias


def asof_to_left_join(node: exp.Expr) -> exp.Expr:
    """`l ASOF LEFT JOIN r ON keys AND l.t >= r.t` -> `l LEFT JOIN (r + LEAD(r.t) as upper
    bound) ON keys AND l.t >= r.t AND (upper IS NULL OR l.t < upper)`. Of right rows tied on
    (keys, t) the last one wins (DuckDB picks one of them)."""
    if not isinstance(node, exp.Join) or str(node.args.get("method") or "").upper() != "ASOF":
        return node
    if str(node.args.get("side") or "").upper() not in ("LEFT", ""):
        raise RewriteError("ASOF join: only ASOF [LEFT] JOIN is supported")
    target = node.this
    alias = target.alias_or_name.lower()
    keys, left_time, right_time, strict = _asof_parts(node.args["on"], alias)
    partition = ", ".join(k.name for k in keys)
    window = f"LEAD({right_time.name}) OVER (PARTITION BY {partition} ORDER BY {right_time.name})"
    inner = target.copy()
    if isinstance(inner, exp.Table):
        inner.set("alias", None)
        source = inner.sql("duckdb")
    else:
        source = f"({inner.unalias().this.sql('duckdb')})"
    select = sqlglot.parse_one(
        f"select *, {window} as {_ASOF_UPPER} from {source} as {alias}__asof", read="duckdb"
    )
    sub = exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    upper = exp.column(_ASOF_UPPER, alias)
    bound = exp.LTE if strict else exp.LT
    extra = exp.or_(
        exp.Is(this=upper, expression=exp.Null()), bound(this=left_time, expression=upper)
    )
    join = node.copy()
    join.set("method", None)
    join.set("side", "LEFT")
    join.set("this", sub)
    join.set("on", exp.and_(node.args["on"].copy(), exp.paren(extra)))
    return join
