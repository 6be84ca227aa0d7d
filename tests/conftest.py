"""Fixtures shared by every test tier: one Azurite per session and hermetic storage settings."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devhost.azurite import Azurite

pytest_plugins = ["devhost.pytest_plugin"]

# There is deliberately no tests/__init__.py and nothing here is imported as `tests.*`:
# azure-functions-durable installs a top-level `tests` package that would shadow ours.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Settings that select the app's storage account; cleared so a developer's shell cannot leak in.
_STORAGE_SETTINGS = (
    "AzureWebJobsStorage",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "APP_VERSION",
    "HEALTH_TIMEOUT_SECONDS",
)


# Markers by place, so no test file carries its own (the README's "Run the tests" names them).
# Tier, from the folder under tests/: `make test-fast` runs the `fast` ones (unit, integration).
TIERS = {"unit": "unit", "integration": "integration", "devhost": "e2e", "infra": "infra"}
FAST_TIERS = frozenset({"unit", "integration"})
# Subject: devhost's own tests (the local runtime: its triggers, Durable engine, stand-ins, CLI)
# are `devhost_runtime`; every other test is about the app and is `app`, including the app's
# end-to-end tests in tests/devhost that run it on devhost. Files stay where they are; a new
# test of devhost itself goes on this list.
DEVHOST_RUNTIME = frozenset(
    {
        "devhost/test_app_layouts.py",
        "devhost/test_blob_trigger.py",
        "devhost/test_blob_trigger_eventgrid.py",
        "devhost/test_blob_trigger_identity.py",
        "devhost/test_call_http.py",
        "devhost/test_crash_recovery.py",
        "devhost/test_dead_letter_stats.py",
        "devhost/test_durable_client.py",
        "devhost/test_entities.py",
        "devhost/test_http_triggers.py",
        "devhost/test_lifecycle.py",
        "devhost/test_orchestrations.py",
        "devhost/test_queue_trigger.py",
        "devhost/test_replay_process.py",
        "devhost/test_servicebus_cli.py",
        "devhost/test_servicebus_lifecycle.py",
        "devhost/test_servicebus_sender.py",
        "devhost/test_servicebus_standin.py",
        "devhost/test_servicebus_topic_trigger.py",
        "devhost/test_servicebus_topics_standin.py",
        "devhost/test_servicebus_trigger.py",
        "devhost/test_settings_isolation.py",
        "devhost/test_timer_trigger.py",
        "integration/test_azurite.py",
        "unit/test_azurite_helpers.py",
        "unit/test_blob_eventgrid.py",
        "unit/test_blob_executor.py",
        "unit/test_blob_inputstream.py",
        "unit/test_blob_messages.py",
        "unit/test_blob_paths.py",
        "unit/test_check_doc_samples.py",
        "unit/test_devhost_settings.py",
        "unit/test_devhost_telemetry.py",
        "unit/test_entity_wire.py",
        "unit/test_http_activity.py",
        "unit/test_lifecycle_rules.py",
        "unit/test_played_history.py",
        "unit/test_queue_trigger_units.py",
        "unit/test_routing.py",
        "unit/test_servicebus_declarations.py",
        "unit/test_servicebus_live.py",
        "unit/test_servicebus_messages.py",
        "unit/test_servicebus_names.py",
        "unit/test_servicebus_options.py",
        "unit/test_servicebus_sender_shim.py",
        "unit/test_servicebus_topic_trigger_live.py",
        "unit/test_servicebus_topics_declarations.py",
        "unit/test_servicebus_topics_live.py",
        "unit/test_store_sync.py",
        "unit/test_wait_until.py",
        "unit/test_walk_entities.py",
        "unit/test_walk_events.py",
    }
)


def markers_for(path: Path) -> list[str]:
    """The markers a test file gets from where it lives: its tier (and `fast`) and its subject."""
    relative = path.resolve().relative_to(PROJECT_ROOT / "tests")
    markers = []
    tier = TIERS.get(relative.parts[0]) if len(relative.parts) > 1 else None
    if tier:
        markers.append(tier)
        if relative.parts[0] in FAST_TIERS:
            markers.append("fast")
    markers.append("devhost_runtime" if relative.as_posix() in DEVHOST_RUNTIME else "app")
    return markers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in markers_for(item.path):
            item.add_marker(name)


@pytest.fixture(scope="session")
def test_subjects() -> dict[str, frozenset[str]]:
    """The marker lists above, for the test that keeps them true to the files."""
    return {"devhost_runtime": DEVHOST_RUNTIME, "fast_tiers": FAST_TIERS, "tiers": frozenset(TIERS)}


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


def _shared_reference_candidates() -> list[Path]:
    configured = os.environ.get("SHARED_REFERENCE_DIR")
    if configured:
        return [Path(configured)]
    return [PROJECT_ROOT.parent / "shared" / "reference", Path("/work/shared/reference")]


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The project's public reference data (generated Bicep types, the Service Bus emulator's
    schema), read in place and never copied into the repo: `SHARED_REFERENCE_DIR`, else
    `../shared/reference` beside the checkout, else `/work/shared/reference`."""
    for candidate in _shared_reference_candidates():
        if (candidate / "README.md").is_file():
            return candidate
    tried = ", ".join(str(c) for c in _shared_reference_candidates())
    pytest.skip(f"the shared reference data is not on this machine (tried {tried})")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A real Azurite on free ports in a temporary folder, shared by the session."""
    instance = Azurite(tmp_path_factory.mktemp("azurite"), project_root=PROJECT_ROOT)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def storage_setting(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set AzureWebJobsStorage for one test, with every other storage setting cleared."""
    for name in _STORAGE_SETTINGS:
        monkeypatch.delenv(name, raising=False)

    def use(value: str) -> None:
        monkeypatch.setenv("AzureWebJobsStorage", value)

    return use


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it (free at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
