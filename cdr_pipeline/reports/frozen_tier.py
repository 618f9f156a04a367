"""A closed month's frozen figures as the analyst tier shows them.

A close freezes the finance reports as the full tier computes them: the reclaim list and
the anomalies name user UUIDs, e-mails and numbers. A report read on the analyst tier
(`CDR_TIER=analyst`, a group member of a shared warehouse) shows the frozen rows as the
tier shows every row: personal values by their pseudonym, numbers masked with their
pseudonym beside them, hidden columns left out, so a closed month's rows are neither raw
nor shaped otherwise than the months computed beside them; and the months computed beside
them spell each subscription id as the closes froze it (`frozen_spellings`)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.schema.personal import (
    PERSONAL_COLUMNS,
    analyst_hidden_columns,
    is_number_column,
    pseudonymised_columns,
)
from cdr_pipeline.text import quote
from cdr_pipeline.warehouse import connect
from cdr_pipeline.warehouse.analyst import MAP_VIEW, PSEUDONYM_SUFFIX, pseudonym_sql


def _kinds() -> dict[str, str]:
    """Column name -> pseudonym kind, over every table (a report keeps the table's names:
    `user_uuid`, `user_email`, `phone_number`)."""
    return {c: k for table in PERSONAL_COLUMNS for c, k in pseudonymised_columns(table).items()}


def frozen_for_tier(settings: Settings, table: pa.Table, tier: str) -> pa.Table:
    """`table` (frozen rows of the full tier) as `tier` shows them: unchanged for `full`;
    for `analyst`, through the pseudonym map of the current build (a value the map does not
    hold, one erased since, shows as NULL, never raw)."""
    kinds = _kinds()
    hidden = analyst_hidden_columns()
    if tier != "analyst" or not any(n in kinds or n in hidden for n in table.column_names):
        return table
    items: list[str] = []
    for field in table.schema:
        name, col = field.name, quote(field.name)
        if name in hidden:
            continue
        if name not in kinds or not _is_text(field.type):
            items.append(f"f.{col}")
            continue
        value = pseudonym_sql(f"f.{col}", kinds[name], MAP_VIEW)
        if is_number_column(name):
            masked = f"(select m.masked from {MAP_VIEW} as m where m.pseudonym = ({value}))"
            items.append(f"{masked} as {col}")
            items.append(f"{value} as {quote(name + PSEUDONYM_SUFFIX)}")
        else:
            items.append(f"{value} as {col}")
    con = connect(settings, read_only=True, tier="analyst")
    try:
        # numbered, so the rows keep the order the close froze them in
        con.register(
            "frozen_rows",
            table.append_column("frozen_row", pa.array(range(table.num_rows), pa.int64())),
        )
        sql = f"select {', '.join(items)} from frozen_rows as f order by f.frozen_row"
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def _is_text(dtype: pa.DataType) -> bool:
    """Text of any Arrow layout (a file written elsewhere may hold large strings)."""
    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def frozen_spellings(computed: pa.Table, frozen: Sequence[pa.Table]) -> pa.Table:
    """`computed` rows (months computed now, beside the closed months' `frozen` rows, oldest
    first) with each subscription id spelled as the latest close that names it froze it.
    Ids match without regard to case, and the views spell one as its rows do now (a renewal
    typed `SUB-9` since September closed with `Sub-9`): a year's export showed one
    subscription under two names, which a pivot or a SUMIF in Excel split in two. The frozen
    rows are never changed; an id no close names keeps the views' spelling."""
    if "subscription_id" not in computed.column_names:
        return computed
    spelled: dict[str, str] = {}
    for table in frozen:
        if "subscription_id" in table.column_names:
            ids = table.column("subscription_id").to_pylist()
            spelled |= {i.upper(): i for i in ids if i is not None}
    at = computed.schema.get_field_index("subscription_id")
    ids = computed.column(at).to_pylist()
    if not spelled or all(i is None or spelled.get(i.upper(), i) == i for i in ids):
        return computed
    respelled = [None if i is None else spelled.get(i.upper(), i) for i in ids]
    field = computed.schema.field(at)
    return computed.set_column(at, field, pa.array(respelled, field.type))
