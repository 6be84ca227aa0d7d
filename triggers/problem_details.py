"""RFC 9457 problem details: the JSON body of every 4xx the order endpoints answer."""

from __future__ import annotations

import json
import re
from typing import Any

import azure.functions as func

from triggers.views import Problem, ProblemError

MEDIA_TYPE = "application/problem+json"
INVALID_ORDER = "urn:problem-type:orders:invalid-order"
INVALID_REQUEST = "urn:problem-type:orders:invalid-request"
NOT_FOUND = "urn:problem-type:orders:not-found"

# "lines[0].sku: ..." names the field a problem is about; it becomes a JSON pointer.
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): ")


def pointer(problem: str) -> str | None:
    """The JSON pointer (RFC 6901, as a URI fragment) of the field a problem names, if any."""
    match = _FIELD.match(problem)
    if not match:
        return None
    parts = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\d+", match.group(1))
    return "#/" + "/".join(parts)


def problem(
    status: int, type_: str, title: str, detail: str, errors: list[str] | None = None
) -> dict[str, Any]:
    listed = {} if errors is None else {"errors": [_error(text) for text in errors]}
    return Problem(type=type_, title=title, status=status, detail=detail, **listed).dump()


def _error(text: str) -> ProblemError:
    where = pointer(text)
    return ProblemError(detail=text) if where is None else ProblemError(detail=text, pointer=where)


def problem_response(body: dict[str, Any]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=body["status"], mimetype=MEDIA_TYPE, charset="utf-8"
    )
