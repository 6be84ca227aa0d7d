"""The Azure Communication Services Email transport: the mail id is the ACS operation id, so a
resend of a mail ACS already accepted is recognised (asked for first) instead of sent twice."""

from __future__ import annotations

import json
import logging
import re
from email.utils import parsedate_to_datetime
from time import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from azure.communication.email import EmailClient
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpRequest

from adapters.mail import MailError, OutgoingMail, PermanentMailError, TransientMailError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.rest import HttpResponse

    from app_config import MailSettings

logger = logging.getLogger(__name__)

# The Email REST API version every request uses: the stable one azure-communication-email 1.1.0
# defaults to (azure-rest-api-specs, specification/communication/data-plane/Email/stable/).
API_VERSION = "2025-09-01"
# How long `send` waits for an accepted operation to finish before it counts it as sent.
WAIT_SECONDS = 30.0
# The client's defaults: no retries inside the SDK (the outbox sender retries, and a 429 must
# reach it with its Retry-After) and bounded network waits. acs_transport's options win.
CLIENT_DEFAULTS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 10, "read_timeout": 30}

# Operation states (EmailSendStatus). A resend of an operation in one of these sends nothing.
ACCEPTED = frozenset({"NotStarted", "Running", "Succeeded"})
FAILED = frozenset({"Failed", "Canceled"})
# Error codes of a failed operation that name a condition on ACS's side rather than the mail's.
# ACS publishes no list of codes; every other code (EmailDropped,
# EmailDroppedAllRecipientsSuppressed, InvalidEmailAddress, ...) is permanent.
TRANSIENT_CODES = frozenset(
    {"InternalServerError", "ServiceUnavailable", "TooManyRequests", "Timeout"}
)
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class AcsEmailTransport:
    """Sends through an EmailClient; errors name HTTP statuses and ACS error codes, never an
    address, a body or ACS's own error text (which may quote an address)."""

    name = "acs"

    def __init__(
        self, client: EmailClient, *, wait: float = WAIT_SECONDS, api_version: str = API_VERSION
    ) -> None:
        """`api_version` is the one `client` was built with (it is not public on the client)."""
        self._client, self.wait, self.api_version = client, wait, api_version

    def send(self, mail: OutgoingMail) -> None:
        if mail.resend and self._accepted(mail.id):
            return  # ACS has this operation already: sending again would mail twice
        try:
            poller = self._client.begin_send(email_message(mail), operation_id=mail.id)
        except AzureError as error:
            raise _unsent(error, "send") from None
        try:
            poller.wait(self.wait)
            if not poller.done():
                # Accepted and still running: counted as sent, as a resend would count it. The
                # poller's thread stops by itself at the operation's end.
                logger.info("ACS operation %s still running after %ss", mail.id, self.wait)
                return
            result = poller.result()
        except HttpResponseError as error:
            response = error.response
            if response is not None and response.status_code == 200:  # a status, not Succeeded
                raise _failed(_json(response), mail.id) from None
            if response is not None and response.status_code == 404:
                # Accepted, but not yet visible to the status endpoint: the resend asks again.
                raise TransientMailError("ACS status: operation not found yet") from None
            raise _unsent(error, "status") from None
        except AzureError as error:
            raise _unsent(error, "status") from None
        if (result or {}).get("status") != "Succeeded":
            raise _failed(result or {}, mail.id)

    def close(self) -> None:
        self._client.close()

    def _accepted(self, operation_id: str) -> bool:
        """Whether ACS knows the operation and it has not failed (GET /emails/operations/{id},
        which the SDK has no method for); raises its failure if it failed."""
        request = HttpRequest(
            "GET",
            "{endpoint}/emails/operations/" + quote(operation_id, safe=""),
            params={"api-version": self.api_version},
            headers={"Accept": "application/json"},
        )
        try:
            response = self._client.send_request(request)
        except AzureError as error:  # no answer, or no token to ask with
            raise _unsent(error, "status") from None
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise _refused(response, "status")
        result = _json(response)
        if result.get("status") not in ACCEPTED:
            raise _failed(result, operation_id)
        return True


def email_message(mail: OutgoingMail) -> dict[str, Any]:
    """The EmailMessage body of POST /emails:send. Its Message-ID is the mail id, as the SMTP
    and file transports write it: ACS keeps a valid customer-supplied one."""
    domain = mail.sender.rpartition("@")[2] or "localhost"
    content = {"subject": mail.subject, "plainText": mail.text}
    if mail.html:
        content["html"] = mail.html
    return {
        "senderAddress": mail.sender,
        "recipients": {"to": [{"address": address} for address in mail.to]},
        "content": content,
        "headers": {"Message-ID": f"<{mail.id}@{domain}>"},
    }


def acs_transport(
    settings: MailSettings,
    *,
    credential: TokenCredential | None = None,
    wait: float = WAIT_SECONDS,
    **client_options: Any,
) -> AcsEmailTransport:
    """The transport for ACS_EMAIL_ENDPOINT, authenticated as the managed identity
    ACS_EMAIL_CLIENT_ID (DefaultAzureCredential, which chooses when it is unset; never a
    connection string or an access key). `credential` replaces that identity (tests);
    `client_options` are EmailClient's (`connection_verify`, timeouts, `polling_interval`)."""
    if not settings.acs_endpoint:
        raise ValueError("MAIL_TRANSPORT=acs needs ACS_EMAIL_ENDPOINT")
    if credential is None:
        from azure.identity import DefaultAzureCredential  # only where ACS is used

        # Passed only when set: an explicit None would force the system-assigned identity.
        identity = {"managed_identity_client_id": settings.acs_client_id}
        credential = DefaultAzureCredential(**(identity if settings.acs_client_id else {}))
    options = {**CLIENT_DEFAULTS, **client_options, "api_version": API_VERSION}
    client = EmailClient(settings.acs_endpoint, credential, **options)
    return AcsEmailTransport(client, wait=wait, api_version=API_VERSION)


def _unsent(error: AzureError, doing: str) -> MailError:
    """An SDK error as the outbox's error; without an HTTP answer (no connection, no token,
    a timeout) it is transient."""
    response = getattr(error, "response", None)
    if response is None:
        return TransientMailError(f"ACS {doing}: {type(error).__name__}")
    return _refused(response, doing)


def _refused(response: HttpResponse | Any, doing: str) -> MailError:
    """An error answer: 429 throttled with its Retry-After, 408 and 5xx transient, any other
    status permanent (400, 401, 403: a bad message, identity or role)."""
    status = response.status_code
    what = f"ACS {doing}: HTTP {status}{_code_part(_error_code(response))}"
    if status == 429:
        return TransientMailError(what, retry_after=_retry_after(response.headers))
    if status == 408 or status >= 500:
        return TransientMailError(what)
    return PermanentMailError(what)


def _failed(result: dict[str, Any], operation_id: str) -> MailError:
    """An operation that did not succeed, by its error code; a status answer that is none of
    the contract's is transient (asked again on the resend)."""
    status = result.get("status")
    if status not in FAILED:
        return TransientMailError(f"ACS operation {operation_id}: unexpected status answer")
    error = result.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    what = f"ACS operation {operation_id} {status}{_code_part(code)}"
    if code in TRANSIENT_CODES:
        return TransientMailError(what)
    return PermanentMailError(what)


def _code_part(code: object) -> str:
    """`, code X` for a well-formed error code; nothing else of ACS's answer is ever kept."""
    return f", code {code}" if isinstance(code, str) and _CODE.fullmatch(code) else ""


def _error_code(response: Any) -> str | None:
    code = response.headers.get("x-ms-error-code")
    if code:
        return str(code)
    error = _json(response).get("error")
    return error.get("code") if isinstance(error, dict) else None


def _json(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.text() or "{}")
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(headers: Any) -> float | None:
    """Seconds from Retry-After (seconds or an HTTP date) or retry-after-ms, as azure-core
    reads them; None when ACS said nothing."""
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time())
            except (TypeError, ValueError):
                pass
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000)
            except ValueError:
                pass
    return None
