"""cdr-pipeline: Webex Calling detailed call records into a validated, columnar warehouse."""

__version__ = "0.1.0"
