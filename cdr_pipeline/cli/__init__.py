"""The command-line interface: the only package that imports click.

Each module here is one command group and exposes `COMMANDS`, a list of click commands;
`main.py` discovers them, so adding a command never means editing the root.
"""

import os

ALLOCATOR_ENV = {
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:2000,muzzy_decay_ms:0",  # polars (jemalloc)
    "MIMALLOC_PURGE_DELAY": "250",  # pyarrow (mimalloc)
}
"""polars' and pyarrow's allocators hand freed pages back to the OS within milliseconds,
and an ingest frees and allocates a chunk's worth many times a second: keeping them two
seconds cut the ingest's system time by a quarter and its page faults by a fifth
(benchmarks/ingest.py). pyarrow's keeps them a quarter of a second: the partition merges
and the refresh churn Arrow batches on two threads, and two seconds' worth took a 5M-leg
re-delivery to 1.3 GB (1.06 GB at 250 ms); the 1M ingest's time and CPU did not move.
Set here, before either library loads (the commands import them when `main` is imported:
set in `main()`, these never took effect); a value already in the environment wins."""

for _name, _value in ALLOCATOR_ENV.items():
    os.environ.setdefault(_name, _value)
