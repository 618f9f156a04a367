"""`python -m cdr_pipeline` is `cdr`."""

from cdr_pipeline.cli.main import main

main()
