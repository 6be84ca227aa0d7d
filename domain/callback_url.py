"""The `callback_url` field every job start request may carry, as the API documents it.

The app vets a callback URL when a job starts (domain/webhooks.py, with the allow-list settings)
and again address by address when it sends. What JSON Schema can say is narrower: the pattern
below is the form the document promises to accept in Azure, so a client generating URLs from
the schema gets only ones the app takes. The app also takes public IP literals, and allow-listed
hosts may use http and private addresses (local use), so the pattern is documentation here, not
a check: the model enforces the length only.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from domain.outbound import MAX_URL_LENGTH

_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
DOCUMENTED_PATTERN = (
    r"^https://(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.){1,3}"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,59}[A-Za-z0-9])?(?::[1-9][0-9]{0,3})?"
    rf"(?:/(?:{_PCHAR}(?:{_PCHAR}|/){{0,399}})?)?(?:\?(?:{_PCHAR}|[/?]){{0,190}})?$"
)

CallbackUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_LENGTH,
        json_schema_extra={"pattern": DOCUMENTED_PATTERN},
        description=(
            "Optional webhook for the job's outcome (null: none). The outcome is POSTed once, "
            "signed with HMAC-SHA256 (docs/webhooks.md), retried with backoff (allow-list "
            "setting: WEBHOOK_ALLOWED_HOSTS). An absolute URL of at most 2048 characters; the "
            "pattern is the form this document promises to accept in Azure: https, a host name "
            "of 2 to 4 labels (at most 253 characters, a last label that starts with a letter), "
            "an optional port, RFC 3986 characters only, no user:pass@, no fragment, a path "
            "that does not start with //. The app also takes a public IP address literal, "
            "which the pattern leaves out; never a private, loopback, link-local or metadata "
            "address (in any spelling, nor by DNS name or redirect). Hosts in the allow-list "
            "settings may also use http and private addresses (local use only)."
        ),
    ),
]
