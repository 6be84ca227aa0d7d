"""An HTTP request's correlation id: the caller's `x-correlation-id` if sane, else a new one."""

from __future__ import annotations

import re
import uuid

import azure.functions as func

CORRELATION_HEADER = "x-correlation-id"
# Only ids that are safe to log and to pass on; anything else is replaced, never echoed.
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def correlation_id(req: func.HttpRequest) -> str:
    given = req.headers.get(CORRELATION_HEADER, "")
    return given if _CORRELATION_ID.fullmatch(given) else uuid.uuid4().hex
