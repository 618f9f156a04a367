"""`extra`, the JSON of a record's unknown columns, built from the values present in long
form (records with keys of their own made a query of an expression per key: 1 MB/s)."""

from __future__ import annotations

import json

import polars as pl

from cdr_pipeline.ingest.extra import extra_json
from cdr_pipeline.ingest.normalize import _clean


def test_extra_holds_the_values_present_in_column_order_escaped() -> None:
    raw = pl.DataFrame(
        {
            "c0": ["a", None, "NA", 'x"\\y', None],
            "c1": [None, None, "b", "\u2028\x01", None],
            "c2": ["z", "", None, "", None],
        }
    )
    columns = [("c1", 'b"k'), ("c0", "a\\k"), ("c2", "zé")]
    out = extra_json(raw, columns, _clean)
    assert out.name == "extra" and out.dtype == pl.String
    assert out.to_list() == [
        '{"a\\\\k":"a","zé":"z"}',
        None,  # only an empty value: no member, no object
        '{"b\\"k":"b"}',  # NA is no value
        '{"b\\"k":"\u2028\\u0001","a\\\\k":"x\\"\\\\y"}',
        None,
    ]
    assert list(json.loads(out[3])) == ['b"k', "a\\k"]  # the columns' order, not the rows'


def test_extra_of_records_with_keys_of_their_own() -> None:
    # each record holds one key of 1,900: one member each, the others left out
    names = [f"c{i}" for i in range(1_900)]
    raw = pl.DataFrame(
        {n: [f"v{r}" if r == i % 40 else None for r in range(40)] for i, n in enumerate(names)}
    )
    out = extra_json(raw, [(n, f"x{n[1:]}") for n in names], _clean)
    for r, text in enumerate(out.to_list()):
        assert json.loads(text) == {f"x{i}": f"v{r}" for i in range(r, 1_900, 40)}
