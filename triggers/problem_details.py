"""RFC 9457 problem details: the JSON body of every refusal the HTTP API answers."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

import azure.functions as func

from triggers.views import Problem, ProblemError

MEDIA_TYPE = "application/problem+json"
CATALOG = Path(__file__).with_name("refusals.toml")

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


class Refusal(NamedTuple):
    """A refusal with fixed wording: a row of triggers/refusals.toml."""

    status: int
    type: str
    title: str
    detail: str


def _catalog() -> dict[str, dict[str, Refusal]]:
    # Read once, at import: a malformed row fails at once, not in an answer.
    with CATALOG.open("rb") as file:
        url_sets = tomllib.load(file)
    return {
        urls: {name: Refusal(*row) for name, row in rows.items()} for urls, rows in url_sets.items()
    }


# The refusals by URL set ("jobs", "orders") and name.
REFUSALS = _catalog()
