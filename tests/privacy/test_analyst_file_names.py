"""The analyst tier shows file names without the personal values they hold: an export named
after a person (a subject access request, an investigation) named them in the `source_file`
of every row loaded from it and in the ledger's `path` and `source`, beside the pseudonym of
the same name."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from cdr_pipeline.config import Settings
from cdr_pipeline.ingest import ingest_paths
from cdr_pipeline.state.secret import load_key, pseudonym
from cdr_pipeline.warehouse import build_warehouse, connect
from cdr_pipeline.warehouse.analyst_files import _index, hidden_name

GRACE = "11111111-1111-4111-8111-111111111111"
LEG = (
    "Report ID,Report time,Start time,Direction,Correlation ID,User UUID,User number,User,"
    "Calling number,Called number,Location,Call type,Duration\n"
    "{rid},2026-09-02T09:59:00Z,2026-09-02T09:00:00Z,ORIGINATING,c{rid},"
    f"{GRACE},+13125550120,Grace Muller,+13125550120,+14155550111,Chicago HQ,SIP_NATIONAL,60\n"
)
DEVICES = (
    "snapshot_time,org_uuid,device_id,user_uuid,user_email,deployment,phone_number,location\n"
    f"2026-09-02T06:00:00Z,org-1,dev-1,{GRACE},grace.muller@example.com,BYOD,+13125550120,"
    "Chicago HQ\n"
)
NAMES = {
    "r1": "calls of Grace Muller.csv",
    "r2": "grace_muller 2026-09-02.csv",
    "r3": "calls for GRACE.MULLER@example.com.csv",
    "r4": "dch_export_2026-09-02.csv",
}


def test_analyst_tier_shows_file_names_without_the_persons_values(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for rid, name in NAMES.items():
        (inbox / name).write_text(LEG.format(rid=rid), encoding="utf-8")
    (inbox / "devices.csv").write_text(DEVICES, encoding="utf-8")
    settings = Settings(warehouse=tmp_path / "wh")
    loaded = ingest_paths(settings, sorted(inbox.iterdir()))
    assert loaded.exit_code == 0, [f.message for f in loaded.errors]
    build_warehouse(settings)

    key = load_key(settings.layout)
    name = pseudonym(key, "name", "Grace Muller")
    email = pseudonym(key, "email", "grace.muller@example.com")
    shown = {
        "r1": f"calls of {name}.csv",
        "r2": f"{name} 2026-09-02.csv",
        "r3": f"calls for {email}.csv",
        "r4": "dch_export_2026-09-02.csv",
    }
    con = connect(settings)
    try:
        rows = con.execute(
            "select report_id, source_file from analyst.fct_call_legs order by 1"
        ).fetchall()
        assert [(rid, Path(f).name) for rid, f in rows] == sorted(shown.items())
        ledger = con.execute("select path, source from analyst.ingest_files").fetchall()
        names = {Path(v).name for row in ledger for v in row}
        assert names == {*shown.values(), "devices.csv"}
        # the full tier names the files as they are
        full = con.execute("select source_file from main.fct_call_legs").fetchall()
        assert {Path(f).name for (f,) in full} == set(NAMES.values())
    finally:
        con.close()


def test_a_value_inside_a_longer_word_or_number_stays() -> None:
    """Only a value standing between non-alphanumerics is replaced: a number's digits inside
    a longer run of digits (a time stamp) are no number of anyone's."""
    index = {"3125550120": "number_x", "grace muller": "name_y"}
    longest = max(map(len, index))
    assert hidden_name("run-20263125550120Z.csv", index, longest) == "run-20263125550120Z.csv"
    assert hidden_name("3125550120.csv", index, longest) == "number_x.csv"
    assert hidden_name("/in/Grace Muller/a.csv", index, longest) == "/in/name_y/a.csv"


def test_a_name_is_found_in_a_file_name_that_spells_its_accent_as_a_mark() -> None:
    """macOS writes a file name with an accented letter as the letter and a combining mark
    (NFD), the export its rows with one character (NFC): `calls of Aiko Müller.csv` saved
    so showed her name on the analyst tier beside its pseudonym. Either way is her name."""
    index = _index({"name": {unicodedata.normalize("NFC", "Aiko Müller")}}, b"k" * 32)
    longest = max(map(len, index))
    for form in ("NFC", "NFD"):
        name = unicodedata.normalize(form, "in/calls of Aiko Müller.csv")
        shown = hidden_name(name, index, longest)
        assert shown == f"in/calls of {pseudonym(b'k' * 32, 'name', 'Aiko Müller')}.csv", form


def test_a_short_name_of_several_words_is_found_in_a_file_name() -> None:
    """`calls of Li Na.csv` showed her name on the analyst tier: values under 7 characters
    were never looked for. A name of several words is, between non-alphanumerics; a short
    word or number is still not (a date's or counter's digits)."""
    key = b"k" * 32
    index = _index({"name": {"Li Na", "Ana"}, "number": {"1106"}}, key)
    longest = max(map(len, index))
    shown = pseudonym(key, "name", "Li Na")
    assert hidden_name("in/calls of Li Na.csv", index, longest) == f"in/calls of {shown}.csv"
    assert hidden_name("in/li_na-1106.csv", index, longest) == f"in/{shown}-1106.csv"
    assert hidden_name("in/Oli Nash Ana.csv", index, longest) == "in/Oli Nash Ana.csv"
    nfd = unicodedata.normalize("NFD", "Lé Na")  # its accent held as a mark
    index = _index({"name": {nfd}}, key)
    shown = pseudonym(key, "name", nfd)
    found = hidden_name("calls of Lé Na.csv", index, max(map(len, index)))
    assert found == f"calls of {shown}.csv"


def test_notebook_reject_examples_name_the_file_as_the_analyst_tier_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebook 04 reads the rejects files themselves (no view), and their `source_file` is
    the input's path: on the analyst tier it showed `calls of Grace Muller.csv` (here a file
    that failed whole, her name known from another export)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "legs.csv").write_text(LEG.format(rid="r1"), encoding="utf-8")
    (inbox / "calls of Grace Muller.csv").write_text(
        LEG.format(rid="r2").replace(",60", ",x7"), encoding="utf-8"
    )
    settings = Settings(warehouse=tmp_path / "wh")
    loaded = ingest_paths(settings, sorted(inbox.iterdir()))
    assert [f.rows_rejected for f in loaded.files] == [1, 0]
    build_warehouse(settings)
    name = pseudonym(load_key(settings.layout), "name", "Grace Muller")

    from cdr_pipeline.notebook import open_notebook

    for tier, shown in (("analyst", f"calls of {name}.csv"), ("full", "calls of Grace Muller.csv")):
        monkeypatch.setenv("CDR_TIER", tier)
        nb = open_notebook(warehouse=settings.warehouse)
        try:
            rejects = nb.query(
                "select * from read_parquet($files, union_by_name = true)",
                files=[str(p) for p in nb.reject_files()],
            )
            assert nb.reject_examples(rejects)["source_file"].to_list() == [shown]
        finally:
            nb.close()


def test_a_last_first_name_is_found_in_a_file_name_without_its_comma() -> None:
    """A display name `Muller, Aiko` (as Control Hub writes it) in a file name saved as
    `muller_aiko_calls.csv` or `Muller Aiko.csv` showed on the analyst tier: its words
    were joined with the comma kept (`Muller,_Aiko`)."""
    key = b"k" * 32
    index = _index({"name": {"Muller, Aiko"}}, key)
    longest = max(map(len, index))
    shown = pseudonym(key, "name", "Muller, Aiko")
    for name in ("muller_aiko_calls.csv", "Muller-Aiko.csv", "Muller Aiko.csv"):
        hidden = hidden_name(f"in/{name}", index, longest)
        assert "muller" not in hidden.casefold(), name
        assert shown in hidden, name
    assert hidden_name("in/Muller, Aiko.csv", index, longest) == f"in/{shown}.csv"


def test_a_last_first_name_is_found_in_a_file_name_in_first_last_order() -> None:
    """`Muller, Aiko` (as Control Hub writes a display name) in a file saved as the name
    is spoken, `aiko_muller_calls.csv`, showed on the analyst tier in clear."""
    key = b"k" * 32
    index = _index({"name": {"Muller, Aiko"}}, key)
    shown = pseudonym(key, "name", "Muller, Aiko")
    found = hidden_name("in/aiko_muller_calls.csv", index, max(map(len, index)))
    assert found == f"in/{shown}_calls.csv"
