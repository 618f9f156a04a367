"""The spellings erasure looks for in files outside the tables: Data Docs pages are rendered
by Jinja, whose escaping writes an apostrophe `&#39;` and a quote `&#34;` (Python's
html.escape writes `&#x27;` and `&quot;`), so O'Brien on a page must be found that way too."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import duckdb
import jinja2
import pyarrow as pa
import pyarrow.parquet as pq

from cdr_pipeline.privacy.spellings import replace_text, replacement_pairs, text_pattern


def test_a_name_as_jinja_escapes_it_is_replaced() -> None:
    page = jinja2.Environment(autoescape=True).from_string("<td>{{ v }}</td>")
    for name in ("Siobhan O'Brien", 'Ann "Nan" Lee'):
        rendered = page.render(v=name)
        assert name not in rendered  # escaped: the plain value does not find it
        scrubbed = replace_text(rendered, replacement_pairs({name: "person-1"}))
        assert scrubbed == "<td>person-1</td>", (name, rendered)
        # the pattern that picks the rejects and texts to scrub (RE2, run by DuckDB)
        found = duckdb.execute("select regexp_matches(?, ?)", [rendered, text_pattern([name])])
        assert found.fetchone() == (True,), (name, rendered)


def test_a_ledger_record_that_took_a_record_for_a_header_is_emptied_whole(
    tmp_path: Path,
) -> None:
    """The unknown columns of a header that was a record (`cdr ingest --kind` before it
    refused one) list the record's fields: the person's number among them, and beside it a
    name no table holds. Replacing the number alone left the name; the list goes whole."""
    from cdr_pipeline.privacy.scrub import scrub_files
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    path = layout.ledger / "files" / "r1.parquet"
    path.parent.mkdir(parents=True)
    fields = ["2026-09-30T00:01:32Z", "+14155550177", "Walter Headless"]
    table = pa.table(
        {
            "source": ["a.csv", "b.csv"],
            "unknown_columns": pa.array([fields, ["Escalation contact"]], pa.list_(pa.string())),
            "message": [None, "b.csv: loaded"],
        }
    )
    pq.write_table(table, path)
    number = "+14155550177"
    done = scrub_files(layout, {number: "number_x"}, False, text_pattern([number]))
    assert done.files == ["state/ledger/files/r1.parquet"]
    got = pq.read_table(path).to_pylist()
    assert got[0]["unknown_columns"] == [] and got[0]["source"] == "a.csv"
    assert got[1] == {"source": "b.csv", "unknown_columns": ["Escalation contact"],
                      "message": "b.csv: loaded"}  # fmt: skip


def test_a_file_named_after_the_person_is_renamed(tmp_path: Path) -> None:
    """A rejects file is named after its input (`rejects/call_legs/<hash>-<file name>`): an
    export saved as `calls-aiko.muller@example.com.csv` left the person's e-mail in the
    rejects file's name after `cdr forget`, which edited only what files hold."""
    from cdr_pipeline.privacy.scrub import scrub_files
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    email = "aiko.muller@example.com"
    rejects = layout.rejects_file("call_legs", f"0a1b2c3d4e5f-calls-{email}.csv")
    rejects.parent.mkdir(parents=True)
    pq.write_table(pa.table({"reason": ["bad_time"]}), rejects)
    done = scrub_files(layout, {email: "email_x"}, False)
    names = [str(p.relative_to(layout.root)) for p in layout.root.rglob("*")]
    assert not [n for n in names if email in n], names
    assert done.files == ["rejects/call_legs/0a1b2c3d4e5f-calls-email_x.csv.parquet"]


def test_a_name_spelled_with_a_combining_mark_is_replaced(tmp_path: Path) -> None:
    """macOS writes a file name with an accented letter as the letter and a combining mark
    (NFD), the export its rows with one character (NFC): `cdr forget` left `Aiko Müller` in
    the name of the rejects file of `calls of Aiko Müller.csv` saved so, and in the paths
    its rejects, the ledger and the rows (`scrubbed_name`) record, after the vacuum too."""
    from cdr_pipeline.privacy.scrub import scrub_files, scrubbed_name
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    value = unicodedata.normalize("NFC", "Aiko Müller")
    export = unicodedata.normalize("NFD", "in/calls of Aiko Müller.csv")
    rejects = layout.rejects_file("call_legs", f"0a1b2c3d4e5f-{export.split('/')[1]}")
    rejects.parent.mkdir(parents=True)
    pq.write_table(pa.table({"source_file": [export], "reason": ["bad_timestamp"]}), rejects)
    done = scrub_files(layout, {value: "name_x"}, False)
    assert done.files == ["rejects/call_legs/0a1b2c3d4e5f-calls of name_x.csv.parquet"]
    assert pq.read_table(layout.root / done.files[0])["source_file"].to_pylist() == [
        "in/calls of name_x.csv"
    ]
    assert scrubbed_name(export, {value: "name_x"}) == "in/calls of name_x.csv"


def test_a_short_name_of_several_words_is_replaced_between_words(tmp_path: Path) -> None:
    """A name shorter than 7 characters (`Li Na`) was replaced only as a whole field, as an
    extension is: `cdr forget` left it in `calls of Li Na.csv`, its rejects file's name and
    the paths the rejects, the ledger and the rows record. A name is found between
    characters that are not letters or digits; an extension's digits stay whole-field."""
    from cdr_pipeline.privacy.scrub import scrub_files, scrubbed_name
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    tokens = {"Li Na": "name_x", "1106": "number_y"}
    rejects = layout.rejects_file("call_legs", "0a1b2c3d4e5f-calls of Li Na.csv")
    rejects.parent.mkdir(parents=True)
    texts = ["in/calls of Li Na.csv", "Oli Nash; room 1106 x1106"]
    pq.write_table(pa.table({"source_file": texts}), rejects)
    done = scrub_files(layout, tokens, False)
    assert done.files == ["rejects/call_legs/0a1b2c3d4e5f-calls of name_x.csv.parquet"]
    got = pq.read_table(layout.root / done.files[0])["source_file"].to_pylist()
    assert got == ["in/calls of name_x.csv", "Oli Nash; room 1106 x1106"]
    assert scrubbed_name("in/li_na-2026.csv", tokens) == "in/name_x-2026.csv"
    # held in the rows with its accent as a mark (NFD), a short name is still a name
    nfd = unicodedata.normalize("NFD", "Lé Na")
    assert scrubbed_name("calls of Lé Na.csv", {nfd: "name_z"}) == "calls of name_z.csv"
    pattern = text_pattern(tokens)
    found = duckdb.execute(
        "select s from (values ('calls of Li Na.csv'), ('Oli Nash'), ('x1106y'), ('\"1106\"')) "
        "as t(s) where regexp_matches(s, ?)",
        [pattern],
    ).fetchall()
    assert found == [("calls of Li Na.csv",), ('"1106"',)]


def test_a_ledger_file_whose_name_holds_the_digits_keeps_its_name(tmp_path: Path) -> None:
    """A ledger file is named `<record id>@<write time in ns>`, which readers parse (the
    latest compacted file, the next write's time); renaming files after the person made a
    19-digit time that held their number's digits by chance another name, and the ledger
    then lost track of which compacted file is the latest."""
    from cdr_pipeline.privacy.scrub import scrub_files
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    record = layout.ledger / "runs" / "_compacted-1796443125550120000.parquet"
    record.parent.mkdir(parents=True)
    pq.write_table(pa.table({"run_id": ["r1"]}), record)
    scrub_files(layout, {"3125550120": "number_x"}, False)  # as a colleague dialled it
    assert record.is_file()


def test_a_binary_file_it_cannot_search_is_named_not_passed_over(tmp_path: Path) -> None:
    """A file that is neither text, Parquet, gzip nor ZIP (the spill a killed validation or
    reader left: raw rows) cannot be searched, and forget is to say so (`unreadable_files`,
    a warning). Since the renaming of files named after the person it was counted as
    holding nothing, so forget ended as if the warehouse were clean."""
    from cdr_pipeline.privacy.scrub import scrub_files
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    spill = layout.state / "validate_tmp" / "v1" / "duckdb_temp_storage_DEFAULT-0.tmp"
    spill.parent.mkdir(parents=True)
    spill.write_bytes(b"\x00\xff\xfeAiko Muller\x00+14155550123\xff")
    done = scrub_files(layout, {"Aiko Muller": "name_x"}, False)
    assert done.unreadable == ["state/validate_tmp/v1/duckdb_temp_storage_DEFAULT-0.tmp"]
    assert done.files == []
    # a file named after the person is renamed even when it cannot be read, and still named
    named = layout.root / "exports" / "Aiko Muller.bin"
    named.parent.mkdir(parents=True)
    named.write_bytes(b"\x00\xff")
    done = scrub_files(layout, {"Aiko Muller": "name_x"}, False)
    assert sorted(done.unreadable) == [
        "exports/name_x.bin",
        "state/validate_tmp/v1/duckdb_temp_storage_DEFAULT-0.tmp",
    ]
    assert done.files == ["exports/name_x.bin"]  # renamed: changed, though not searched


def test_a_value_in_another_case_is_replaced_as_the_rows_match_it(tmp_path: Path) -> None:
    """E-mails and ids are compared ignoring case (the selector, and the pattern that empties
    the `extra` of a row or a reject naming the person), but the files outside the tables
    were edited case for case: a saved page whose unknown column held
    `OLGA.PRUITT@EXAMPLE.COM` kept it, and was not even listed, after `cdr forget` of
    `olga.pruitt@example.com` had emptied the same text from the row loaded from it."""
    import gzip

    from cdr_pipeline.privacy.scrub import scrub_files
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    page = layout.fetched / "feed" / "org" / "w1" / "page-001.json.gz"
    page.parent.mkdir(parents=True)
    body = '{"items": [{"Escalation contact": "OLGA.PRUITT@EXAMPLE.COM", "n": "Olga.Pruitt@x.io"}]}'
    page.write_bytes(gzip.compress(body.encode(), mtime=0))
    replacements = {"olga.pruitt@example.com": "email_1", "olga.pruitt@x.io": "email_2"}
    done = scrub_files(layout, replacements, False)
    assert done.files == ["state/fetched/feed/org/w1/page-001.json.gz"]
    assert gzip.decompress(page.read_bytes()).decode() == (
        '{"items": [{"Escalation contact": "email_1", "n": "email_2"}]}'
    )
    # and a short value keeps standing only as a whole field, in any case
    pairs = replacement_pairs({"ab12": "number_1"})
    assert replace_text("AB12,xab12,ab12", pairs) == "number_1,xab12,number_1"


def test_a_folder_named_after_the_person_is_renamed(tmp_path: Path) -> None:
    """A subject access export kept under reports/ in a folder of the person's name: its
    file was edited, but the folder kept the name after the erasure. Folders the pipeline
    names (tables, state, quality results, rejects, closed months) are ids, tables and
    months, and stay as they are."""
    from cdr_pipeline.privacy.scrub import scrub_files
    from cdr_pipeline.state.layout import Layout

    layout = Layout(tmp_path / "wh")
    folder = layout.root / "reports" / "sar" / "grace-chen"
    folder.mkdir(parents=True)
    (folder / "calls.csv").write_text("who,number\nGrace Chen,+13125550116\n")
    ledger = layout.ledger / "files" / "grace-chen"  # no folder the pipeline writes is so
    ledger.mkdir(parents=True)
    values = {"Grace Chen": "name_x", "+13125550116": "number_x"}
    done = scrub_files(layout, values, False, text_pattern(values))
    moved = layout.root / "reports" / "sar" / "name_x"
    assert not folder.exists() and moved.is_dir()
    assert (moved / "calls.csv").read_text() == "who,number\nname_x,number_x\n"
    assert done.files == ["reports/sar/name_x", "reports/sar/name_x/calls.csv"]
    assert ledger.is_dir()
