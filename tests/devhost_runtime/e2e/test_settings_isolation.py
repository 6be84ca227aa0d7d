"""Tests never read a developer's local.settings.json: devhost started by a test gets its
settings from the test (DevHostProcess passes --no-local-settings), and nothing else.

The hostile file is the one `make run` writes (a copy of local.settings.json.example, which
allows callbacks to 127.0.0.1), put into a temporary copy of the app, never the repository.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.payments import SIMULATED
from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT, DevHostProcess, free_port, linked_app


def _app_with_developer_settings(folder: Path) -> Path:
    """The repository's app, unchanged, plus the local.settings.json `make run` creates."""
    example = (PROJECT_ROOT / "local.settings.json.example").read_text(encoding="utf-8")
    return linked_app(folder, settings=example, skip={"tests", "bench", "node_modules"})


def _monitor(status_port: int) -> dict[str, Any]:
    """A valid monitor whose callback goes to a loopback port the test's settings do not allow
    (only the developer's file allows 127.0.0.1)."""
    return {
        "monitor_id": f"mon-{uuid.uuid4().hex[:12]}",
        "status_url": f"http://127.0.0.1:{status_port}/status",
        "condition": {"pointer": "/status", "equals": "done"},
        "interval_seconds": 10,
        "expires_in_seconds": 60,
        "callback_url": f"http://127.0.0.1:{status_port + 1}/hook",
    }


@pytest.mark.parametrize(
    ("local_settings", "expected"),
    [(False, 400), (True, 202)],
    ids=["a-test-host-ignores-the-file", "a-host-told-to-read-it-reads-it"],
)
def test_a_developers_local_settings_do_not_reach_a_test_host(
    azurite: Azurite, tmp_path: Path, local_settings: bool, expected: int
) -> None:
    """The job API test that failed after `make run`: an invalid callback URL is refused by a
    test host even with the developer's file in the app directory. The second case shows the
    file would have changed the answer, so the first one can fail."""
    app = _app_with_developer_settings(tmp_path / "app")
    status_port = free_port()
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "OUTBOUND_ALLOWED_HOSTS": f"127.0.0.1:{status_port}",
    }
    with DevHostProcess(
        app,
        state_dir=tmp_path / "state",
        virtual_time=True,
        env=env,
        local_settings=local_settings,
    ) as host:
        body = _monitor(status_port)
        response = host.http.post(host.url("/api/monitors"), json=body, timeout=30)
        assert response.status_code == expected, response.text
        if expected == 400:
            pointers = {error.get("pointer") for error in response.json()["errors"]}
            assert pointers == {"#/callback_url"}
