"""`cdr forget`: erase one person's personal fields from the whole warehouse.

The person is named by a user UUID, a phone number or an e-mail address. Their values are
found first: the rows of the tables whose user UUID, number or e-mail is theirs give the
others (their name, extension, e-mail, numbers, device MACs), for a few rounds until nothing
new turns up. Then every occurrence of each value (and of its pseudonym under the warehouse
key), in every personal column of every table, becomes a token keyed by a one-time random key
thrown away once the erasure ends (`_replacement_map`: so counts, durations, devices and
every finance figure stay, the views still join the person's rows to each other, and
nobody, the key's holder included, can tell whose they were), and the dropped fields (public
IPs, `extra`, authorisation codes) of their rows become NULL: one Delta commit per table
that held any. The same values are replaced in every other file (saved pages, rejects, the
ledger, quality results, report outputs; `privacy/scrub.py`), the views and the pseudonym
map are rebuilt, and `vacuum` deletes the replaced data files once the grace period is over.
The ledger table `erasures` records what was done: counts, never the values.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import duckdb
import pyarrow as pa

from cdr_pipeline.config import Settings
from cdr_pipeline.errors import ConfigError, MergeOutOfMemory
from cdr_pipeline.ingest import faults, new_run_id
from cdr_pipeline.ingest.erased import add_erased
from cdr_pipeline.ingest.vacuum import VacuumResult, vacuum_tables
from cdr_pipeline.privacy.pending import begin_erasure, clear_pending, load_pending
from cdr_pipeline.privacy.person import add_caller_id_names, check_one_holder, find_values
from cdr_pipeline.privacy.reject_texts import empty_reject_texts_naming
from cdr_pipeline.privacy.rewrite import (
    TableRewrite,
    count_touched,
    parquet_source,
    present_columns,
    renamed_sources,
    replace_map,
    replaced_holding,
    rewrite_connection,
    rewrite_partitions,
    touched_predicate,
)
from cdr_pipeline.privacy.scrub import ScrubResult, scrub_files, scrubbed_name
from cdr_pipeline.privacy.selector import add_stored_spellings, start_selector
from cdr_pipeline.privacy.spellings import text_pattern
from cdr_pipeline.schema import TableSchema, schemas_by_table
from cdr_pipeline.schema.personal import (
    personal_columns,
    pseudonymised_columns,
)
from cdr_pipeline.state import tables
from cdr_pipeline.state.files import apply_file_mode
from cdr_pipeline.state.layout import Layout
from cdr_pipeline.state.ledger import FILES_SCHEMA, TS, Ledger
from cdr_pipeline.state.lock import writer_lock
from cdr_pipeline.state.secret import key_id, load_key, pseudonym
from cdr_pipeline.warehouse import build_warehouse

log = logging.getLogger(__name__)

ERASURES_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("selector", pa.string()),
        ("values_replaced", pa.int64()),
        ("rows", pa.int64()),
        ("data_files", pa.int64()),
        ("other_files", pa.int64()),
        ("table_versions", pa.string()),
        ("detail", pa.string()),
        ("key_id", pa.string()),
        ("erased_at", TS),
    ]
)


@dataclass
class ForgetResult:
    run_id: str
    selector: str
    dry_run: bool
    values: int = 0
    """Distinct personal values of the person found (they are never shown)."""
    tables: list[TableRewrite] = field(default_factory=list)
    other: ScrubResult = field(default_factory=ScrubResult)
    vacuum: VacuumResult | None = None
    replaced: list[Path] = field(default_factory=list)
    """The data files the erasure replaced, and those earlier commits replaced that hold the
    person (the person's values are in them)."""
    kept_files: int = 0
    """Of `replaced`, the files the vacuum left (within `vacuum_grace_hours`): readers of
    older versions (`--as-of`) still see the person until `cdr vacuum` deletes them."""
    kept_maps: int = 0
    """Pseudonym maps of earlier builds left for their readers; they hold raw values too."""
    grace_hours: int = 0

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def data_files(self) -> int:
        return sum(t.files for t in self.tables)

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "selector": self.selector,
            "dry_run": self.dry_run,
            "values": self.values,
            "rows": self.rows,
            "data_files": self.data_files,
            "tables": {
                t.table: {"rows": t.rows, "files": t.files, "version": t.version}
                for t in self.tables
            },
            "other_files": self.other.files,
            "unreadable_files": self.other.unreadable,
            "vacuumed_files": self.vacuum.files if self.vacuum else 0,
            "kept_files": self.kept_files,
            "kept_maps": self.kept_maps,
            "grace_hours": self.grace_hours,
        }


def _replacement_map(
    found: dict[str, set[str]], key: bytes, once: bytes
) -> tuple[pa.Table, dict[str, str], int]:
    """The map (kind, value, token) with each value under every kind that replaces it (a
    number can sit in a name column), value -> token for the other files, and the number
    of the person's values.

    The tokens look like pseudonyms but are keyed by a random key used for this erasure
    only, kept until it ends: under the warehouse's own key, whoever holds it and the
    person's number (the requester, an administrator) could compute the pseudonym again
    and pick out every call of the erased person, and an analyst export made before the
    erasure would still name the same rows. The pseudonyms the warehouse key gave their
    values (retention replaced old legs in place; analyst report outputs hold them) are
    mapped to the same tokens, so no trace under the key stays either. Within the
    warehouse a token is one per value and kind, as a pseudonym is: joins and counts hold.
    `once` is that key (an interrupted erasure's, `privacy/pending.py`, to finish it)."""
    kinds = sorted({k for t in schemas_by_table() for k in pseudonymised_columns(t).values()})
    rows: list[tuple[str, str, str]] = []
    text: dict[str, str] = {}
    for own_kind, values in found.items():
        for value in sorted(values):
            text[value] = pseudonym(once, own_kind, value)
            for k in kinds:
                token = pseudonym(once, k, value)
                rows.append((k, value, token))
                rows.append((k, pseudonym(key, k, value), token))
                text[pseudonym(key, k, value)] = token
    table = pa.table(
        {
            "kind": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "pseudonym": [r[2] for r in rows],
        }
    )
    return table, text, sum(len(v) for v in found.values())


def forget(
    settings: Settings,
    *,
    user: str | None = None,
    number: str | None = None,
    email: str | None = None,
    dry_run: bool = False,
    all_holders: bool = False,
) -> ForgetResult:
    """Erase one person (see the module text); `dry_run` counts what would change. Values
    that lead to more than one user are refused (`check_one_holder`) unless `all_holders`
    says to erase every one of them, or an erasure of them is already under way."""
    selector, found = start_selector(user, number, email)
    run_id = new_run_id(datetime.now(UTC))
    result = ForgetResult(run_id, selector, dry_run)
    layout = settings.layout
    apply_file_mode(settings.file_mode)  # the rewritten files, as ingest_paths does
    key = load_key(layout)
    with writer_lock(layout, "cdr forget", settings.lock_wait_seconds):
        schemas = schemas_by_table()
        snaps = {
            name: tables.snapshot(layout.table(name), name, s.partition_by)
            for name, s in schemas.items()
        }
        con = rewrite_connection(settings, pa.table({"kind": [], "value": [], "pseudonym": []}))
        try:
            add_stored_spellings(con, snaps, found)
            find_values(con, snaps, found)
            add_caller_id_names(con, snaps["call_legs"], found, key)
            check_one_holder(found, selector, all_holders or load_pending(layout) is not None)
            erasure = begin_erasure(layout, found, len(key), dry_run)  # a rerun goes on
            replacements, text, result.values = _replacement_map(found, key, erasure.key)
            # their values in free text (`extra`) of rows that are not theirs
            texts = text_pattern(v for values in found.values() for v in values)
            replace_map(con, replacements, renamed_sources(con, snaps, text))
            for name in sorted(schemas):
                if not personal_columns(name):
                    continue
                change = TableRewrite(name)
                snap = snaps[name]
                held = {value: snap.partition_files(value) for value in sorted(snap.files)}
                every = [f for files in held.values() for f in files]
                counts = count_touched(con, schemas[name], every, texts)
                # what earlier commits replaced holds them too, until vacuumed
                result.replaced.extend(replaced_holding(con, schemas[name], snap.root, texts))
                for value, files in held.items():
                    touched = sum(counts.get(str(f), 0) for f in files)
                    if touched:
                        change.rows += touched
                        change.files += len(files)
                        result.replaced.extend(files)
                        change.partitions.append(value)
                if change.partitions and not dry_run:
                    change.version = _erase(con, settings, schemas[name], snap, change, run_id,
                                            texts)  # fmt: skip
                    faults.point("erasure-commit")
                result.tables.append(change)
        except duckdb.OutOfMemoryException as exc:  # finding the person's rows, before a rewrite
            limit = f"{settings.merge_memory_mb}MiB"
            raise MergeOutOfMemory.past("cdr forget", limit, exc) from exc
        finally:
            con.close()
        result.other = _scrub_other_files(settings, text, texts, dry_run)
        if not result.rows and not result.other.files and not erasure.resumed:
            _nothing_held(layout, selector, dry_run)
        if not dry_run:
            _record(settings, result, key)
            _keep_pages_loaded(settings, result)
    if not dry_run:
        faults.point("erasure-recorded")
        build_warehouse(settings)
        result.vacuum = vacuum_tables(settings, command="cdr forget")
        # only now: until cdr.duckdb is rebuilt its kept marts hold the values, and a rerun
        # that found the person nowhere in the tables would say nothing was erased
        clear_pending(layout, erasure)
        # what the grace period keeps is said, never silently left: an erasure is not
        # complete until these are gone
        result.kept_files = sum(1 for f in result.replaced if f.exists())
        result.kept_maps = max(len(layout.pseudonym_maps()) - 1, 0)
        result.grace_hours = result.vacuum.grace_hours
    log.info(
        "forget (%s): %d value(s), %d row(s) in %d data file(s), %d other file(s)%s",
        selector,
        result.values,
        result.rows,
        result.data_files,
        len(result.other.files),
        " (dry run)" if dry_run else "",
    )
    return result


def _erase(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    schema: TableSchema,
    snap: tables.Snapshot,
    change: TableRewrite,
    run_id: str,
    texts: str | None,
) -> int | None:
    """Rewrite the partitions of `change` with the person's values replaced (one commit),
    after listing the records it reaches (`ingest/erased.py`): an export delivered again
    holds them raw, and as the later load would bring the person back."""
    files = [f for value in change.partitions for f in snap.partition_files(value)]
    touched = touched_predicate(schema, present_columns(con, files), texts)
    rows = f"(select * from {parquet_source(files)} where {touched})"
    add_erased(con, settings.layout, schema, rows)
    return rewrite_partitions(
        con, settings, schema, snap, change.partitions, run_id,
        null_dropped="touched", tag="erasure", texts=texts,
    )  # fmt: skip


def _nothing_held(layout: Layout, selector: str, dry_run: bool) -> NoReturn:
    """Never "done": a typing slip would otherwise read as a completed erasure."""
    if not dry_run:
        clear_pending(layout)
    raise ConfigError(
        f"forget: no record of the warehouse holds this --{selector} (compared ignoring "
        "case, and spaces, brackets, dots, dashes and '+' in numbers): nothing was erased",
        hint="check the value against the records (`cdr forget` takes a user UUID, a number "
        "such as +14155550111 or an e-mail address)",
    )


def _scrub_other_files(
    settings: Settings, text: dict[str, str], texts: str | None, dry_run: bool
) -> ScrubResult:
    """The person's values replaced in the files outside the tables (`scrub_files`), after
    the rejected lines that name them were emptied whole: the rest of such a line (a name, a
    UUID) is theirs too, and only the tables' rows give the values that replace text."""
    emptied = empty_reject_texts_naming(settings.layout, texts, dry_run)
    other = scrub_files(settings.layout, text, dry_run, texts)
    for done in emptied:
        name = f"rejects/{scrubbed_name(done.file, text)}"  # as scrub_files renamed it
        if name not in other.files:
            other.files.append(name)
    return other


def _keep_pages_loaded(settings: Settings, result: ForgetResult) -> None:
    """A saved page whose records were loaded keeps counting as loaded under its new content
    hash, so fetch does not replay it (`fetch/store.py` replays pages the ledger lacks)."""
    ledger = Ledger(settings.layout)
    loaded = ledger.loaded_hashes()
    now = datetime.now(UTC)
    for seq, (path, before, after) in enumerate(result.other.pages, start=1):
        if before not in loaded:
            continue
        row = {
            "run_id": result.run_id,
            "file_seq": seq,
            "path": str(path),
            "source": path.name,
            "content_sha256": after,
            "size_bytes": path.stat().st_size,
            "status": "loaded",
            "rows_read": 0,
            "rows_loaded": 0,
            "rows_duplicate": 0,
            "rows_rejected": 0,
            "loaded_at": now,
            "message": "saved page pseudonymised by cdr forget; its records were loaded before",
        }
        ledger.write("files", f"{result.run_id}-{seq:05d}", [row], FILES_SCHEMA)


def _record(settings: Settings, result: ForgetResult, key: bytes) -> None:
    versions = ",".join(f"{t.table}={t.version}" for t in result.tables if t.version is not None)
    detail = {t.table: {"rows": t.rows, "files": t.files} for t in result.tables}
    Ledger(settings.layout).write(
        "erasures",
        result.run_id,
        [
            {
                "run_id": result.run_id,
                "selector": result.selector,
                "values_replaced": result.values,
                "rows": result.rows,
                "data_files": result.data_files,
                "other_files": len(result.other.files),
                "table_versions": versions,
                "detail": json.dumps(detail, sort_keys=True),
                "key_id": key_id(key),
                "erased_at": datetime.now(UTC),
            }
        ],
        ERASURES_SCHEMA,
    )
