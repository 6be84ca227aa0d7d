"""A test app for devhost's HTTP triggers: routes, methods, bodies, responses, threads, errors."""

import asyncio
import hashlib
import json
import threading

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _json(payload: object, status_code: int = 200) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(payload), status_code=status_code, mimetype="application/json"
    )


# -- route templates -------------------------------------------------------------------------


@app.route(route="hello/{name}", methods=["GET"])
def hello(req: func.HttpRequest) -> str:
    """A plain str return becomes a 200 text/plain response."""
    return f"Hello, {req.route_params['name']}"


@app.route(route="items/{id?}", methods=["GET"])
def items(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": req.route_params.get("id")})


@app.route(route="things/{id:int}", methods=["GET"])
def thing_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "id", "id": int(req.route_params["id"])})


@app.route(route="things/{slug:alpha}", methods=["GET"])
def thing_by_slug(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "slug", "slug": req.route_params["slug"]})


@app.route(route="things/latest", methods=["GET"])
def latest_thing(req: func.HttpRequest) -> func.HttpResponse:
    """Tried before thing_by_id and thing_by_slug because its name sorts first."""
    return _json({"by": "literal"})


# -- route order: the host tries routes by function name, not by specificity -----------------


@app.route(route="shadow/{*rest}", methods=["GET"])
def shadow_any(req: func.HttpRequest) -> func.HttpResponse:
    """Sorts before shadow_exact, so it answers every GET under shadow/, even shadow/exact."""
    return _json({"by": "shadow_any", "rest": req.route_params.get("rest")})


@app.route(route="shadow/exact", methods=["GET", "POST"])
def shadow_exact(req: func.HttpRequest) -> func.HttpResponse:
    """Reached only by methods shadow_any does not take."""
    return _json({"by": "shadow_exact"})


@app.function_name("Bravo_pick")
@app.route(route="pick/{x:alpha}", methods=["GET"])
def bravo_pick(req: func.HttpRequest) -> func.HttpResponse:
    """'B' < 'a' in a case-sensitive sort; the host ignores case, so alpha_pick comes first."""
    return _json({"by": "Bravo_pick"})


@app.function_name("alpha_pick")
@app.route(route="pick/{x}", methods=["GET"])
def alpha_pick(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "alpha_pick"})


@app.function_name("tie_b")
@app.route(route="tie/{*rest}", methods=["GET"])
def tie_b(req: func.HttpRequest) -> func.HttpResponse:
    """OrdinalIgnoreCase compares upper-cased names: 'TIE_B' > 'TIEA' since '_' > 'A'."""
    return _json({"by": "tie_b"})


@app.function_name("tieA")
@app.route(route="tie/{x}", methods=["GET"])
def tie_a(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "tieA"})


# -- methods ---------------------------------------------------------------------------------


@app.route(route="orders", methods=["POST"])
def create_order(req: func.HttpRequest) -> func.HttpResponse:
    order = req.get_json()
    return _json({"created": order, "total": sum(line["qty"] for line in order["lines"])}, 201)


@app.route(route="orders", methods=["GET"])
def list_orders(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"orders": []})


@app.route(route="any")
def any_method(req: func.HttpRequest) -> func.HttpResponse:
    """No `methods`: every method is allowed."""
    return _json({"method": req.method})


# -- request and response data ---------------------------------------------------------------


@app.route(route="echo", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return _json(
        {
            "method": req.method,
            "url": req.url,
            "params": dict(req.params),
            "x_demo": req.headers.get("X-Demo"),
            "x_repeated": req.headers.get("x-repeated"),
        }
    )


@app.route(route="binary", methods=["POST"])
def binary(req: func.HttpRequest) -> func.HttpResponse:
    """Returns the request body reversed, with its length and digest in headers."""
    body = req.get_body()
    return func.HttpResponse(
        body[::-1],
        mimetype="application/octet-stream",
        headers={"X-Length": str(len(body)), "X-Sha256": hashlib.sha256(body).hexdigest()},
    )


@app.route(route="teapot", methods=["GET"])
def teapot(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        "short and stout",
        status_code=418,
        headers={"X-Custom": "kettle"},
        mimetype="text/html",
        charset="utf-8",
    )


# -- execution: event loop, threads, failures, context ---------------------------------------


@app.route(route="async/loop", methods=["GET"])
async def async_loop(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return _json(
        {
            "loop_id": id(asyncio.get_running_loop()),
            "thread": threading.current_thread().name,
        }
    )


@app.route(route="sync/thread", methods=["GET"])
def sync_thread(req: func.HttpRequest) -> func.HttpResponse:
    current = threading.current_thread()
    return _json({"thread": current.name, "is_main": current is threading.main_thread()})


@app.route(route="explode", methods=["GET"])
def explode(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("kaboom from explode")


@app.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"invocation_id": context.invocation_id, "function_name": context.function_name})


@app.function_name("RenamedGreeting")
@app.route(route="renamed", methods=["GET"])
def greeting_with_another_name(req: func.HttpRequest, context: func.Context) -> str:
    return f"I am {context.function_name}"


@app.function_name("DefaultRoute")
@app.route(methods=["GET"])
def route_from_function_name(req: func.HttpRequest) -> str:
    """No route: the host uses the function name as the route."""
    return "routed by function name"
