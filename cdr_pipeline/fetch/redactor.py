"""Redaction of the API token from what the fetch package shows: URLs, log lines and error
messages. Never applied to data: saved pages keep the bytes the API sent, so a record value
that merely looks like a credential (`access_token=abc"def`) is kept as it is."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from cdr_pipeline.config.rules import URL_SECRETS

REDACTED = "[REDACTED]"


class Redactor:
    """Removes the literal token (and its URL-encoded form) from text shown to people."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {s for s in secrets if s}
        found |= {urllib.parse.quote(s, safe="") for s in found}
        self.secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """`text` (a message, a log line) without the token."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def url(self, url: str) -> str:
        """A URL to show: without the token, and without the credential query parameters of
        a pre-signed link."""
        return URL_SECRETS.sub(lambda m: m.group(1) + REDACTED, self(url))
