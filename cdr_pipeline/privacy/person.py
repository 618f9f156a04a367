"""Who `cdr forget` erases: the person's values, found from the rows the selector names.

The rows of the tables whose user UUID, number or e-mail is one of the person's give the
row's owner columns (their name, extension, e-mail, numbers, device MACs), for a few rounds
until nothing new turns up. Names, extensions and MACs are collected but never matched on:
a name is not unique, and an extension is unique within a location only, while a user
without a phone number carries theirs as `User number` (reference: "E.164, or extension if
the user has no number"), so matching on it would take another location's user for the
person and erase them too. For the same reason a number of fewer than 7 digits finds no row
even from a matched column (a user without a phone number has their extension as `User
number`): such a user is found by their UUID or e-mail.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdr_pipeline.errors import ConfigError
from cdr_pipeline.ingest.derive.devices import decode_person_id
from cdr_pipeline.privacy.rewrite import parquet_source, present_columns
from cdr_pipeline.privacy.selector import add_stored_spellings, is_key_number
from cdr_pipeline.schema.personal import EMAIL, ID, NAME, NUMBER, personal_columns
from cdr_pipeline.state import tables
from cdr_pipeline.state.secret import pseudonym
from cdr_pipeline.text import quote

_OWNERS = {
    "call_legs": ("user_uuid", "user_number", "user_name", "device_mac"),
    "device_snapshots": ("user_uuid", "person_id", "user_email", "phone_number", "extension"),
    "device_events": ("user_uuid", "phone_number"),
}
OWNER_COLUMNS: dict[str, dict[str, str]] = {
    table: {c: personal_columns(table)[c] for c in names} for table, names in _OWNERS.items()
}
"""Columns of a row that belong to the row's user, with their kinds as the personal-column
list gives them: a row matched by one of them gives the others. Names, extensions and MACs
are collected but never matched on (they are not unique)."""
MATCH_KINDS = (ID, NUMBER, EMAIL)
NOT_MATCHED = frozenset({"user_name", "extension", "device_mac"})
ROUNDS = 3


def _owner_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[Path],
    keys: dict[str, set[str]],
) -> list[tuple[str, str, object]]:
    """(column, kind, value) of the owner columns of the rows of `files` that `keys`
    matches."""
    owners = OWNER_COLUMNS[table]
    source, present = parquet_source(files), present_columns(con, files)
    cols = [c for c in owners if c in present]
    conds, params = [], []
    for c in cols:
        kind = owners[c]
        if c not in NOT_MATCHED and kind in MATCH_KINDS and keys.get(kind):
            conds.append(f"{quote(c)} in (select unnest(?))")
            params.append(sorted(keys[kind]))
    if not conds:
        return []
    select = ", ".join(quote(c) for c in cols)
    rows = con.execute(
        f"select distinct {select} from {source} where {' or '.join(conds)}", params
    ).fetchall()
    return [(c, owners[c], v) for row in rows for c, v in zip(cols, row, strict=True)]


def _count(*maps: dict[str, set[str]]) -> int:
    return sum(len(v) for m in maps for v in m.values())


def find_values(
    con: duckdb.DuckDBPyConnection,
    snaps: dict[str, tables.Snapshot],
    found: dict[str, set[str]],
) -> None:
    """Grow `found` (kind -> values: the selector and its spellings) with the owner columns
    of every row it matches, and with the other spellings the tables hold of each (a device
    list saved by a spreadsheet gives `13125550116`, the call records to the person hold
    `+13125550116`). Only the selector and the values of matched columns find rows (a
    number only with 7 digits or more, `is_key_number`): the values of `NOT_MATCHED`
    columns are the person's, not keys to other rows."""
    keys = {kind: set(values) for kind, values in found.items()}
    for _ in range(ROUNDS):
        before = _count(found, keys)
        for table in OWNER_COLUMNS:
            files = snaps[table].all_files()
            if not files:
                continue
            for column, kind, value in _owner_rows(con, table, files, keys):
                if value is None or not str(value).strip():
                    continue
                found.setdefault(kind, set()).add(str(value))
                if column not in NOT_MATCHED and (kind != NUMBER or is_key_number(str(value))):
                    keys.setdefault(kind, set()).add(str(value))
        add_stored_spellings(con, snaps, keys)
        for kind, values in keys.items():
            found.setdefault(kind, set()).update(values)
        if _count(found, keys) == before:
            break
    add_stored_spellings(con, snaps, found)  # the spellings of the collected values too


CALLER_ID_PAIRS = (("calling_number", "calling_line_id"), ("called_number", "called_line_id"))
"""A leg's numbers and the caller-ID name shown beside each (reference: `Calling line ID`,
`Called line ID`)."""


def caller_id_names(
    con: duckdb.DuckDBPyConnection, snap: tables.Snapshot, numbers: set[str], keys: set[str]
) -> set[str]:
    """The caller-ID names the call legs show beside the person's `numbers` only, and
    beside one of their `keys` (numbers of 7 digits or more, `is_key_number`) at least
    once. An outside caller has no row of their own, so no user name: their name is only
    the `JOHN SMITH` their carrier presents beside their number, and was left beside its
    token. A name also shown beside another number (`WIRELESS CALLER`, a company's caller
    ID, a namesake) is not theirs alone: replacing it in every row would erase other
    people's data, so it stays. So does a name shown beside their extension alone: another
    location's user with the same extension (and no phone number of their own, or calling
    only inside their location) shows their own name beside it."""
    files = snap.all_files()
    if not files or not keys:
        return set()
    present = present_columns(con, files)
    pairs = [
        f"{{'n': {quote(n)}, 'name': {quote(name)}}}"
        for n, name in CALLER_ID_PAIRS
        if n in present and name in present
    ]
    if not pairs:
        return set()
    # both pairs of a leg in one scan of the files
    shown = f"select unnest([{', '.join(pairs)}]) as p from {parquet_source(files)}"
    rows = con.execute(
        f"select p.name from ({shown}) where nullif(trim(p.name), '') is not null "
        "group by p.name having bool_and(coalesce(p.n in (select unnest(?)), false)) "
        "and bool_or(coalesce(p.n in (select unnest(?)), false))",
        [sorted(numbers | keys), sorted(keys)],
    ).fetchall()
    return {str(r[0]) for r in rows}


def add_caller_id_names(
    con: duckdb.DuckDBPyConnection,
    snap: tables.Snapshot,
    found: dict[str, set[str]],
    key: bytes,
) -> None:
    """Grow `found` with `caller_id_names` beside the person's numbers, and beside their
    pseudonyms under `key` (personal retention replaced old legs' numbers and names so)."""
    numbers = set(found.get(NUMBER, ()))
    keys = {v for v in numbers if is_key_number(v)}
    numbers |= {pseudonym(key, NUMBER, v) for v in numbers}
    keys |= {pseudonym(key, NUMBER, v) for v in keys}
    if names := caller_id_names(con, snap, numbers, keys):
        found.setdefault(NAME, set()).update(names)


def holders(found: dict[str, set[str]]) -> set[str]:
    """The users (raw UUIDs, lower case) among the person's ids: user UUIDs in any case and
    API person ids (base64 of `ciscospark://us/PEOPLE/<uuid>`) of one user are one."""
    uuids = (decode_person_id(value) for value in found.get(ID, ()))
    return {uuid.lower() for uuid in uuids if uuid}


def check_one_holder(found: dict[str, set[str]], selector: str, allowed: bool) -> None:
    """Refuse (exit 3) when the person's values lead to more than one user, unless `allowed`
    (--all-holders, or an erasure of them under way): a number given to a new user after
    the person left, or an address or number two users shared. Every occurrence of each
    value is replaced, so the erasure would erase them all, each one's rows keyed as the
    person's."""
    users = holders(found)
    if len(users) > 1 and not allowed:
        raise ConfigError(
            f"forget: this --{selector} leads to {len(users)} users ({', '.join(sorted(users))}) "
            "through a number or e-mail address they each held (a number given to a new user "
            "after the person left, a shared line): erasing it would erase all of them, "
            "nothing was erased",
            hint="check those users in the records (--all-holders --dry-run counts what "
            "would change); --all-holders erases every one of them: no erasure of one user "
            "alone by the time each held the value is built",
        )
