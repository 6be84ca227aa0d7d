"""Blob triggers with identity-based AzureWebJobsStorage, for real: HTTPS Azurite with OAuth."""

# Azurite runs with a self-signed certificate and `--oauth basic` (it checks a bearer token's
# shape, lifetime, issuer and audience, not its signature). devhost gets no key at all, only
# `AzureWebJobsStorage__blobServiceUri`, `__queueServiceUri` and `__credential=managedidentity`;
# azure-identity's ManagedIdentityCredential fetches its tokens from a local stand-in for the App
# Service identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess, wait_until

APP = Path(__file__).resolve().parents[2] / "apps" / "blob_triggers"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
IDENTITY_SECRET = "devhost-test-identity-header"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, as PEM files."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl CLI is available")
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
                *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            ],
            check=True,
            capture_output=True,
        )
        return cert, key
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert, key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def entra_shaped_token(resource: str, issuer: str) -> tuple[str, int]:
    """An unsigned JWT with the claims Azurite's basic OAuth checks; returns it and its expiry."""
    now = int(time.time())
    expires = now + 3600
    claims = {
        "aud": resource,
        "iss": issuer,
        "iat": now - 60,
        "nbf": now - 60,
        "exp": expires,
        "oid": str(uuid.uuid4()),
        "tid": TENANT,
        "sub": "devhost-test-identity",
    }
    header = {"alg": "RS256", "typ": "JWT"}
    token = ".".join(
        [_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()), "c2ln"]
    )
    return token, expires


class _IdentityEndpoint(BaseHTTPRequestHandler):
    """The App Service managed identity protocol (api-version 2019-08-01)."""

    requests: list[dict[str, Any]]
    issuer: dict[str, str]  # {"iss": ...}, changeable by a test

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        resource = query.get("resource", [""])[0]
        self.requests.append(
            {"resource": resource, "header": self.headers.get("X-IDENTITY-HEADER")}
        )
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_SECRET:
            self.send_response(401)
            self.end_headers()
            return
        token, expires = entra_shaped_token(resource, self.issuer["iss"])
        body = json.dumps(
            {
                "access_token": token,
                "expires_on": str(expires),
                "resource": resource,
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


class IdentityEndpoint:
    """A running stand-in for the App Service identity endpoint."""

    def __init__(self, url: str, requests: list[dict[str, Any]], issuer: dict[str, str]) -> None:
        self.url = url
        self.requests = requests
        self.issuer = issuer


@pytest.fixture
def identity_endpoint() -> Iterator[IdentityEndpoint]:
    requests: list[dict[str, Any]] = []
    issuer = {"iss": f"https://sts.windows.net/{TENANT}/"}
    handler = type("Handler", (_IdentityEndpoint,), {"requests": requests, "issuer": issuer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield IdentityEndpoint(
            f"http://127.0.0.1:{server.server_address[1]}/msi/token", requests, issuer
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def https_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    folder = tmp_path_factory.mktemp("https-azurite")
    cert, key = self_signed_certificate(folder)
    instance = Azurite(
        folder / "azurite",
        project_root=PROJECT_ROOT,
        cert_path=cert,
        key_path=key,
        oauth="basic",
    )
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def identity_settings(
    azurite: Azurite, endpoint: IdentityEndpoint, journal: Path
) -> dict[str, str]:
    cert = str(azurite.cert_path)
    return {
        "AzureWebJobsStorage": "",  # only the identity settings below
        "AzureWebJobsStorage__blobServiceUri": azurite.blob_endpoint,
        "AzureWebJobsStorage__queueServiceUri": azurite.queue_endpoint,
        "AzureWebJobsStorage__credential": "managedidentity",
        "IDENTITY_ENDPOINT": endpoint.url,
        "IDENTITY_HEADER": IDENTITY_SECRET,
        "REQUESTS_CA_BUNDLE": cert,
        "SSL_CERT_FILE": cert,
        "BLOB_PREFIX": "id-",
        "BLOB_JOURNAL": str(journal),
        "AzureFunctionsWebHost__hostid": "identity",
    }


def test_blob_trigger_with_managed_identity_settings_against_oauth_azurite(
    https_azurite: Azurite,
    identity_endpoint: IdentityEndpoint,
    devhost_factory: Callable[..., DevHostProcess],
    tmp_path: Path,
) -> None:
    cert = str(https_azurite.cert_path)
    journal = tmp_path / "journal.jsonl"
    env = identity_settings(https_azurite, identity_endpoint, journal)
    host = devhost_factory(APP, env=env)
    host.start()
    # The test itself writes with the account key over HTTPS; devhost never sees a key.
    service = BlobServiceClient.from_connection_string(
        https_azurite.connection_string, connection_verify=cert
    )
    service.create_container("id-samples")
    etag = service.get_blob_client("id-samples", "who.txt").upload_blob(b"identity").get("etag")
    wait_until(lambda: journal.exists() and journal.read_text(), 30, lambda: host.logs()[-3000:])
    run = json.loads(journal.read_text().splitlines()[0])
    assert run["name"] == "id-samples/who.txt" and run["content"] == "identity"
    assert run["uri"].startswith("https://127.0.0.1:")
    # Tokens came from the identity endpoint, for storage, with the secret header.
    token_requests = identity_endpoint.requests
    assert token_requests and {r["resource"] for r in token_requests} == {
        "https://storage.azure.com"
    }
    assert all(r["header"] == IDENTITY_SECRET for r in token_requests)
    # The receipt and the host queue were written with those tokens too.
    receipts = [
        b.name
        for b in service.get_container_client("azure-webjobs-hosts").list_blobs(
            name_starts_with="blobreceipts/identity/"
        )
    ]
    assert receipts == [f"blobreceipts/identity/Host.Functions.on_sample/{etag}/id-samples/who.txt"]
    assert "AuthenticationFailed" not in host.logs()


def test_a_token_azurite_refuses_is_reported_and_devhost_keeps_running(
    https_azurite: Azurite,
    identity_endpoint: IdentityEndpoint,
    devhost_factory: Callable[..., DevHostProcess],
    tmp_path: Path,
) -> None:
    identity_endpoint.issuer["iss"] = "https://issuer.example/not-entra/"
    env = identity_settings(https_azurite, identity_endpoint, tmp_path / "journal.jsonl")
    env["AzureFunctionsWebHost__hostid"] = "identity-refused"
    host = devhost_factory(APP, env=env)
    host.start()
    # Refused where the trigger's queue is created (other places may log the refusal first).
    wait_until(
        lambda: any(
            "could not be created yet" in line and "Invalid token issuer" in line
            for line in host.logs().splitlines()
        ),
        20,
        "the queue's token refusal logged",
    )
    assert host.http.get(host.url("/api/alive"), timeout=10).text == "yes"
