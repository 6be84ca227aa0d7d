"""Every Bicep file parses, and EVERY resource of each type carries the security properties the
review asks for: no shared keys or local auth, TLS 1.2, identity-only settings, no secrets out."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

# API versions the templates may use: each is published for its type (infra-anchors.md and the
# ARM references); a typo or an invented version fails here instead of at deployment.
KNOWN_API_VERSIONS = {
    "Microsoft.Web/serverfarms": {"2024-04-01"},
    "Microsoft.Web/sites": {"2024-04-01"},
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": {"2024-04-01"},
    "Microsoft.Storage/storageAccounts": {"2024-01-01"},
    "Microsoft.Storage/storageAccounts/blobServices": {"2024-01-01"},
    "Microsoft.Storage/storageAccounts/blobServices/containers": {"2024-01-01"},
    "Microsoft.Storage/storageAccounts/tableServices": {"2024-01-01"},
    "Microsoft.Storage/storageAccounts/tableServices/tables": {"2024-01-01"},
    "Microsoft.Storage/storageAccounts/queueServices": {"2024-01-01"},
    "Microsoft.Storage/storageAccounts/queueServices/queues": {"2024-01-01"},
    "Microsoft.ServiceBus/namespaces": {"2022-10-01-preview"},
    "Microsoft.ServiceBus/namespaces/queues": {"2022-10-01-preview"},
    "Microsoft.ServiceBus/namespaces/topics": {"2022-10-01-preview"},
    "Microsoft.ServiceBus/namespaces/topics/subscriptions": {"2022-10-01-preview"},
    "Microsoft.KeyVault/vaults": {"2023-07-01"},
    "Microsoft.ManagedIdentity/userAssignedIdentities": {"2023-01-31"},
    "Microsoft.OperationalInsights/workspaces": {"2022-10-01"},
    "Microsoft.Insights/components": {"2020-02-02"},
    "Microsoft.Insights/actionGroups": {"2023-01-01"},
    "Microsoft.Insights/metricAlerts": {"2018-03-01"},
    "Microsoft.Insights/scheduledQueryRules": {"2023-12-01"},
    "Microsoft.Authorization/roleAssignments": {"2022-04-01"},
    "Microsoft.EventGrid/systemTopics": {"2022-06-15"},
    "Microsoft.EventGrid/systemTopics/eventSubscriptions": {"2022-06-15"},
    # disableLocalAuth on communicationServices needs 2025-05-01 or later.
    "Microsoft.Communication/emailServices": {"2025-09-01"},
    "Microsoft.Communication/emailServices/domains": {"2025-09-01"},
    "Microsoft.Communication/communicationServices": {"2025-09-01"},
}

# Text that means a key or a connection string with a key is being read or written.
SECRET_PATTERNS = [
    r"listKeys\s*\(",
    r"listConnectionStrings\s*\(",
    r"listAccountSas\s*\(",
    r"listServiceSas\s*\(",
    r"AccountKey\s*=",
    r"SharedAccessKey",
    r"primaryKey",
    r"primaryConnectionString",
    r"DefaultEndpointsProtocol",
]


def test_every_bicep_file_parses(bicep_path, h):
    parsed = h.parse(bicep_path)
    assert parsed.get("resources") or parsed.get("modules"), f"{bicep_path} declares nothing"


def test_the_parameters_file_matches_main(templates, h):
    text = (h.INFRA / "main.bicepparam").read_text()
    assert re.search(r"^using 'main\.bicep'$", text, re.MULTILINE)
    assigned = set(re.findall(r"^param (\w+) =", text, re.MULTILINE))
    declared = templates["main.bicep"]["parameters"]
    assert assigned <= set(declared), f"unknown parameters: {assigned - set(declared)}"
    required = {name for name, spec in declared.items() if spec.get("default") is None}
    assert required <= assigned, f"required parameters without a value: {required - assigned}"


def test_every_module_path_exists(templates, h):
    for file, parsed in templates.items():
        for name, module in parsed.get("modules", {}).items():
            target = (h.INFRA / file).parent / module["detail"]["path"]
            assert target.is_file(), f"{file}: module {name} points at a missing {target}"


def test_every_resource_uses_a_known_api_version(templates, h):
    for file, parsed in templates.items():
        for name, resource in parsed.get("resources", {}).items():
            known = KNOWN_API_VERSIONS.get(resource["type"])
            assert known, f"{file}:{name}: add {resource['type']} to KNOWN_API_VERSIONS"
            assert resource["api_version"] in known, f"{file}:{name}: {resource['api_version']}"


def test_every_storage_account_is_identity_only_and_private(templates, h):
    accounts = h.resources(templates, "Microsoft.Storage/storageAccounts")
    assert accounts
    for file, name, body in accounts:
        properties = body["properties"]
        assert properties["allowSharedKeyAccess"] is False, f"{file}:{name}"
        assert properties["allowBlobPublicAccess"] is False, f"{file}:{name}"
        assert properties["minimumTlsVersion"] == "TLS1_2", f"{file}:{name}"
        assert properties["supportsHttpsTrafficOnly"] is True, f"{file}:{name}"
        assert properties["defaultToOAuthAuthentication"] is True, f"{file}:{name}"


def test_every_blob_container_is_private(templates, h):
    containers = h.resources(templates, "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert containers
    for file, name, body in containers:
        assert body["properties"]["publicAccess"] == "None", f"{file}:{name}"


def test_every_service_bus_namespace_has_local_auth_off(templates, h):
    namespaces = h.resources(templates, "Microsoft.ServiceBus/namespaces")
    assert namespaces
    for file, name, body in namespaces:
        assert body["properties"]["disableLocalAuth"] is True, f"{file}:{name}"
        assert body["properties"]["minimumTlsVersion"] == "1.2", f"{file}:{name}"
        sku = templates[file]["parameters"][body["sku"]["name"]]
        # Topics and duplicate detection do not exist on Basic.
        allowed = next(d["argument"] for d in sku["decorators"] if d["type"] == "allowed")
        assert set(allowed) <= {"Standard", "Premium"}, f"{file}:{name}: {allowed}"


def test_every_monitoring_resource_has_local_auth_off(templates, h):
    components = h.resources(templates, "Microsoft.Insights/components")
    workspaces = h.resources(templates, "Microsoft.OperationalInsights/workspaces")
    assert components and workspaces
    for file, name, body in components:
        assert body["properties"]["DisableLocalAuth"] is True, f"{file}:{name}"
    for file, name, body in workspaces:
        assert body["properties"]["features"]["disableLocalAuth"] is True, f"{file}:{name}"


def test_every_key_vault_uses_rbac_and_keeps_deleted_secrets(templates, h):
    vaults = h.resources(templates, "Microsoft.KeyVault/vaults")
    assert vaults
    for file, name, body in vaults:
        properties = body["properties"]
        assert properties["enableRbacAuthorization"] is True, f"{file}:{name}"
        assert properties["enableSoftDelete"] is True, f"{file}:{name}"
        assert properties["enablePurgeProtection"] is True, f"{file}:{name}"
        assert "accessPolicies" not in properties, f"{file}:{name}"


def test_every_plan_is_flex_consumption(templates, h):
    plans = h.resources(templates, "Microsoft.Web/serverfarms")
    assert plans
    for file, name, body in plans:
        assert body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}, f"{file}:{name}"
        assert body["properties"]["reserved"] is True, f"{file}:{name}"


def test_every_function_app_runs_on_flex_with_its_user_assigned_identity(templates, h):
    sites = h.resources(templates, "Microsoft.Web/sites")
    assert sites
    for file, name, body in sites:
        parameters = templates[file]["parameters"]
        assert body["kind"] == "functionapp,linux", f"{file}:{name}"
        assert body["identity"]["type"] == "UserAssigned", f"{file}:{name}"
        properties = body["properties"]
        assert properties["httpsOnly"] is True
        assert properties["keyVaultReferenceIdentity"] == "identityId"
        site_config = properties["siteConfig"]
        assert site_config["minTlsVersion"] == "1.2"
        # Properties Flex refuses or ignores: tests/infra/platform/test_flex_consumption.py.
        config = properties["functionAppConfig"]
        storage = config["deployment"]["storage"]
        assert storage["type"] == "blobContainer"
        assert storage["authentication"] == {
            "type": "UserAssignedIdentity",
            "userAssignedIdentityResourceId": "identityId",
        }
        assert config["runtime"]["name"] == "python"
        assert parameters[config["runtime"]["version"]]["default"] == "3.11"
        scale = config["scaleAndConcurrency"]
        # Both are parameters, not constants.
        assert scale["maximumInstanceCount"] in parameters
        assert scale["instanceMemoryMB"] in parameters
        durable = h.variable(templates, file, "durableGroup")
        assert durable == [{"name": "durable", "instanceCount": "durableAlwaysReady"}]
        # `durableAlwaysReady > 0 ? durableGroup : []` (pycep's tree of a ternary is not kept).
        ready = json.dumps(scale["alwaysReady"])
        assert '"durableGroup"' in ready and '"durableAlwaysReady"' in ready


def test_always_ready_for_the_durable_group_defaults_to_microsofts_advice(templates, h):
    assert templates["main.bicep"]["parameters"]["durableAlwaysReady"]["default"] == 1


def test_the_express_app_keeps_one_durable_instance_ready_and_main_keeps_its_scale(templates, h):
    """The express app's orchestrator and activities never wait for a cold start: its durable
    group has an always-ready instance (1 by default, never 0). The main app's scale settings
    are the parameters they always were."""
    main = templates["main.bicep"]
    express = main["parameters"]["expressDurableAlwaysReady"]
    assert express["default"] == 1
    assert {"type": "min_value", "argument": 1} in express["decorators"]
    modules = main["modules"]
    assert modules["expressApp"]["config"]["params"]["durableAlwaysReady"] == (
        "expressDurableAlwaysReady"
    )
    scale = {
        name: modules["functionApp"]["config"]["params"][name]
        for name in ("durableAlwaysReady", "maximumInstanceCount", "instanceMemoryMB")
    }
    assert scale == {name: name for name in scale}


def test_basic_publishing_credentials_are_off_for_ftp_and_scm(templates, h):
    policies = h.resources(templates, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {body["name"] for _, _, body in policies} == {"ftp", "scm"}
    for file, name, body in policies:
        assert body["properties"]["allow"] is False, f"{file}:{name}"


def test_no_template_reads_or_writes_a_key(templates, h):
    for path in [*h.INFRA.rglob("*.bicep"), h.INFRA / "main.bicepparam"]:
        text = path.read_text()
        for pattern in SECRET_PATTERNS:
            assert not re.search(pattern, text, re.IGNORECASE), f"{path}: {pattern}"


def _names_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_names_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_names_in(v) for v in value)) if value else set()
    return set()


def test_no_output_carries_a_secret(templates, h):
    for file, parsed in templates.items():
        secure = {
            name
            for name, spec in parsed.get("parameters", {}).items()
            if any(d["type"] == "secure" for d in spec["decorators"])
        }
        for name, output in parsed.get("outputs", {}).items():
            plain = re.sub(r"key_?vault", "", name, flags=re.IGNORECASE)
            assert not re.search(r"key|secret|password|sas", plain, re.IGNORECASE), f"{file}:{name}"
            if re.search(r"connectionstring", name, re.IGNORECASE):
                # The App Insights connection string is an ingestion endpoint, not a secret.
                assert name == "appInsightsConnectionString", f"{file}:{name}"
            assert not secure & _names_in(output["value"]), f"{file}:{name} outputs a secret"


def test_the_post_deploy_template_takes_the_webhook_key_as_secure_and_outputs_nothing(templates, h):
    eventgrid = templates["eventgrid.bicep"]
    key = eventgrid["parameters"]["blobExtensionKey"]
    assert {"type": "secure"} in key["decorators"]
    assert key.get("default") is None
    assert not eventgrid.get("outputs")


# Each app (main.bicep's function app modules) and the identity it runs as.
APP_IDENTITIES = {"main": "identity", "express": "expressIdentity"}
# The Key Vault references each app's code reads: the express app signs webhooks only.
SIGNING_KEYS = {
    "main": {
        "APPROVAL_SIGNING_KEY": "approval-signing-key",
        "WEBHOOK_SIGNING_KEY": "webhook-signing-key",
    },
    "express": {"WEBHOOK_SIGNING_KEY": "webhook-signing-key"},
}
each_app = pytest.mark.parametrize("app", list(APP_IDENTITIES))


@each_app
def test_settings_are_identity_based_only(templates, h, app):
    """Each app connects as its own identity: the express app never borrows the main one's."""
    settings = h.app_settings(templates, app)
    client_id = (APP_IDENTITIES[app], "properties", "clientId")
    for connection, identity_setting in (
        ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName"),
        ("ServiceBusConnection", "ServiceBusConnection__fullyQualifiedNamespace"),
    ):
        assert connection not in settings, f"{connection} would be a connection string"
        assert identity_setting in settings
        assert settings[f"{connection}__credential"] == "managedidentity"
        assert h.accessor(settings[f"{connection}__clientId"]) == client_id
    for name in settings:
        if "connectionstring" in name.lower():
            assert name == "APPLICATIONINSIGHTS_CONNECTION_STRING", name
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "Authorization=AAD;ClientId=${" + ".".join(client_id) + "}"
    )
    identity_id = templates["main.bicep"]["modules"][h.APP_MODULES[app]]["config"]["params"]
    assert h.accessor(identity_id["identityId"]) == (APP_IDENTITIES[app], "id")


@each_app
def test_signing_keys_are_key_vault_references(templates, h, app):
    settings = h.app_settings(templates, app)
    references = {
        name for name, value in settings.items() if str(value).startswith("@Microsoft.KeyVault(")
    }
    assert references == set(SIGNING_KEYS[app]), app
    for setting, secret in SIGNING_KEYS[app].items():
        value = str(settings[setting])
        assert value.startswith("@Microsoft.KeyVault(VaultName="), setting
        assert value.endswith(f";SecretName={secret})"), setting


@each_app
def test_the_site_receives_the_declared_settings(templates, h, app):
    """main.bicep passes each app the order path's settings and its role's own; the module
    adds the connections, which nothing passed may override."""
    arguments = templates["main.bicep"]["modules"][h.APP_MODULES[app]]["config"]["params"]
    union = arguments["appSettings"]["function"]
    assert union["type"] == "union"
    assert list(union["parameters"].values()) == ["orderPathSettings", f"{app}Settings"]
    module = templates[h.FUNCTIONAPP]["variables"]
    assert module["siteSettings"]["value"]["function"]["parameters"] == {
        "arg_1": "connectionSettings",
        "arg_2": "appSettings",
    }
    passed = h.union_of(arguments["appSettings"], templates["main.bicep"]["variables"])
    assert not set(passed) & set(module["connectionSettings"]["value"])
    site = h.resources(templates, "Microsoft.Web/sites")[0][2]
    loop = site["properties"]["siteConfig"]["appSettings"]
    assert loop["loop_type"]["detail"]["object_name"] == "siteSettings"


def test_the_role_settings_name_their_own_role_only(templates, h):
    """What both roles read is in orderPathSettings; each role's own variable holds its own
    values, so no setting is written twice with two values."""
    variables = templates["main.bicep"]["variables"]
    shared = set(variables["orderPathSettings"]["value"])
    for app in APP_IDENTITIES:
        own = variables[f"{app}Settings"]["value"]
        assert not shared & set(own), app
        assert own["APP_ROLE"] == app


def test_containers_and_tables_are_created_from_the_declared_lists(templates, h):
    storage = templates["main.bicep"]["modules"]["storage"]["config"]["params"]
    variables = templates["main.bicep"]["variables"]
    assert h.resolve(storage["containers"], variables) == h.resolve("containers", variables)
    module = templates["modules/storage.bicep"]["resources"]
    assert module["blobContainers"]["config"]["loop_type"]["detail"]["array_name"] == "containers"
    assert module["storageTables"]["config"]["loop_type"]["detail"]["array_name"] == "tables"
