"""Values padded with blanks: Control Hub never pads an id, a number or an enumerated value,
but a hand edit, a formula or a script writing `", "` between fields does. A padded
`Correlation ID` made its legs another call, a padded `Direction` loaded and only failed
`cdr validate`. Such columns are trimmed; names and other free text stay as delivered."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.helpers import load, rejects, table
from tests.ingest.hostile_corpus import HEADER, USER, csv_bytes, line, rows

CORRELATION = HEADER.index("Correlation ID")
DIRECTION = HEADER.index("Direction")
USER_UUID = HEADER.index("User UUID")
CALLING = HEADER.index("Calling number")
CALL_TYPE = HEADER.index("Call type")


def test_ids_numbers_and_enumerated_values_lose_their_padding(wh: Path) -> None:
    body = rows(4, 95)
    for row in body:
        row[CORRELATION] = "c1"
    body[1][CORRELATION] = " c1"
    body[2][CORRELATION] = "c1\u00a0"  # a no-break space, pasted from a web page
    body[1][DIRECTION] = " ORIGINATING"
    body[2][USER_UUID] = f"{body[2][USER_UUID]} "
    body[2][CALLING] = " +14155550111"
    body[3][CALL_TYPE] = "\tSIP_NATIONAL "
    body[3][USER] = " Smith, Ann "  # a name: kept as delivered
    path = wh.parent / "padded.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path).files
    assert (f.rows_loaded, f.rows_rejected) == (4, 0), f.message
    legs = table(wh)
    assert set(legs["correlation_id"]) == {"c1"}
    assert set(legs["direction"]) <= {"ORIGINATING", "TERMINATING"}
    assert not legs["user_uuid"].str.ends_with(" ").any()
    assert "+14155550111" in legs["calling_number"].to_list()
    assert "SIP_NATIONAL" in legs["call_type"].to_list()
    assert " Smith, Ann " in legs["user_name"].to_list()


def test_a_typed_value_of_blanks_alone_is_empty(wh: Path) -> None:
    """Blanks around a time, number or boolean were ignored (`' 36'` is 36), but a value of
    blanks alone (a cell cleared with a space, a script writing `", "` between fields) was a
    bad value: every unanswered leg's `Answer time` of `' '` a `bad_timestamp`, and the file
    failed the reject rate. It is empty, as `''` is (`' NA '` too); a required one is
    missing."""
    body = rows(5, 97)
    body[0][HEADER.index("Answer time")] = " "
    body[1][HEADER.index("Duration")] = "\t"
    body[2][HEADER.index("Answered")] = " NA "
    body[3][HEADER.index("Site timezone")] = "  "
    body[4][HEADER.index("Start time")] = " "
    path = wh.parent / "blanks.csv"
    path.write_bytes(csv_bytes([line(r) for r in body]))
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.rows_loaded, f.rows_rejected) == (4, 1), f.message
    assert rejects(wh)["detail"].to_list() == ["Start time: required value is missing"]
    ids = [row[HEADER.index("Report ID")] for row in body[:4]]
    legs = {r["report_id"]: r for r in table(wh).iter_rows(named=True)}
    assert legs[ids[0]]["answer_time"] is None
    assert legs[ids[1]]["duration_seconds"] is None
    assert legs[ids[2]]["answered"] is None
    assert legs[ids[3]]["site_timezone_offset_minutes"] is None


def test_an_unknown_column_is_named_as_its_key_in_extra(wh: Path) -> None:
    """A header padded with blanks (`"Future column X "`, a no-break space after
    `"Future column Y"`): `extra` keys it trimmed, and the ledger's `unknown_columns` and the
    note named it padded, a name no `extra->>'...'` finds."""
    header = [*HEADER, "Future column X ", "Future column Y\u00a0"]
    body = [[*row, "x", "y"] for row in rows(2, 96)]
    path = wh.parent / "padded_header.csv"
    path.write_bytes(csv_bytes([line(r) for r in body], line(header)))
    (f,) = load(wh, path).files
    assert f.unknown_columns == ["Future column X", "Future column Y"]
    assert "kept in 'extra': Future column X, Future column Y" in f.new_columns_note()
    assert set(table(wh)["extra"]) == {'{"Future column X":"x","Future column Y":"y"}'}


def test_the_new_columns_note_shows_a_character_that_does_not_show(wh: Path) -> None:
    """`Report\u200dID` (a zero-width joiner inside) is no `Report ID`: the file's notes
    said it had no 'Report ID' column and a new column 'ReportID', the joiner printed as
    nothing. The note escapes it; `extra` and the ledger keep the name as it is."""
    header = [h if h != "Report ID" else "Report\u200dID" for h in HEADER]
    path = wh.parent / "joiner.csv"
    path.write_bytes(csv_bytes([line(r) for r in rows(2, 97)], line(header)))
    (f,) = load(wh, path).files
    assert f.unknown_columns == ["Report\u200dID"]
    assert f.new_columns_note() == "new columns kept in 'extra': Report\\u200dID"
    assert "no 'Report ID' column" in (f.message or "")
