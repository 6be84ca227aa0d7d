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
