"""The thumbnail job's Durable activities: thin wrappers that hand each step its store.

Activity names are the function names, validate_upload and make_thumbnail; the logic lives in
activities/thumbnail_steps.py, where tests call it directly against Azurite.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from activities import thumbnail_steps
from adapters.errors import storage_errors
from adapters.thumbnail_store import ThumbnailStore, thumbnail_store

bp = func.Blueprint()


def _store(activity: str) -> ThumbnailStore:
    # Built on first use; storage being unreachable then is as transient as any other time.
    with storage_errors(activity):
        return thumbnail_store()


@bp.activity_trigger(input_name="payload")
def validate_upload(payload: dict[str, Any]) -> dict[str, Any]:
    return thumbnail_steps.validate_upload(payload, _store("validate_upload"))


@bp.activity_trigger(input_name="payload")
def make_thumbnail(payload: dict[str, Any]) -> dict[str, Any]:
    return thumbnail_steps.make_thumbnail(payload, _store("make_thumbnail"))
