"""A test app for task hubs on devhost: one orchestrator, one entity, and an HTTP function with
two durable clients, one for the app's own hub and one for the hub OTHER_TASK_HUB names."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# The SDK's seams for its HTTP calls (instance attributes, set in its constructor).
_REQUESTS = ("_get_async_request", "_post_async_request", "_delete_async_request")


@app.orchestration_trigger(context_name="context")
def waits_for_approval(context: df.DurableOrchestrationContext):
    approval = yield context.wait_for_external_event("Approve")
    return {"approved": approval}


@app.entity_trigger(context_name="context")
def tally(context: df.DurableEntityContext) -> None:
    context.set_state(context.get_state(lambda: 0) + context.get_input())


@app.route(route="alive", methods=["GET"])
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("yes")


def _naming_hub(call: Callable[..., Awaitable[Any]], hub: str) -> Callable[..., Awaitable[Any]]:
    async def call_on_hub(url: str, *args: Any, **kwargs: Any) -> Any:
        separator = "&" if "?" in url else "?"
        return await call(f"{url}{separator}taskHub={hub}", *args, **kwargs)

    return call_on_hub


def _on_binding_hub(client: df.DurableOrchestrationClient) -> df.DurableOrchestrationClient:
    """Every call names the binding's hub: the SDK's calls to the RPC endpoint do not."""
    hub = client._orchestration_bindings.task_hub_name
    for attribute in _REQUESTS:
        setattr(client, attribute, _naming_hub(getattr(client, attribute), hub))
    return client


@app.route(route="hubs/{binding}/{operation}/{instance_id?}", methods=["GET", "POST"])
@app.durable_client_input(client_name="own")
@app.durable_client_input(client_name="other", task_hub="%OTHER_TASK_HUB%")
async def hubs(
    req: func.HttpRequest, own: df.DurableOrchestrationClient, other: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """One client call through the binding named in the route; `?name_hub=false` leaves the
    SDK's calls as they are (without taskHub)."""
    client = own if req.route_params["binding"] == "own" else other
    if req.params.get("name_hub") != "false":
        client = _on_binding_hub(client)
    iid = req.route_params.get("instance_id")
    op = req.route_params["operation"]
    if op == "binding":
        bindings = client._orchestration_bindings
        result: Any = {
            "taskHubName": bindings.task_hub_name,
            "creationUrls": bindings.creation_urls,
            "managementUrls": bindings.management_urls,
            "rpcBaseUrl": bindings.rpc_base_url,
        }
    elif op == "start":
        await client.start_new("waits_for_approval", iid)
        return client.create_check_status_response(req, iid)
    elif op == "status":
        status = await client.get_status(iid)
        result = status.to_json() if status.runtime_status else None
    elif op == "raise":
        await client.raise_event(iid, "Approve", req.get_json())
        result = "raised"
    elif op == "terminate":
        await client.terminate(iid, "enough")
        result = "terminated"
    elif op == "purge":
        result = (await client.purge_instance_history(iid)).instances_deleted
    elif op == "signal":
        await client.signal_entity(df.EntityId("tally", iid), "add", req.get_json())
        result = "signalled"
    else:
        raise ValueError(f"unknown operation {op}")
    return func.HttpResponse(json.dumps(result, default=str), mimetype="application/json")
