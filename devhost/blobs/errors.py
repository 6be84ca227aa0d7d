"""One-line descriptions of storage errors (the SDK's own text spans many lines of XML)."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError


def describe(exc: AzureError) -> str:
    """`<status> <ErrorCode>: <first line>` plus Azurite's authentication detail, if any."""
    lines = [line.strip() for line in str(getattr(exc, "message", None) or exc).splitlines()]
    first = next((line for line in lines if line), type(exc).__name__)
    detail = [line for line in lines if line.lower().startswith("authenticationerrordetail")]
    if isinstance(exc, HttpResponseError) and exc.status_code:
        code = getattr(exc, "error_code", None) or exc.reason or ""
        text = f"{exc.status_code} {code}: {first}".replace(" : ", ": ")
    else:
        text = first
    if detail:
        text += f" ({detail[0].split(':', 1)[-1].strip()})"
    return text
