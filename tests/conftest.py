"""Fixtures shared by every test tier: one Azurite per session and hermetic storage settings."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

from devhost.azurite import Azurite
from devhost.testing import DevHostProcess

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


# The task hubs, as local.settings.json.example names them: host.json reads TASK_HUB_NAME, so every
# app a test starts needs it; a test that runs the express role sets its own.
TASK_HUBS = {"TASK_HUB_NAME": "JobsHub", "EXPRESS_TASK_HUB_NAME": "JobsExpress"}
for _name, _hub in TASK_HUBS.items():
    os.environ.setdefault(_name, _hub)


# Markers by place, so no test file carries its own (the README's "Run the tests" names them).
# Subject, from the first folder under tests/: devhost's own tests (the local runtime: its
# triggers, Durable engine, stand-ins, CLI) live in tests/devhost_runtime/ and are
# `devhost_runtime`; every other test is about the app and is `app`, including the app's
# end-to-end tests in tests/devhost that run it on devhost.
# Tier, from the next folder: `make test-fast` runs the `fast` ones (unit, integration).
DEVHOST_RUNTIME_FOLDER = "devhost_runtime"
TIERS = {"unit": "unit", "integration": "integration", "devhost": "e2e", "infra": "infra"}
DEVHOST_RUNTIME_TIERS = {"unit": "unit", "integration": "integration", "e2e": "e2e"}
FAST_TIERS = frozenset({"unit", "integration"})


def markers_for(path: Path) -> list[str]:
    """The markers a test file gets from where it lives: its tier (and `fast`) and its subject."""
    parts = path.resolve().relative_to(PROJECT_ROOT / "tests").parts
    tiers = TIERS
    subject = "app"
    if parts and parts[0] == DEVHOST_RUNTIME_FOLDER:
        parts, tiers, subject = parts[1:], DEVHOST_RUNTIME_TIERS, "devhost_runtime"
    markers = []
    tier = tiers.get(parts[0]) if len(parts) > 1 else None
    if tier:
        markers.append(tier)
        if tier in FAST_TIERS:
            markers.append("fast")
    markers.append(subject)
    return markers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in markers_for(item.path):
            item.add_marker(name)


@pytest.fixture(scope="session")
def test_subjects() -> dict[str, frozenset[str]]:
    """The folders above, for the test that keeps them true to the tree."""
    return {
        "fast_tiers": FAST_TIERS,
        "tiers": frozenset(TIERS),
        "devhost_runtime_tiers": frozenset(
            f"{DEVHOST_RUNTIME_FOLDER}/{tier}" for tier in DEVHOST_RUNTIME_TIERS
        ),
    }


@pytest.fixture(scope="session")
def test_markers_for() -> Callable[[Path], list[str]]:
    """The function that marks a test file by its place."""
    return markers_for


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


@pytest.fixture(scope="session", autouse=True)
def mail_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The app's file transport (the default) writes under the app folder; apps the tests start
    inherit this instead, so no test writes into the repository."""
    folder = tmp_path_factory.mktemp("mail")
    previous = os.environ.get("MAIL_FILE_FOLDER")
    os.environ["MAIL_FILE_FOLDER"] = str(folder)
    yield
    if previous is None:
        os.environ.pop("MAIL_FILE_FOLDER", None)
    else:
        os.environ["MAIL_FILE_FOLDER"] = previous


@dataclass(frozen=True)
class BothApps:
    """The main app and the express app (APP_ROLE=express, its own task hub) on two devhosts
    sharing one storage account, as in Azure; `main` reaches the express hub (DEVHOST_TASK_HUBS)."""

    main: DevHostProcess
    express: DevHostProcess


@contextmanager
def _both_apps(
    app_dir: Path, *, env: dict[str, str], state_dir: Path, **options: Any
) -> Iterator[BothApps]:
    hub = env.get("EXPRESS_TASK_HUB_NAME") or os.environ["EXPRESS_TASK_HUB_NAME"]
    # Its own host id, as in Azure: timers and blob receipts are keyed by it (docs/devhost.md).
    express_env = {
        **env,
        "APP_ROLE": "express",
        "TASK_HUB_NAME": hub,
        "AzureFunctionsWebHost__hostid": "express",
    }
    express = DevHostProcess(app_dir, state_dir=state_dir / "express", env=express_env, **options)
    main_env = {**env, "APP_ROLE": "main", "DEVHOST_TASK_HUBS": f"{hub}={express.base_url}"}
    main = DevHostProcess(app_dir, state_dir=state_dir / "main", env=main_env, **options)
    with express, main:
        yield BothApps(main, express)


@pytest.fixture(scope="session")
def both_apps() -> Callable[..., AbstractContextManager[BothApps]]:
    """Start both roles of an app: `with both_apps(app_dir, env=..., state_dir=...) as apps`."""
    return _both_apps


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A real Azurite on free ports in a temporary folder, shared by the session."""
    instance = Azurite(tmp_path_factory.mktemp("azurite"), project_root=PROJECT_ROOT)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


# Browser tests (pytest-playwright's `page`, e.g. tests/devhost/test_approvals.py) drive
# Debian's Chromium, which `make browser` installs: Playwright's own browser download does not
# work in CI. Without the background-networking flags Chromium's own connections (component
# updates, sync and the like) are refused by our closed network. Playwright gives each launch a
# fresh temporary profile.
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options (`--headed`, `--slowmo`) on the system Chromium."""
    if not SYSTEM_CHROMIUM.is_file():
        pytest.fail(f"the browser tests need Chromium at {SYSTEM_CHROMIUM}: run `make browser`")
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": str(SYSTEM_CHROMIUM),
        "args": [*CHROMIUM_ARGS, *browser_type_launch_args.get("args", [])],
    }


# pytest-playwright starts Playwright once per session. Its sync API keeps an event loop running
# in the worker's main thread for as long as Playwright is started, so every later test in the
# same xdist worker that calls asyncio.run would fail. Here Playwright and the browser live for
# one test module, as the browser tests' devhost does.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    return lambda **options: browser_type.launch(**{**browser_type_launch_args, **options})


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    """The plugin's reads the session's Playwright (for --device): the tests open whole links
    in a plain context."""
    return {}


@pytest.fixture(scope="module")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    launched = launch_browser()
    yield launched
    launched.close()


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
