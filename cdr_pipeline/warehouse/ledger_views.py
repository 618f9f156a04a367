"""`cdr.duckdb`'s ledger views moved to the ledger as written now, and nothing else.

The ledger views read the ledger as written by their build (`staging.ledger_view`), so a
connection held open keeps the ledger of its table versions. A nightly writes its last
ledger record (its exit code and end) after its build stage: without this, `ingest_runs`
showed the night `running` until the next build. The tables the views read do not change,
so only the generated `stg_ledger_*` views are replaced, in a copy of the file renamed into
place as a build's (every view over them reads them by name); the marts kept as tables read
no ledger view. A file built by other code or settings is left alone: the next build
rebuilds it whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cdr_pipeline.config import Settings
from cdr_pipeline.resources import sql_dir as default_sql_dir
from cdr_pipeline.state.files import apply_file_mode
from cdr_pipeline.warehouse.catalog import create_view_sql
from cdr_pipeline.warehouse.comments import comment_views
from cdr_pipeline.warehouse.damage import built_snapshots, naming_damage
from cdr_pipeline.warehouse.database import Unusable, new_database, one_build_at_a_time
from cdr_pipeline.warehouse.signature import build_signature, stored_signature
from cdr_pipeline.warehouse.staging import LEDGER_TABLES, ledger_view


def refresh_ledger_views(settings: Settings, sql_dir: Path | None = None) -> bool:
    """Replace the ledger views of `cdr.duckdb` by ones reading the ledger as written now,
    over the table versions its views read (their build record). False, and the file as it
    was, when there is no file or it was built from other inputs (`build_signature`)."""
    target = settings.layout.duckdb
    if not target.is_file():
        return False
    apply_file_mode(settings.file_mode)
    with one_build_at_a_time(settings.layout, "cdr build (ledger views)"):
        snapshots = {snap.name: snap for snap in built_snapshots(settings)}
        try:
            with (
                naming_damage(lambda: [], settings.layout),
                new_database(target, settings.build_memory_mb, copy_of=target) as con,
            ):
                if stored_signature(con) != build_signature(settings, sql_dir):
                    raise Unusable("the build inputs changed since the last build")
                moment = datetime.now(UTC)
                specs = [ledger_view(con, settings, t, moment, snapshots)[0] for t in LEDGER_TABLES]
                for spec in specs:
                    con.execute(create_view_sql(spec))
                comment_views(con, specs, (sql_dir or default_sql_dir()) / "README.md")
        except Unusable:
            return False
    return True
