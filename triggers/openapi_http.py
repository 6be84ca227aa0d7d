"""GET /api/openapi.json: the app's OpenAPI 3.1 document (api/openapi.json), served as written."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import azure.functions as func

DOCUMENT = Path(__file__).resolve().parent.parent / "api" / "openapi.json"

bp = func.Blueprint()


@cache
def _document() -> bytes:
    # Read once per worker: the file ships with the app and never changes while it runs.
    return DOCUMENT.read_bytes()


@bp.function_name("openapi_document")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """Anonymous on purpose: the document describes the API and holds no secret."""
    return func.HttpResponse(
        _document(),
        status_code=200,
        mimetype="application/json",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
