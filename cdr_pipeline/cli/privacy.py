"""`cdr forget` (erase one person) and `cdr keys rotate` (a new pseudonym key)."""

from __future__ import annotations

import sys

import click

from cdr_pipeline.cli.context import CliContext, echo, json_option, pass_cli, wait_lock_option
from cdr_pipeline.render import to_json


@click.command(short_help="Erase one person's personal fields from the whole warehouse.")
@click.option("--user", "user", metavar="UUID", help="The person's Webex user UUID.")
@click.option("--number", "number", metavar="E164", help="A phone number of theirs (+14155550111).")
@click.option("--email", "email", metavar="ADDRESS", help="Their e-mail address.")
@click.option("--dry-run", is_flag=True, help="Count the rows and files affected; change nothing.")
@click.option(
    "--all-holders",
    is_flag=True,
    help="Erase every user the person's numbers or e-mail lead to (refused otherwise).",
)
@wait_lock_option
@json_option
@pass_cli
def forget(
    obj: CliContext,
    user: str | None,
    number: str | None,
    email: str | None,
    dry_run: bool,
    all_holders: bool,
    lock_wait_seconds: float | None,
    as_json: bool,
) -> None:
    """Replace one person's personal fields by tokens (one per value, so counts and joins hold,
    keyed by a one-time key kept only until the erasure ends, so that a rerun of a stopped one
    finishes it) in every table (one Delta commit per table), saved API page, reject, ledger
    record and report output, record the erasure in the ledger (counts only), rebuild the views
    and vacuum. The replaced data files are deleted by `cdr vacuum` once `vacuum_grace_hours`
    have passed (the nightly runs it). Name the person by exactly one of --user, --number,
    --email; their other values (name, numbers, e-mail, device MACs) are found from the records.

    The selector is compared ignoring case and, for a number, spaces, brackets, dots,
    dashes and '+' (a number with '+' read as E.164: '+44 (0)20 7946 0011' is
    +442079460011; an e-mail as a mail client or link writes it, 'Grace Chen
    <grace.chen@example.com>' or 'mailto:grace.chen@example.com', is its address; a UUID
    in braces or as 'urn:uuid:…' is the UUID; a 'tel:' link is its number). Exits 2 when
    no or several selectors are given, 3 when nothing in the warehouse holds the person
    or their numbers or e-mail lead to other users as well (a number given to a new user
    after they left: nothing erased, see --all-holders), 5 when another writer holds the
    lock."""
    from cdr_pipeline.privacy import forget as forget_person

    if sum(v is not None for v in (user, number, email)) != 1:
        raise click.UsageError(
            "name exactly one person: --user UUID, --number E164 or --email ADDRESS"
        )
    settings = obj.existing_warehouse(lock_wait_seconds=lock_wait_seconds)
    result = forget_person(
        settings, user=user, number=number, email=email, dry_run=dry_run, all_holders=all_holders
    )
    if as_json:
        echo(to_json(result.to_dict()))
        sys.exit(0)
    verb = "would replace" if dry_run else "replaced"
    for change in result.tables:
        if change.rows:
            echo(f"{change.table}: {verb} values in {change.rows} row(s) of {change.files} file(s)")
    for rel in result.other.files:
        echo(f"{rel}: {verb} values")
    for rel in result.other.unreadable:
        echo(f"{rel}: binary, not searched", err=True)
    echo(
        f"forget: {result.values} value(s) of the person; {result.rows} row(s) in "
        f"{result.data_files} data file(s) and {len(result.other.files)} other file(s)"
        + (" (dry run: nothing changed)" if dry_run else f"; ledger run {result.run_id}"),
        err=True,
    )
    if result.kept_files or result.kept_maps:
        echo(
            f"note: {result.kept_files} replaced data file(s) and {result.kept_maps} earlier "
            "pseudonym map(s) still hold the person's values, for readers of older versions "
            f"(--as-of), until `cdr vacuum` deletes them {result.grace_hours} h from now "
            "(vacuum_grace_hours; the nightly runs it); `cdr vacuum --grace-hours 0` "
            "deletes them now",
            err=True,
        )
    if not dry_run:
        echo(
            "note: the records erased stay erased if delivered again, but a later version "
            "of one and any new record of the person load as they come; copies outside the "
            "warehouse (inbox, archive, backups, exports sent) are yours to erase",
            err=True,
        )
    sys.exit(0)


@click.group(short_help="Manage the pseudonym key of the analyst tier.")
def keys() -> None:
    """The warehouse's pseudonym key (state/privacy/key, owner-only) keys the pseudonyms
    of the analyst tier. It is never printed or logged."""


@keys.command(short_help="Replace the pseudonym key; every pseudonym changes.")
@wait_lock_option
@json_option
@pass_cli
def rotate(obj: CliContext, lock_wait_seconds: float | None, as_json: bool) -> None:
    """Make a new random key and rebuild the views. Every pseudonym of the analyst tier
    changes: exports and results made before no longer join to those made after. Values
    already replaced in place by retention keep the old pseudonyms. The
    ledger records the rotation by key fingerprints, never the key. A missing, damaged
    or exposed key is replaced too (the way to start again after losing it)."""
    from cdr_pipeline.privacy import rotate_keys

    settings = obj.existing_warehouse(lock_wait_seconds=lock_wait_seconds)
    rotation = rotate_keys(settings)
    if as_json:
        echo(to_json(rotation))
        sys.exit(0)
    echo(f"pseudonym key {rotation.old_key_id} replaced by {rotation.new_key_id}; views rebuilt")
    sys.exit(0)


COMMANDS = [forget, keys]
