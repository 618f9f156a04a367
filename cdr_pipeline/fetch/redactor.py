"""Redaction of the API token (and anything credential-like) from text that leaves the fetch
package: URLs, log lines, error messages, saved pages."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:access|refresh|id)_?token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"),
    re.compile(
        r"(?i)([?&](?:token|access_token|sig|signature|x-amz-signature|x-amz-credential)=)[^&\s\"']+"
    ),
]


class Redactor:
    """Removes the token (and anything that looks like a credential) from text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text
