"""The warehouse layout: every path the pipeline reads or writes, and nothing else.

```
<warehouse>/
  cdr.duckdb                                   views (rebuilt into a temp file, renamed)
  tables/<table>/_delta_log/                   the table's Delta Lake transaction log
  tables/<table>/<column>=<value>/part-*.parquet
                                               immutable data files; the log says which
                                               belong to which version (unpartitioned
                                               tables keep them in the table folder)
  rejects/<table>/<source>.parquet             quarantined records
  state/ledger/<ledger table>/<record>.parquet the run ledger
  state/index/<table>/v<version>.parquet       key -> partition index of a table version
  state/writer.lock, state/nightly.lock        the writer locks
  state/build.whole                            cdr.duckdb's next build is whole: a commit
                                               took data away (state/whole_build.py)
  state/staging/<run id>/...                   a run's staged rows (removed when it ends)
  state/fetched/<source>/...                   saved API pages (and .digests.json: their digests)
  state/privacy/key                            the pseudonym key (0600, never logged)
  state/privacy/pseudonyms-<build>.parquet     value -> pseudonym of the analyst tier
  state/privacy/erasure.pending                a cdr forget under way (privacy/pending.py)
  quality/data_docs/index.html                 Great Expectations Data Docs
  reports/<run date>/                          report files of nightly runs
  closed/<YYYY-MM>/close.json, <report>.parquet
                                               a closed month: its manifest and frozen reports
  closed/journal.jsonl                         every close and reopen, with its reason
  closed/.reopened/<YYYY-MM>-<time>/           a reopened month's frozen figures, kept
```

Hidden names (a leading dot) are work in progress. A data file no commit lists (a run died
before its commit) is never read: the next run removes it, and so does `cdr vacuum`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

TEMP_MARK = ".tmp-"


@dataclass(frozen=True)
class Layout:
    """Paths of one warehouse folder."""

    root: Path

    # ---- tables ---------------------------------------------------------------------------
    @property
    def tables(self) -> Path:
        return self.root / "tables"

    def table(self, name: str) -> Path:
        return self.tables / name

    def partition_dir(self, table: str, column: str, value: object) -> Path:
        return self.table(table) / f"{column}={value}"

    def new_data_file(self, table: str, column: str | None, value: object, tag: str) -> Path:
        """A new, never-used data file name in a partition (`column=value`) or in the folder
        of an unpartitioned table. `tag` starts with the run id (found again after a crash)."""
        folder = self.table(table) if column is None else self.partition_dir(table, column, value)
        return folder / f"part-{tag}-{uuid.uuid4().hex[:12]}.parquet"

    def index_folder(self, table: str) -> Path:
        return self.state / "index" / table

    @staticmethod
    def temp_beside(path: Path, tag: str) -> Path:
        """A hidden temp file next to `path`, renamed over it when complete."""
        return path.with_name(f".{path.name}{TEMP_MARK}{tag}")

    def temp_files(self) -> list[Path]:
        """Temp files a killed writer left under tables/ (never read)."""
        if not self.tables.is_dir():
            return []
        return sorted(self.tables.rglob(f".*{TEMP_MARK}*"))

    def clean_temp_files(self) -> int:
        """Remove the temp files a killed writer left behind (they are never read)."""
        leftovers = self.temp_files()
        for tmp in leftovers:
            tmp.unlink(missing_ok=True)
        return len(leftovers)

    # ---- quarantine -------------------------------------------------------------------------
    @property
    def rejects(self) -> Path:
        return self.root / "rejects"

    def rejects_file(self, table: str, name: str) -> Path:
        return self.rejects / table / f"{name}.parquet"

    # ---- pipeline state ---------------------------------------------------------------------
    def is_warehouse(self) -> bool:
        """A folder a writer has used: it holds `state/`, `tables/` or `cdr.duckdb`."""
        return self.state.is_dir() or self.tables.is_dir() or self.duckdb.is_file()

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def ledger(self) -> Path:
        return self.state / "ledger"

    def lock_file(self, name: str = "writer.lock") -> Path:
        return self.state / name

    @property
    def whole_build_mark(self) -> Path:
        return self.state / "build.whole"

    @property
    def staging(self) -> Path:
        return self.state / "staging"

    def staging_run(self, run_id: str) -> Path:
        return self.staging / run_id

    def validate_temp(self, validation_id: str) -> Path:
        return self.state / "validate_tmp" / validation_id

    @property
    def fetched(self) -> Path:
        return self.state / "fetched"

    @property
    def privacy(self) -> Path:
        return self.state / "privacy"

    @property
    def pseudonym_key(self) -> Path:
        return self.privacy / "key"

    @property
    def pending_erasure(self) -> Path:
        return self.privacy / "erasure.pending"

    def pseudonym_map(self, build: str) -> Path:
        """One build's pseudonym map. Never rewritten in place: a reader of an older
        `cdr.duckdb` keeps the file its views name (DuckDB opens a file more than once per
        query, so a file replaced under a query fails it)."""
        return self.privacy / f"pseudonyms-{build}.parquet"

    def pseudonym_maps(self) -> list[Path]:
        return sorted(self.privacy.glob("pseudonyms-*.parquet"))

    # ---- outputs ----------------------------------------------------------------------------
    @property
    def quality(self) -> Path:
        return self.root / "quality"

    @property
    def data_docs(self) -> Path:
        return self.quality / "data_docs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def closed(self) -> Path:
        return self.root / "closed"

    def closed_month(self, month: str) -> Path:
        """The folder of a closed month (`YYYY-MM`)."""
        return self.closed / month

    @property
    def duckdb(self) -> Path:
        return self.root / "cdr.duckdb"
