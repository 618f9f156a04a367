"""`cdr report restatements` matches a closed month's rows with the recomputed ones on the
report's key, a subscription id without regard to case as the views match it. Worked out on
the comparison's own inputs (two reconciliation rows as Arrow tables): no warehouse."""

from __future__ import annotations

import pyarrow as pa

from cdr_pipeline.reports.restate import compare_tables

KEY = ("month", "subscription_id", "licence_type")


def _row(subscription: str, entitled: int) -> pa.Table:
    return pa.table(
        {
            "month": ["2026-09-01"],
            "subscription_id": [subscription],
            "licence_type": ["Webex Go (Bring Your Own Device)"],
            "entitled_units": [entitled],
        }
    )


def test_a_subscription_spelled_in_another_case_since_the_close_is_no_restatement() -> None:
    """September closed with Sub-9 (bought, no phone: spelled as its entitlement rows). A
    renewal for November typed `SUB-9` then spells every month of it `SUB-9` (the first of
    the rows' spellings). September's 4 units are unchanged, but restatements said 1 row
    added and 1 removed, as if a subscription had been dropped and another bought. By hand:
    same key without regard to case, same figures: nothing added, removed or changed, and
    no total moves."""
    counts, measures = compare_tables(_row("Sub-9", 4), _row("SUB-9", 4), KEY)
    assert counts == {"added": 0, "removed": 0, "changed": 0}
    assert measures == []
    # its figures changed as well: one changed row, entitled_units 4 -> 5
    counts, measures = compare_tables(_row("Sub-9", 4), _row("SUB-9", 5), KEY)
    assert counts == {"added": 0, "removed": 0, "changed": 1}
    assert measures == [("entitled_units", None, 4.0, 5.0, 0, 0)]
    # another subscription is still another row
    counts, _ = compare_tables(_row("Sub-9", 4), _row("Sub-8", 4), KEY)
    assert counts == {"added": 1, "removed": 1, "changed": 0}
