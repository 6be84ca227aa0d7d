"""The project's own app on devhost: what `make run` promises, with Azurite for storage."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from devhost.azurite import Azurite, port_is_listening
from devhost.testing import DevHostProcess

ROOT = Path(__file__).resolve().parent.parent.parent


def test_health_on_devhost_with_azurite(
    azurite: Azurite, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    host = devhost_factory(ROOT, env={"AzureWebJobsStorage": azurite.connection_string})
    host.start()
    response = requests.get(host.url("/api/health"), timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"]["storage"]["status"] == "ok"
    assert f"health: [GET] http://localhost:{host.port}/api/health" in host.logs()
    assert host.stop() == 0  # SIGTERM ends devhost cleanly


def test_health_reports_unreachable_storage(
    closed_port: int, devhost_factory: Callable[..., DevHostProcess]
) -> None:
    dead = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;"
    )
    host = devhost_factory(ROOT, env={"AzureWebJobsStorage": dead, "HEALTH_TIMEOUT_SECONDS": "2"})
    host.start()
    response = requests.get(host.url("/api/health"), timeout=30)
    assert response.status_code == 503
    assert "AccountKey" not in response.text


@pytest.mark.skipif(
    port_is_listening("127.0.0.1", 10000),
    reason="development storage port 10000 is taken; devhost would (rightly) reuse it",
)
def test_devhost_starts_azurite_for_development_storage(
    devhost_factory: Callable[..., DevHostProcess],
) -> None:
    """What `make run` relies on: UseDevelopmentStorage=true and nothing on port 10000."""
    host = devhost_factory(
        ROOT, azurite=True, env={"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    )
    host.start()
    try:
        assert port_is_listening("127.0.0.1", 10000)
        response = requests.get(host.url("/api/health"), timeout=30)
        assert response.status_code == 200, response.text
        assert (host.state_dir / "azurite").is_dir()
    finally:
        assert host.stop() == 0
    assert not port_is_listening("127.0.0.1", 10000)


def test_fixture_stops_what_it_started(devhost_factory: Callable[..., DevHostProcess]) -> None:
    app = ROOT / "tests" / "apps" / "durable_features"
    host = devhost_factory(app)
    host.start()
    pid = host.process.pid if host.process else None
    assert pid is not None
    host.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
