"""Uploads a file and posts its BlobCreated event to the blob webhook, as Event Grid does in Azure.

Azurite sends no Event Grid events, so under Core Tools (`func start`) an upload never starts a
blob trigger with the Event Grid source (the only source Flex Consumption runs). This command
stands in for the event subscription: it uploads the file, then POSTs one
Microsoft.Storage.BlobCreated event (Event Grid schema) with `aeg-event-type: Notification` to
`<host>/runtime/webhooks/blobs?functionName=Host.Functions.<name>`, for every Event Grid blob
trigger on the blob's container. It needs neither devhost nor Core Tools, only a running host.

    python scripts/upload_blob.py uploads/cat.jpg ./cat.jpg [--host http://localhost:7071]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import BlobClient, BlobServiceClient, ContentSettings, LinearRetry

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as a script: make `scripts.*` importable
    sys.path.insert(0, str(PROJECT_ROOT))

from scripts.blob_triggers import event_grid_blob_triggers, load_app  # noqa: E402

WEBHOOK_PATH = "/runtime/webhooks/blobs"
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
STORAGE_SETTING = "AzureWebJobsStorage"
DEV_STORAGE = "UseDevelopmentStorage=true"
# Up to this size the SDK sends a file in one Put Blob, above it stages blocks and commits them.
SINGLE_PUT_BYTES = 64 * 1024 * 1024
# Exit codes: 1 = the upload or the delivery failed; 2 = nothing was done (bad arguments/setup).
FAILED, REFUSED = 1, 2
CODE_HELP = (
    "the blob extension's system key (App keys > System keys > blobs_extension), sent as "
    "code=. Azure and `func start --enableAuth` require it; plain `func start` and devhost "
    "do not check keys."
)


class CommandError(Exception):
    """An expected failure: reported as one line on stderr with its exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Uploaded:
    """What the upload wrote: the facts a BlobCreated event reports."""

    url: str
    account: str
    container: str
    name: str
    etag: str  # as storage returns it, with its double quotes
    content_type: str
    content_length: int
    api: str  # PutBlob (one request) or PutBlockList (staged blocks)
    request_id: str | None
    client_request_id: str | None


def local_settings(app_dir: Path) -> dict[str, str]:
    """`Values` of APP_DIR/local.settings.json, or nothing if there is no such file."""
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    except (ValueError, AttributeError) as exc:
        raise CommandError(f"{path} is not a valid settings file: {exc}", REFUSED) from None
    return {str(key): str(value) for key, value in values.items()}


def settings(app_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The app's settings as the host sees them: a variable set in the environment wins."""
    return {**local_settings(app_dir), **environ}


def target_functions(app_dir: Path, container: str, env: Mapping[str, str]) -> list[str]:
    """The Event Grid blob triggers on `container`, from the app's own index."""
    try:
        app = load_app(app_dir)
        triggers = event_grid_blob_triggers(app, dict(env))
    except SystemExit as exc:  # blob_triggers reports a bad app or path this way
        raise CommandError(str(exc.code), REFUSED) from None
    except Exception as exc:  # importing someone's app can fail in any way
        raise CommandError(
            f"could not index the app in {app_dir}: {type(exc).__name__}: {exc} "
            "(pass --function NAME to skip indexing)",
            REFUSED,
        ) from None
    names = [t["functionName"] for t in triggers if t["container"] == container]
    if not names:
        known = ", ".join(f"{t['functionName']} ({t['container']})" for t in triggers) or "none"
        raise CommandError(
            f"no Event Grid blob trigger watches the container '{container}' "
            f"(Event Grid blob triggers in {app_dir}: {known}); nothing was uploaded",
            REFUSED,
        )
    return names


def upload(
    connection_string: str, container: str, name: str, path: Path, content_type: str | None
) -> Uploaded:
    """Upload (overwriting) into `container`, creating it if needed."""
    try:
        service = BlobServiceClient.from_connection_string(
            connection_string,
            max_single_put_size=SINGLE_PUT_BYTES,
            # Few, short retries: an emulator that is down should fail in seconds, not minutes.
            retry_policy=LinearRetry(backoff=1, random_jitter_range=0, retry_total=2),
        )
    except ValueError as exc:
        raise CommandError(f"bad storage connection string: {exc}", REFUSED) from None
    blob: BlobClient = service.get_blob_client(container, name)
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    size = path.stat().st_size
    try:
        with contextlib.suppress(ResourceExistsError):
            service.create_container(container)
        with path.open("rb") as data:
            result = blob.upload_blob(
                data,
                length=size,
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
            )
    except AzureError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(f"could not upload to {blob.url}: {first_line}", FAILED) from None
    except OSError as exc:  # the file went away or cannot be read
        raise CommandError(f"could not read {path}: {exc}", REFUSED) from None
    return Uploaded(
        url=blob.url,
        account=str(blob.account_name),
        container=container,
        name=name,
        etag=str(result["etag"]),
        content_type=content_type,
        content_length=size,
        api="PutBlob" if size <= SINGLE_PUT_BYTES else "PutBlockList",
        request_id=result.get("request_id"),
        client_request_id=result.get("client_request_id"),
    )


def blob_created_event(blob: Uploaded, now: datetime | None = None) -> dict[str, Any]:
    """The Microsoft.Storage.BlobCreated event of `blob`, in the Event Grid schema.

    The blob extension reads `data.url` (container and name), `data.blobType` and `data.eTag`,
    which it wraps in double quotes itself: so the ETag goes without its quotes.
    """
    now = now or datetime.now(UTC)
    topic = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
        f"Microsoft.Storage/storageAccounts/{blob.account}"
    )
    return {
        "topic": topic,
        "subject": f"/blobServices/default/containers/{blob.container}/blobs/{blob.name}",
        "eventType": BLOB_CREATED,
        "eventTime": now.isoformat().replace("+00:00", "Z"),
        "id": str(uuid.uuid4()),
        "data": {
            "api": blob.api,
            "clientRequestId": blob.client_request_id or str(uuid.uuid4()),
            "requestId": blob.request_id or str(uuid.uuid4()),
            "eTag": blob.etag.strip('"'),
            "contentType": blob.content_type,
            "contentLength": blob.content_length,
            "blobType": "BlockBlob",
            "url": blob.url,
            # Opaque, but string order is event order for one blob name: time does that.
            "sequencer": f"{time.time_ns():032x}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def webhook_url(host: str, function: str, code: str | None = None) -> str:
    query = {"functionName": f"Host.Functions.{function}"}
    if code:
        query["code"] = code
    return f"{host.rstrip('/')}{WEBHOOK_PATH}?{urllib.parse.urlencode(query)}"


def _shown(url: str) -> str:
    """The URL without its key, for printing."""
    parts = urllib.parse.urlsplit(url)
    query = [
        (k, "***" if k.lower() == "code" else v) for k, v in urllib.parse.parse_qsl(parts.query)
    ]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe="*")))


def _hint(status: int) -> str:
    if status == 401:
        return " (the host checks keys: pass --code with the blobs_extension system key)"
    if status == 404:
        return (
            " (no blob webhook there: is this the Functions host, and did it index a blob "
            "trigger? Core Tools lists it as a blobTrigger at start-up)"
        )
    return ""


def post_event(url: str, event: dict[str, Any], timeout: float) -> int:
    """POST one event as Event Grid delivers it (an array, `aeg-event-type: Notification`)."""
    request = urllib.request.Request(
        url,
        data=json.dumps([event]).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "aeg-event-type": "Notification",
            # Sent by Event Grid on every delivery; the extension does not need them.
            "aeg-delivery-count": "0",
            "aeg-data-version": event["dataVersion"],
            "aeg-metadata-version": event["metadataVersion"],
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", errors="replace").strip()[:300]
        detail = f": {body}" if body else ""
        raise CommandError(
            f"the webhook {_shown(url)} answered HTTP {exc.code} {exc.reason}{detail}"
            f"{_hint(exc.code)}",
            FAILED,
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"could not reach the webhook {_shown(url)}: {reason} (is the Functions host "
            "running? start it with `func start` or `python -m devhost start`)",
            FAILED,
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python scripts/upload_blob.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Exit codes: 0 delivered; 1 the upload or the webhook failed; 2 nothing was done.",
    )
    parser.add_argument("blob", help="container/path/of/the/blob, e.g. uploads/cat.jpg")
    parser.add_argument("file", type=Path, help="the file to upload")
    parser.add_argument(
        "--host", default="http://localhost:7071", help="the Functions host (default: %(default)s)"
    )
    parser.add_argument(
        "--function",
        action="append",
        metavar="NAME",
        help="the blob-triggered function to notify (repeatable); default: every Event Grid "
        "blob trigger on the blob's container, from the app's index",
    )
    parser.add_argument("--code", default=None, metavar="KEY", help=CODE_HELP)
    parser.add_argument(
        "--app-dir", type=Path, default=Path("."), help="the app directory (default: .)"
    )
    parser.add_argument(
        "--connection-string",
        default=None,
        help=f"storage to upload to; default: {STORAGE_SETTING} from the environment, else from "
        f"APP_DIR/local.settings.json, else {DEV_STORAGE} (Azurite)",
    )
    parser.add_argument("--content-type", default=None, help="default: guessed from the name")
    parser.add_argument("--timeout", type=float, default=30.0, help="webhook timeout in seconds")
    parser.add_argument("--show-event", action="store_true", help="print the event posted")
    return parser


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    container, _, name = args.blob.strip("/").partition("/")
    if not container or not name:
        raise CommandError(f"the blob must be container/path, not '{args.blob}'", REFUSED)
    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}", REFUSED)
    app_dir = args.app_dir.resolve()
    env = settings(app_dir, environ)
    # Resolved before the upload, so a wrong container uploads nothing.
    if args.function:  # the name as the app defines it, whichever way it was given
        functions = [f.removeprefix("Host.Functions.") for f in args.function]
    else:
        functions = target_functions(app_dir, container, env)
    connection = args.connection_string or env.get(STORAGE_SETTING) or DEV_STORAGE
    blob = upload(connection, container, name, args.file, args.content_type)
    print(
        f"uploaded {blob.url} ({blob.content_length} bytes, {blob.content_type}, ETag {blob.etag})"
    )
    # One event, delivered to each function's subscription, as Event Grid fans it out.
    event = blob_created_event(blob)
    if args.show_event:
        print(json.dumps([event], indent=2))
    for function in functions:
        url = webhook_url(args.host, function, args.code)
        try:
            status = post_event(url, event, args.timeout)
        except CommandError as exc:
            message = f"uploaded, but the event was not delivered: {exc}"
            raise CommandError(message, exc.exit_code) from None
        print(f"posted {BLOB_CREATED} to {_shown(url)}: HTTP {status}")
    return 0


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args, os.environ if environ is None else environ)
    except CommandError as exc:
        print(f"upload_blob: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
