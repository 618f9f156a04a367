"""A purchase sheet naming its currency in the price's header (`Unit Price (USD)`, as finance
sheets do) loaded the price as an unknown column kept in `extra`: every licence unpriced,
the idle cost unknown. The header is the price, its code the currency of every row that
gives none; a row whose own currency differs is quarantined, as nothing says which is right."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.devices.helpers import ingest, write_csv


def _entitlements(warehouse: Path) -> pl.DataFrame:
    path = warehouse / "tables" / "entitlements"
    return pl.read_delta(str(path)).sort("subscription_id")


def test_a_price_header_naming_its_currency_prices_the_rows(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in" / "licences.csv",
        "Subscription ID,Licence type,Units,Valid from,Unit Price (USD)",
        ["Sub-1,BYOD,10,2026-01-01,12.50", "Sub-2,BYOD,4,2026-01-01,"],
    )
    wh = tmp_path / "wh"
    (f,) = ingest(wh, src).files
    assert f.status == "loaded" and f.rows_loaded == 2
    assert f.unknown_columns == [] and "currency" not in f.missing_columns
    got = _entitlements(wh).select("subscription_id", "unit_price", "currency", "extra")
    assert got.rows() == [("Sub-1", 12.5, "USD", None), ("Sub-2", None, "USD", None)]


def test_a_row_currency_beside_a_priced_header(tmp_path: Path) -> None:
    """A Currency column as well: an empty one takes the header's code, the same code in
    any case loads, another code is quarantined naming both."""
    src = write_csv(
        tmp_path / "in" / "licences.csv",
        "subscription_id,licence_type,units,valid_from,Price [eur],currency",
        [
            "Sub-1,BYOD,10,2026-01-01,12.50,",
            "Sub-2,BYOD,4,2026-01-01,10,eur",
            "Sub-3,BYOD,2,2026-01-01,9,USD",
        ],
    )
    wh = tmp_path / "wh"
    (f,) = ingest(wh, src, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 1)
    got = _entitlements(wh).select("subscription_id", "unit_price", "currency")
    assert got.rows() == [("Sub-1", 12.5, "EUR"), ("Sub-2", 10.0, "EUR")]
    bad = pl.read_parquet(sorted((wh / "rejects").rglob("*.parquet")))
    assert bad["reason"].to_list() == ["conflicting_currency"]
    assert bad["detail"][0] == "currency 'USD' where the price's header names EUR"


def test_a_remark_that_is_no_currency_code_is_no_price(tmp_path: Path) -> None:
    """Only a three-letter code in brackets names a currency: `Unit price (net)` has none."""
    src = write_csv(
        tmp_path / "in" / "licences.csv",
        "subscription_id,licence_type,units,valid_from,Unit price (net),Unit price (monthly)",
        ["Sub-1,BYOD,10,2026-01-01,12.50,13"],
    )
    wh = tmp_path / "wh"
    (f,) = ingest(wh, src).files
    assert f.rows_loaded == 1
    assert f.unknown_columns == ["Unit price (net)", "Unit price (monthly)"]
    got = _entitlements(wh)
    assert got["unit_price"].to_list() == [None] and got["currency"].to_list() == [None]


def test_a_priced_header_after_an_empty_price_column_still_names_the_currency(
    tmp_path: Path,
) -> None:
    """`Unit price` left empty beside `Unit Price (EUR)`: the price loaded from the second
    spelling but without a currency, as only the first spelling was read for one. Two
    spellings naming two currencies imply none."""
    wh = tmp_path / "wh"
    one = write_csv(
        tmp_path / "in" / "one.csv",
        "subscription_id,licence_type,units,valid_from,Unit price,Unit Price (EUR)",
        ["Sub-1,BYOD,10,2026-01-01,,12.50"],
    )
    two = write_csv(
        tmp_path / "in2" / "two.csv",
        "subscription_id,licence_type,units,valid_from,Unit Price (EUR),Unit Price (USD)",
        ["Sub-2,BYOD,10,2026-01-01,12.50,"],
    )
    ingest(wh, one)
    ingest(wh, two)
    got = _entitlements(wh).select("subscription_id", "unit_price", "currency")
    assert got.rows() == [("Sub-1", 12.5, "EUR"), ("Sub-2", 12.5, None)]


def test_a_currency_that_is_no_iso_code_is_quarantined(tmp_path: Path) -> None:
    """`$`, `US$` and `Dollar` loaded as currencies of their own: the costs were shown in
    them, and a `$` top-up beside a `USD` purchase made the month `mixed_currency`, without
    any cost. A currency is three letters (in any case, blanks around forgiven); anything
    else is quarantined (`bad_currency`), raw text kept."""
    src = write_csv(
        tmp_path / "in" / "licences.csv",
        "subscription_id,licence_type,units,valid_from,unit_price,currency",
        [
            "Sub-1,BYOD,10,2026-01-01,12.50, usd ",
            "Sub-2,BYOD,4,2026-01-01,10,$",
            "Sub-3,BYOD,2,2026-01-01,9,US$",
            "Sub-4,BYOD,2,2026-01-01,9,Dollar",
            "Sub-5,BYOD,2,2026-01-01,9,€",
            "Sub-6,BYOD,2,2026-01-01,9,HRK",
            "Sub-7,BYOD,2,2026-01-01,,",
        ],
    )
    wh = tmp_path / "wh"
    (f,) = ingest(wh, src, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (3, 4)
    got = _entitlements(wh).select("subscription_id", "currency")
    assert got.rows() == [("Sub-1", "USD"), ("Sub-6", "HRK"), ("Sub-7", None)]
    bad = pl.read_parquet(sorted((wh / "rejects").rglob("*.parquet"))).sort("source_row")
    assert bad.select("source_row", "reason").rows() == [
        (3, "bad_currency"),
        (4, "bad_currency"),
        (5, "bad_currency"),
        (6, "bad_currency"),
    ]
    assert bad["raw_text"][0] == "Sub-2,BYOD,4,2026-01-01,10,$"
    assert bad["detail"][0].startswith("currency: '$' is no ISO 4217 code")
