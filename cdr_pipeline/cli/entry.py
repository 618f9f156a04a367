"""`cdr`'s entry point (`python -m cdr_pipeline` too): stops are caught from the first
moment, before the commands and their libraries are imported (`interrupts.catch_early`)."""

from __future__ import annotations


def main() -> None:
    from cdr_pipeline.interrupts import catch_early

    catch_early()
    from cdr_pipeline.cli.main import main as run

    run()
