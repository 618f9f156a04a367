"""Pull Detailed Call History records from the Webex APIs (`cdr_feed`, `cdr_stream`, the
Reports API) into the warehouse, with watermarks and late-data handling. See docs/fetch.md."""

from cdr_pipeline.config import REGIONS, FetchOptions
from cdr_pipeline.fetch.client import FetchError, WebexClient
from cdr_pipeline.fetch.limiter import RateLimiter
from cdr_pipeline.fetch.redactor import Redactor
from cdr_pipeline.fetch.results import FetchResult, WindowResult
from cdr_pipeline.fetch.runner import client_from_options, fetch_records
from cdr_pipeline.fetch.token import read_token

__all__ = [
    "REGIONS",
    "FetchError",
    "FetchOptions",
    "FetchResult",
    "RateLimiter",
    "Redactor",
    "WebexClient",
    "WindowResult",
    "client_from_options",
    "fetch_records",
    "read_token",
]
