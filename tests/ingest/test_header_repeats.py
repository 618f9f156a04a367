"""A header that names a column twice (`...,Answered,Duration` pasted again at the end, as a
spreadsheet leaves it): nothing is lost silently. The column loads the first non-empty value
from the left, every repeat is also kept in `extra` (`Answered_2`), and the file's ledger
message, the ingest note and the log name the repeated columns."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cdr_pipeline.ingest.json_lines import Record
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import Ledger
from tests.ingest.helpers import fixture, load, rejects, table
from tests.ingest.hostile_corpus import records


def _with_repeats(tmp_path: Path, first: str | None, repeat: str) -> Path:
    """bom_crlf.csv with `Answered,Duration` again at the end of the header and `repeat` at
    the end of each row; `first` replaces the row's own Duration when given."""
    lines = fixture("bom_crlf.csv").read_bytes().split(b"\r\n")
    header = lines[0].decode("utf-8-sig").split(",")
    at = header.index("Duration")
    out = [lines[0] + b",Answered,Duration"]
    for raw in filter(None, lines[1:]):
        cells = raw.decode().split(",")  # the fixture's rows hold no quoted commas
        if first is not None:
            cells[at] = first
        out.append(",".join(cells).encode() + repeat.encode())
    path = tmp_path / "repeated.csv"
    path.write_bytes(b"\r\n".join(out) + b"\r\n")
    return path


def test_a_repeated_column_keeps_its_values_and_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _with_repeats(tmp_path, first=None, repeat=",TRUE,999")
    wh = tmp_path / "wh"
    with caplog.at_level(logging.INFO, logger="cdr_pipeline"):
        (f,) = load(wh, path).files
    assert f.status == "loaded" and f.rows_loaded == 6 and f.rows_rejected == 0
    df = table(wh)
    assert 999 not in df["duration_seconds"].to_list()  # the first occurrence wins
    extras = [json.loads(e) for e in df["extra"]]
    assert extras == [{"Answered_2": "TRUE", "Duration_2": "999"}] * 6
    for message in (f.message, Ledger(Layout(wh)).files()["message"][0]):
        assert "more than once (Answered, Duration)" in message
        assert "Answered_2, Duration_2" in message
    logged = [r for r in caplog.records if getattr(r, "columns_repeated", None)]
    assert [r.columns_repeated for r in logged] == [["Answered_2", "Duration_2"]]  # type: ignore[attr-defined]


def test_an_empty_first_occurrence_takes_the_repeat(tmp_path: Path) -> None:
    path = _with_repeats(tmp_path, first="", repeat=",,45")
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.rows_loaded == 6
    df = table(wh)
    assert df["duration_seconds"].to_list() == [45] * 6
    # the empty repeat holds no value, so `extra` leaves it out
    assert [json.loads(e) for e in df["extra"]] == [{"Duration_2": "45"}] * 6


def test_a_repeated_sensitive_column_is_never_stored(tmp_path: Path) -> None:
    lines = (Path(__file__).parents[2] / "data" / "samples" / "activation_events.csv").read_text()
    header, *body = lines.splitlines()[:4]
    assert header.endswith(",activation_code")
    path = tmp_path / "events.csv"
    path.write_text("\n".join([header + ",Activation code"] + [r + ",7734-1234" for r in body]))
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.rows_loaded == 3
    stored = table(wh, "device_events", lineage=True)
    assert "7734" not in str(stored.rows()) and "more than once" not in f.message


@pytest.mark.parametrize("layout", ["key twice", "two spellings"])
def test_a_json_record_giving_the_activation_code_two_values_loads(
    tmp_path: Path, layout: str
) -> None:
    """An activation event whose record writes the key `activation_code` twice with two
    values was quarantined as `duplicate_key`, though the code is a secret never stored: a
    conflict in a column dropped on read cost the event. It loads, neither code stored, and
    a note says so, as a record spelling it two ways (`activationCode` beside it) loads."""
    lines = (Path(__file__).parents[2] / "data" / "samples" / "activation_events.csv").read_text()
    header, issued = lines.splitlines()[0].split(","), lines.splitlines()[2].split(",")
    record = dict(zip(header, issued, strict=True))
    assert record["event_type"] == "ACTIVATION_CODE_ISSUED" and record["activation_code"]
    body = json.dumps(record)[:-1]
    other = "activation_code" if layout == "key twice" else "activationCode"
    path = tmp_path / "events.json"
    path.write_text(f'{{"items": [{body}, "{other}": "ZZ7734ZZ"}}]}}')
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 1, 0), f.message
    note = "1 record(s) give the activation code two different values (the key written twice)"
    assert note in f.message if layout == "key twice" else not f.message
    stored = str(table(wh, "device_events", lineage=True).rows())
    assert "ZZ7734ZZ" not in stored and record["activation_code"] not in stored


def _record(n: int, **keys: str) -> dict[str, str]:
    return {
        "Report ID": f"r-{n}",
        "Correlation ID": f"c-{n}",
        "Start time": "2026-10-01T10:00:00.000Z",
        "Direction": "ORIGINATING",
        **keys,
    }


def test_json_records_that_spell_a_column_each_their_own_way_repeat_nothing(
    tmp_path: Path,
) -> None:
    """JSON records carry their own keys: a page (or JSON lines appended across an API
    version) where one record writes `Device MAC` and the next `Device Mac` spells one
    column two ways, each record once. The chunk's columns are all records' keys, so both
    spellings are columns of it; but no record repeats a column: nothing is copied into
    `extra` and the file has no note of a repeated header. A record holding both keys with
    one value loads it once; one holding two values is quarantined (`duplicate_key`, as a
    key written twice with two values is), naming both spellings: it loaded the first and
    kept the second in `extra`, with a note that 'the header' named a column twice."""
    lines = [
        _record(1, **{"Device MAC": "6C710D8ABC10", "Call transfer Time": "2026-10-01T10:00:05Z"}),
        _record(2, **{"Device Mac": "6C710D8ABC11", "Call transfer time": "2026-10-01T10:00:06Z"}),
    ]
    path = tmp_path / "drift.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.rows_loaded == 2, f.message
    df = table(wh)
    assert df["device_mac"].to_list() == ["6C710D8ABC10", "6C710D8ABC11"]
    assert df["call_transfer_time"].dt.second().to_list() == [5, 6]
    assert df["extra"].to_list() == [None, None]
    assert "more than once" not in (f.message or "")

    both = _record(3, **{"Device MAC": "6C710D8ABC12", "Device Mac": "6C710D8ABC13"})
    same = _record(4, **{"Report Id": "r-4", "Device MAC": "6C710D8ABC14"})
    path = tmp_path / "both.json"
    path.write_text(json.dumps({"items": [both, lines[1], same]}))
    wh = tmp_path / "wh2"
    (f,) = load(wh, path, max_reject_rate=0.5).files
    assert (f.rows_loaded, f.rows_rejected) == (2, 1), f.message
    df = table(wh)
    assert df["device_mac"].to_list() == ["6C710D8ABC11", "6C710D8ABC14"]
    assert df["extra"].to_list() == [None, None]
    assert "more than once" not in (f.message or "")
    (bad,) = rejects(wh).iter_rows(named=True)
    assert (bad["reason"], bad["source_row"]) == ("duplicate_key", 1)
    assert "two ways, 'Device MAC' and 'Device Mac', with different values" in bad["detail"]


def test_a_column_without_a_name_keeps_its_values(tmp_path: Path) -> None:
    """A column a spreadsheet user added to an export and left without a header (or a JSON
    key `""`): its values are kept in `extra` as `(no header)` and the file names it as a
    new column, as any unknown column's; they were dropped without a word."""
    lines = fixture("bom_crlf.csv").read_bytes().split(b"\r\n")
    out = [lines[0] + b","] + [raw + b",checked by finance" for raw in filter(None, lines[1:])]
    path = tmp_path / "unnamed.csv"
    path.write_bytes(b"\r\n".join(out) + b"\r\n")
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.rows_loaded == 6 and f.rows_rejected == 0
    key = "(no header)"
    assert [json.loads(e) for e in table(wh)["extra"]] == [{key: "checked by finance"}] * 6
    assert key in f.unknown_columns
    assert key in Ledger(Layout(wh)).files()["unknown_columns"][0]

    page = tmp_path / "page.json"
    page.write_text(
        json.dumps(
            {
                "items": [
                    {
                        "Report ID": "r-unnamed-1",
                        "Start time": "2026-10-01T10:00:00.000Z",
                        "Direction": "ORIGINATING",
                        "Correlation ID": "c-unnamed-1",
                        "": "checked",
                    }
                ]
            }
        )
    )
    (g,) = load(wh, page).files
    assert g.status == "loaded" and g.rows_loaded == 1
    got = table(wh).filter(table(wh)["report_id"] == "r-unnamed-1")["extra"].to_list()
    assert [json.loads(e) for e in got] == [{"(no header)": "checked"}]


def test_a_separator_at_the_end_of_every_line_names_no_column(tmp_path: Path) -> None:
    """A tool that ends every line with a separator makes a column without a name that never
    holds a value: nothing is kept, so no column is named as new."""
    lines = fixture("bom_crlf.csv").read_bytes().split(b"\r\n")
    path = tmp_path / "trailing.csv"
    path.write_bytes(b"\r\n".join(raw + b"," for raw in filter(None, lines)) + b"\r\n")
    wh = tmp_path / "wh"
    (f,) = load(wh, path).files
    assert f.status == "loaded" and f.rows_loaded == 6 and f.unknown_columns == []
    assert table(wh)["extra"].null_count() == 6


def test_columns_without_a_name_are_kept_whatever_their_place(tmp_path: Path) -> None:
    """Two nameless columns are `(no header)` and `(no header) 2`; the same records in an
    export whose columns moved hold the same `extra`, so loading it changes nothing."""
    lines = [r for r in fixture("bom_crlf.csv").read_bytes().split(b"\r\n") if r]
    end = tmp_path / "end.csv"
    end.write_bytes(b"\r\n".join([lines[0] + b",,", *(r + b",a,b" for r in lines[1:])]) + b"\r\n")
    wh = tmp_path / "wh"
    (f,) = load(wh, end).files
    assert f.rows_loaded == 6 and f.unknown_columns == ["(no header)", "(no header) 2"]
    kept = {"(no header)": "a", "(no header) 2": "b"}
    assert [json.loads(e) for e in table(wh)["extra"]] == [kept] * 6
    header = lines[0].decode("utf-8-sig")
    front = tmp_path / "front.csv"
    rows = [",," + header, *("a,b," + r.decode() for r in lines[1:])]
    front.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    (g,) = load(wh, front).files
    assert g.status == "loaded" and g.rows_loaded == 0 and g.rows_duplicate == 6


def test_a_json_key_named_many_times_costs_one_lookup_a_repeat() -> None:
    """Each repeat of a JSON key looked for its name from `_2` up, a lookup per earlier
    repeat: a 1 MB line naming one key 50,000 times took eight minutes. A repeat is now one
    lookup: the record keeps its first value and names the key ambiguous once."""

    class Counted(Record):
        lookups = 0

        def __contains__(self, key: object) -> bool:
            Counted.lookups += 1
            return super().__contains__(key)

    record = Counted()
    record["User_2"] = "literal"  # a key of the record itself, no repeat of `User`
    for i in range(5_000):
        record["User"] = f"u{i}"
    assert dict(record) == {"User_2": "literal", "User": "u0"}
    assert list(record.ambiguous) == ["User"]
    assert Counted.lookups < 3 * 5_000


def test_a_key_only_quarantined_records_hold_is_no_new_column(tmp_path: Path) -> None:
    """The note, the log and the ledger's `unknown_columns` name the columns kept in
    `extra`: a JSON key (an unknown one, a second spelling of a column, a key `""`) that
    only a quarantined record held was named too, though no loaded row kept it."""
    good, bad = records(6, 71), records(1, 72)[0]
    bad.update({"Surprise Key": "x", "Device Mac": "AABBCCDDEEFF", "": "y"})
    bad["Start time"] = "not a time"
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*good[:3], bad, *good[3:]]))
    wh = tmp_path / "wh"
    (f,) = load(wh, path, max_reject_rate=1.0).files
    assert (f.status, f.rows_loaded, f.rows_rejected) == ("loaded", 6, 1)
    assert f.unknown_columns == [] and "extra" not in (f.message or "")
    # a loaded record holding them names them, in the order of its keys (a second
    # spelling with the column's value is that value once: no repeat)
    good[4].update({"Surprise Key": "x", "Device Mac": good[4]["Device MAC"], "": "y"})
    path.write_text("".join(json.dumps(r) + "\n" for r in [*good, bad]))
    (g,) = load(tmp_path / "wh2", path, max_reject_rate=1.0).files
    assert g.unknown_columns == ["Surprise Key", "(no header)"]
    assert "more than once" not in (g.message or "")
