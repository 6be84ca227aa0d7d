"""Repeatable provisioning: after `azd down` the environment's Key Vault is soft-deleted, and purge
protection keeps it (and its name) for 90 days, so the next deployment must recover it instead of
creating it. The deploy step decides (scripts/hooks/keyvault_create_mode.sh, run by azd's
preprovision hook and by scripts/deploy.sh); main.bicep passes the answer to the vault's
createMode. These tests hold the template side over the parsed templates and Azure's published
type; test_deploy_scripts.py runs the scripts against the recording stand-ins."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

MODES = ("default", "recover")
ENVIRONMENT_VARIABLE = "AZURE_KEY_VAULT_CREATE_MODE"
REQUIRED = 1  # ObjectPropertyFlags.Required in Azure/bicep-types-az
READ_ONLY = 2  # ObjectPropertyFlags.ReadOnly


def _allowed(parameter: dict[str, Any]) -> list[Any]:
    return next(d["argument"] for d in parameter["decorators"] if d["type"] == "allowed")


def _vault(templates: dict[str, dict[str, Any]], h: Any) -> tuple[str, dict[str, Any]]:
    [(file, _name, body)] = h.resources(templates, "Microsoft.KeyVault/vaults")
    return file, body


def _vault_properties_type(
    templates: dict[str, dict[str, Any]], shared_reference: Path
) -> dict[str, dict[str, Any]]:
    """VaultProperties of the API version the template uses, from Azure's published types."""
    [api_version] = {
        resource["api_version"]
        for parsed in templates.values()
        for resource in parsed.get("resources", {}).values()
        if resource["type"] == "Microsoft.KeyVault/vaults"
    }
    path = shared_reference / "bicep-types/keyvault/microsoft.keyvault" / api_version / "types.json"
    if not path.is_file():
        pytest.fail(f"Microsoft.KeyVault@{api_version} is not in the shared reference: {path}")
    types = json.loads(path.read_text())

    def follow(reference: dict[str, str]) -> dict[str, Any]:
        return types[int(reference["$ref"].removeprefix("#/"))]

    [resource] = [
        t
        for t in types
        if t["$type"] == "ResourceType"
        and t["name"].lower() == f"microsoft.keyvault/vaults@{api_version}"
    ]
    body = follow(resource["body"])
    properties = follow(body["properties"]["properties"]["type"])
    return {
        name: {**spec, "resolved": follow(spec["type"]), "follow": follow}
        for name, spec in properties["properties"].items()
    }


def _published_create_modes(properties: dict[str, dict[str, Any]]) -> set[str]:
    union = properties["createMode"]["resolved"]
    follow = properties["createMode"]["follow"]
    return {follow(element)["value"] for element in union["elements"]}


def _branch(body: dict[str, Any], mode: str) -> dict[str, Any]:
    """The vault's properties as Resource Manager receives them when createMode is `mode`: the
    module parameter is the only thing that differs between the branches."""
    properties = dict(body["properties"])
    assert properties["createMode"] == "createMode"  # the parameter, not a literal
    properties["createMode"] = mode
    return properties


def test_main_has_the_create_mode_parameter_with_both_values_and_default(templates, h):
    parameter = templates["main.bicep"]["parameters"]["keyVaultCreateMode"]
    assert parameter["type"] == "string"
    assert _allowed(parameter) == list(MODES)
    # A deployment that nobody prepared (what-if, a first deployment) creates the vault.
    assert parameter["default"] == "default"


def test_the_module_parameter_allows_the_same_values_with_the_same_default(templates, h):
    parameter = templates["modules/keyvault.bicep"]["parameters"]["createMode"]
    assert parameter["type"] == "string"
    assert _allowed(parameter) == list(MODES)
    assert parameter["default"] == "default"


def test_the_allowed_values_are_the_create_modes_azure_publishes(templates, h, shared_reference):
    properties = _vault_properties_type(templates, shared_reference)
    assert _published_create_modes(properties) == set(MODES)
    assert not properties["createMode"]["flags"] & READ_ONLY


def test_main_wires_the_parameter_to_the_vaults_create_mode(templates, h):
    module = templates["main.bicep"]["modules"]["keyVault"]
    assert module["detail"]["path"] == "modules/keyvault.bicep"
    assert module["config"]["params"]["createMode"] == "keyVaultCreateMode"
    file, body = _vault(templates, h)
    assert file == "modules/keyvault.bicep"
    assert "createMode" in templates[file]["parameters"]
    assert body["properties"]["createMode"] == "createMode"


@pytest.mark.parametrize("mode", MODES)
def test_both_branches_send_a_vault_resource_manager_accepts(mode, templates, h, shared_reference):
    published = _vault_properties_type(templates, shared_reference)
    file, body = _vault(templates, h)
    properties = _branch(body, mode)
    assert properties["createMode"] in _published_create_modes(published)
    # tenantId and sku are required by the type whatever the mode: recover does not drop them.
    required = {name for name, spec in published.items() if spec["flags"] & REQUIRED}
    assert required == {"tenantId", "sku"}
    assert required <= set(properties), f"{mode}: missing {required - set(properties)}"
    assert set(properties) <= set(published), f"{mode}: {set(properties) - set(published)}"
    assert not [name for name in properties if published[name]["flags"] & READ_ONLY]
    # Access policies are required unless the mode is recover or the vault uses RBAC: with RBAC
    # on, neither branch needs them (and the vault has none to restore).
    assert properties["enableRbacAuthorization"] is True
    assert "accessPolicies" not in properties
    # A recovered vault has purge protection on, and Key Vault refuses to turn it off: the
    # template must never send false, in either branch.
    assert properties["enablePurgeProtection"] is True
    assert properties["enableSoftDelete"] is True
    assert 7 <= properties["softDeleteRetentionInDays"] <= 90
    # Recovery happens in the deleted vault's region, under its old name: both are the same
    # expressions as on creation (the resource group's region, the environment's name).
    assert body["location"] == "location"
    assert body["name"] == "name"
    module = templates["main.bicep"]["modules"]["keyVault"]["config"]["params"]
    assert module["location"] == "location"
    assert h.accessor(module["name"]) == ("names", "keyVault")
    # Nothing else in the body depends on the mode.
    others = {k: v for k, v in body["properties"].items() if k != "createMode"}
    assert "createMode" not in json.dumps(others), file


def test_the_vault_name_is_the_same_on_every_deployment_of_an_environment(templates, h):
    """Recovery needs the old name: a salt per deployment would orphan the signing keys and
    leave a purge-protected vault behind for 90 days on every `azd down`."""
    names = h.variable(templates, "main.bicep", "names")
    assert names["keyVault"] == "kv${take(token, 13)}"
    token = h.variable(templates, "main.bicep", "token")["function"]
    assert token["type"] == "unique_string"
    arguments = token["parameters"]
    assert arguments["base_string"]["function"]["type"] == "subscription"
    assert arguments["extra_string_1"]["function"]["type"] == "resource_group"
    assert arguments["extra_string_2"] == "environmentName"
    assert set(arguments) == {"base_string", "extra_string_1", "extra_string_2"}
    text = (h.INFRA / "main.bicep").read_text()
    assert not re.search(r"\b(utcNow|newGuid)\s*\(", text)


def test_the_deleted_vault_is_found_by_the_tags_main_gives_it(templates, h):
    """A deleted vault keeps its tags and its resource group (in vaultId): the script matches
    on them, so they must be what main.bicep sets on the vault."""
    tags = h.variable(templates, "main.bicep", "tags")
    assert tags["'azd-env-name'"] == "environmentName"
    module = templates["main.bicep"]["modules"]["keyVault"]["config"]["params"]
    assert module["tags"] == "tags"
    _file, body = _vault(templates, h)
    assert body["tags"] == "tags"
    script = (h.REPO / "scripts/hooks/keyvault_create_mode.sh").read_text()
    assert re.search(rf'^APP_TAG="{re.escape(tags["app"])}"', script, re.MULTILINE)
    assert 'tags.get("azd-env-name") == os.environ["AZURE_ENV_NAME"]' in script


def test_the_parameters_file_reads_the_mode_the_deploy_steps_set(h):
    text = (h.INFRA / "main.bicepparam").read_text()
    assert re.search(
        rf"^param keyVaultCreateMode = readEnvironmentVariable\('{ENVIRONMENT_VARIABLE}', "
        r"'default'\)$",
        text,
        re.MULTILINE,
    )
    hook = (h.REPO / "scripts/hooks/preprovision.sh").read_text()
    assert f'azd env set {ENVIRONMENT_VARIABLE} "$mode"' in hook
    deploy = (h.REPO / "scripts/deploy.sh").read_text()
    assert f"export {ENVIRONMENT_VARIABLE}" in deploy
