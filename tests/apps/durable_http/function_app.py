"""A test app whose orchestrators use call_http: GET, POST, 202 polling, token sources, failures."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.activity_trigger(input_name="value")
def echo(value: str) -> str:
    return f"echo {value}"


@app.orchestration_trigger(context_name="context")
def http_get(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    response = yield context.call_http("GET", spec["url"], headers=spec.get("headers"))
    return response


@app.orchestration_trigger(context_name="context")
def http_post(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    response = yield context.call_http(
        "POST",
        spec["url"],
        content=spec["content"],
        headers=spec.get("headers"),
        is_raw_str=spec.get("raw", False),
    )
    return response


@app.orchestration_trigger(context_name="context")
def http_poll(context: df.DurableOrchestrationContext):
    """The Async Request-Reply pattern as a Python orchestrator must write it: call_http
    returns the 202 itself, so the orchestrator waits and polls its Location."""
    spec = context.get_input()
    response = yield context.call_http("POST", spec["url"], content={"job": "report"})
    statuses = [response["statusCode"]]
    while response["statusCode"] == 202:
        delay = int(response["headers"].get("Retry-After", "1"))
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=delay))
        response = yield context.call_http("GET", response["headers"]["Location"])
        statuses.append(response["statusCode"])
    return {"statuses": statuses, "final": response}


@app.orchestration_trigger(context_name="context")
def http_with_token(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    token = df.ManagedIdentityTokenSource("https://management.core.windows.net")
    try:
        response = yield context.call_http("GET", spec["url"], token_source=token)
    except Exception as error:
        return {"error": str(error)}
    return {"response": response}


@app.orchestration_trigger(context_name="context")
def http_unreachable(context: df.DurableOrchestrationContext):
    """A network failure is an exception the orchestrator can catch; later calls go on."""
    spec = context.get_input()
    try:
        yield context.call_http("GET", spec["url"])
        caught = None
    except Exception as error:
        caught = str(error)
    after = yield context.call_activity("echo", "after")
    return {"error": caught, "after": after}


@app.orchestration_trigger(context_name="context")
def http_uncaught(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    response = yield context.call_http("GET", spec["url"])
    return response


@app.orchestration_trigger(context_name="context")
def http_fan_out(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    tasks = [context.call_http("GET", f"{spec['url']}?n={n}") for n in range(spec["count"])]
    responses = yield context.task_all(tasks)
    return [r["content"] for r in responses]
