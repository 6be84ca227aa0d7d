"""Every HTTP route that takes a body reads it here: strict, depth-bounded JSON, or a 400 detail."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from domain.strict_json import InvalidJson, parse_json

NOT_JSON = "The body is not JSON."


class InvalidBody(ValueError):
    """A body the route cannot read; `detail` is the problem's detail (it never quotes the body)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def json_body(req: func.HttpRequest, *, optional: bool = False) -> Any:
    """The request's JSON body (domain.strict_json's rules); InvalidBody if it is not one.

    With `optional`, an empty body (or one of whitespace only) is None, as if none was sent.
    """
    raw = req.get_body() or b""
    if optional and not raw.strip():
        return None
    try:
        return parse_json(raw)
    except InvalidJson as invalid:
        detail = NOT_JSON if invalid.malformed else f"The body is refused: {invalid}."
        raise InvalidBody(detail) from None
