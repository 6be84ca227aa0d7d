"""The blob extension's Event Grid webhook: validation handshakes and BlobCreated events."""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web
from azure.core.exceptions import AzureError

from devhost.blobs.errors import describe
from devhost.blobs.messages import BlobTriggerMessage, InvalidMessage, blob_type_name
from devhost.blobs.paths import BlobPath

WEBHOOK_PATH = "/runtime/webhooks/blobs"
EVENT_TYPE_HEADER = "aeg-event-type"
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_PUBLIC_ORIGIN = "eventgrid.azure.net"
_KNOWN_ORIGINS = frozenset(
    {
        _PUBLIC_ORIGIN,
        "eventgrid.azure.us",
        "eventgrid.azure.eaglex.ic.gov",
        "eventgrid.azure.microsoft.scloud",
        "eventgrid.azure.cn",
    }
)
# Emulator ports on which storage URLs are path-style (http://host:port/account/container/blob).
_PATH_STYLE_PORTS = range(10000, 10010)


class EventError(ValueError):
    """An Event Grid payload the extension cannot read."""


def _is_path_style(host: str, port: int | None) -> bool:
    if host == "localhost" or (port is not None and port in _PATH_STYLE_PORTS):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def blob_path_from_url(url: str) -> BlobPath:
    """Container and blob name from a blob URL, as BlobUriBuilder reads them."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise EventError(f"Invalid URI: '{url}' is not an absolute blob URL")
    segments = parts.path.lstrip("/").split("/")
    if _is_path_style(parts.hostname, parts.port):
        segments = segments[1:]  # the account name
    if not segments or not segments[0]:
        raise EventError(f"'{url}' names no container")
    return BlobPath(unquote(segments[0]), unquote("/".join(segments[1:])))


def validation_code(body: str) -> str:
    """The code of a SubscriptionValidation request (an array, or one double-encoded event)."""
    try:
        events = json.loads(body)
        if isinstance(events, list):
            data = events[0]["data"]
        elif isinstance(events, dict):
            data = events["data"]
            data = json.loads(data) if isinstance(data, str) else data
        else:
            raise EventError("The request content should be a JSON object or array")
        code = data["validationCode"]
    except (ValueError, LookupError, TypeError) as exc:
        raise EventError(f"no validation code in the request: {exc!r}") from None
    return code if isinstance(code, str) else json.dumps(code)


def parse_events(body: str) -> list[Any]:
    try:
        token = json.loads(body)
    except ValueError as exc:
        raise EventError(f"The request content is not JSON: {exc}") from None
    if isinstance(token, list):
        return token
    if isinstance(token, dict):
        return [token]
    raise EventError("The request content should be parseable into a JSON object or array")


def message_for(event: Any, function_id: str | None) -> BlobTriggerMessage:
    """The blob trigger message the extension queues for one event (its `data.url`)."""
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        raise EventError("the event has no 'data' object")
    url = data.get("url")
    if not isinstance(url, str):
        raise EventError("the event's data has no 'url'")
    if data.get("blobType") is None:
        raise EventError("the event's data has no 'blobType'")
    path = blob_path_from_url(url)
    try:
        blob_type = blob_type_name(str(data["blobType"]))
    except InvalidMessage as exc:
        raise EventError(str(exc)) from None
    etag = data.get("eTag")
    return BlobTriggerMessage(
        function_id=function_id,
        blob_type=blob_type,
        container=path.container,
        blob=path.blob,
        etag=f'"{"" if etag is None else etag}"',
    )


def blob_created_event(
    *,
    url: str,
    etag: str,
    content_type: str | None = None,
    content_length: int = 0,
    blob_type: str = "BlockBlob",
    account: str = "devstoreaccount1",
    schema: str = "EventGrid",
) -> dict[str, Any]:
    """A Microsoft.Storage.BlobCreated event as Event Grid delivers it (either schema)."""
    path = blob_path_from_url(url)
    topic = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/devhost/providers/"
        f"Microsoft.Storage/storageAccounts/{account}"
    )
    subject = f"/blobServices/default/containers/{path.container}/blobs/{path.blob}"
    data = {
        "api": "PutBlob",
        "clientRequestId": str(uuid.uuid4()),
        "requestId": str(uuid.uuid4()),
        "eTag": etag.strip('"'),
        "contentType": content_type or "application/octet-stream",
        "contentLength": content_length,
        "blobType": blob_type,
        "url": url,
        "sequencer": f"{uuid.uuid4().int:032x}",
        "storageDiagnostics": {"batchId": str(uuid.uuid4())},
    }
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    if schema == "CloudEvents":
        return {
            "specversion": "1.0",
            "type": BLOB_CREATED,
            "source": topic,
            "id": str(uuid.uuid4()),
            "time": now,
            "subject": subject,
            "data": data,
        }
    return {
        "topic": topic,
        "subject": subject,
        "eventType": BLOB_CREATED,
        "id": str(uuid.uuid4()),
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
        "eventTime": now,
    }


def _query(request: web.Request, key: str) -> str | None:
    for name, value in request.query.items():
        if name.lower() == key.lower():
            return value
    return None


def _fail(reason: str) -> web.Response:
    return web.Response(status=500, text=reason)


class BlobWebhook:
    """The aiohttp handler for the webhook; `enqueue` writes one message to the host queue.

    `POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>` behaves as the extension's
    HttpRequestProcessor: `OPTIONS` (the CloudEvents abuse-protection handshake) answers 200 with
    `WebHook-Allowed-Origin`; `aeg-event-type: SubscriptionValidation` answers 200
    `{"validationResponse": <code>}`; `Notification` queues one blob trigger message per event
    (Event Grid or CloudEvents schema, one event or an array) and answers 202; `Unsubscribe` 202;
    anything else 400. A payload the extension cannot read makes it throw, which the host answers
    with 500.
    """

    def __init__(
        self,
        enqueue: Callable[[BlobTriggerMessage], Awaitable[None]],
        is_known: Callable[[str | None], bool],
        log: logging.Logger,
    ) -> None:
        self._enqueue = enqueue
        self._is_known = is_known
        self._log = log

    async def handle(self, request: web.Request) -> web.Response:
        function_id = _query(request, "functionName")
        if request.method == "OPTIONS":
            origin = request.headers.get("WebHook-Request-Origin")
            allowed = origin if origin in _KNOWN_ORIGINS else _PUBLIC_ORIGIN
            return web.Response(status=200, headers={"WebHook-Allowed-Origin": allowed})
        kind = (request.headers.get(EVENT_TYPE_HEADER) or "").lower()
        body = await request.text()
        if kind == "subscriptionvalidation":
            try:
                code = validation_code(body)
            except EventError as exc:
                self._log.error("Event Grid validation request refused: %s", exc)
                return _fail(str(exc))
            self._log.info("perform handshake with eventGrid for function: %s", function_id)
            return web.Response(
                status=200, text=json.dumps({"validationResponse": code}, separators=(",", ":"))
            )
        if kind == "notification":
            return await self._notification(body, function_id)
        if kind == "unsubscribe":
            return web.Response(status=202)
        return web.Response(status=400)

    async def _notification(self, body: str, function_id: str | None) -> web.Response:
        if not self._is_known(function_id):
            self._log.warning(
                "Blob webhook: no blob-triggered function is named '%s' (expected "
                "functionName=Host.Functions.<name>); the host accepts the events and then "
                "drops them",
                function_id,
            )
        try:
            for event in parse_events(body):
                await self._enqueue(message_for(event, function_id))
        except EventError as exc:
            self._log.error("Blob webhook for '%s': bad Event Grid payload: %s", function_id, exc)
            return _fail(f"bad Event Grid payload: {exc}")
        except AzureError as exc:
            self._log.error(
                "Blob webhook for '%s': could not queue the event: %s", function_id, describe(exc)
            )
            return _fail(f"could not queue the event: {describe(exc)}")
        return web.Response(status=202)
