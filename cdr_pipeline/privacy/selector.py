"""How `cdr forget` is told who to erase: exactly one selector (user UUID, number or
e-mail), and the spellings the tables hold of it.

A request names a person as they write themselves (`+1 (312) 555-0116`,
`Grace.Chen@Example.com`, an upper-case UUID) while an export spells them its own way
(`+13125550116`); comparing exactly would find nothing and report the erasure done. So a
selector is compared in a canonical form: numbers without spaces, brackets, dots, dashes
and `+`, e-mails and ids in lower case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import parseaddr

import duckdb
import phonenumbers

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.privacy.rewrite import parquet_source, present_columns
from cdr_pipeline.schema.personal import EMAIL, ID, NUMBER, pseudonymised_columns
from cdr_pipeline.state import tables
from cdr_pipeline.text import lit, quote


def start_selector(
    user: str | None, number: str | None, email: str | None
) -> tuple[str, dict[str, set[str]]]:
    """(selector kind, {value kind: {value}}) of the one selector given; a ConfigError when
    there is none or more than one."""
    given = [(k, v) for k, v in (("user", user), ("number", number), ("email", email)) if v]
    if len(given) != 1 or not given[0][1].strip():
        raise ConfigError(
            "name exactly one person: --user UUID, --number E164 or --email ADDRESS",
            hint="cdr forget --number +14155550111 --dry-run",
        )
    selector, value = given[0]
    kind = {"user": ID, "number": NUMBER, "email": EMAIL}[selector]
    if kind == NUMBER and not is_key_number(value):
        raise ConfigError(
            f"forget: --number {value.strip()} is an extension or short code, not a person: "
            "an extension is unique within a location only, and no row is found by it, so "
            "their name, UUID and numbers would stay while the erasure read as done",
            hint="name the person by --user UUID, --email ADDRESS or their number in E.164 "
            "(+14155550111)",
        )
    if kind == NUMBER:
        return selector, {kind: {_international(value)}}
    return selector, {kind: {_address(value) if kind == EMAIL else _user_id(value)}}


def _user_id(value: str) -> str:
    """A user UUID selector without the wrapping a directory or registry writes around
    it, `{aec1f2ea-…}` (Windows, Active Directory) or `urn:uuid:aec1f2ea-…`: with it the
    UUID matched no record and `forget` said nothing held the person (exit 3). Any other
    text (a person id) as given."""
    text = value.strip()
    if text[:9].lower() == "urn:uuid:":
        text = text[9:].strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text


def _address(value: str) -> str:
    """An e-mail selector as its address alone: a request copied from a mail client or a
    link reads `Grace Chen <grace.chen@example.com>`, `<grace.chen@example.com>` or
    `mailto:grace.chen@example.com`, which no record holds, so the person was found nowhere
    and `forget` said nothing held them (exit 3). Any other text as given."""
    text = value.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].split("?", 1)[0].strip()
    if "<" in text:
        _, address = parseaddr(text)
        if "@" in address:
            return address.strip()
    return text


def _international(value: str) -> str:
    """A number in international notation as E.164: the trunk `0` many countries write in
    brackets after the country code (`+44 (0)20 7946 0011`) is not dialled from abroad and
    no export holds it; with it the selector matched a stray dialled row or two and the
    erasure read as done, the person's own rows left. A `tel:` URI (RFC 3966, as a contact
    card or a link gives the number) is its number, without its `;ext=` or other
    parameters: with the scheme it matched no record. Any other text as given."""
    text = value.strip()
    if text[:4].lower() == "tel:":
        text = text[4:].split(";", 1)[0].strip()
    if not text.startswith("+"):
        return text
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_NUMBER_MARKS = r"[\s().+-]"
"""What a phone number may be written with besides its digits (`+1 (312) 555-0116`)."""


def _canonical_sql(kind: str, column: str) -> str:
    """SQL of `column` in the form a selector of `kind` is compared in: a number without
    spaces, brackets, dots, dashes and `+`; an e-mail or id in lower case."""
    if kind == NUMBER:
        return f"regexp_replace(trim({column}), {lit(_NUMBER_MARKS)}, '', 'g')"
    return f"lower(trim({column}))"


def canonical(kind: str, value: str) -> str:
    """The selector in the form `_canonical_sql` gives a stored value."""
    if kind == NUMBER:
        return re.sub(_NUMBER_MARKS, "", value.strip())
    return value.strip().lower()


def is_key_number(value: str) -> bool:
    """A number that may name one person: at least `SUFFIX_DIGITS` digits. A shorter one is
    an extension or short code (a user without a phone number has their extension as
    `User number`), unique within a location only."""
    return sum(c.isdigit() for c in value) >= SUFFIX_DIGITS


FEATURE_CODE = r"^[*#][0-9]{2}"
"""A feature access code a user dials before a number (`*67`, withholding their caller ID
for the call): `Dialed digits` then holds `*6713125550116`."""
DIALLED_PREFIX = 4
"""Digits a dialled number may carry before the country code (an international prefix
`011`, `9011`, `00`)."""
SUFFIX_DIGITS = 7
"""National numbers at least this long are also found at the end of a dialled number."""


def _national(value: str) -> tuple[str, str] | None:
    """(national number, country code) of an E.164 `value` whose national number has at
    least `SUFFIX_DIGITS` digits."""
    text = value.strip()
    if not text.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(parsed)
    if not parsed.country_code or len(national) < SUFFIX_DIGITS:
        return None
    return national, str(parsed.country_code)


def _dialled_sql(value: str, values: Iterable[str]) -> str:
    """SQL true when the stored `value` is one of the E.164 `values` as a user dialled it:
    no `+`, only digits (marks aside), ending with the national number after nothing, an
    outside line (`9`), a trunk `0` or the country code (after an international prefix):
    `3125550120`, `93125550120`, `913125550120`, `9011443125550120`, `01632960961`; also
    after a feature access code (`*6713125550120`: the number dialled with caller ID
    withheld, which otherwise kept it raw in a colleague's `dialed_digits`)."""
    bare = f"regexp_replace(trim({value}), {lit(FEATURE_CODE)}, '')"
    digits = f"regexp_replace({bare}, {lit(_NUMBER_MARKS)}, '', 'g')"
    parts: list[str] = []
    for national, country in sorted(filter(None, map(_national, values))):
        head = f"left({digits}, length({digits}) - {len(national)})"
        parts.append(
            f"(ends_with({digits}, {lit(national)}) "
            f"and length({digits}) <= {len(national) + DIALLED_PREFIX + len(country)} "
            f"and (length({head}) <= 1 or ends_with({head}, {lit(country)}) "
            f"or ends_with({head}, '0')))"
        )
    if not parts:
        return "false"
    return (
        f"(not starts_with(trim({value}), '+') and regexp_full_match({digits}, '[0-9]+') "
        f"and ({' or '.join(parts)}))"
    )


def stored_spellings(
    con: duckdb.DuckDBPyConnection,
    snaps: dict[str, tables.Snapshot],
    kind: str,
    values: Iterable[str],
) -> set[str]:
    """How the tables spell `values` (of `kind`): the values of every column of the kind
    equal to one of them as `canonical` compares. A request names a person as they write
    themselves (`+1 312 555 0116`, `Grace.Chen@Example.com`, an upper-case UUID), and one
    export may spell a number otherwise than another (`+13125550116` in the call records,
    `13125550116` in a device list a spreadsheet saved): an exact match would miss them."""
    values = list(values)
    wanted = sorted({canonical(kind, v) for v in values} - {""})
    dialled = _dialled_sql("v", values) if kind == NUMBER else "false"
    found: set[str] = set()
    if not wanted:
        return found
    for table, snap in snaps.items():
        columns = [c for c, k in pseudonymised_columns(table).items() if k == kind]
        files = snap.all_files()
        if not columns or not files:
            continue
        present = present_columns(con, files)
        listed = ", ".join(quote(c) for c in columns if c in present)
        if not listed:
            continue
        # the table's columns of the kind in one scan (a scan per column cost a forget a
        # second on the samples)
        rows = con.execute(
            f"select distinct v from (select unnest([{listed}]) as v from {parquet_source(files)}) "
            f"where {_canonical_sql(kind, 'v')} in (select unnest(?)) or {dialled}",
            [wanted],
        ).fetchall()
        found |= {str(r[0]) for r in rows}
    return found


SPELLED_KINDS = (ID, NUMBER, EMAIL)
"""The kinds a value may be spelled several ways of (names and MACs are compared as they
are: the pipeline upper-cases a MAC and drops its separators)."""


def add_stored_spellings(
    con: duckdb.DuckDBPyConnection, snaps: dict[str, tables.Snapshot], found: dict[str, set[str]]
) -> None:
    """Grow `found` (kind -> values) with the tables' spellings of each value."""
    for kind in SPELLED_KINDS:
        if found.get(kind):
            found[kind] |= stored_spellings(con, snaps, kind, found[kind])
