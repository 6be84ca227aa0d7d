"""Task hub rules the two apps (main and express) depend on, from the Durable extension, its
Python SDK and Core Tools, checked against what the repository ships."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import azure.durable_functions as df

from triggers.task_hubs import EXPRESS, on_hub

ROOT = Path(__file__).resolve().parents[3]
RPC = "http://127.0.0.1:17071/durabletask/"
# A hub name with the Azure Storage provider: 3 to 45 letters and digits, starting with a letter.
HUB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")


def binding_for(hub: str) -> str:
    """The binding data the extension gives a Python client bound to `hub`: the hub in
    taskHubName and the management URLs, not in rpcBaseUrl."""
    return json.dumps(
        {
            "taskHubName": hub,
            "creationUrls": {},
            "managementUrls": {"id": "INSTANCEID"},
            "baseUrl": "http://127.0.0.1:7071/runtime/webhooks/durabletask",
            "requiredQueryStringParameters": "code=k",
            "rpcBaseUrl": RPC,
        }
    )


def recording(client: df.DurableOrchestrationClient) -> list[str]:
    """The URLs of `client`'s HTTP calls, recorded in place of sending them."""
    urls: list[str] = []

    async def get(url: str, *args: Any, **kwargs: Any) -> list[Any]:
        urls.append(url)
        return [404, "none"]

    async def post(url: str, *args: Any, **kwargs: Any) -> list[Any]:
        urls.append(url)
        return [202, {"id": "x"}]

    client._get_async_request = get
    client._post_async_request = post
    return urls


def start_and_look(client: df.DurableOrchestrationClient) -> None:
    async def run() -> None:
        await client.start_new("process_order", "order-x", {})
        await client.get_status("order-x")

    asyncio.run(run())


def test_a_python_client_bound_to_another_hub_does_not_name_it_in_its_calls(
    monkeypatch: Any,
) -> None:
    """Rule: the Python SDK sends start and status calls to the extension's local RPC endpoint
    (rpcBaseUrl) without the binding's task hub, and the endpoint serves the hub named by the
    request's `taskHub` query parameter, else the app's own: a `durable_client_input(task_hub=)`
    alone would act on the main hub. So the main app names the express hub on every call.
    Source: azure-functions-durable (Python) DurableOrchestrationClient._get_start_new_url and
    get_status; Azure/azure-functions-durable-extension, src/WebJobs.Extensions.DurableTask,
    HttpApiHandler.GetClient and Bindings/BindingHelper.DurableOrchestrationClientToString."""
    bound = df.DurableOrchestrationClient(binding_for("JobsExpress"))
    plain = recording(bound)
    start_and_look(bound)
    assert len(plain) == 2 and all("taskHub" not in url for url in plain)  # the SDK's own way

    monkeypatch.setenv("APP_ROLE", "main")
    monkeypatch.setenv("EXPRESS_TASK_HUB_NAME", "JobsExpress")
    main = df.DurableOrchestrationClient(binding_for("JobsHub"))
    routed_calls = recording(main)
    start_and_look(on_hub(main, EXPRESS))
    assert len(routed_calls) == 2
    assert all(url.endswith("?taskHub=JobsExpress") for url in routed_calls)


def test_each_app_names_its_task_hub_through_an_app_setting() -> None:
    """Rule: host.json's durableTask.hubName may be an app setting reference (%Setting%), and a
    task hub name with the Azure Storage provider is 3 to 45 letters and digits, starting with a
    letter; the main app keeps JobsHub, where its instances have always lived.
    Source: Learn, 'Task hubs in Durable Functions' (Task hub names) and 'host.json settings
    for Durable Functions'."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["durableTask"]["hubName"] == "%TASK_HUB_NAME%"
    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    hubs = (values["TASK_HUB_NAME"], values["EXPRESS_TASK_HUB_NAME"])
    assert hubs == ("JobsHub", "JobsExpress")
    assert all(HUB_NAME.fullmatch(hub) for hub in hubs)


def test_the_express_role_is_started_with_shell_variables_that_win_over_local_settings() -> None:
    """Rule: Core Tools (v4) sets local.settings.json Values as environment variables only where
    the variable is not already set, so `APP_ROLE=express ... func start` runs the express role
    from the same local.settings.json; devhost does the same.
    Source: Azure/azure-functions-core-tools, StartHostAction.UpdateEnvironmentVariables (v4;
    pull request 5108 'match v4 local.settings.json env-var precedence')."""
    readme = (ROOT / "README.md").read_text()
    command = "APP_ROLE=express TASK_HUB_NAME=JobsExpress AzureFunctionsWebHost__hostid=express"
    assert f"{command} func start --port 7072" in readme
    run_local = (ROOT / "scripts" / "run_local.py").read_text()
    assert '"APP_ROLE": "express"' in run_local and '"TASK_HUB_NAME": hub' in run_local
