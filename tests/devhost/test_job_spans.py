"""One job, one set of ids: trigger and activity spans share the correlation id and instance id.

The app at the repository root runs on devhost (Azurite, the Service Bus stand-in, a span
file). The in-memory test calls the real HTTP trigger `orders_start` in this process, with a
`func.HttpRequest` and a durable client bound to devhost, exactly as the worker would; devhost
runs the workflow; then every activity the workflow scheduled is called again in this process
with the input recorded in its history (activities are idempotent, so running one twice is
what at-least-once delivery does anyway). The spans land in an OpenTelemetry
InMemorySpanExporter. Only the two activities that send outside storage (`publish_job_update`
to Service Bus, `deliver_webhook`) are left to devhost, whose span file the second test reads.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.factory import build_order_adapters
from adapters.payments import SIMULATED
from adapters.telemetry import CORRELATION_ID, INSTANCE_ID
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.durable.api import client_binding_json
from devhost.testing import DURABLE, PROJECT_ROOT, DevHostProcess, linked_app

TOKEN = f"spn{uuid.uuid4().hex[:12]}"
CUSTOMER = {
    "name": f"Span {TOKEN} Person",
    "email": f"{TOKEN}@example.invalid",
    "address": f"{TOKEN} Trace Lane",
}
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
# Activities that reach Service Bus or a caller's URL: run by devhost only.
OUTBOUND = {"publish_job_update", "deliver_webhook"}


@pytest.fixture(scope="module")
def host(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DevHostProcess, dict[str, str], Path]]:
    state = tmp_path_factory.mktemp("job-spans")
    spans = state / "spans.jsonl"
    app = _app_keeping_inputs(tmp_path_factory.mktemp("app"))
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PAYMENT_PROVIDER": SIMULATED,
        "ServiceBusConnection": EMULATOR,
        "DEVHOST_SPANS_FILE": str(spans),
    }
    with DevHostProcess(app, state_dir=state, virtual_time=True, env=env) as running:
        yield running, env, spans


def _app_keeping_inputs(folder: Path) -> Path:
    """The repository's app, unchanged, with host.json's storeInputsInOrchestrationHistory on
    (an option Azure has too), so the history holds what each activity was called with."""
    linked_app(folder, skip={"host.json", "tests", "bench", "node_modules"})
    settings = json.loads((PROJECT_ROOT / "host.json").read_text())
    settings["extensions"]["durableTask"]["storeInputsInOrchestrationHistory"] = True
    (folder / "host.json").write_text(json.dumps(settings))
    return folder


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """An in-memory exporter on this process's SDK tracer provider (one is made if none is)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return memory


def _order(connection_string: str) -> dict[str, Any]:
    sku = f"SKU-{uuid.uuid4().hex[:8].upper()}"
    connection = StorageConnection(connection_string=connection_string)
    build_order_adapters(
        connection, order_storage_names({}), payment_provider=SIMULATED
    ).stock.set_level(sku, 5)
    return {
        "order_id": f"span-{uuid.uuid4().hex[:12]}",
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price_cents": 2_500}],
        "customer": CUSTOMER,
    }


def _user_function(module: Any, name: str) -> Any:
    return getattr(module, name)._function.get_user_function()


def _registered(blueprint: Any) -> dict[str, Any]:
    """The functions a blueprint registers, by name, as the worker indexes them."""
    app = df.DFApp()
    app.register_functions(blueprint)
    return {fn.get_function_name(): fn.get_user_function() for fn in app.get_functions()}


def _activities(host: DevHostProcess, instance_id: str) -> list[tuple[str, Any]]:
    """(activity name, input as the worker hands it over) of every completed activity, in
    order, from the extension's history API."""
    response = host.http.get(
        host.url(f"{DURABLE}/instances/{instance_id}"),
        params={"showHistory": "true", "showInput": "true"},
        timeout=30,
    )
    response.raise_for_status()
    return [
        (event["FunctionName"], event.get("Input"))
        for event in response.json()["historyEvents"]
        if event["EventType"] == "TaskCompleted"
    ]


def _assert_no_body_or_personal_data(attributes: dict[str, Any], body: dict[str, Any]) -> None:
    for key, value in attributes.items():
        text = str(value)
        assert TOKEN not in text, f"personal data in span attribute {key}"
        # No serialized payload: a message body, an order's lines or a customer block.
        assert not text.lstrip().startswith(("{", "[")), f"a payload in span attribute {key}"
        assert text != json.dumps(body), key


def test_trigger_and_activity_spans_share_ids_in_memory(
    host: tuple[DevHostProcess, dict[str, str], Path],
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, env, _ = host
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from activities import orders as order_activities
    from triggers import orders_http

    body = _order(env["AzureWebJobsStorage"])
    correlation = f"corr-{uuid.uuid4().hex[:10]}"
    instance_id = f"order-{body['order_id']}"
    request = func.HttpRequest(
        "POST",
        f"{running.url('/api/orders')}?code=secret-function-key",
        headers={"Content-Type": "application/json", "x-correlation-id": correlation},
        body=json.dumps(body).encode(),
    )
    client = client_binding_json(running.base_url, "JobsHub", "devhost-local-system-key")

    async def start() -> func.HttpResponse:
        from azure.durable_functions.models.utils.http_utils import _close_session

        try:
            return await _user_function(orders_http, "orders_start")(req=request, client=client)
        finally:
            await _close_session()  # the SDK's session is bound to this loop

    response = asyncio.run(start())
    assert response.status_code == 202, response.get_body()
    status = running.wait_for(instance_id, timeout=120)
    assert status["runtimeStatus"] == "Completed", status

    local = [(n, data) for n, data in _activities(running, instance_id) if n not in OUTBOUND]
    assert {"record_order", "reserve_stock", "take_payment", "ship_order"} <= {n for n, _ in local}
    registered = _registered(order_activities.bp)
    for name, data in local:
        registered[name](payload=json.loads(data))

    spans: list[ReadableSpan] = list(exporter.get_finished_spans())
    names = [span.name for span in spans]
    assert names[0] == "start order from http"
    assert names[1:] == [name for name, _ in local]
    for span in spans:
        attributes = dict(span.attributes or {})
        assert attributes[CORRELATION_ID] == correlation, span.name
        assert attributes[INSTANCE_ID] == instance_id, span.name
        assert attributes["job.type"] == "order", span.name
        _assert_no_body_or_personal_data(attributes, body)


def test_devhost_run_spans_share_ids(host: tuple[DevHostProcess, dict[str, str], Path]) -> None:
    """The same through devhost end to end: HTTP start, then every activity, its spans filed."""
    running, env, spans_file = host
    body = _order(env["AzureWebJobsStorage"])
    correlation = f"corr-{uuid.uuid4().hex[:10]}"
    instance_id = f"order-{body['order_id']}"
    response = running.http.post(
        running.url("/api/orders"), json=body, headers={"x-correlation-id": correlation}, timeout=30
    )
    assert response.status_code == 202, response.text
    status = running.wait_for(instance_id, timeout=120)
    assert status["runtimeStatus"] == "Completed", status
    running.wait_idle(timeout=60)

    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    mine = [s for s in spans if s["attributes"].get(INSTANCE_ID) == instance_id]
    names = {s["name"] for s in mine}
    scheduled = {name for name, _ in _activities(running, instance_id)}
    assert "start order from http" in names
    assert scheduled <= names, scheduled - names  # every activity, outbound ones included
    for span in mine:
        assert span["attributes"][CORRELATION_ID] == correlation, span["name"]
    for span in spans:
        _assert_no_body_or_personal_data(span["attributes"], body)
