"""A request's correlation id: the caller's `x-correlation-id` (refused if malformed), else new."""

from __future__ import annotations

import re
import uuid

import azure.functions as func

CORRELATION_HEADER = "x-correlation-id"
# Only ids that are safe to log and to pass on (in messages, spans, webhook bodies).
PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_CORRELATION_ID = re.compile(PATTERN)
RULE = "1-128 letters, digits or ._:-"


class InvalidCorrelationId(ValueError):
    """A correlation id outside its pattern; the message names the field, never the value."""


def is_correlation_id(text: object) -> bool:
    return isinstance(text, str) and _CORRELATION_ID.fullmatch(text) is not None


def correlation_id(req: func.HttpRequest) -> str:
    """The caller's id when it sent the header, a new one when it did not.

    A header that is present but malformed (empty included) is refused rather than replaced:
    the caller would otherwise look for its job under an id that nothing carries.
    """
    given = req.headers.get(CORRELATION_HEADER)
    if given is None:
        return uuid.uuid4().hex
    if not is_correlation_id(given):
        raise InvalidCorrelationId(f"{CORRELATION_HEADER}: {RULE}, or no header for a new id")
    return given
