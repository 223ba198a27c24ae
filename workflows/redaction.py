"""Secrets in http step headers: kept in the workflow (the step needs them), never shown.

A workflow's definition keeps its header values so its http steps can send them; every place
that shows a definition (the API, the admin) shows secret-looking headers as ``REDACTED``.
Saving a definition that still carries ``REDACTED`` keeps the value already stored for that
header of that step, so a definition read back, edited and saved again loses nothing.
"""

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
# A header or query parameter whose name contains one of these holds a credential.
SECRET_WORDS = ("auth", "cookie", "key", "token", "secret", "password", "passwd", "session", "signature", "credential")


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _headers(step: Any) -> dict | None:
    if isinstance(step, dict) and step.get("type") == "http" and isinstance(step.get("headers"), dict):
        return step["headers"]
    return None


def redact_steps(steps: Any) -> Any:
    """A copy of ``steps`` with every secret header value replaced by ``REDACTED``."""
    if not isinstance(steps, list):
        return steps
    shown = []
    for step in steps:
        headers = _headers(step)
        if headers is not None:
            step = {**step, "headers": {k: REDACTED if is_secret(k) else v for k, v in headers.items()}}
        shown.append(step)
    return shown


def restore_redacted(steps: Any, stored: Any) -> Any:
    """``steps`` with each ``REDACTED`` header value replaced by the value ``stored`` has for it.

    Matched by step index and header name (case-insensitively), within one workflow only. A
    value with nothing to restore stays ``REDACTED``, and validation refuses it.
    """
    if not isinstance(steps, list) or not isinstance(stored, list):
        return steps
    restored = []
    for index, step in enumerate(steps):
        headers = _headers(step)
        old = _headers(stored[index]) if index < len(stored) else None
        if headers is not None and old is not None and REDACTED in headers.values():
            old_by_name = {str(k).lower(): v for k, v in old.items() if v != REDACTED}
            step = {
                **step,
                "headers": {k: old_by_name.get(k.lower(), v) if v == REDACTED else v for k, v in headers.items()},
            }
        restored.append(step)
    return restored


def redact_url(url: str) -> str:
    """``url`` with the values of secret-looking query parameters (``?token=...``) hidden."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, REDACTED if is_secret(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))
