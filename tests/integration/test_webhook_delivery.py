"""Webhook delivery against a real local receiver that verifies every signature with verify().

Only socket.getaddrinfo is ever replaced, and only to make a name resolve to chosen addresses
(public DNS cannot be controlled here): that is how DNS rebinding is simulated.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from activities.webhooks import bp, deliver_webhook
from adapters.factory import build_webhook_sender
from adapters.webhooks import WebhookSender
from domain.failures import (
    FailureKind,
    JobFailure,
    PermanentFailure,
    TransientFailure,
    failure_kind,
)
from domain.outbound import AllowList
from domain.webhooks import InvalidSignature, verify

KEY = "integration-test-webhook-key-0123456789"
LOOPBACK = AllowList.parse(["127.0.0.1", "localhost"])


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any] | None  # what verify() returned; None if it refused the request
    refused: str | None
    server_name: str | None = None


@dataclass
class Receiver:
    """A webhook receiver on a free loopback port; answers each request with the next status."""

    statuses: list[int] = field(default_factory=lambda: [200])
    tls: ssl.SSLContext | None = None
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _server_names: list[str | None] = field(default_factory=list)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                try:
                    payload, refused = verify(body, headers, KEY, now=time.time()), None
                except InvalidSignature as error:
                    payload, refused = None, str(error)
                name = receiver._server_names[-1] if receiver._server_names else None
                receiver.requests.append(
                    Received("POST", self.path, headers, body, payload, refused, name)
                )
                statuses = receiver.statuses  # one per request; the last one repeats
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                self.send_response(status)
                if 300 <= status <= 399:
                    self.send_header("Location", receiver.url("/redirected"))
                text = f"status {status}\x00 from the receiver".encode()
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def do_GET(self) -> None:  # a client following a 302/303 would GET
                headers = dict(self.headers.items())
                receiver.requests.append(Received("GET", self.path, headers, b"", None, None))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self._server_names.append(name)
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


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Start receivers for one test (answering `statuses` in turn); all stopped afterwards."""
    started: list[Receiver] = []

    def start(*statuses: int, tls: ssl.SSLContext | None = None) -> Receiver:
        instance = Receiver(statuses=list(statuses) or [200], tls=tls)
        started.append(instance)
        instance.start()
        return instance

    try:
        yield start
    finally:
        for instance in started:
            instance.stop()


def _request(url: str, delivery_id: str = "ord-1:completed", **event: Any) -> dict[str, Any]:
    return {
        "url": url,
        "event": {"type": "order.completed", "order_id": "ord-1", **event},
        "delivery_id": delivery_id,
        "correlation_id": "corr-42",
    }


def _sender(allowed: AllowList = LOOPBACK, **options: Any) -> WebhookSender:
    return WebhookSender(KEY, allowed, **options)


def _fails(kind: type[JobFailure], payload: dict[str, Any], sender: WebhookSender) -> str:
    with pytest.raises(kind) as caught:
        deliver_webhook(payload, sender)
    return caught.value.reason


# --- delivery and outcomes -----------------------------------------------------------------


def test_a_signed_webhook_is_delivered(receiver: Callable[..., Receiver]) -> None:
    server = receiver(200)
    before = dt.datetime.now(dt.UTC)

    result = deliver_webhook(_request(server.url("/hook?tenant=7")), _sender())

    attempt_at = dt.datetime.fromisoformat(result.pop("attempt_at"))
    assert result == {"delivered": True, "status": 200}
    assert before <= attempt_at <= dt.datetime.now(dt.UTC)
    [got] = server.requests
    assert got.refused is None
    assert got.payload == {
        "delivery_id": "ord-1:completed",
        "correlation_id": "corr-42",
        "event": {"type": "order.completed", "order_id": "ord-1"},
    }
    assert (got.method, got.path) == ("POST", "/hook?tenant=7")
    assert got.headers["Host"] == f"127.0.0.1:{server.port}"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Webhook-Id"] == "ord-1:completed"
    assert abs(int(got.headers["Webhook-Timestamp"]) - time.time()) < 60


def test_a_204_counts_as_delivered(receiver: Callable[..., Receiver]) -> None:
    server = receiver(204)

    assert deliver_webhook(_request(server.url()), _sender())["status"] == 204


def test_a_500_is_transient_and_the_retry_is_the_same_delivery(
    receiver: Callable[..., Receiver],
) -> None:
    server = receiver(500, 200)
    payload = _request(server.url())

    reason = _fails(TransientFailure, payload, _sender())
    assert reason.startswith(f"http://127.0.0.1:{server.port} answered 500: status 500")
    assert deliver_webhook(payload, _sender())["status"] == 200

    first, second = server.requests
    assert first.refused is None and second.refused is None
    assert first.body == second.body
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"] == "ord-1:completed"


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_throttling_and_server_errors_are_transient(
    receiver: Callable[..., Receiver], status: int
) -> None:
    server = receiver(status)

    assert f"answered {status}" in _fails(TransientFailure, _request(server.url()), _sender())


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_other_client_errors_are_permanent(receiver: Callable[..., Receiver], status: int) -> None:
    server = receiver(status)

    assert f"answered {status}" in _fails(PermanentFailure, _request(server.url()), _sender())


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_permanent_and_never_followed(
    receiver: Callable[..., Receiver], status: int
) -> None:
    server = receiver(status)

    reason = _fails(PermanentFailure, _request(server.url()), _sender())

    assert f"answered {status}: redirects are not followed" in reason
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/hook")]


def test_the_failure_kind_survives_the_trip_to_the_orchestrator(
    receiver: Callable[..., Receiver],
) -> None:
    server = receiver(404)

    with pytest.raises(PermanentFailure) as caught:
        deliver_webhook(_request(server.url()), _sender())
    # What the Durable SDK hands the orchestrator: the host's wrapped message text.
    wrapped = f"Activity function 'deliver_webhook' failed: {caught.value} \n Traceback ..."
    assert failure_kind(wrapped) is FailureKind.PERMANENT


def test_nothing_listening_is_transient(closed_port: int) -> None:
    reason = _fails(TransientFailure, _request(f"http://127.0.0.1:{closed_port}/"), _sender())

    assert "could not connect" in reason
    assert "refused" in reason.lower()


def test_a_slow_receiver_times_out_as_transient() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"

        reason = _fails(TransientFailure, _request(url), _sender(read_timeout=0.3))

    assert "no answer within 0.3 s" in reason


def test_only_a_capped_excerpt_of_an_error_answer_is_read(
    receiver: Callable[..., Receiver],
) -> None:
    server = receiver(400)

    reason = _fails(PermanentFailure, _request(server.url()), _sender(max_response_bytes=8))

    assert reason.endswith("answered 400: status 4")  # 8 bytes, control characters dropped


def test_the_url_path_and_the_key_never_appear_in_failures_or_logs(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    server = receiver(503)
    caplog.set_level("DEBUG")

    reason = _fails(TransientFailure, _request(server.url("/hook?token=s3cr3t")), _sender())

    logged = caplog.text
    for secret in ("s3cr3t", KEY, "order.completed"):
        assert secret not in reason
        assert secret not in logged
    assert "deliver_webhook failed for delivery ord-1:completed [correlation corr-42]" in logged


# --- SSRF: refused hosts and addresses -------------------------------------------------------


def test_a_name_resolving_to_loopback_is_refused_unless_allow_listed(
    receiver: Callable[..., Receiver],
) -> None:
    server = receiver(200)

    reason = _fails(
        PermanentFailure, _request(f"https://localhost:{server.port}/hook"), _sender(AllowList())
    )

    assert "localhost resolves to" in reason
    assert "loopback" in reason
    assert server.requests == []


def test_a_loopback_literal_is_refused_unless_allow_listed(
    receiver: Callable[..., Receiver],
) -> None:
    server = receiver(200)

    reason = _fails(PermanentFailure, _request(server.url()), _sender(AllowList()))

    assert "scheme must be https" in reason
    assert "the host is refused: loopback address" in reason
    assert "127.0.0.1" not in reason
    assert server.requests == []


def test_allow_listed_loopback_names_are_accepted(receiver: Callable[..., Receiver]) -> None:
    server = receiver(200)

    result = deliver_webhook(
        _request(server.url(host="localhost")), _sender(AllowList.parse(["localhost"]))
    )

    assert result["status"] == 200
    assert server.requests[0].headers["Host"] == f"localhost:{server.port}"
    assert server.requests[0].payload is not None


def test_an_allow_list_entry_with_another_port_does_not_cover_the_receiver(
    receiver: Callable[..., Receiver],
) -> None:
    server = receiver(200)
    allowed = AllowList.parse([f"127.0.0.1:{server.port + 1 if server.port < 65535 else 1}"])

    _fails(PermanentFailure, _request(server.url()), _sender(allowed))

    assert server.requests == []


class Resolver:
    """A stand-in for socket.getaddrinfo: chosen names get scripted answers, one per call
    (the last repeats); everything else, such as urllib3's lookup of a numeric address when it
    connects, goes to the real getaddrinfo and is recorded too."""

    def __init__(self, real: Callable[..., Any], answers: dict[str, list[list[str]]]) -> None:
        self.real, self.answers, self.calls = real, answers, []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(str(host))
        script = self.answers.get(str(host))
        if script is None:
            return self.real(host, port, *args, **kwargs)
        addresses = script.pop(0) if len(script) > 1 else script[0]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, int(port), 0, 0) if ":" in a else (a, int(port)),
            )
            for a in addresses
        ]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[list[str]]]], Resolver]:
    def install(answers: dict[str, list[list[str]]]) -> Resolver:
        fake = Resolver(socket.getaddrinfo, answers)
        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return fake

    return install


def test_dns_rebinding_public_then_private_connects_only_to_the_vetted_address(
    receiver: Callable[..., Receiver], resolver: Callable[..., Resolver]
) -> None:
    server = receiver(200)
    # First answer public (what gets vetted), every later answer loopback (the rebinding).
    fake = resolver({"rebind.example": [["8.8.8.8"], ["127.0.0.1"]]})
    url = f"https://rebind.example:{server.port}/hook"

    with pytest.raises(JobFailure):  # 8.8.8.8 is unreachable or silent from here
        deliver_webhook(_request(url), _sender(AllowList(), connect_timeout=0.3))

    assert fake.calls.count("rebind.example") == 1
    assert set(fake.calls) <= {"rebind.example", "8.8.8.8"}
    assert server.requests == []


def test_dns_rebinding_to_a_private_address_is_refused_before_connecting(
    receiver: Callable[..., Receiver], resolver: Callable[..., Resolver]
) -> None:
    server = receiver(200)
    fake = resolver({"rebind.example": [["127.0.0.1"], ["8.8.8.8"]]})

    reason = _fails(
        PermanentFailure,
        _request(f"https://rebind.example:{server.port}/hook"),
        _sender(AllowList()),
    )

    assert reason == "rebind.example resolves to 127.0.0.1, which is refused: loopback address"
    assert fake.calls == ["rebind.example"]
    assert server.requests == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["8.8.8.8", "169.254.169.254"],
        ["2001:4860:4860::8888", "::ffff:10.0.0.1"],
        ["8.8.8.8", "168.63.129.16"],
    ],
)
def test_one_refused_address_among_public_ones_refuses_the_host(
    resolver: Callable[..., Resolver], addresses: list[str]
) -> None:
    fake = resolver({"mixed.example": [addresses]})

    reason = _fails(PermanentFailure, _request("https://mixed.example/hook"), _sender(AllowList()))

    assert f"resolves to {addresses[1]}, which is refused" in reason
    assert fake.calls == ["mixed.example"]


def test_an_allow_listed_name_is_pinned_to_its_first_answer(
    receiver: Callable[..., Receiver], resolver: Callable[..., Resolver]
) -> None:
    server = receiver(200)
    # A later lookup would answer an unroutable address: delivery proves there is none.
    fake = resolver({"receiver.test": [["127.0.0.1"], ["10.255.255.1"]]})
    allowed = AllowList.parse([f"receiver.test:{server.port}"])

    result = deliver_webhook(_request(f"http://receiver.test:{server.port}/hook"), _sender(allowed))

    assert result["status"] == 200
    assert fake.calls.count("receiver.test") == 1
    assert server.requests[0].headers["Host"] == f"receiver.test:{server.port}"


def test_the_next_vetted_address_is_tried_when_one_refuses_connections(
    receiver: Callable[..., Receiver], resolver: Callable[..., Resolver]
) -> None:
    server = receiver(200)
    resolver({"two.test": [["127.0.0.2", "127.0.0.1"]]})  # nothing listens on 127.0.0.2
    allowed = AllowList.parse(["two.test"])

    result = deliver_webhook(_request(f"http://two.test:{server.port}/"), _sender(allowed))
    assert result["status"] == 200


def test_a_name_that_does_not_resolve_is_permanent(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def no_such_name(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "nowhere.example":  # NXDOMAIN, without asking a real DNS server
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)

    reason = _fails(PermanentFailure, _request("https://nowhere.example/"), _sender())

    assert reason == "nowhere.example does not resolve"


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for the name `localhost` only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: x509.Name | None, signer: Any, public: Any, ca: bool) -> Any:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage = x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            )
            builder = builder.add_extension(usage, critical=True)
        else:
            san = x509.SubjectAlternativeName([x509.DNSName("localhost")])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("webhook test CA", None, ca_key, ca_key.public_key(), True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = build("localhost", ca.subject, ca_key, server_key.public_key(), False)
    pem = serialization.Encoding.PEM
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(pem))
    paths["cert"].write_bytes(server.public_bytes(pem))
    paths["key"].write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def _tls(certificates: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["cert"], certificates["key"])
    return context


def test_https_connects_to_the_address_but_verifies_the_host_name(
    receiver: Callable[..., Receiver], certificates: dict[str, Path]
) -> None:
    server = receiver(200, tls=_tls(certificates))
    sender = _sender(AllowList.parse(["localhost"]), ca_certs=str(certificates["ca"]))

    result = deliver_webhook(_request(server.url(host="localhost")), sender)

    assert result["status"] == 200
    [got] = server.requests
    assert got.server_name == "localhost"  # SNI names the host, not the address dialled
    assert got.headers["Host"] == f"localhost:{server.port}"
    assert got.payload is not None


def test_a_certificate_for_another_name_is_permanent(
    receiver: Callable[..., Receiver], certificates: dict[str, Path]
) -> None:
    server = receiver(200, tls=_tls(certificates))
    sender = _sender(LOOPBACK, ca_certs=str(certificates["ca"]))

    reason = _fails(PermanentFailure, _request(server.url(host="127.0.0.1")), sender)

    assert "TLS certificate not accepted for 127.0.0.1" in reason
    assert server.requests == []


def test_a_certificate_from_an_unknown_ca_is_permanent(
    receiver: Callable[..., Receiver], certificates: dict[str, Path]
) -> None:
    server = receiver(200, tls=_tls(certificates))

    reason = _fails(
        PermanentFailure,
        _request(server.url(host="localhost")),
        _sender(AllowList.parse(["localhost"])),
    )

    assert "TLS certificate not accepted for localhost" in reason
    assert server.requests == []


# --- settings and the activity ---------------------------------------------------------------


def test_the_sender_is_built_from_settings(receiver: Callable[..., Receiver]) -> None:
    server = receiver(200)
    env = {"WEBHOOK_SIGNING_KEY": KEY, "WEBHOOK_ALLOWED_HOSTS": f" 127.0.0.1:{server.port} ,"}

    assert deliver_webhook(_request(server.url()), build_webhook_sender(env))["status"] == 200
    assert server.requests[0].payload is not None  # signed with the configured key


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "WEBHOOK_SIGNING_KEY is not set"),
        ({"WEBHOOK_SIGNING_KEY": "short"}, "at least 32 bytes"),
        (
            {"WEBHOOK_SIGNING_KEY": "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/s)"},
            "unresolved Key Vault reference",
        ),
        (
            {"WEBHOOK_SIGNING_KEY": KEY, "WEBHOOK_ALLOWED_HOSTS": "localhost,http://x"},
            "WEBHOOK_ALLOWED_HOSTS: allow-list entry",
        ),
    ],
)
def test_missing_or_bad_settings_fail_the_webhook_with_a_clear_reason(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(PermanentFailure, match="webhooks are not configured") as caught:
        build_webhook_sender(env)

    assert message in caught.value.reason


def test_the_allow_list_is_empty_by_default() -> None:
    sender = build_webhook_sender({"WEBHOOK_SIGNING_KEY": KEY})

    assert "refused: loopback" in _fails(PermanentFailure, _request("https://127.0.0.1:1/"), sender)


def test_bad_input_is_permanent() -> None:
    reason = _fails(PermanentFailure, {"url": "https://x.example", "event": {}}, _sender())

    assert reason == "invalid deliver_webhook input: delivery_id: Field required"


def test_a_recorded_input_is_delivered(receiver: Callable[..., Receiver]) -> None:
    """The input as the orchestrator has always written it (correlation_id null when there is
    none), with a member added by a later version."""
    server = receiver(200)
    payload = {**_request(server.url()), "correlation_id": None, "added_later": 1}

    assert deliver_webhook(payload, _sender())["status"] == 200
    assert server.requests[0].payload is not None
    assert "correlation_id" not in server.requests[0].payload


def test_deliver_webhook_is_an_activity_with_a_payload_input() -> None:
    app = df.DFApp()
    app.register_functions(bp)

    functions = {
        fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]
        for fn in app.get_functions()
    }

    assert functions == {
        "deliver_webhook": [{"type": "activityTrigger", "direction": "IN", "name": "payload"}]
    }
