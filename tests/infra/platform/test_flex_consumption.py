"""Flex Consumption's own rules, held as data with their Microsoft sources, checked against every
template and the app's index: what a Resource Manager deployment or the Flex host would refuse
or silently ignore fails here first."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

import pytest

DEPRECATIONS = (
    "Learn, 'App settings reference for Azure Functions' (functions-app-settings.md, "
    "ms.date 2025-07-11), section 'Flex Consumption plan deprecations'"
)
FLEX_PLAN = "Learn, 'Azure Functions Flex Consumption plan hosting' (flex-consumption-plan.md)"
REJECTED_FTPS_32BIT_NETFX = (
    "microsoft/azure-pipelines-tasks#21032: 'The following list of 4 site configuration "
    "properties (Site.SiteConfig.FtpsState, Site.SiteConfig.Use32BitWorkerProcess, "
    "Site.SiteConfig.NetFrameworkVersion, ...) for Flex Consumption sites is invalid'"
)
REJECTED_LINUXFX = (
    "Azure/terraform-azurerm-avm-res-web-site#283: ARM error 51021, 'The following site "
    "configuration property (Site.SiteConfig.LinuxFxVersion) for Flex Consumption sites is invalid'"
)


@dataclass(frozen=True)
class Deprecated:
    """One entry of Microsoft's list. `effect` is what is known to happen if a template sets it:
    `rejected` (Resource Manager answers 400; `evidence` quotes a report), `ignored` (the doc
    says the platform sets or disregards it), or `deprecated` (the doc says only not to use it)."""

    name: str
    reason: str
    effect: str = "deprecated"
    evidence: str = DEPRECATIONS


# Site properties; the doc writes `properties.x`, templates write most of them under
# `properties.siteConfig.x`, so each is looked for at both levels, in any letter case.
SITE_PROPERTIES = (
    Deprecated("alwaysOn", "Not valid"),
    Deprecated("containerSize", "Renamed as instanceMemoryMB"),
    Deprecated("ftpsState", "FTPS not supported", "rejected", REJECTED_FTPS_32BIT_NETFX),
    Deprecated("isReserved", "Not valid"),
    Deprecated("IsXenon", "Not valid"),
    Deprecated("javaVersion", "Replaced by version in properties.functionAppConfig.runtime"),
    Deprecated(
        "LinuxFxVersion",
        "Replaced by properties.functionAppConfig.runtime",
        "rejected",
        REJECTED_LINUXFX,
    ),
    Deprecated(
        "netFrameworkVersion",
        "Replaced by version in properties.functionAppConfig.runtime",
        "rejected",
        REJECTED_FTPS_32BIT_NETFX,
    ),
    Deprecated("powerShellVersion", "Replaced by version in properties.functionAppConfig.runtime"),
    Deprecated("functionAppScaleLimit", "Renamed as maximumInstanceCount"),
    Deprecated("preWarmedInstanceCount", "Renamed as alwaysReadyInstances"),
    Deprecated(
        "use32BitWorkerProcess", "32-bit not supported", "rejected", REJECTED_FTPS_32BIT_NETFX
    ),
    Deprecated("vnetBackupRestoreEnabled", "Not used for networking in Flex Consumption"),
    Deprecated("vnetContentShareEnabled", "Not used for networking in Flex Consumption"),
    Deprecated("vnetImagePullEnabled", "Not used for networking in Flex Consumption"),
    Deprecated("vnetRouteAllEnabled", "Not used for networking in Flex Consumption"),
    Deprecated("windowsFxVersion", "Not valid"),
    Deprecated(
        "endToEndEncryptionEnabled",
        "Certificate-based platform features are not supported",
        evidence=f"{FLEX_PLAN}, 'Considerations', 'Certificates'",
    ),
)

APP_SETTINGS = (
    Deprecated("ENABLE_ORYX_BUILD", "Replaced by the remoteBuild parameter when deploying"),
    Deprecated(
        "FUNCTIONS_EXTENSION_VERSION",
        "App Setting is set by the backend",
        "ignored",
    ),
    Deprecated("FUNCTIONS_WORKER_RUNTIME", "Replaced by name in functionAppConfig.runtime"),
    Deprecated(
        "FUNCTIONS_WORKER_RUNTIME_VERSION", "Replaced by version in functionAppConfig.runtime"
    ),
    Deprecated(
        "FUNCTIONS_MAX_HTTP_CONCURRENCY", "Replaced by scale and concurrency's trigger section"
    ),
    Deprecated("FUNCTIONS_WORKER_PROCESS_COUNT", "Setting not valid"),
    Deprecated("FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED", "Setting not valid"),
    Deprecated("SCM_DO_BUILD_DURING_DEPLOYMENT", "Replaced by the remoteBuild parameter"),
    Deprecated(
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "Replaced by functionAppConfig's deployment"
    ),
    Deprecated("WEBSITE_CONTENTOVERVNET", "Not used for networking in Flex Consumption"),
    Deprecated("WEBSITE_CONTENTSHARE", "Replaced by functionAppConfig's deployment section"),
    Deprecated("WEBSITE_DNS_SERVER", "DNS is inherited from the integrated virtual network"),
    Deprecated(
        "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
        "Replaced by maximumInstanceCount in functionAppConfig.scaleAndConcurrency",
    ),
    Deprecated("WEBSITE_NODE_DEFAULT_VERSION", "Replaced by version in functionAppConfig.runtime"),
    Deprecated("WEBSITE_RUN_FROM_PACKAGE", "Not used for deployments in Flex Consumption"),
    Deprecated("WEBSITE_SKIP_CONTENTSHARE_VALIDATION", "Content share isn't used in Flex"),
    Deprecated("WEBSITE_VNET_ROUTE_ALL", "Not used for networking in Flex Consumption"),
    Deprecated(
        "WEBSITE_TIME_ZONE",
        "Not supported on Flex Consumption",
        evidence=f"{FLEX_PLAN}, 'Considerations', 'Timezones'",
    ),
    Deprecated(
        "TZ",
        "Not supported on Flex Consumption",
        evidence=f"{FLEX_PLAN}, 'Considerations', 'Timezones'",
    ),
    Deprecated(
        "WEBSITE_LOAD_CERTIFICATES",
        "Not supported on Flex Consumption",
        evidence=f"{FLEX_PLAN}, 'Considerations', 'Certificates'",
    ),
)

# Flex Consumption's documented values (flex-consumption-plan.md): instance sizes ('Instance
# sizes'), maximum instance count ('Considerations', 'Scale'), Python versions ('Supported
# language stack versions'), per-function scale groups ('Per-function scaling').
INSTANCE_MEMORY_MB = {512, 2048, 4096}
DEFAULT_INSTANCE_MEMORY_MB = 2048
# Documented, yet reported refused; Durable's team also warns against it under load.
REPORTED_REFUSED_MEMORY_MB = {
    512: (
        "Azure/azure-rest-api-specs#40898 (Microsoft.Web/sites@2024-04-01 answers BadRequest: "
        "'only 2048 and 4096 are allowed'); Azure/azure-functions-durable-extension#2977"
    )
}
MAXIMUM_INSTANCE_COUNT = (40, 1000)
PYTHON_VERSIONS = {"3.10", "3.11", "3.12"}
SCALE_GROUPS = {"http", "blob", "durable"}


def found_site_properties(body: dict[str, Any]) -> list[str]:
    """The deprecated site properties a site's body sets, at `properties` or `siteConfig`."""
    properties = body.get("properties", {})
    levels = {
        "properties": properties,
        "properties.siteConfig": properties.get("siteConfig", {}),
    }
    found = []
    for entry in SITE_PROPERTIES:
        for where, level in levels.items():
            keys = {key.lower(): key for key in level} if isinstance(level, dict) else {}
            if entry.name.lower() in keys:
                found.append(f"{where}.{keys[entry.name.lower()]} ({entry.reason})")
    return found


def found_app_settings(names: set[str]) -> list[str]:
    deprecated = {entry.name.upper(): entry for entry in APP_SETTINGS}
    return [
        f"{name} ({deprecated[name.upper()].reason})"
        for name in sorted(names)
        if name.upper() in deprecated
    ]


def _app_setting_names(templates, h) -> set[str]:
    """Every app setting name a template can give a site: each app's settings (the module's
    connections and what main.bicep passes) and any literal `{name: ...}` entries of a site's
    siteConfig.appSettings."""
    names = {name for app in h.APP_MODULES for name in h.app_settings(templates, app)}
    for _, _, body in h.resources(templates, "Microsoft.Web/sites"):
        listed = body.get("properties", {}).get("siteConfig", {}).get("appSettings", [])
        if isinstance(listed, list):
            names |= {item["name"] for item in listed if isinstance(item, dict) and "name" in item}
    return names


def _param(templates, file: str, name: str) -> dict[str, Any]:
    spec = templates[file]["parameters"][name]
    decorators = {d["type"]: d.get("argument") for d in spec["decorators"]}
    return {"default": spec.get("default"), **decorators}


def test_no_site_sets_a_property_flex_consumption_deprecates(templates, h):
    """No Microsoft.Web/sites resource sets a site property on Microsoft's Flex deprecation list
    (`ftpsState`, `use32BitWorkerProcess`, `linuxFxVersion` and `netFrameworkVersion` are
    reported refused with a 400; the rest are at best ignored).
    Source: Learn, functions-app-settings.md, 'Flex Consumption plan deprecations'."""
    sites = h.resources(templates, "Microsoft.Web/sites")
    assert sites
    found = [f"{f}:{n}: {p}" for f, n, body in sites for p in found_site_properties(body)]
    assert not found, "\n".join(found)


def test_no_app_setting_is_one_flex_consumption_deprecates(templates, h):
    """No app setting the templates give the site is on the Flex deprecation list, or is a time
    zone or certificate setting Flex does not support.
    Source: Learn, functions-app-settings.md, 'Flex Consumption plan deprecations';
    flex-consumption-plan.md, 'Considerations'."""
    names = _app_setting_names(templates, h)
    assert "AzureWebJobsStorage__accountName" in names  # the settings were really read
    assert not found_app_settings(names), found_app_settings(names)


def test_the_deprecation_check_finds_what_it_looks_for():
    """The checks above find a deprecated property in either place and any letter case, and a
    deprecated setting, so their passing means something.
    Source: Learn, functions-app-settings.md, 'Flex Consumption plan deprecations'."""
    site = {
        "properties": {
            "isReserved": True,
            "siteConfig": {"FtpsState": "Disabled", "minTlsVersion": "1.2"},
        }
    }
    found = found_site_properties(site)
    assert len(found) == 2
    assert any(item.startswith("properties.siteConfig.FtpsState") for item in found)
    assert any(item.startswith("properties.isReserved") for item in found)
    assert found_app_settings({"functions_worker_runtime", "APP_VERSION"}) == [
        "functions_worker_runtime (Replaced by name in functionAppConfig.runtime)"
    ]


def test_every_deprecation_says_what_happens_and_rejections_cite_a_report():
    """Each entry says whether Resource Manager rejects it, the platform ignores it, or the doc
    only deprecates it; a rejection quotes the public report it comes from.
    Source: the reports named in each entry (GitHub issues quoting ARM's 400 answers)."""
    for entry in (*SITE_PROPERTIES, *APP_SETTINGS):
        assert entry.effect in {"rejected", "ignored", "deprecated"}, entry
        if entry.effect == "rejected":
            assert re.search(r"[\w-]+/[\w.-]+#\d+", entry.evidence), entry


def test_instance_memory_is_a_documented_size_and_none_reported_refused(templates):
    """`instanceMemoryMB` allows only documented Flex instance sizes, none reported refused,
    and defaults to the documented default (2048).
    Source: flex-consumption-plan.md, 'Instance sizes'; Azure/azure-rest-api-specs#40898."""
    for file in ("main.bicep", "modules/functionapp.bicep"):
        allowed = set(_param(templates, file, "instanceMemoryMB")["allowed"])
        assert allowed <= INSTANCE_MEMORY_MB, (file, allowed - INSTANCE_MEMORY_MB)
        assert not allowed & set(REPORTED_REFUSED_MEMORY_MB), (file, REPORTED_REFUSED_MEMORY_MB)
    assert _param(templates, "main.bicep", "instanceMemoryMB")["default"] == (
        DEFAULT_INSTANCE_MEMORY_MB
    )


def test_maximum_instance_count_stays_within_flex_limits(templates):
    """`maximumInstanceCount` is bounded by Flex's lowest and highest maximum (40-1000), and the
    default lies inside.
    Source: flex-consumption-plan.md, 'Considerations', 'Scale'."""
    low, high = MAXIMUM_INSTANCE_COUNT
    for file in ("main.bicep", "modules/functionapp.bicep"):
        spec = _param(templates, file, "maximumInstanceCount")
        assert low <= spec["min_value"] <= spec["max_value"] <= high, (file, spec)
    default = _param(templates, "main.bicep", "maximumInstanceCount")["default"]
    assert low <= default <= high


def test_the_runtime_is_a_python_version_flex_supports_and_the_one_tested(templates, h):
    """The runtime is `python` at a version Flex supports, set in functionAppConfig.runtime, and
    it is the Python this suite runs on, so what CI tests is what Azure runs.
    Source: flex-consumption-plan.md, 'Supported language stack versions'."""
    (file, _, body), *more = h.resources(templates, "Microsoft.Web/sites")
    assert not more
    runtime = body["properties"]["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"
    spec = _param(templates, file, runtime["version"])
    assert set(spec["allowed"]) <= PYTHON_VERSIONS
    assert spec["default"] == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_each_flex_plan_hosts_exactly_one_app(templates, h):
    """Only one app is allowed per Flex Consumption plan: each FC1 plan is the serverFarmId of
    exactly one site, and each deployment of the module (one per app: main, express) creates
    its own plan.
    Source: flex-consumption-plan.md, 'Considerations', 'Apps per Plan'."""
    for file, plan_name, _ in h.resources(templates, "Microsoft.Web/serverfarms"):
        hosted = [
            name
            for site_file, name, body in h.resources(templates, "Microsoft.Web/sites")
            if site_file == file and h.accessor(body["properties"]["serverFarmId"])[0] == plan_name
        ]
        assert len(hosted) == 1, (file, plan_name, hosted)
    main = templates["main.bicep"]
    deployments = [
        module["config"]["params"]
        for module in main["modules"].values()
        if module["detail"]["path"] == h.FUNCTIONAPP
    ]
    assert len(deployments) == len(h.APP_MODULES)
    names = main["variables"]["names"]["value"]
    plans = {names[h.accessor(d["planName"])[1]] for d in deployments}
    assert len(plans) == len(deployments), f"two apps on one plan: {plans}"


def test_always_ready_names_only_flex_scale_groups(templates, h):
    """Always-ready instances go to a per-function scale group Flex defines (`durable` for
    orchestrators, activities and entities) or to `function:<name>`.
    Source: flex-consumption-plan.md, 'Per-function scaling' and 'Always ready instances'."""
    groups = h.variable(templates, "modules/functionapp.bicep", "durableGroup")
    for group in groups:
        assert group["name"] in SCALE_GROUPS or group["name"].startswith("function:"), group
    assert [g["name"] for g in groups] == ["durable"]


def test_the_extension_bundle_is_v4_or_later(h):
    """Non-C# apps on Flex must use extension bundle [4.0.0, 5.0.0) or later.
    Source: flex-consumption-plan.md, 'Considerations', 'Triggers'."""
    bundle = json.loads((h.REPO / "host.json").read_text())["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    match = re.fullmatch(r"\[(\d+)\.[^,]*,\s*(\d+)\.0\.0\)", bundle["version"])
    assert match, bundle["version"]
    assert int(match.group(1)) >= 4 and int(match.group(2)) > int(match.group(1))


def test_every_blob_trigger_uses_the_event_grid_source(app_functions):
    """Flex runs the Blob storage trigger only with the Event Grid source.
    Source: flex-consumption-plan.md, 'Considerations', 'Triggers'."""
    blob_triggers = [
        binding
        for function in app_functions
        for binding in function["bindings"]
        if binding["type"] == "blobTrigger"
    ]
    assert blob_triggers
    for binding in blob_triggers:
        assert binding.get("source") == "EventGrid", binding


def test_durable_uses_a_storage_provider_flex_supports(h):
    """Durable Functions on Flex: the Azure Storage provider (or the Durable Task Scheduler),
    not MSSQL or Netherite.
    Source: flex-consumption-plan.md, 'Considerations', 'Durable Functions'."""
    durable = json.loads((h.REPO / "host.json").read_text())["extensions"]["durableTask"]
    provider = durable.get("storageProvider", {}).get("type", "AzureStorage")
    assert provider.lower() in {"azurestorage", "azuremanaged"}, provider


@pytest.mark.parametrize(
    "role",
    ["storageBlobDataOwner", "storageQueueDataContributor", "storageTableDataContributor"],
)
def test_the_identity_holds_the_storage_roles_durable_needs(templates, h, role):
    """The app's identity holds Blob Data Owner, Queue Data Contributor and Table Data
    Contributor on the storage account: the host and the Durable task hub (queues, tables,
    leases) run on an identity-based AzureWebJobsStorage.
    Source: Learn, 'Connecting to host storage with an identity' (functions-reference.md) and
    'Configure Durable Functions with managed identity' (durable-functions-configure-managed-
    identity.md)."""
    assignments = [
        body
        for _, _, body in h.resources(templates, "Microsoft.Authorization/roleAssignments")
        if f'"{role}"' in json.dumps(body["properties"]["roleDefinitionId"])
    ]
    assert assignments, role
    assert any(
        body["scope"] == "storage" and body["properties"]["principalId"] == "principalId"
        for body in assignments
    ), assignments
