"""The Webex API token: `WEBEX_TOKEN`, else the content of `[fetch] token_file`.

It is read when a fetch runs and never stored in Settings, logged, or written anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cdr_pipeline.config import FetchOptions
from cdr_pipeline.errors import ConfigError
from cdr_pipeline.fetch.token_file import read_secret_file


def read_token(options: FetchOptions, env: Mapping[str, str] | None = None) -> str:
    """The API token: `WEBEX_TOKEN` (when set and not empty), else the content of
    `token_file`. Never logged."""
    env = os.environ if env is None else env
    token = env.get("WEBEX_TOKEN", "").strip()
    if not token and options.token_file is not None:
        token = read_secret_file(options.token_file)
    if not token:
        raise ConfigError(
            "no Webex API token: set WEBEX_TOKEN or [fetch] token_file in cdr.toml",
            hint="the token needs scope spark-admin:calling_cdr_read and the admin role "
            "'Webex Calling Detailed Call History API access' (Reports: analytics:read_all)",
        )
    if token.split(maxsplit=1)[0].lower() == "bearer":
        # copied from a curl line or an Authorization header: the client adds the prefix
        raise ConfigError(
            "the Webex API token starts with 'Bearer ': set the token alone in "
            "WEBEX_TOKEN/token_file (the Authorization header adds 'Bearer ')"
        )
    if len(token) > 1 and token[0] == token[-1] and token[0] in "\"'":
        # `WEBEX_TOKEN="NzY4..."` in a docker --env-file or a token file keeps its quotes:
        # no Webex token has them, and the 401 that followed blamed the token's scope
        raise ConfigError(
            "the Webex API token is wrapped in quotes: set the token alone in "
            "WEBEX_TOKEN/token_file (an env file read by docker keeps the quotes)"
        )
    if any(c.isspace() for c in token):
        raise ConfigError("the Webex API token contains whitespace; check WEBEX_TOKEN/token_file")
    if not (token.isascii() and token.isprintable()):
        # a token pasted from a web page or chat can carry a zero-width space or a smart
        # quote: not whitespace, but no HTTP header can carry it (the request crashed)
        raise ConfigError(
            "the Webex API token contains characters other than printable ASCII (a zero-width "
            "space or a typographic quote pasted with it?); check WEBEX_TOKEN/token_file",
            hint="copy the token again from developer.webex.com, or retype its ends",
        )
    return token
