"""scripts/deploy.sh and the azd hooks, run for real with recording stand-ins for `az`, `func`
and `azd` first on PATH: the commands, their arguments and their order, and that no secret
ever reaches a command line."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BLOB_KEY = "fake-blob-extension-key-0123456789"
OUTPUTS = {
    "AZURE_FUNCTION_APP_NAME": {"type": "String", "value": "func-dev-abc"},
    "AZURE_STORAGE_ACCOUNT_NAME": {"type": "String", "value": "stabc"},
    "AZURE_KEY_VAULT_NAME": {"type": "String", "value": "kvabc"},
}
TRIGGERS = [{"functionName": "thumbnails_from_upload", "container": "uploads"}]

# One program plays az, func and azd (by the name it is called with) and records every call.
STAND_IN = r"""
import json, os, stat, sys
from pathlib import Path

tool = os.environ["STAND_IN_TOOL"]
args = sys.argv[1:]
state = Path(os.environ["FAKE_STATE"])
entry = {"tool": tool, "args": args, "env": {k: os.environ.get(k) for k in (
    "AZURE_ENV_NAME", "AZURE_PRINCIPAL_ID", "AZURE_PRINCIPAL_TYPE", "ALERT_EMAIL")}}

def value(flag):
    return args[args.index(flag) + 1] if flag in args else None

def record():
    with open(os.environ["RECORD"], "a") as log:
        log.write(json.dumps(entry) + "\n")

if tool == "az":
    if args[:2] == ["account", "show"]:
        print("00000000-0000-0000-0000-000000000001")
    elif args[:3] == ["ad", "signed-in-user", "show"]:
        print("deployer-object-id")
    elif args[:3] == ["deployment", "group", "show"]:
        print(os.environ["FAKE_OUTPUTS"])
    elif args[:3] == ["deployment", "group", "create"]:
        parameters = value("--parameters")
        if parameters and parameters.startswith("@"):
            path = Path(parameters[1:])
            entry["parameters_file"] = json.loads(path.read_text())
            entry["parameters_mode"] = stat.S_IMODE(path.stat().st_mode)
    elif args[:3] == ["keyvault", "secret", "show"]:
        name = value("--name")
        forbidden = state / f"forbidden-{name}"
        if forbidden.exists():
            forbidden.unlink()
            record()
            print("ERROR: (Forbidden) Caller is not authorized", file=sys.stderr)
            sys.exit(1)
        if (state / f"secret-{name}").exists():
            record()
            print(f"https://vault/secrets/{name}/1")
            sys.exit(0)
        record()
        print(f"ERROR: (SecretNotFound) {name} was not found", file=sys.stderr)
        sys.exit(3)
    elif args[:3] == ["keyvault", "secret", "set"]:
        path = Path(value("--file"))
        entry["secret_length"] = len(path.read_text())
        entry["secret_mode"] = stat.S_IMODE(path.stat().st_mode)
        (state / f"secret-{value('--name')}").write_text("set")
    elif args[:3] == ["functionapp", "keys", "list"]:
        print(os.environ["FAKE_BLOB_KEY"])
elif tool == "azd" and args[:2] == ["env", "select"]:
    record()
    sys.exit(1)
record()
"""


@pytest.fixture
def cli(tmp_path: Path, h):
    """Stand-ins on PATH; returns a runner and the recorded calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = tmp_path / "stand_in.py"
    program.write_text(STAND_IN)
    for tool in ("az", "func", "azd"):
        launcher = bin_dir / tool
        launcher.write_text(
            f'#!/bin/sh\nSTAND_IN_TOOL={tool} exec "{sys.executable}" "{program}" "$@"\n'
        )
        launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "state"
    state.mkdir()
    record = tmp_path / "calls.jsonl"
    temp = tmp_path / "temp"
    temp.mkdir()

    class Cli:
        state_dir = state
        temp_dir = temp

        def run(self, command: list[str], *, stdin: str = "", **env: str):
            environment = {
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "HOME": str(tmp_path),
                "TMPDIR": str(temp),
                "RECORD": str(record),
                "FAKE_STATE": str(state),
                "FAKE_OUTPUTS": json.dumps(OUTPUTS),
                "FAKE_BLOB_KEY": BLOB_KEY,
                "PYTHON": sys.executable,
                "HOOK_RETRY_SECONDS": "0",
                "HOOK_RETRIES": "3",
                **env,
            }
            return subprocess.run(
                command,
                cwd=h.REPO,
                env=environment,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        @property
        def calls(self) -> list[dict]:
            if not record.exists():
                return []
            return [json.loads(line) for line in record.read_text().splitlines()]

    return Cli()


def _deploy(cli, *extra: str, **env: str):
    env.setdefault("EVENTGRID_BLOB_TRIGGERS", json.dumps(TRIGGERS))
    return cli.run(["bash", "scripts/deploy.sh", "-g", "rg-dev", "-e", "dev", *extra], **env)


def _commands(cli) -> list[list[str]]:
    return [[call["tool"], *call["args"]] for call in cli.calls]


def test_dry_run_prints_the_plan_and_runs_nothing(cli):
    result = _deploy(cli, "-l", "westeurope", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "az group create --name rg-dev --location westeurope" in result.stdout
    assert "az deployment group create --resource-group rg-dev --name main-dev" in result.stdout
    assert "func azure functionapp publish" in result.stdout
    assert cli.calls == []


def test_deploy_provisions_publishes_and_subscribes_in_order(cli):
    result = _deploy(cli, "-l", "westeurope", "--alert-email", "ops@example.com", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.index("Plan for environment 'dev'") < result.stdout.index("Deployed")
    commands = _commands(cli)
    assert commands == [
        ["az", "account", "show", "--query", "id", "--output", "tsv"],
        [
            "az",
            "group",
            "create",
            "--name",
            "rg-dev",
            "--location",
            "westeurope",
            "--output",
            "none",
        ],
        ["az", "ad", "signed-in-user", "show", "--query", "id", "--output", "tsv"],
        [
            "az",
            "deployment",
            "group",
            "create",
            "--resource-group",
            "rg-dev",
            "--name",
            "main-dev",
            "--parameters",
            "infra/main.bicepparam",
            "--output",
            "none",
        ],
        [
            "az",
            "deployment",
            "group",
            "show",
            "--resource-group",
            "rg-dev",
            "--name",
            "main-dev",
            "--query",
            "properties.outputs",
            "--output",
            "json",
        ],
        [
            "az",
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            "kvabc",
            "--name",
            "approval-signing-key",
            "--query",
            "id",
            "--output",
            "tsv",
        ],
        commands[6],
        [
            "az",
            "keyvault",
            "secret",
            "show",
            "--vault-name",
            "kvabc",
            "--name",
            "webhook-signing-key",
            "--query",
            "id",
            "--output",
            "tsv",
        ],
        commands[8],
        ["func", "azure", "functionapp", "publish", "func-dev-abc", "--python"],
        [
            "az",
            "functionapp",
            "keys",
            "list",
            "--resource-group",
            "rg-dev",
            "--name",
            "func-dev-abc",
            "--query",
            "systemKeys.blobs_extension",
            "--output",
            "tsv",
        ],
        commands[11],
    ]
    # main.bicepparam reads these from the environment of `az deployment group create`.
    assert cli.calls[3]["env"] == {
        "AZURE_ENV_NAME": "dev",
        "AZURE_PRINCIPAL_ID": "deployer-object-id",
        "AZURE_PRINCIPAL_TYPE": "User",
        "ALERT_EMAIL": "ops@example.com",
    }
    for index, secret in ((6, "approval-signing-key"), (8, "webhook-signing-key")):
        assert commands[index][:8] == [
            "az",
            "keyvault",
            "secret",
            "set",
            "--vault-name",
            "kvabc",
            "--name",
            secret,
        ]
        assert cli.calls[index]["secret_length"] == 64  # token_urlsafe(48)
        assert cli.calls[index]["secret_mode"] == 0o600
    eventgrid = cli.calls[11]
    assert eventgrid["args"][:9] == [
        "deployment",
        "group",
        "create",
        "--resource-group",
        "rg-dev",
        "--name",
        "eventgrid-blob-triggers",
        "--template-file",
        "infra/eventgrid.bicep",
    ]
    assert eventgrid["args"][9] == "--parameters" and eventgrid["args"][10].startswith("@")
    assert eventgrid["parameters_mode"] == 0o600
    assert {k: v["value"] for k, v in eventgrid["parameters_file"]["parameters"].items()} == {
        "storageAccountName": "stabc",
        "functionAppName": "func-dev-abc",
        "blobExtensionKey": BLOB_KEY,
        "blobTriggers": TRIGGERS,
    }


def test_no_secret_reaches_a_command_line_or_survives_the_run(cli):
    result = _deploy(cli, "--yes")
    assert result.returncode == 0, result.stderr
    for call in cli.calls:
        assert BLOB_KEY not in " ".join(call["args"])
    assert BLOB_KEY not in result.stdout + result.stderr
    assert list(cli.temp_dir.iterdir()) == []  # temp files with the key and secrets are gone


def test_existing_signing_keys_are_kept(cli):
    for name in ("approval-signing-key", "webhook-signing-key"):
        (cli.state_dir / f"secret-{name}").write_text("set")
    result = _deploy(cli, "--yes")
    assert result.returncode == 0, result.stderr
    assert not [c for c in _commands(cli) if c[1:4] == ["keyvault", "secret", "set"]]
    assert "approval-signing-key exists: kept" in result.stdout


def test_a_key_vault_that_cannot_be_read_yet_is_retried_never_overwritten(cli):
    (cli.state_dir / "secret-approval-signing-key").write_text("set")
    (cli.state_dir / "forbidden-approval-signing-key").write_text("once")
    result = cli.run(["bash", "scripts/hooks/postprovision.sh"], AZURE_KEY_VAULT_NAME="kvabc")
    assert result.returncode == 0, result.stderr
    approval = [c for c in _commands(cli) if "approval-signing-key" in c]
    assert [c[3] for c in approval] == ["show", "show"]  # forbidden, then found: no set


def test_a_deployer_without_access_gives_up_with_a_clear_error(cli):
    (cli.state_dir / "forbidden-approval-signing-key").write_text("once")
    result = cli.run(
        ["bash", "scripts/hooks/postprovision.sh"], AZURE_KEY_VAULT_NAME="kvabc", HOOK_RETRIES="1"
    )
    assert result.returncode == 1
    assert "Key Vault Secrets Officer" in result.stderr
    assert not [c for c in _commands(cli) if c[1:4] == ["keyvault", "secret", "set"]]


def test_no_event_grid_step_without_blob_triggers(cli):
    result = _deploy(cli, "--yes", EVENTGRID_BLOB_TRIGGERS="[]")
    assert result.returncode == 0, result.stderr
    commands = _commands(cli)
    assert not [c for c in commands if c[1:3] == ["functionapp", "keys"]]
    assert not [c for c in commands if "infra/eventgrid.bicep" in c]
    assert "No Event Grid blob triggers" in result.stdout


def test_azd_mode_runs_azd_up_with_the_resource_group(cli):
    result = _deploy(cli, "--azd", "-l", "westeurope", "--yes")
    assert result.returncode == 0, result.stderr
    assert _commands(cli) == [
        ["azd", "env", "select", "dev"],
        ["azd", "env", "new", "dev", "--no-prompt"],
        ["azd", "env", "set", "AZURE_RESOURCE_GROUP", "rg-dev"],
        ["azd", "env", "set", "AZURE_LOCATION", "westeurope"],
        ["azd", "up", "--no-prompt"],
    ]


def test_confirmation_is_asked_and_no_stops_everything(cli):
    result = _deploy(cli, stdin="n\n")
    assert result.returncode == 1
    assert "Stopped." in result.stdout
    assert cli.calls == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [([], "A resource group is required"), (["-g", "rg", "-e", "Bad_Name"], "environment name")],
)
def test_bad_arguments_are_refused_before_anything_runs(cli, arguments, message):
    result = cli.run(["bash", "scripts/deploy.sh", *arguments])
    assert result.returncode == 2
    assert message in result.stderr
    assert cli.calls == []


def test_blob_trigger_discovery_reads_the_apps_own_index(h):
    app = h.REPO / "tests" / "apps" / "blob_triggers"
    env = {**os.environ, "BLOB_PREFIX": "p-"}
    result = subprocess.run(
        [sys.executable, "scripts/blob_triggers.py", str(app)],
        cwd=h.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == [{"functionName": "on_upload", "container": "p-uploads"}]


def test_blob_trigger_discovery_names_a_missing_setting(h):
    app = h.REPO / "tests" / "apps" / "blob_triggers"
    env = {k: v for k, v in os.environ.items() if k != "BLOB_PREFIX"}
    result = subprocess.run(
        [sys.executable, "scripts/blob_triggers.py", str(app)],
        cwd=h.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "BLOB_PREFIX" in result.stderr


def test_azure_yaml_runs_the_same_hooks(h):
    text = (h.REPO / "azure.yaml").read_text()
    assert "host: function" in text and "language: python" in text
    assert "run: bash scripts/hooks/postprovision.sh" in text
    assert "run: bash scripts/hooks/postdeploy.sh" in text
    assert "path: infra" in text and "module: main" in text
