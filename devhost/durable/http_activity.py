"""The extension's built-in HTTP activity (`BuiltIn::HttpActivity`), which runs `call_http`.

The extension turns a CallHttp action into an ordinary activity named `BuiltIn::HttpActivity`
whose input is the request, sends it with .NET's HttpClient and completes the task with the
response as JSON (EXT `TaskHttpActivityShim`, `DurableHttpRequest`, `DurableHttpResponse`).
This module is both halves for devhost: the scheduled input from the orchestrator's action, and
the completion or failure event from a real HTTP request made on an activity thread.

Deliberate choices (docs/devhost.md, "Behaviour chosen where the protocol notes were
unconfirmed"):

- No 202 polling. The extension polls a 202's Location only when the request says
  `asynchronousPatternEnabled: true`; azure-functions-durable never sends that field, and the
  extension then reads it as false (Newtonsoft gives a missing constructor argument its type's
  default), so a Python orchestrator receives the 202 itself, as JS did before it sent the
  field (durable-js #284). A request that does ask for polling is refused: the extension's
  polling consumes event ids the Python SDK does not track.
- Managed-identity token sources are refused unless DEVHOST_CALL_HTTP_USE_AZURE_IDENTITY is
  true, so a request never goes out unauthenticated by accident. With the setting, tokens come
  from azure-identity's DefaultAzureCredential, the credential the extension itself uses.
"""

from __future__ import annotations

import codecs
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from email.message import Message
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3

from devhost.durable.history import EventType, event

ACTIVITY_NAME = "BuiltIn::HttpActivity"
TOKEN_SETTING = "DEVHOST_CALL_HTTP_USE_AZURE_IDENTITY"

# .NET HttpClient's defaults: Timeout 100 s, AllowAutoRedirect with at most 50 redirections.
TIMEOUT_SECONDS = 100.0
MAX_REDIRECTS = 50

# HttpContentHeaders: .NET keeps these on the response's Content, and the extension copies only
# HttpResponseMessage.Headers into the result, so the orchestrator never sees them.
CONTENT_HEADERS = frozenset(
    {
        "allow",
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "expires",
        "last-modified",
    }
)

# Methods .NET normalizes to upper case; any other token is sent as written.
_KNOWN_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "TRACE", "PATCH"})

# ManagedIdentityTokenSource turns these two resources into scopes; others are used as given.
_SCOPE_FOR_RESOURCE = {
    "https://management.core.windows.net": "https://management.core.windows.net/.default",
    "https://management.core.windows.net/": "https://management.core.windows.net/.default",
    "https://graph.microsoft.com": "https://graph.microsoft.com/.default",
    "https://graph.microsoft.com/": "https://graph.microsoft.com/.default",
}


class RequestRejected(ValueError):
    """The CallHttp action cannot be scheduled as the extension would; the message says why."""


class HttpActivityFailed(Exception):
    """The request was not answered; `reason` and `details` make the TaskFailed event."""

    def __init__(self, reason: str, details: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class TokenCredential(Protocol):
    def get_token(self, *scopes: str) -> Any: ...


# -- the scheduled input ---------------------------------------------------------------------


def _headers_field(value: Any) -> dict[str, str | list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestRejected(f"call_http headers must be an object, got {json.dumps(value)}")
    headers: dict[str, str | list[str]] = {}
    for name, item in value.items():
        if isinstance(item, str):
            headers[name] = item
        elif isinstance(item, list) and all(isinstance(v, str) for v in item):
            headers[name] = item[0] if len(item) == 1 else list(item)
        else:
            raise RequestRejected(
                f"call_http header '{name}' must be a string or a list of strings, "
                f"got {json.dumps(item)}"
            )
    return headers


def scheduled_input(http_request: Any) -> str:
    """The activity input the extension schedules for a CallHttp action's `httpRequest`.

    DTFx serializes the input as a one-element array; the request has every property of the
    extension's DurableHttpRequest, with the defaults it gets when the SDK leaves one out.
    """
    if not isinstance(http_request, dict):
        raise RequestRejected("the CallHttp action has no httpRequest object")
    method = http_request.get("method")
    uri = http_request.get("uri")
    if not isinstance(method, str) or not method.strip():
        raise RequestRejected(f"call_http method must be a non-empty string, got {method!r}")
    if not isinstance(uri, str) or not uri:
        raise RequestRejected(f"call_http uri must be a non-empty string, got {uri!r}")
    try:
        urlsplit(uri).port  # noqa: B018 - parsing is the check
    except ValueError as exc:
        # The extension's Uri conversion throws while reading the actions: the orchestration fails.
        raise RequestRejected(
            f"Invalid URI: call_http uri {uri!r} cannot be parsed ({exc})"
        ) from exc
    content = http_request.get("content")
    if content is not None and not isinstance(content, str):
        raise RequestRejected("call_http content must be a string (the SDK sends JSON text)")
    token_source = http_request.get("tokenSource")
    if token_source is not None and not isinstance(token_source, dict):
        raise RequestRejected(f"call_http tokenSource must be an object, got {token_source!r}")
    if http_request.get("asynchronousPatternEnabled"):
        raise RequestRejected(
            "call_http with asynchronousPatternEnabled: the extension's 202 polling takes "
            "event ids the Python SDK does not track, and devhost does not emulate it. Poll "
            "the Location of a 202 from the orchestrator with create_timer and call_http."
        )
    for unsupported in ("retryOptions", "timeout"):
        if http_request.get(unsupported) is not None:
            raise RequestRejected(
                f"call_http '{unsupported}' is not sent by azure-functions-durable and devhost "
                "does not emulate it"
            )
    normalized = method.upper() if method.upper() in _KNOWN_METHODS else method
    request = {
        "method": normalized,
        "uri": uri,
        "headers": _headers_field(http_request.get("headers")),
        "content": content,
        "tokenSource": token_source,
        "asynchronousPatternEnabled": False,
        "retryOptions": None,
        "timeout": None,
    }
    return json.dumps([request], separators=(",", ":"), ensure_ascii=False)


def parse_input(input_text: str | None) -> dict[str, Any]:
    """The request back from a work item's input (a one-element JSON array)."""
    try:
        value = json.loads(input_text or "null")
    except ValueError as exc:
        raise HttpActivityFailed(f"The HTTP activity input is not JSON: {exc}") from exc
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise HttpActivityFailed("The HTTP activity input is not a one-request JSON array.")
    return value[0]


# -- sending ---------------------------------------------------------------------------------


def _token_scope(token_source: dict[str, Any]) -> str:
    kind = token_source.get("kind")
    resource = token_source.get("resource")
    if kind != "AzureManagedIdentity" or not isinstance(resource, str) or not resource:
        raise HttpActivityFailed(
            f"The token source kind '{json.dumps(kind)}' is not supported."
            if kind != "AzureManagedIdentity"
            else "A managed identity token source needs a resource."
        )
    return _SCOPE_FOR_RESOURCE.get(resource, resource)


def _use_azure_identity() -> bool:
    value = (os.environ.get(TOKEN_SETTING) or "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise HttpActivityFailed(f"{TOKEN_SETTING} must be true or false, got {value!r}.")


_credential: TokenCredential | None = None
_credential_lock = threading.Lock()


def _default_credential() -> TokenCredential:
    global _credential
    with _credential_lock:
        if _credential is None:
            from azure.identity import DefaultAzureCredential

            _credential = DefaultAzureCredential()
        return _credential


def bearer_token(
    token_source: dict[str, Any],
    credential: Callable[[], TokenCredential] = _default_credential,
) -> str:
    """An access token for a managed-identity token source, or the refusal as a failure."""
    scope = _token_scope(token_source)
    if not _use_azure_identity():
        raise HttpActivityFailed(
            f"call_http with a managed identity token source (resource "
            f"'{token_source.get('resource')}') needs a managed identity, which only Azure "
            "provides; devhost does not send the request without its token. Set "
            f"{TOKEN_SETTING}=true to get the token from azure-identity's "
            "DefaultAzureCredential (environment, workload identity or Azure CLI sign-in), "
            "as the extension does."
        )
    try:
        return str(credential().get_token(scope).token)
    except Exception as exc:  # the credential chain's own message says what is missing
        raise HttpActivityFailed(f"{type(exc).__name__}: {exc}") from exc


def _request_headers(
    request: dict[str, Any], token: Callable[[dict[str, Any]], str]
) -> dict[str, str]:
    """Headers as TaskHttpActivityShim.ConvertToHttpRequestMessage builds them."""
    headers: dict[str, str] = {}
    content_type = ""
    for name, value in (request.get("headers") or {}).items():
        values = value if isinstance(value, list) else [value]
        if name.lower() == "content-type":
            for item in values:
                if "multipart" in item:
                    raise HttpActivityFailed(
                        "Multipart content is not supported with CallHttpAsync."
                    )
                content_type = item
        else:
            headers[name] = ", ".join(values)
    if request.get("content") is not None:
        content_type = content_type or "text/plain"
        if content_type.lower() == "application/x-www-form-urlencoded":
            content_type += "; charset=utf-8"
        headers["Content-Type"] = content_type
    token_source = request.get("tokenSource")
    if token_source is not None:
        headers["Authorization"] = f"Bearer {token(token_source)}"
    return headers


def _decode(body: bytes, content_type: str | None) -> str:
    """HttpContent.ReadAsStringAsync: a byte order mark, else the charset, else UTF-8."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    if body.startswith(codecs.BOM_UTF16_BE):
        return body[2:].decode("utf-16-be", errors="replace")
    charset = "utf-8"
    if content_type:
        message = Message()
        message["content-type"] = content_type
        charset = message.get_content_charset() or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def response_json(status: int, headers: list[tuple[str, str]], body: bytes) -> str:
    """The TaskCompleted result: DurableHttpResponse as Newtonsoft writes it.

    Only response headers (not content headers) are kept; a header seen once is a string,
    one seen several times a list of its values.
    """
    grouped: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    content_type = None
    for name, value in headers:
        key = name.lower()
        if key == "content-type":
            content_type = value
        if key in CONTENT_HEADERS:
            continue
        names.setdefault(key, name)
        grouped.setdefault(key, []).append(value)
    result = {
        "statusCode": status,
        "headers": {names[k]: v[0] if len(v) == 1 else v for k, v in grouped.items()},
        "content": _decode(body, content_type),
    }
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)


def _exception_details(type_name: str, message: str) -> str:
    """Utils.SerializeCause: the .NET exception as the extension's data converter writes it."""
    assembly = type_name.rsplit(".", 1)[0]
    return json.dumps(
        {
            "$type": f"{type_name}, {assembly}",
            "ClassName": type_name,
            "Message": message,
            "Data": None,
            "InnerException": None,
            "HelpURL": None,
            "StackTraceString": None,
            "RemoteStackTraceString": None,
            "RemoteStackIndex": 0,
            "ExceptionMethod": None,
            "HResult": -2146233088,
            "Source": "System.Net.Http",
            "WatsonBuckets": None,
        }
    )


def _network_failure(exc: urllib3.exceptions.HTTPError, uri: str) -> HttpActivityFailed:
    """HttpRequestException's message as .NET words it: the socket error, then (host:port)."""
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"({parts.hostname}:{port})"
    cause: BaseException = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        cause = exc.reason  # retries are off, so this is the one attempt's error
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        message = f"Name or service not known {where}"
    elif isinstance(cause, urllib3.exceptions.SSLError):
        message = "The SSL connection could not be established, see inner exception."
    elif isinstance(cause, urllib3.exceptions.NewConnectionError):
        errno = getattr(cause.__context__, "errno", None) or getattr(cause, "errno", None)
        text = os.strerror(errno) if isinstance(errno, int) else "Connection refused"
        message = f"{text} {where}"
    elif isinstance(cause, urllib3.exceptions.TimeoutError):
        # A timeout is a TaskCanceledException in .NET, not an HttpRequestException.
        reason = (
            "The request was canceled due to the configured HttpClient.Timeout of "
            f"{int(TIMEOUT_SECONDS)} seconds elapsing."
        )
        return HttpActivityFailed(
            reason, _exception_details("System.Threading.Tasks.TaskCanceledException", reason)
        )
    else:
        message = "An error occurred while sending the request."
    return HttpActivityFailed(
        message, _exception_details("System.Net.Http.HttpRequestException", message)
    )


_pool = urllib3.PoolManager(
    # No retries; redirects followed as HttpClientHandler does, the last one returned as is.
    retries=urllib3.Retry(
        total=None,
        connect=0,
        read=0,
        status=0,
        other=0,
        redirect=MAX_REDIRECTS,
        raise_on_redirect=False,
    ),
    timeout=urllib3.Timeout(total=TIMEOUT_SECONDS),
)


def send(request: dict[str, Any], token: Callable[[dict[str, Any]], str] = bearer_token) -> str:
    """Send the request (blocking: call it on an activity thread); the result JSON."""
    uri = request.get("uri") or ""
    parts = urlsplit(uri)
    # HttpClient's own refusals (an InvalidOperationException, a NotSupportedException).
    if not parts.scheme or not parts.hostname:
        raise HttpActivityFailed(
            "An invalid request URI was provided. Either the request URI must be an absolute "
            "URI or BaseAddress must be set."
        )
    if parts.scheme.lower() not in ("http", "https"):
        raise HttpActivityFailed(f"The '{parts.scheme}' scheme is not supported.")
    headers = _request_headers(request, token)
    content = request.get("content")
    try:
        response = _pool.request(
            request["method"],
            uri,
            body=content.encode("utf-8") if content is not None else None,
            headers=headers,
            redirect=True,
            decode_content=False,  # HttpClientHandler does not decompress by default
            preload_content=True,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise _network_failure(exc, uri) from exc
    except UnicodeEncodeError as exc:
        message = "Request headers must contain only ASCII characters."
        raise HttpActivityFailed(
            message, _exception_details("System.Net.Http.HttpRequestException", message)
        ) from exc
    except ValueError as exc:  # http.client's refusals, e.g. a method with a space
        raise HttpActivityFailed(f"The request could not be sent: {exc}") from exc
    return response_json(response.status, list(response.headers.iteritems()), response.data)


def completion_event(
    task_id: int, input_text: str | None, now: Callable[[], datetime]
) -> dict[str, Any]:
    """Run one HTTP work item; its TaskCompleted, or TaskFailed when no response came."""
    try:
        result = send(parse_input(input_text))
    except HttpActivityFailed as exc:
        return event(
            EventType.TASK_FAILED,
            now(),
            TaskScheduledId=task_id,
            Reason=exc.reason,
            Details=exc.details,
        )
    return event(EventType.TASK_COMPLETED, now(), TaskScheduledId=task_id, Result=result)
