"""The ACS Email transport through the real SDK against a local HTTPS stand-in of the Email REST
API 2025-09-01: no ACS endpoint is reachable here, so the stand-in answers at the SDK's boundary.

The stand-in follows the contract (azure-rest-api-specs, specification/communication/data-plane/
Email/stable/2025-09-01): POST /emails:send answers 202 with an Operation-Location and a
retry-after, GET /emails/operations/{operationId} answers 200 with {id, status, error} (status
NotStarted, Running, Succeeded, Failed or Canceled) or 404, errors carry an ErrorResponse and
x-ms-error-code. One assumption the reference leaves open: a POST repeating a known Operation-Id
is that operation again, not a second mail. Tokens come from a static credential (the token
endpoint is the edge that cannot run here), except in the managed-identity test, which serves
the App Service identity protocol to the real DefaultAzureCredential.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken

from adapters.mail import MailError, OutgoingMail, PermanentMailError, TransientMailError
from adapters.mail_acs import API_VERSION, AcsEmailTransport, acs_transport
from app_config import MailSettings

TOKEN = "static-test-token"
SCOPE = "https://communication.azure.com//.default"
API_VERSIONS = {"2023-03-31", "2025-09-01"}  # the stable versions of the contract
IDENTITY_SECRET = "acs-test-identity-header"

Answer = tuple[int, dict[str, str], dict[str, Any]]  # status, headers, JSON body


@dataclass
class Operation:
    id: str
    message: dict[str, Any]
    status: str = "Running"
    outcome: str = "Succeeded"  # the status the next poll finds
    error: dict[str, str] | None = None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class StandIn:
    """ACS Email's two operations on a free loopback port, over TLS."""

    tls: ssl.SSLContext
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    requests: list[Request] = field(default_factory=list)
    operations: dict[str, Operation] = field(default_factory=dict)
    sent: list[Operation] = field(default_factory=list)  # the mails that would leave ACS
    # What a new operation's next poll finds, and its error: (status, error).
    outcome: tuple[str, dict[str, str] | None] = ("Succeeded", None)
    # Canned answers, each for the next request of its method.
    answers: list[tuple[str, Answer]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def answer_next(
        self, method: str, status: int, headers: dict[str, str] | None = None, **body: Any
    ) -> None:
        self.answers.append((method, (status, headers or {}, body)))

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def gets(self) -> list[Request]:
        return [r for r in self.requests if r.method == "GET"]

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer to one request, as the contract gives it."""
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        parsed = json.loads(body) if body else None
        with self._lock:
            self.requests.append(Request(method, parts.path, query, headers, parsed))
            auth = headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.tokens:
                return _error(401, "Unauthorized", "Denied by the stand-in.")
            if query.get("api-version") not in API_VERSIONS:
                return _error(400, "InvalidApiVersion", "Unknown api-version.")
            for index, (for_method, answer) in enumerate(self.answers):
                if for_method == method:
                    del self.answers[index]
                    return answer
            if method == "POST" and parts.path == "/emails:send":
                return self._send(headers, parsed or {}, query["api-version"])
            prefix = "/emails/operations/"
            if method == "GET" and parts.path.startswith(prefix):
                return self._status(parts.path[len(prefix) :])
            return _error(404, "NotFound", "No such path.")

    def _send(self, headers: dict[str, str], message: dict[str, Any], version: str) -> Answer:
        content, recipients = message.get("content") or {}, message.get("recipients") or {}
        if not (message.get("senderAddress") and content.get("subject") and recipients.get("to")):
            # ACS's own texts may quote the addresses; the transport must not repeat them.
            text = f"Invalid message from {message.get('senderAddress')} to {recipients}."
            return _error(400, "BadRequest", text)
        operation_id = headers.get("Operation-Id") or str(uuid.uuid4())
        operation = self.operations.get(operation_id)
        if operation is None:  # a known Operation-Id is that operation again
            operation = Operation(operation_id, message)
            operation.outcome, operation.error = self.outcome
            self.operations[operation_id] = operation
            self.sent.append(operation)
        location = f"{self.endpoint}/emails/operations/{operation_id}?api-version={version}"
        answer = {"Operation-Location": location, "retry-after": "0"}
        return 202, answer, {"id": operation_id, "status": operation.status}

    def _status(self, operation_id: str) -> Answer:
        operation = self.operations.get(operation_id)
        if operation is None:
            return _error(404, "NotFound", "Requested message could not be located.")
        operation.status = operation.outcome
        body: dict[str, Any] = {"id": operation.id, "status": operation.status}
        if operation.error is not None:
            body["error"] = operation.error
        terminal = operation.status in {"Succeeded", "Failed", "Canceled"}
        return 200, {} if terminal else {"retry-after": "0"}, body

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                status, extra, payload = stand_in.handle(self.command, self.path, headers, body)
                data = json.dumps(payload).encode() if payload else b""
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _error(status: int, code: str, message: str) -> Answer:
    """An ErrorResponse with its x-ms-error-code header, as every error of the contract."""
    return status, {"x-ms-error-code": code}, {"error": {"code": code, "message": message}}


class StaticCredential:
    """A TokenCredential with one token: what the identity endpoint would have returned."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token, self.scopes = token, []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate for 127.0.0.1, which the client trusts as its own CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("acs-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = {"cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def stand_in(certificate: dict[str, Path]) -> Iterator[StandIn]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate["cert"], certificate["key"])
    instance = StandIn(context)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def transport(
    stand_in: StandIn, certificate: dict[str, Path]
) -> Iterator[Callable[..., AcsEmailTransport]]:
    """Transports built by acs_transport for the stand-in (closed afterwards)."""
    built: list[AcsEmailTransport] = []

    def make(
        endpoint: str | None = None, credential: Any = None, **options: Any
    ) -> AcsEmailTransport:
        settings = MailSettings(transport="acs", acs_endpoint=endpoint or stand_in.endpoint)
        options.setdefault("wait", 10.0)
        options.setdefault("polling_interval", 0.05)
        instance = acs_transport(
            settings,
            credential=credential or StaticCredential(),
            connection_verify=str(certificate["cert"]),
            **options,
        )
        built.append(instance)
        return instance

    try:
        yield make
    finally:
        for instance in built:
            instance.close()


def outgoing(**changes: Any) -> OutgoingMail:
    mail = OutgoingMail(
        id=str(uuid.uuid4()),
        sender="orders@shop.example",
        to=("ada@example.com", "bob@example.org"),
        subject="Your order A-1001 is confirmed",
        text="Hello Ada, order A-1001 ships to 1 Main St.",
        html="<p>Hello Ada, order A-1001 ships to <b>1 Main St</b>.</p>",
    )
    return replace(mail, **changes)


def assert_clean(error: MailError, mail: OutgoingMail) -> None:
    """Neither the error's text nor its whole traceback names an address or a body."""
    text = "".join(traceback.format_exception(error)) + repr(error)
    for private in (mail.sender, *mail.to, mail.subject, mail.text, mail.html, "Ada", "Main St"):
        assert private not in text


# --- sending -----------------------------------------------------------------------------------


def test_a_send_carries_the_mail_id_as_operation_id_and_the_whole_message(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    mail = outgoing()
    credential = StaticCredential()
    transport(credential=credential).send(mail)

    [post] = stand_in.posts()
    assert post.path == "/emails:send" and post.query == {"api-version": API_VERSION}
    assert post.headers["Operation-Id"] == mail.id
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert credential.scopes == [SCOPE]
    assert post.body == {
        "senderAddress": "orders@shop.example",
        "recipients": {"to": [{"address": "ada@example.com"}, {"address": "bob@example.org"}]},
        "content": {"subject": mail.subject, "plainText": mail.text, "html": mail.html},
        "headers": {"Message-ID": f"<{mail.id}@shop.example>"},
    }
    # The send waited for the operation: one poll at the contract's status path found Succeeded.
    assert [(g.path, g.query) for g in stand_in.gets()] == [
        (f"/emails/operations/{mail.id}", {"api-version": API_VERSION})
    ]
    assert [op.id for op in stand_in.sent] == [mail.id]
    assert stand_in.operations[mail.id].status == "Succeeded"


def test_the_default_credential_is_the_managed_identity_from_the_settings(
    stand_in: StandIn,
    certificate: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No credential passed: DefaultAzureCredential asks the App Service identity endpoint for
    ACS_EMAIL_CLIENT_ID's token (served here; the real one is Azure's), and ACS gets it."""
    token_requests: list[dict[str, str | None]] = []

    class Identity(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            token_requests.append({**query, "header": self.headers.get("X-IDENTITY-HEADER")})
            body = json.dumps(
                {
                    "access_token": "identity-token",
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": query.get("resource", ""),
                    "token_type": "Bearer",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_USERNAME",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_TOKEN_CREDENTIALS",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IDENTITY_SERVER_THUMBPRINT",
    ):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Identity)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    built: AcsEmailTransport | None = None
    try:
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}/")
        monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_SECRET)
        stand_in.tokens = {"identity-token"}
        client_id = str(uuid.uuid4())
        settings = MailSettings(
            transport="acs", acs_endpoint=stand_in.endpoint, acs_client_id=client_id
        )
        built = acs_transport(settings, connection_verify=str(certificate["cert"]))
        mail = outgoing()
        built.send(mail)
    finally:
        if built is not None:
            built.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    assert [op.id for op in stand_in.sent] == [mail.id]
    assert token_requests and all(r["client_id"] == client_id for r in token_requests)
    assert all(r["header"] == IDENTITY_SECRET for r in token_requests)
    assert {r["resource"] for r in token_requests} == {"https://communication.azure.com/"}


def test_acs_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="ACS_EMAIL_ENDPOINT"):
        acs_transport(MailSettings(transport="acs"), credential=StaticCredential())


# --- resends -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Succeeded", "Running", "NotStarted"])
def test_a_resend_of_an_accepted_operation_sends_nothing_again(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport], status: str
) -> None:
    mail = outgoing()
    acs = transport()
    acs.send(mail)
    operation = stand_in.operations[mail.id]
    operation.status = operation.outcome = status  # as ACS has it when the resend asks

    acs.send(replace(mail, resend=True))
    acs.send(replace(mail, resend=True))

    assert len(stand_in.posts()) == 1 and [op.id for op in stand_in.sent] == [mail.id]
    # Each resend only asked for the operation's status, with the version the send used.
    status_checks = stand_in.gets()[1:]
    assert [(g.path, g.query) for g in status_checks] == 2 * [
        (f"/emails/operations/{mail.id}", {"api-version": API_VERSION})
    ]


def test_a_resend_of_an_operation_acs_never_saw_sends_it(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    """The first attempt died before ACS answered: 404 for the operation, so it is sent."""
    mail = outgoing(resend=True)
    transport().send(mail)

    assert [r.method for r in stand_in.requests] == ["GET", "POST", "GET"]
    assert stand_in.requests[0].path == f"/emails/operations/{mail.id}"
    assert [op.id for op in stand_in.sent] == [mail.id]


def test_a_resend_of_a_failed_operation_raises_its_failure_and_sends_nothing(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    mail = outgoing()
    acs = transport()
    stand_in.outcome = ("Failed", {"code": "EmailDroppedAllRecipientsSuppressed", "message": ""})
    with pytest.raises(PermanentMailError):
        acs.send(mail)

    with pytest.raises(PermanentMailError) as raised:
        acs.send(replace(mail, resend=True))

    assert "Failed, code EmailDroppedAllRecipientsSuppressed" in str(raised.value)
    assert len(stand_in.posts()) == 1
    assert_clean(raised.value, mail)


def test_an_operation_still_running_after_the_wait_counts_as_sent(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    stand_in.outcome = ("Running", None)
    mail = outgoing()
    transport(wait=0.2).send(mail)

    assert len(stand_in.posts()) == 1 and stand_in.operations[mail.id].status == "Running"
    stand_in.operations[mail.id].outcome = "Succeeded"  # lets the poller's thread finish


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("resend", [False, True], ids=["send", "status check"])
def test_throttling_is_transient_after_acs_retry_after(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport], resend: bool
) -> None:
    method = "GET" if resend else "POST"
    stand_in.answer_next(
        method,
        429,
        {"Retry-After": "37", "x-ms-error-code": "TooManyRequests"},
        error={"code": "TooManyRequests", "message": "Too many requests from orders@shop.example"},
    )
    mail = outgoing(resend=resend)
    with pytest.raises(TransientMailError) as raised:
        transport().send(mail)

    assert raised.value.retry_after == 37 and raised.value.throttled
    assert "HTTP 429, code TooManyRequests" in str(raised.value)
    assert stand_in.sent == [] and len(stand_in.requests) == 1  # no retry inside the SDK
    assert_clean(raised.value, mail)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport], status: int
) -> None:
    stand_in.answer_next("POST", status, error={"code": "InternalServerError", "message": ""})
    mail = outgoing()
    with pytest.raises(TransientMailError) as raised:
        transport().send(mail)

    assert raised.value.retry_after is None and not raised.value.throttled
    assert f"HTTP {status}" in str(raised.value)
    assert stand_in.sent == [] and len(stand_in.requests) == 1
    assert_clean(raised.value, mail)


def test_no_connection_is_transient(
    transport: Callable[..., AcsEmailTransport], closed_port: int
) -> None:
    mail = outgoing()
    with pytest.raises(TransientMailError) as raised:
        transport(endpoint=f"https://127.0.0.1:{closed_port}").send(mail)

    assert raised.value.retry_after is None
    assert str(raised.value) == "ACS send: ServiceRequestError"
    assert_clean(raised.value, mail)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "BadRequest"), (401, "Unauthorized"), (403, "Forbidden")],
)
def test_refusals_are_permanent(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport], status: int, code: str
) -> None:
    stand_in.answer_next(
        "POST",
        status,
        {"x-ms-error-code": code},
        error={"code": code, "message": "Sender orders@shop.example may not mail ada@example.com"},
    )
    mail = outgoing()
    with pytest.raises(PermanentMailError) as raised:
        transport().send(mail)

    assert str(raised.value) == f"ACS send: HTTP {status}, code {code}"
    assert stand_in.sent == []
    assert_clean(raised.value, mail)


def test_an_invalid_message_is_permanent_and_acs_text_is_not_repeated(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    mail = outgoing(to=())
    with pytest.raises(PermanentMailError) as raised:
        transport().send(mail)

    assert str(raised.value) == "ACS send: HTTP 400, code BadRequest"
    assert_clean(raised.value, mail)


def test_a_wrong_token_is_permanent(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    mail = outgoing()
    with pytest.raises(PermanentMailError) as raised:
        transport(credential=StaticCredential("another-token")).send(mail)

    assert str(raised.value) == "ACS send: HTTP 401, code Unauthorized"
    assert stand_in.sent == []


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("EmailDroppedAllRecipientsSuppressed", PermanentMailError),
        ("EmailDropped", PermanentMailError),
        ("InternalServerError", TransientMailError),
    ],
)
def test_a_failed_operation_is_an_error_by_its_code(
    stand_in: StandIn,
    transport: Callable[..., AcsEmailTransport],
    code: str,
    kind: type[MailError],
) -> None:
    text = "Email to ada@example.com and bob@example.org was dropped."
    stand_in.outcome = ("Failed", {"code": code, "message": text})
    mail = outgoing()
    with pytest.raises(MailError) as raised:
        transport().send(mail)

    assert type(raised.value) is kind
    assert str(raised.value) == f"ACS operation {mail.id} Failed, code {code}"
    assert [op.id for op in stand_in.sent] == [mail.id]
    assert_clean(raised.value, mail)


def test_a_canceled_operation_without_a_code_is_permanent(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    stand_in.outcome = ("Canceled", None)
    mail = outgoing()
    with pytest.raises(PermanentMailError) as raised:
        transport().send(mail)

    assert str(raised.value) == f"ACS operation {mail.id} Canceled"


def test_an_operation_acs_cannot_find_after_accepting_it_is_transient(
    stand_in: StandIn, transport: Callable[..., AcsEmailTransport]
) -> None:
    """ACS has answered 404 to a poll right after its 202 (azure-sdk-for-python#35849): the
    resend asks again rather than the mail being given up."""
    stand_in.answer_next("GET", 404, {"x-ms-error-code": "NotFound"}, error={"code": "NotFound"})
    mail = outgoing()
    with pytest.raises(TransientMailError):
        transport().send(mail)

    transport().send(replace(mail, resend=True))
    assert len(stand_in.posts()) == 1
