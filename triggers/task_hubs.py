"""Express orders run in the express app's own task hub: this finds the hub that runs an order."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import azure.durable_functions as df

import app_config
from adapters.factory import root
from domain.orders import ORDER_ID, instance_id_for

MAIN = "main"
EXPRESS = "express"
_PREFIX = instance_id_for("")
# The SDK's own seams for its HTTP calls (instance attributes, set in its constructor).
_REQUESTS = ("_get_async_request", "_post_async_request", "_delete_async_request")


def hub_of_request(express: bool) -> str:
    return EXPRESS if express else MAIN


def on_hub(client: df.DurableOrchestrationClient, hub: str) -> df.DurableOrchestrationClient:
    """`client` with every call made in the role `hub`'s task hub.

    The app's own hub is `client` itself. For the other, a durable client binding with
    `task_hub` is not enough in Python: the SDK sends its calls to the extension's local RPC
    endpoint without the hub, and the endpoint then serves the app's own hub
    (HttpApiHandler.GetClient reads only the `taskHub` query parameter). So each call names it.
    """
    if hub == app_config.app_role():
        return client
    name = app_config.express_hub_name() if hub == EXPRESS else None
    if name is None:  # the express app never reaches the main hub
        raise ValueError(f"the {app_config.app_role()} app does not reach the {hub} task hub")
    routed = copy.copy(client)
    for attribute in _REQUESTS:
        setattr(routed, attribute, _naming_hub(getattr(client, attribute), name))
    return routed


def _naming_hub(call: Callable[..., Awaitable[Any]], hub: str) -> Callable[..., Awaitable[Any]]:
    async def call_on_hub(url: str, *args: Any, **kwargs: Any) -> Any:
        return await call(with_task_hub(url, hub), *args, **kwargs)

    return call_on_hub


def with_task_hub(url: str, hub: str) -> str:
    """`url` with `taskHub=<hub>`, unless it names one already (raise_event can)."""
    query = urlsplit(url).query
    if any(key.lower() == "taskhub" for key, _ in parse_qsl(query, keep_blank_values=True)):
        return url
    separator = "&" if query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urlencode({'taskHub': hub})}"


async def client_for(
    client: df.DurableOrchestrationClient, instance_id: str
) -> df.DurableOrchestrationClient:
    """The client of the hub that runs `instance_id`: an order's claimed hub, else main."""
    order_id = instance_id.removeprefix(_PREFIX)
    if order_id == instance_id or not ORDER_ID.fullmatch(order_id):
        return client  # not an order: every other job runs in the main hub
    hub = await asyncio.to_thread(root.orders().orders.hub_of, order_id)
    return on_hub(client, hub or MAIN)


def every_hub(client: df.DurableOrchestrationClient) -> list[df.DurableOrchestrationClient]:
    """A client for each hub the main app looks after (retention, the supervisor)."""
    return [client, on_hub(client, EXPRESS)]
