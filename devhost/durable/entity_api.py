"""The extension's entity endpoints: signal an entity, read its state (HttpApiHandler)."""

from __future__ import annotations

import json

from aiohttp import web

from devhost.durable.entities import EntityScheduler, UnknownEntity
from devhost.durable.entity_wire import EntityWireError, client_input

# When reading, the key `$` stands for the empty key (HttpApiHandler.EmptyEntityKeySymbol);
# a signal for the empty key leaves the key out of the URL.
EMPTY_KEY_SYMBOL = "$"


def _bad_request(message: str) -> web.Response:
    # CreateErrorResponse(HttpStatusCode.BadRequest, message): a body with only "Message".
    return web.json_response({"Message": message}, status=400)


class EntityHttpApi:
    """`POST|DELETE entities/{name}/{key}?op=` and `GET entities/{name}/{key}`."""

    def __init__(self, scheduler: EntityScheduler, webhook_path: str) -> None:
        self.scheduler = scheduler
        self.path = webhook_path

    def routes(self) -> list[web.RouteDef]:
        p = self.path + "/entities/{name}/{key}"
        # Without a key the route's default, the empty key, applies to signals.
        no_key = self.path + "/entities/{name}"
        return [
            web.get(p, self.read_state),
            web.post(p, self.signal),
            web.delete(p, self.signal),
            web.post(no_key, self.signal),
            web.delete(no_key, self.signal),
        ]

    async def signal(self, request: web.Request) -> web.Response:
        # DELETE is the extension's shorthand for the operation "delete".
        operation = "delete" if request.method == "DELETE" else request.query.get("op", "")
        try:
            input_text = client_input(await request.text(), request.content_type)
            await self.scheduler.signal(
                request.match_info["name"],
                request.match_info.get("key", ""),
                operation,
                input_text,
            )
        except (EntityWireError, UnknownEntity) as exc:
            return _bad_request(str(exc))
        return web.Response(status=202)

    async def read_state(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key == EMPTY_KEY_SYMBOL:
            key = ""
        exists, state = await self.scheduler.read_state(request.match_info["name"], key)
        if not exists:
            return web.Response(status=404)
        # The state is stored as the entity's JSON text; the body is that value as a JToken
        # serializes it (compact).
        value = json.loads(state) if state is not None else None
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return web.Response(status=200, text=body, content_type="application/json")
