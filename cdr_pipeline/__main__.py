"""`python -m cdr_pipeline` is `cdr`."""

from cdr_pipeline.cli.entry import main

main()
