"""Redaction of the API token from what the fetch package shows: URLs, log lines and error
messages. Never applied to data: saved pages keep the bytes the API sent, so a record value
that merely looks like a credential (`access_token=abc"def`) is kept as it is."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

from cdr_pipeline.config.rules import URL_SECRETS

REDACTED = "[REDACTED]"

PART = 8
"""The shortest run of a token's characters that counts as part of it (and is removed)."""
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")
"""Control characters but line breaks and tabs (which `one_line` makes blanks): an answer's
NULs or escape sequences (ESC [2J clears a terminal) reached the operator's terminal and
the JSON log in its error message."""


class Redactor:
    """Removes the token (and its URL-encoded form), whole or any part of it of `PART`
    characters or more, from text shown to people."""

    def __init__(self, secrets: Iterable[str], keep: Iterable[str] = ()) -> None:
        found = {s for s in secrets if s}
        found |= {urllib.parse.quote(s, safe="") for s in found}
        self.secrets = sorted(found, key=len, reverse=True)
        self.pieces = _pieces(self.secrets)
        # A Webex token ends in its org's UUID (`<secret>_<cluster>_<org uuid>`): every message
        # that quoted the org (a next link's `orgId=`, an API error naming it) showed
        # [REDACTED] there. The pieces of a kept value (the run's org id and its UUID) that lie
        # in a token's last `_` part are not the secret; those in the rest of it still are.
        tails = _pieces([s.rsplit("_", 1)[1] for s in found if "_" in s])
        self.pieces -= _pieces([k for k in keep if k]) & tails

    def __call__(self, text: str) -> str:
        """`text` (a message, a log line) without the token or a part of it, and its control
        characters shown as one U+FFFD a run (see `CONTROLS`). A server or
        proxy that echoes the request's headers may cut the token (`Bearer NzY4ZmFr...`) or
        show it from some offset: only the token whole was removed, and the rest of such a
        page showed all but a few of its characters."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        spans: list[list[int]] = []
        for i in range(len(text) - PART + 1):
            if text[i : i + PART] in self.pieces:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = i + PART
                else:
                    spans.append([i, i + PART])
        for start, end in reversed(spans):
            text = text[:start] + REDACTED + text[end:]
        return CONTROLS.sub("\ufffd", text)

    def url(self, url: str) -> str:
        """A URL to show: without the token, and without the credential query parameters of
        a pre-signed link."""
        return URL_SECRETS.sub(lambda m: m.group(1) + REDACTED, self(url))


def _pieces(texts: Iterable[str]) -> set[str]:
    """Every run of `PART` characters of `texts`."""
    return {t[i : i + PART] for t in texts for i in range(len(t) - PART + 1)}
