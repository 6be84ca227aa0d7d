"""scripts/deploy.sh and the azd hooks, run for real with recording stand-ins for `az`, `func`
and `azd` first on PATH: the commands, their arguments and their order, and that no secret
ever reaches a command line."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

BLOB_KEY = "fake-blob-extension-key-0123456789"
TOKEN_SIGNATURE = "fake-access-token-signature-0123456789"  # of the stand-in's access tokens
OUTPUTS = {
    "AZURE_FUNCTION_APP_NAME": {"type": "String", "value": "func-dev-abc"},
    "AZURE_EXPRESS_FUNCTION_APP_NAME": {"type": "String", "value": "func-dev-abc-express"},
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
    "AZURE_ENV_NAME", "AZURE_PRINCIPAL_ID", "AZURE_PRINCIPAL_TYPE", "ALERT_EMAIL",
    "AZURE_KEY_VAULT_CREATE_MODE")}}

def value(flag):
    return args[args.index(flag) + 1] if flag in args else None

def record():
    with open(os.environ["RECORD"], "a") as log:
        log.write(json.dumps(entry) + "\n")

signed_in = {  # who az is signed in as: a user unless the test says otherwise
    "type": os.environ.get("FAKE_USER_TYPE", "user"),
    "name": os.environ.get("FAKE_USER_NAME", "dev@example.com"),
    "oid": os.environ.get("FAKE_OBJECT_ID", "deployer-object-id"),
}

if tool == "az":
    if args[:2] == ["account", "show"]:
        if value("--query") == "[user.type, user.name]":
            print(signed_in["type"], signed_in["name"], sep="\n")
        else:
            print("00000000-0000-0000-0000-000000000001")
    elif args[:2] == ["account", "get-access-token"]:
        import base64
        claims = base64.urlsafe_b64encode(json.dumps({"oid": signed_in["oid"]}).encode())
        print("e30." + claims.decode().rstrip("=") + "." + os.environ["FAKE_TOKEN_SIGNATURE"])
    elif args[:3] == ["ad", "signed-in-user", "show"]:
        if signed_in["type"] != "user":  # Microsoft Graph's /me is for users only
            record()
            print("ERROR: /me request is only valid with delegated authentication flow.",
                  file=sys.stderr)
            sys.exit(1)
        print(signed_in["oid"])
    elif args[:3] == ["deployment", "group", "show"]:
        print(os.environ["FAKE_OUTPUTS"])
    elif args[:2] == ["keyvault", "list-deleted"]:
        deleted = state / "deleted-vaults.json"  # the subscription's soft-deleted vaults
        print(deleted.read_text() if deleted.exists() else "[]")
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
                "FAKE_TOKEN_SIGNATURE": TOKEN_SIGNATURE,
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
    assert "func azure functionapp publish <main app from the deployment outputs>" in result.stdout
    assert "func azure functionapp publish <express app from the deployment outputs>" in (
        result.stdout
    )
    assert cli.calls == []


def test_deploy_provisions_publishes_and_subscribes_in_order(cli):
    result = _deploy(cli, "-l", "westeurope", "--alert-email", "ops@example.com", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.index("Plan for environment 'dev'") < result.stdout.index("Deployed")
    assert "Deployed func-dev-abc-express" in result.stdout
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
        ["az", "account", "show", "--query", "[user.type, user.name]", "--output", "tsv"],
        ["az", "ad", "signed-in-user", "show", "--query", "id", "--output", "tsv"],
        ["az", "keyvault", "list-deleted", "--resource-type", "vault", "--output", "json"],
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
        commands[8],
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
        commands[10],
        # The same package to both apps, the main app first.
        ["func", "azure", "functionapp", "publish", "func-dev-abc", "--python"],
        ["func", "azure", "functionapp", "publish", "func-dev-abc-express", "--python"],
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
        commands[14],
    ]
    # main.bicepparam reads these from the environment of `az deployment group create`.
    assert cli.calls[5]["env"] == {
        "AZURE_ENV_NAME": "dev",
        "AZURE_PRINCIPAL_ID": "deployer-object-id",
        "AZURE_PRINCIPAL_TYPE": "User",
        "ALERT_EMAIL": "ops@example.com",
        "AZURE_KEY_VAULT_CREATE_MODE": "default",  # no soft-deleted vault
    }
    for index, secret in ((8, "approval-signing-key"), (10, "webhook-signing-key")):
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
    eventgrid = cli.calls[14]
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
    # One service per app, the same package (tests/infra/test_express_app.py: their tags).
    assert set(yaml.safe_load(text)["services"]) == {"api", "express"}
    assert "run: bash scripts/hooks/preprovision.sh" in text
    assert "run: bash scripts/hooks/postprovision.sh" in text
    assert "run: bash scripts/hooks/postdeploy.sh" in text
    assert "path: infra" in text and "module: main" in text


# --- Any identity can deploy: the deployer's object id and principalType (docs/infra.md) ----


@dataclass(frozen=True)
class Identity:
    """Who az is signed in as (`az account show`: user.type, user.name), the object id the
    stand-in hands out for it, and what the scripts must make of it."""

    user_type: str
    user_name: str
    object_id: str
    principal_type: str  # the role assignment's principalType
    kind: str  # how the scripts name it

    def env(self) -> dict[str, str]:
        return {
            "FAKE_USER_TYPE": self.user_type,
            "FAKE_USER_NAME": self.user_name,
            "FAKE_OBJECT_ID": self.object_id,
        }

    def announced(self) -> str:
        return (
            f"Deployer: {self.kind}, object id {self.object_id} "
            f"(principalType {self.principal_type})"
        )


APP_ID = "5f0c3a7e-0000-4000-8000-00000000c1d1"  # a service principal's user.name
IDENTITIES = {
    "user": Identity("user", "dev@example.com", "user-oid", "User", "user dev@example.com"),
    "service-principal": Identity(
        "servicePrincipal", APP_ID, "sp-oid", "ServicePrincipal", f"service principal {APP_ID}"
    ),
    "system-assigned-identity": Identity(
        "servicePrincipal",
        "systemAssignedIdentity",
        "mi-oid",
        "ServicePrincipal",
        "managed identity (systemAssignedIdentity)",
    ),
    "user-assigned-identity": Identity(
        "servicePrincipal",
        "userAssignedIdentity",
        "uami-oid",
        "ServicePrincipal",
        "managed identity (userAssignedIdentity)",
    ),
}
each_identity = pytest.mark.parametrize("identity", list(IDENTITIES.values()), ids=list(IDENTITIES))


def _deployment_create(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The call of `az deployment group create` on infra/main.bicepparam."""
    (call,) = [
        c
        for c in calls
        if c["args"][:3] == ["deployment", "group", "create"]
        and "infra/main.bicepparam" in c["args"]
    ]
    return call


def _object_id_lookups(calls: list[dict[str, Any]]) -> list[list[str]]:
    """How the scripts asked for an object id: Microsoft Graph's /me or an access token."""
    lookups = (["ad", "signed-in-user"], ["account", "get-access-token"])
    return [c["args"][:2] for c in calls if c["tool"] == "az" and c["args"][:2] in lookups]


def _expected_lookups(identity: Identity) -> list[list[str]]:
    if identity.user_type == "user":
        return [["ad", "signed-in-user"]]
    # Graph's /me answers users only: a service principal's or managed identity's object id
    # is the oid claim of its own access token.
    return [["account", "get-access-token"]]


def _no_token_anywhere(cli: Any, result: subprocess.CompletedProcess[str]) -> None:
    for call in cli.calls:
        assert TOKEN_SIGNATURE not in " ".join(call["args"])
    assert TOKEN_SIGNATURE not in result.stdout + result.stderr


@each_identity
def test_deploy_passes_the_signed_in_identity_and_its_principal_type(
    cli: Any, identity: Identity
) -> None:
    result = _deploy(cli, "--yes", **identity.env())
    assert result.returncode == 0, result.stdout + result.stderr
    # main.bicepparam reads both from the environment of `az deployment group create`.
    deployment = _deployment_create(cli.calls)["env"]
    assert deployment["AZURE_PRINCIPAL_ID"] == identity.object_id
    assert deployment["AZURE_PRINCIPAL_TYPE"] == identity.principal_type
    assert _object_id_lookups(cli.calls) == _expected_lookups(identity)
    assert identity.announced() in result.stdout
    _no_token_anywhere(cli, result)


@each_identity
def test_the_azd_hook_stores_the_signed_in_identity_in_the_azd_environment(
    cli: Any, identity: Identity
) -> None:
    # What an earlier run stored (a person's identity, before a pipeline's) is replaced.
    result = cli.run(
        ["bash", "scripts/hooks/principal.sh"],
        AZURE_PRINCIPAL_ID="stale-oid",
        AZURE_PRINCIPAL_TYPE="User",
        **identity.env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["args"] for c in cli.calls if c["tool"] == "azd"] == [
        ["env", "set", "AZURE_PRINCIPAL_ID", identity.object_id],
        ["env", "set", "AZURE_PRINCIPAL_TYPE", identity.principal_type],
    ]
    assert _object_id_lookups(cli.calls) == _expected_lookups(identity)
    assert identity.announced() in result.stdout
    _no_token_anywhere(cli, result)


def test_azd_records_the_deployer_before_every_provisioning(cli: Any, h: Any) -> None:
    """azure.yaml's preprovision hook, run as azd runs it (`sh -c`), as a service principal:
    main.bicepparam gets the type from the azd environment, since azd sets no
    AZURE_PRINCIPAL_TYPE for a .bicepparam file."""
    hook = yaml.safe_load((h.REPO / "azure.yaml").read_text())["hooks"]["preprovision"]
    assert hook["shell"] == "sh" and hook["continueOnError"] is False
    identity = IDENTITIES["service-principal"]
    result = cli.run(
        ["sh", "-c", hook["run"]],
        AZURE_ENV_NAME="dev",
        AZURE_RESOURCE_GROUP="rg-dev",
        **identity.env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    stored = [
        c["args"][2:] for c in cli.calls if c["tool"] == "azd" and c["args"][:2] == ["env", "set"]
    ]
    assert ["AZURE_PRINCIPAL_ID", identity.object_id] in stored
    assert ["AZURE_PRINCIPAL_TYPE", "ServicePrincipal"] in stored


def _allowed(template: dict[str, Any], parameter: str) -> set[str]:
    decorators = template["parameters"][parameter].get("decorators", [])
    (allowed,) = [d["argument"] for d in decorators if d["type"] == "allowed"]
    return set(allowed)


def test_a_principal_named_on_purpose_is_used_as_given(cli: Any, templates: Any) -> None:
    """Both set: no sign-in lookup, for every principalType the role assignment accepts."""
    for principal_type in sorted(
        _allowed(templates["modules/roles.bicep"], "deployerPrincipalType")
    ):
        before = len(cli.calls)
        result = _deploy(
            cli, "--yes", AZURE_PRINCIPAL_ID="named-oid", AZURE_PRINCIPAL_TYPE=principal_type
        )
        assert result.returncode == 0, result.stdout + result.stderr
        calls = cli.calls[before:]
        assert _deployment_create(calls)["env"]["AZURE_PRINCIPAL_TYPE"] == principal_type
        assert _object_id_lookups(calls) == []
        assert f"Deployer: named-oid (principalType {principal_type}, as set)" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AZURE_PRINCIPAL_ID": "some-oid"},
            "Set both AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE",
        ),
        ({"AZURE_PRINCIPAL_TYPE": "User"}, "Set both AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE"),
        (
            {"AZURE_PRINCIPAL_ID": "some-oid", "AZURE_PRINCIPAL_TYPE": "Device"},
            "AZURE_PRINCIPAL_TYPE must be User, ServicePrincipal or Group",
        ),
    ],
    ids=["id-without-type", "type-without-id", "type-the-template-refuses"],
)
def test_no_principal_type_is_guessed(cli: Any, env: dict[str, str], message: str) -> None:
    result = _deploy(cli, "--yes", **env)
    assert result.returncode == 1
    assert message in result.stderr
    assert not [c for c in cli.calls if c["args"][:3] == ["deployment", "group", "create"]]


def test_the_deployers_role_takes_the_principal_type_the_scripts_produce(
    templates: Any, h: Any
) -> None:
    produced = {identity.principal_type for identity in IDENTITIES.values()}
    roles = templates["modules/roles.bicep"]
    (deployer,) = [
        body
        for _, _, body in h.resources(templates, "Microsoft.Authorization/roleAssignments")
        if body["properties"]["principalId"] == "deployerPrincipalId"
    ]
    # pycep writes a parameter and a literal alike: the name must be roles.bicep's parameter.
    assert deployer["properties"]["principalType"] == "deployerPrincipalType"
    assert "deployerPrincipalType" in roles["parameters"]
    assert produced <= _allowed(roles, "deployerPrincipalType")
    main = templates["main.bicep"]
    assert _allowed(main, "deployerPrincipalType") <= _allowed(roles, "deployerPrincipalType")
    assert produced <= _allowed(main, "deployerPrincipalType")
    params = main["modules"]["roles"]["config"]["params"]
    assert params["deployerPrincipalId"] == "deployerPrincipalId"
    assert params["deployerPrincipalType"] == "deployerPrincipalType"
    bicepparam = (h.INFRA / "main.bicepparam").read_text()
    for name, variable in (
        ("deployerPrincipalId", "AZURE_PRINCIPAL_ID"),
        ("deployerPrincipalType", "AZURE_PRINCIPAL_TYPE"),
    ):
        assert re.search(
            rf"^param {name} = readEnvironmentVariable\('{variable}'", bicepparam, re.M
        ), name


# --- Repeatable provisioning: a soft-deleted Key Vault is recovered (docs/infra.md) ---------


def _deleted_vault(
    name: str,
    *,
    group: str = "rg-dev",
    env_name: str = "dev",
    app: str = "durable-background-jobs",
    location: str = "westeurope",
) -> dict[str, Any]:
    """One entry of `az keyvault list-deleted --resource-type vault` (the REST DeletedVault)."""
    subscription = "00000000-0000-0000-0000-000000000001"
    return {
        "id": f"/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{location}"
        f"/deletedVaults/{name}",
        "name": name,
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": f"/subscriptions/{subscription}/resourceGroups/{group}"
            f"/providers/Microsoft.KeyVault/vaults/{name}",
            "location": location,
            "tags": {"azd-env-name": env_name, "app": app},
            "deletionDate": "2025-01-01T00:00:00+00:00",
            "scheduledPurgeDate": "2025-04-01T00:00:00+00:00",
            "purgeProtectionEnabled": True,
        },
    }


# Deleted vaults that are not this environment's (dev in rg-dev, this app): never recovered.
OTHERS = [
    _deleted_vault("kvotherenv", env_name="prod"),
    _deleted_vault("kvothergroup", group="rg-prod"),
    _deleted_vault("kvotherapp", app="another-app"),
    _deleted_vault("vaultnotours"),
]


def _set_deleted(cli: Any, vaults: list[dict[str, Any]]) -> None:
    (cli.state_dir / "deleted-vaults.json").write_text(json.dumps(vaults))


def _main_deployment(cli: Any) -> dict[str, Any]:
    [call] = [c for c in cli.calls if "infra/main.bicepparam" in c["args"]]
    return call


@pytest.mark.parametrize(
    ("deleted", "mode"),
    [
        # The group's name as Resource Manager stored it may differ in case.
        ([*OTHERS, _deleted_vault("kvmine", group="RG-Dev")], "recover"),
        (OTHERS, "default"),
        ([], "default"),
    ],
    ids=["this-environments-vault-is-deleted", "only-other-vaults-are-deleted", "none"],
)
def test_deploy_passes_the_key_vault_create_mode_to_the_deployment(
    cli: Any, deleted: list[dict[str, Any]], mode: str
) -> None:
    _set_deleted(cli, deleted)
    result = _deploy(cli, "--yes", AZURE_KEY_VAULT_CREATE_MODE="recover")  # a stale value
    assert result.returncode == 0, result.stdout + result.stderr
    commands = _commands(cli)
    listing = ["az", "keyvault", "list-deleted", "--resource-type", "vault", "--output", "json"]
    assert commands.index(listing) < commands.index(["az", *_main_deployment(cli)["args"]])
    assert _main_deployment(cli)["env"]["AZURE_KEY_VAULT_CREATE_MODE"] == mode
    if mode == "recover":
        assert "Key Vault kvmine of environment 'dev' is soft-deleted" in result.stderr
    else:
        assert "No soft-deleted Key Vault of environment 'dev' in rg-dev" in result.stderr


@pytest.mark.parametrize(
    ("deleted", "mode"),
    [([*OTHERS, _deleted_vault("kvmine")], "recover"), (OTHERS, "default")],
    ids=["this-environments-vault-is-deleted", "none-of-this-environment"],
)
def test_the_preprovision_hook_sets_the_mode_in_the_azd_environment(
    cli: Any, deleted: list[dict[str, Any]], mode: str
) -> None:
    _set_deleted(cli, deleted)
    result = cli.run(
        ["bash", "scripts/hooks/preprovision.sh"],
        AZURE_RESOURCE_GROUP="rg-dev",
        AZURE_ENV_NAME="dev",
        AZURE_SUBSCRIPTION_ID="sub-of-the-azd-env",
        AZURE_LOCATION="westeurope",
    )
    assert result.returncode == 0, result.stderr
    # The last two: the hook records the deployer's identity first (principal.sh, tested above).
    assert _commands(cli)[-2:] == [
        [
            "az",
            "keyvault",
            "list-deleted",
            "--resource-type",
            "vault",
            "--subscription",
            "sub-of-the-azd-env",
            "--output",
            "json",
        ],
        ["azd", "env", "set", "AZURE_KEY_VAULT_CREATE_MODE", mode],
    ]
    assert "Warning" not in result.stderr


def test_a_deleted_vault_in_another_region_is_named_before_resource_manager_refuses(
    cli: Any,
) -> None:
    _set_deleted(cli, [_deleted_vault("kvmine", location="westeurope")])
    result = _deploy(cli, "-l", "northeurope", "--yes")
    assert result.returncode == 0, result.stderr
    assert _main_deployment(cli)["env"]["AZURE_KEY_VAULT_CREATE_MODE"] == "recover"
    assert "the deleted vault is in westeurope" in result.stderr


def test_two_candidate_vaults_stop_the_deployment_before_it_starts(cli: Any) -> None:
    _set_deleted(cli, [_deleted_vault("kvmine"), _deleted_vault("kvminetoo")])
    result = _deploy(cli, "--yes")
    assert result.returncode == 1
    assert "More than one soft-deleted Key Vault" in result.stderr
    assert "kvmine westeurope" in result.stderr and "kvminetoo westeurope" in result.stderr
    assert not [c for c in cli.calls if c["args"][:3] == ["deployment", "group", "create"]]
