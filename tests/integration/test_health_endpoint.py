"""GET /api/health against a real Azurite: the storage and payment checks and the HTTP handler."""

from __future__ import annotations

import json
from collections.abc import Callable

import azure.functions as func
import pytest

from adapters.factory import root
from app_config import StorageConnection
from devhost.azurite import DEV_ACCOUNT_KEY, Azurite, build_connection_string
from triggers.health import health


def get_health() -> func.HttpResponse:
    request = func.HttpRequest(method="GET", url="http://localhost:7071/api/health", body=b"")
    # The blueprint's decorated object calls straight through to the user function.
    return health(request)


def closed_connection_string(port: int) -> str:
    return build_connection_string("127.0.0.1", port, port, port)


def test_probe_passes_against_azurite(azurite: Azurite) -> None:
    probe = root.storage_probe(StorageConnection(connection_string=azurite.connection_string), 5.0)

    probe()  # does not raise


def test_probe_raises_when_nothing_listens(closed_port: int) -> None:
    connection = StorageConnection(connection_string=closed_connection_string(closed_port))

    with pytest.raises(Exception, match="Connection refused"):
        root.storage_probe(connection, 2.0)()


def test_healthy_when_storage_answers(
    azurite: Azurite,
    storage_setting: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage_setting(azurite.connection_string)
    monkeypatch.setenv("APP_VERSION", "1.4.0")
    monkeypatch.setenv("PAYMENT_PROVIDER", "Simulated")

    response = get_health()

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.get_body())
    assert body["status"] == "healthy"
    assert body["version"] == "1.4.0"
    assert body["checks"]["storage"]["status"] == "ok"
    assert body["checks"]["storage"]["latencyMs"] >= 0
    assert body["checks"]["payments"]["status"] == "ok"


@pytest.mark.parametrize("provider", [None, "stripe"])
def test_unhealthy_without_a_known_payment_provider(
    provider: str | None,
    azurite: Azurite,
    storage_setting: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Orders cannot be paid for: the probe says so (503), and storage still shows as ok."""
    storage_setting(azurite.connection_string)
    monkeypatch.delenv("PAYMENT_PROVIDER", raising=False)
    if provider is not None:
        monkeypatch.setenv("PAYMENT_PROVIDER", provider)

    response = get_health()

    assert response.status_code == 503
    checks = json.loads(response.get_body())["checks"]
    assert checks["storage"]["status"] == "ok"
    assert checks["payments"]["status"] == "failed"
    assert checks["payments"]["error"] == "PaymentProviderNotConfigured"


def test_unhealthy_without_secrets_when_storage_is_down(
    closed_port: int, storage_setting: Callable[[str], None]
) -> None:
    storage_setting(closed_connection_string(closed_port))

    response = get_health()

    assert response.status_code == 503
    text = response.get_body().decode()
    body = json.loads(text)
    assert body["status"] == "unhealthy"
    assert body["version"] == "0.1.0"
    assert body["checks"]["storage"]["status"] == "failed"
    assert body["checks"]["storage"]["error"] == "ServiceRequestError"
    for secret in (DEV_ACCOUNT_KEY, "AccountKey", "DefaultEndpointsProtocol", str(closed_port)):
        assert secret not in text
    assert "Traceback" not in text


def test_a_malformed_connection_string_is_reported_not_raised(
    storage_setting: Callable[[str], None],
) -> None:
    storage_setting("AccountKey=c2VjcmV0;not-a-pair")

    response = get_health()

    assert response.status_code == 503
    text = response.get_body().decode()
    assert json.loads(text)["checks"]["storage"]["error"] == "ValueError"
    assert "c2VjcmV0" not in text


def test_a_bad_timeout_setting_shows_as_a_failed_check(
    azurite: Azurite,
    storage_setting: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage_setting(azurite.connection_string)
    monkeypatch.setenv("HEALTH_TIMEOUT_SECONDS", "soon")

    response = get_health()

    assert response.status_code == 503
    assert json.loads(response.get_body())["checks"]["storage"]["error"] == "ValueError"
