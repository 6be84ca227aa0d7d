"""Serves HTTP-triggered functions: route matching, request/response conversion, errors."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from azure.functions import meta

from devhost.bindings import BindingInputs, UnsupportedBinding
from devhost.indexing import IndexedFunction, IndexingError
from devhost.invoker import FunctionInvocationError, Invoker
from devhost.outputs import deliver_outputs
from devhost.routing import RouteTemplate, RouteTemplateError, ordinal_ignore_case
from devhost.servicebus.outputs import OutputError

log = logging.getLogger("devhost.host")


@dataclass
class HttpRoute:
    function: IndexedFunction
    template: RouteTemplate
    methods: frozenset[str] | None

    @property
    def display_methods(self) -> str:
        return ",".join(sorted(self.methods)) if self.methods else "*"


def build_routes(functions: list[IndexedFunction]) -> list[HttpRoute]:
    """Routes in the host's registration order: by function name, case-insensitively.

    The host registers one ASP.NET Route per function in a plain RouteCollection, in the order
    FunctionMetadataManager returns them (OrderBy name, StringComparer.OrdinalIgnoreCase), and
    the first route that matches wins; there is no ordering by how specific a template is.
    """
    ordered = sorted(functions, key=lambda fn: ordinal_ignore_case(fn.name))
    return [_route(fn) for fn in ordered if fn.trigger_type == "httpTrigger"]


def _route(fn: IndexedFunction) -> HttpRoute:
    trigger = fn.trigger
    route = trigger.get("route") or fn.name
    try:
        template = RouteTemplate(route)
    except RouteTemplateError as exc:
        raise IndexingError(f"Function '{fn.name}' has an invalid route: {exc}") from exc
    methods = trigger.get("methods")
    return HttpRoute(fn, template, frozenset(m.upper() for m in methods) if methods else None)


def _string_values(values: list[str]) -> str:
    """StringValues.ToString(): the non-empty values joined with ','."""
    return ",".join(v for v in values if v)


def _query(request: web.Request) -> dict[str, str]:
    """Request.Query as the host sends it: keys case-insensitive (first spelling kept), repeated
    values joined, and keys whose joined value is empty left out."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for key, value in request.query.items():
        grouped.setdefault(ordinal_ignore_case(key), (key, []))[1].append(value)
    joined = {key: _string_values(values) for key, values in grouped.values()}
    return {key: value for key, value in joined.items() if value}


def _headers(request: web.Request) -> dict[str, str]:
    """Request.Headers as the host sends them: lower-case names, repeated values joined."""
    return {key.lower(): _string_values(request.headers.getall(key)) for key in request.headers}


def _request_datum(request: web.Request, body: bytes, route_params: dict[str, str]) -> meta.Datum:
    headers = _headers(request)
    query = _query(request)
    return meta.Datum(
        {
            "method": meta.Datum(request.method, "string"),
            "url": meta.Datum(str(request.url), "string"),
            "headers": {k: meta.Datum(v, "string") for k, v in headers.items()},
            "query": {k: meta.Datum(v, "string") for k, v in query.items()},
            "params": {k: meta.Datum(v, "string") for k, v in route_params.items()},
            "body": meta.Datum(body, "bytes"),
        },
        "http",
    )


def _to_response(datum: meta.Datum | None) -> web.Response:
    if datum is None:
        return web.Response(status=204)
    if datum.type == "string":
        return web.Response(status=200, text=datum.value, content_type="text/plain")
    if datum.type == "http":
        value = datum.value
        status = int(value["status_code"].value)
        headers = {k: v.value for k, v in value["headers"].items()}
        body = value["body"].value if value.get("body") is not None else b""
        response = web.Response(status=status, body=body)
        for key, header in headers.items():
            response.headers[key] = header
        for cookie in value.get("cookies") or []:
            for morsel in cookie.values():
                response.headers.add("Set-Cookie", morsel.OutputString())
        return response
    raise TypeError(f"an HTTP function returned unsupported data of type {datum.type}")


class HttpTriggerHost:
    """Dispatches requests under the route prefix to the matching function."""

    def __init__(
        self,
        functions: list[IndexedFunction],
        invoker: Invoker,
        route_prefix: str,
        inputs: BindingInputs,
        app_dir: Path,
    ) -> None:
        self.routes = build_routes(functions)
        self.invoker = invoker
        self.route_prefix = route_prefix
        self.inputs = inputs
        self.app_dir = app_dir

    def url_for(self, route: HttpRoute, base_url: str) -> str:
        prefix = f"/{self.route_prefix}" if self.route_prefix else ""
        return f"{base_url}{prefix}/{route.template.template}"

    def match(self, path: str, method: str) -> tuple[HttpRoute, dict[str, str]] | None:
        prefix = ordinal_ignore_case(f"/{self.route_prefix}") if self.route_prefix else ""
        folded = ordinal_ignore_case(path)
        if prefix and not (folded == prefix or folded.startswith(prefix + "/")):
            return None
        rest = path[len(prefix) :]
        for route in self.routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            params = route.template.match(rest)
            if params is not None:
                return route, params
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = self.match(request.path, request.method)
        if found is None:
            return web.Response(status=404)
        route, params = found
        fn = route.function
        body = await request.read()
        invocation_id = str(uuid.uuid4())
        try:
            inputs = self.inputs.for_function(fn, _request_datum(request, body, params))
        except UnsupportedBinding as exc:
            log.error("%s", exc)
            return web.json_response({"error": str(exc)}, status=500)
        try:
            result = await self.invoker.invoke(fn, inputs, invocation_id=invocation_id)
            await deliver_outputs(fn, result, self.app_dir)
        except FunctionInvocationError:
            return web.Response(status=500)
        except OutputError as exc:
            log.error("Function '%s' (Id=%s): %s", fn.name, invocation_id, exc)
            return web.Response(status=500)
        datum = result.return_value
        if datum is None:
            datum = next(
                (d for name, d in result.outputs.items() if d.type in ("http", "string")), None
            )
        try:
            return _to_response(datum)
        except (TypeError, KeyError, ValueError) as exc:
            log.error(
                "Function '%s' (Id=%s) returned an invalid response: %s",
                fn.name,
                invocation_id,
                exc,
            )
            return web.Response(status=500)
