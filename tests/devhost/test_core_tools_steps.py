"""The README's Core Tools section, run as written wherever it can run here: every command of it
is either executed by a test or named as needing Core Tools or Docker, so the section cannot
drift from what works. devhost stands in for `func start`; the Service Bus emulator, which
cannot run here, is replaced by devhost's stand-in at the SDK boundary only."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import build_connection_string, port_is_listening
from devhost.testing import PROJECT_ROOT, DevHostProcess, free_port, linked_app

README = PROJECT_ROOT / "README.md"
SECTION = "## Run it with Core Tools instead"

# Commands that need what CI machines cannot run, and why.
NEEDS_CORE_TOOLS_OR_DOCKER = {
    "func start": "Core Tools' installer downloads the .NET host from a CDN",
    "APP_ROLE=express TASK_HUB_NAME=JobsExpress AzureFunctionsWebHost__hostid=express "
    "func start --port 7072": "Core Tools, as `func start` (devhost runs both roles in "
    "tests/devhost/test_express_hub.py)",
    "docker compose -f infra/servicebus-emulator/docker-compose.yaml up -d": (
        "no Docker engine; the compose file is checked statically "
        "(tests/infra/platform/test_servicebus_emulator.py)"
    ),
}
# Commands another test runs as written.
RUN_ELSEWHERE = {
    "python3.11 -m venv .venv": "tests/infra/platform/test_remote_build.py",
    "source .venv/bin/activate": "tests/infra/platform/test_remote_build.py",
    "pip install -r requirements.txt": "tests/infra/platform/test_remote_build.py",
    "npm ci": "make install (.ci/run), before every test run",
    "python scripts/upload_blob.py uploads/cat.jpg ./cat.jpg": (
        "tests/devhost/test_upload_blob_script.py"
    ),
}
COPY_SETTINGS = "cp local.settings.json.example local.settings.json"
COPY_EMULATOR_ENV = "cp infra/servicebus-emulator/.env.example infra/servicebus-emulator/.env"
START_AZURITE = "npx azurite --silent --skipApiVersionCheck --location .azurite"
SEED = "python scripts/seed_stock.py BOOK-1=5"
PUBLISH = "python scripts/publish_order.py docs/examples/order.json"
STATUS = "curl http://localhost:7071/api/orders/q-1001"
RUN_HERE = {COPY_SETTINGS, COPY_EMULATOR_ENV, START_AZURITE, SEED, PUBLISH, STATUS}

# Runs a script after routing azure-servicebus sends for the emulator's connection string to
# devhost's stand-in: the one thing of this path that cannot run here is the emulator.
WITH_STANDIN = """
import runpy, sys
from pathlib import Path
from devhost.servicebus import sdk_shim
sdk_shim.install(Path(sys.argv[1]))
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def section_commands() -> list[str]:
    """Every command line of the section's bash blocks, without comments or a trailing `&`."""
    text = README.read_text()
    body = text[text.index(SECTION) + len(SECTION) :]
    body = body[: body.index("\n## ")]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", body, re.DOTALL):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip().removesuffix("&").strip()
            if command:
                commands.append(command)
    return commands


def test_every_command_of_the_section_is_run_by_a_test_or_said_to_need_core_tools():
    """Rule: the README's Core Tools steps are exercised by CI except what needs Core Tools or
    Docker, so a step that stops working fails a test.
    Source: Learn, 'Develop Azure Functions locally using Core Tools' (functions-run-local.md)."""
    commands = section_commands()
    known = {*NEEDS_CORE_TOOLS_OR_DOCKER, *RUN_ELSEWHERE, *RUN_HERE}
    assert set(commands) == known, (set(commands) - known, known - set(commands))
    assert commands.index("source .venv/bin/activate") < commands.index("func start")
    assert commands.index(START_AZURITE) < commands.index("func start")


def test_the_settings_copy_gives_core_tools_its_settings(tmp_path: Path):
    """`cp local.settings.json.example local.settings.json` gives Core Tools the settings it
    needs locally: FUNCTIONS_WORKER_RUNTIME (Core Tools requires it; Flex forbids it, so it lives
    only here), Azurite storage and the Service Bus emulator connection.
    Source: functions-run-local.md, 'Local settings file'."""
    (tmp_path / "local.settings.json.example").write_bytes(
        (PROJECT_ROOT / "local.settings.json.example").read_bytes()
    )
    subprocess.run(shlex.split(COPY_SETTINGS), cwd=tmp_path, check=True)
    values = json.loads((tmp_path / "local.settings.json").read_text())["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert "UseDevelopmentEmulator=true" in values["ServiceBusConnection"]
    assert values["PAYMENT_PROVIDER"] == "simulated"  # chosen, not defaulted (the test ledger)


def test_the_emulator_env_copy_names_what_compose_requires(tmp_path: Path):
    """The `.env` the README has you copy beside the compose file names every variable the
    compose file requires (`${NAME:?...}`), with the licence not accepted until you say so.
    Source: Docker docs, 'Interpolation' (compose file reference), `${VAR:?error}`."""
    folder = tmp_path / "infra" / "servicebus-emulator"
    folder.mkdir(parents=True)
    source = PROJECT_ROOT / "infra" / "servicebus-emulator"
    (folder / ".env.example").write_bytes((source / ".env.example").read_bytes())
    subprocess.run(shlex.split(COPY_EMULATOR_ENV), cwd=tmp_path, check=True)
    names = {
        line.split("=", 1)[0]
        for line in (folder / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    required = set(re.findall(r"\$\{(\w+):\?", (source / "docker-compose.yaml").read_text()))
    assert required and required <= names, required - names
    assert "ACCEPT_EULA=N" in (folder / ".env").read_text()


class ReadmeAzurite:
    """Azurite started by the README's own command, on free ports (appended flags only)."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.ports = (free_port(), free_port(), free_port())
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return build_connection_string("127.0.0.1", *self.ports, "http")

    def start(self, command: str) -> None:
        args = shlex.split(command.replace("--location .azurite", f"--location {self.location}"))
        blob, queue, table = self.ports
        args += ["--blobPort", str(blob), "--queuePort", str(queue), "--tablePort", str(table)]
        log = (self.location.parent / "azurite.log").open("ab")
        self.process = subprocess.Popen(
            args, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while not all(port_is_listening("127.0.0.1", port) for port in self.ports):
            assert self.process.poll() is None, "Azurite exited"
            assert time.monotonic() < deadline, "Azurite did not listen within 60 s"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def readme_azurite(tmp_path: Path) -> Iterator[ReadmeAzurite]:
    azurite = ReadmeAzurite(tmp_path / ".azurite")
    azurite.location.mkdir()
    try:
        azurite.start(START_AZURITE)
        yield azurite
    finally:
        azurite.stop()


def test_azurite_as_the_readme_starts_it_serves_the_app_s_storage_sdk(readme_azurite):
    """Azurite started with the README's flags accepts the storage SDK versions the app installs
    (blob and table); without `--skipApiVersionCheck` Azurite 3.37 refuses their newer API
    version.
    Source: Learn, 'Use the Azurite emulator for local Azure Storage development'
    (storage-use-azurite.md), 'Command-line options', `--skipApiVersionCheck`."""
    blobs = BlobServiceClient.from_connection_string(readme_azurite.connection_string)
    container = blobs.create_container(f"readme-{uuid.uuid4().hex[:8]}")
    container.upload_blob("probe.txt", b"ok")
    assert container.download_blob("probe.txt").readall() == b"ok"
    tables = TableServiceClient.from_connection_string(readme_azurite.connection_string)
    tables.create_table_if_not_exists(f"readme{uuid.uuid4().hex[:8]}")


def test_without_the_version_flag_azurite_refuses_the_app_s_sdk(tmp_path: Path):
    """The flag is needed, not decoration: the same command without `--skipApiVersionCheck`
    answers the app's blob SDK with an API-version error.
    Source: storage-use-azurite.md, 'Command-line options', `--skipApiVersionCheck`."""
    azurite = ReadmeAzurite(tmp_path / ".azurite")
    azurite.location.mkdir()
    try:
        azurite.start(START_AZURITE.replace(" --skipApiVersionCheck", ""))
        blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        with pytest.raises(HttpResponseError, match=r"(?i)api version"):
            blobs.create_container("refused")
    finally:
        azurite.stop()


def _script_env(azurite: ReadmeAzurite) -> dict[str, str]:
    """The example settings as the environment (which wins over any local.settings.json a
    developer has), with storage on this test's Azurite."""
    example = json.loads((PROJECT_ROOT / "local.settings.json.example").read_text())["Values"]
    env = {**os.environ, **example, "AzureWebJobsStorage": azurite.connection_string}
    env["PYTHONPATH"] = str(PROJECT_ROOT)  # for devhost's stand-in only; scripts find the app
    return env


def _run(command: str, env: dict[str, str], app: Path, *, prefix: list[str] | None = None) -> str:
    """The README's command in `app`, the repository's app as links without the developer's
    local.settings.json, which the scripts would read from the folder they run in."""
    args = shlex.split(command)
    assert args[0] == "python"
    done = subprocess.run(
        [sys.executable, *(prefix or []), *args[1:]],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_stock_an_order_message_and_its_status_as_the_readme_shows(readme_azurite, tmp_path):
    """The README's second shell: seed stock, publish an order message (personal data to the
    claim check, the message carrying only `customer_ref`), and read its status with curl; the
    order runs to completion on the host. Service Bus messages carry a reference, never
    personal data (the claim-check pattern).
    Source: Learn, Azure Architecture Center, 'Claim-Check pattern'; Service Bus bindings,
    'Trigger' (functions-bindings-service-bus-trigger.md)."""
    env, app = _script_env(readme_azurite), linked_app(tmp_path / "app")
    host = DevHostProcess(PROJECT_ROOT, state_dir=tmp_path / "devhost", virtual_time=True)
    # What the copied example gives the host (`func start` reads it): storage, Service Bus and
    # the payment provider, which has no default.
    settings = ("AzureWebJobsStorage", "ServiceBusConnection", "PAYMENT_PROVIDER")
    host.env = {key: env[key] for key in settings}
    with host:  # started here, stopped (and reaped) on the way out
        assert "BOOK-1: 5 on the shelf" in _run(SEED, env, app)
        published = _run(PUBLISH, env, app, prefix=["-c", WITH_STANDIN, str(PROJECT_ROOT)])
        assert "sent order q-1001 to orders" in published
        status = _order_status(host, env)
    assert status["runtime_status"] == "Completed", status
    assert status["output"]["status"] == "Completed", status
    assert status["custom_status"]["step"] == "completed", status
    text = json.dumps(status)
    assert "Ada Example" not in text and "ada@example.invalid" not in text
    claims = BlobServiceClient.from_connection_string(readme_azurite.connection_string)
    stored = claims.get_blob_client("orders-private", "customers/q-1001.json")
    assert json.loads(stored.download_blob().readall())["name"] == "Ada Example"


def _order_status(host: DevHostProcess, env: dict[str, str], timeout: float = 90) -> dict:
    """The README's curl, pointed at this host's port, until the order has finished."""
    command = shlex.split(STATUS.replace("http://localhost:7071", host.base_url))
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        done = subprocess.run(
            [*command, "--silent", "--write-out", "\n%{http_code}"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        body, _, code = done.stdout.rpartition("\n")
        last = f"{code} {body}"
        if code == "200":
            status = json.loads(body)
            if str(status.get("runtime_status", status.get("runtimeStatus", ""))).lower() in {
                "completed",
                "failed",
            }:
                return status
        time.sleep(0.2)
    raise AssertionError(f"the order did not finish: {last}\n{host.logs()[-3000:]}")
