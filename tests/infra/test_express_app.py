"""The express app (docs/infra.md, "The express app"): the same package as the main app on its own
Flex Consumption plan, with its own identity, deployment container, task hub and host id, and
deployed by azd and scripts/deploy.sh alongside the main app."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from devhost.servicebus.options import parse_timespan

# Learn, "Task hubs in Durable Functions", "Task hub names": letters and digits only, starting
# with a letter, 3 to 45 characters long (the Azure Storage provider's rule).
TASK_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")
# Learn, "App settings reference for Azure Functions", AzureFunctionsWebHost__hostid: 1 to 32
# characters, lowercase letters, digits and dashes, not starting or ending with a dash, no
# consecutive dashes.
HOST_ID = re.compile(r"(?=.{1,32}$)[a-z0-9]+(-[a-z0-9]+)*")
# Learn, "Storage considerations for Azure Functions", "Host ID considerations": by default the
# host id is the app's name, truncated to its first 32 characters.
DEFAULT_HOST_ID_LENGTH = 32

# What the names are made of: environmentName is 1-16 characters (main.bicep; scripts/deploy.sh
# also allows only lowercase letters, digits and hyphens), token is uniqueString(): 13 lowercase
# letters and digits.
ENVIRONMENT_NAMES = ["a", "jobs", "jobs-dev", "jobs-production", "x" * 16, "a-b-c-d-e-f-g-h-"]
TOKENS = ["abcdefghijklm", "0123456789abc", "zzzzzzzzzzzzz"]

# Learn, "host.json reference for Azure Functions 2.x and later", "Override host.json values": an
# app setting AzureFunctionsJobHost__<path>, the path's levels joined by double underscores,
# replaces the host.json value at that path.
HOST_JSON_OVERRIDE = "AzureFunctionsJobHost__"
POLLING = ("extensions", "durableTask", "storageProvider", "maxQueuePollingInterval")
# Learn, "Azure Storage provider for Durable Functions", "Queue polling": an idle task hub's
# control and work-item queues are polled with a random exponential back-off that grows up to
# maxQueuePollingInterval, so a message that arrives after a quiet spell may wait that long.
EXPRESS_POLLING_MAX = 1.0  # seconds

HUB_SETTINGS = {"main": ("taskHubs", "main"), "express": ("taskHubs", "express")}


def _main(templates) -> dict[str, Any]:
    return templates["main.bicep"]


def _names(templates) -> dict[str, str]:
    return _main(templates)["variables"]["names"]["value"]


def _arguments(templates, h, app: str) -> dict[str, Any]:
    return _main(templates)["modules"][h.APP_MODULES[app]]["config"]["params"]


def test_the_two_task_hubs_are_named_once_and_differ(templates, h):
    """Both hub names are in one variable. The main app keeps JobsHub, where its in-flight
    instances live; the express hub differs from it, also in letter case (the Azure Storage
    provider names its queues and containers in lower case)."""
    hubs = _main(templates)["variables"]["taskHubs"]["value"]
    assert hubs == {"main": "JobsHub", "express": "JobsExpress"}
    assert hubs["main"].lower() != hubs["express"].lower()
    for role, hub in hubs.items():
        assert TASK_HUB_NAME.fullmatch(hub), f"{role}: {hub!r} is not a valid task hub name"


def test_each_app_runs_its_own_hub_and_both_know_the_express_hub(templates, h):
    """host.json takes the hub from TASK_HUB_NAME; each app sets its own, and both get
    EXPRESS_TASK_HUB_NAME (the main app's API reaches express orders there)."""
    durable = json.loads((h.REPO / "host.json").read_text())["extensions"]["durableTask"]
    assert durable["hubName"] == "%TASK_HUB_NAME%"
    for app, hub in HUB_SETTINGS.items():
        settings = h.app_settings(templates, app)
        assert h.accessor(settings["TASK_HUB_NAME"]) == hub, app
        assert h.accessor(settings["EXPRESS_TASK_HUB_NAME"]) == HUB_SETTINGS["express"], app
        assert settings["APP_ROLE"] == app


def test_the_express_app_has_a_host_id_of_its_own(templates, h):
    """The two apps share the storage account, where the host keeps its per-app state under
    its host id. The main app keeps its default (changing an app's host id resets its timers'
    and blob triggers' state); the express app sets a valid one that is never the main app's
    default, whatever the environment name and token."""
    assert "AzureFunctionsWebHost__hostid" not in h.app_settings(templates, "main")
    express = h.app_settings(templates, "express")["AzureFunctionsWebHost__hostid"]
    host_id = h.resolve(express, _main(templates)["variables"])
    names = _names(templates)
    for environment in ENVIRONMENT_NAMES:
        for token in TOKENS:
            values = {"environmentName": environment, "token": token}
            rendered = h.render(host_id, values)
            assert HOST_ID.fullmatch(rendered), rendered
            main_default = h.render(names["functionApp"], values).lower()[:DEFAULT_HOST_ID_LENGTH]
            assert rendered != main_default, values


def test_without_it_the_default_host_ids_would_collide(templates, h):
    """Why the express app needs its own: for a long environment name the two app names share
    their first 32 characters, so their default host ids would be the same."""
    names = _names(templates)
    values = {"environmentName": "jobs-production", "token": TOKENS[0]}
    main, express = (h.render(names[key], values) for key in ("functionApp", "expressApp"))
    assert main != express
    assert main[:DEFAULT_HOST_ID_LENGTH] == express[:DEFAULT_HOST_ID_LENGTH]


def test_the_express_app_has_its_own_plan_identity_and_deployment_container(templates, h):
    """Flex allows one app per plan; each app runs as its own identity (only its roles); each
    has its own deployment container, since Flex keeps an app's package as one blob of a fixed
    name there. Storage, Service Bus and Application Insights are shared."""
    main, express = (_arguments(templates, h, app) for app in ("main", "express"))
    for argument in ("name", "planName", "identityId", "identityClientId"):
        assert h.accessor(main[argument]) != h.accessor(express[argument]), argument
    assert main["deploymentContainerUrl"] != express["deploymentContainerUrl"]
    variables = _main(templates)["variables"]
    for arguments, container in (
        (main, "deploymentContainer"),
        (express, "expressDeploymentContainer"),
    ):
        assert arguments["deploymentContainerUrl"].endswith("}${" + container + "}")
        assert h.resolve(container, variables) in h.resolve("containers", variables)
    for argument in ("storageAccountName", "serviceBusNamespace", "appInsightsConnectionString"):
        assert main[argument] == express[argument], argument


def test_azd_deploys_the_package_to_both_apps(templates, h):
    """azure.yaml has one service per app, both the repository's package as a Python function
    app; each site carries its service's azd-service-name tag."""
    services = yaml.safe_load((h.REPO / "azure.yaml").read_text())["services"]
    tagged = {_arguments(templates, h, app)["serviceName"] for app in h.APP_MODULES}
    assert set(services) == tagged == {"api", "express"}
    for name, service in services.items():
        assert service == {"project": ".", "language": "python", "host": "function"}, name
    site = h.resources(templates, "Microsoft.Web/sites")[0][2]
    tags = site["tags"]["function"]
    assert tags["type"] == "union"
    assert tags["parameters"]["arg_2"] == {"'azd-service-name'": "serviceName"}


def test_the_deployment_outputs_both_app_names_and_nothing_else_of_the_express_app(templates, h):
    outputs = _main(templates)["outputs"]
    assert h.accessor(outputs["AZURE_FUNCTION_APP_NAME"]["value"]) == (
        "functionApp",
        "outputs",
        "name",
    )
    assert h.accessor(outputs["AZURE_EXPRESS_FUNCTION_APP_NAME"]["value"]) == (
        "expressApp",
        "outputs",
        "name",
    )
    express = [name for name in outputs if "EXPRESS" in name]
    assert express == ["AZURE_EXPRESS_FUNCTION_APP_NAME"]


def test_the_express_app_polls_its_quiet_task_hub_within_a_second(templates, h):
    """The express hub is idle most of the time, so with host.json's 10 s an express order
    could wait up to 10 s before it starts and again before its first activity. The express
    app overrides the interval to at most 1 s (the main app keeps host.json's); the override
    names a value host.json has, so renaming it there cannot leave the override pointing at
    nothing."""
    host = json.loads((h.REPO / "host.json").read_text())
    for key in POLLING:
        host = host[key]
    name = HOST_JSON_OVERRIDE + "__".join(POLLING)
    overrides = {
        app: {
            k: v
            for k, v in h.app_settings(templates, app).items()
            if k.startswith(HOST_JSON_OVERRIDE)
        }
        for app in ("main", "express")
    }
    assert overrides["main"] == {}
    assert set(overrides["express"]) == {name}
    express = parse_timespan(overrides["express"][name])
    assert 0 < express <= EXPRESS_POLLING_MAX < parse_timespan(host)
