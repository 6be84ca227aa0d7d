"""api/openapi.json is generated from the app's models, describes exactly the app's HTTP routes,
and its schemas are JSON Schema.

The routes come from indexing function_app with the azure-functions library's own
get_functions(), as the Python worker does, so a new route without a documented path (or a
documented path without a route) fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from domain.fulfilment import Step
from domain.orders import CURRENCIES, OrderStatus
from triggers.job_answers import JobUrls, job_view
from triggers.job_registry import JOB_TYPES
from triggers.order_job import ORDER_JOB

ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENT = ROOT / "api" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOC_URI = "urn:app:openapi.json"
JSON, PROBLEM = "application/json", "application/problem+json"

# Indexing runs in a child interpreter, as in test_function_app.py: importing function_app
# here would leave it in sys.modules for every later test.
_INDEX_SCRIPT = """
import json
import function_app
print(json.dumps([
    {"function": fn.get_function_name(), **json.loads(b)}
    for fn in function_app.app.get_functions()
    for b in fn.get_raw_bindings()
    if json.loads(b)["type"] == "httpTrigger"
]))
"""


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def http_triggers() -> list[dict[str, Any]]:
    completed = subprocess.run(
        [sys.executable, "-c", _INDEX_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def route_prefix() -> str:
    host = json.loads((ROOT / "host.json").read_text())
    return host.get("extensions", {}).get("http", {}).get("routePrefix", "api")


def shape(path: str) -> str:
    """A path with its parameters unnamed: `/api/jobs/{type}` and `/api/jobs/{job}` are one
    path (OpenAPI forbids two templates that differ only in parameter names)."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def app_routes(http_triggers: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    prefix = route_prefix()
    routes = {}
    for trigger in http_triggers:
        path = "/" + "/".join(p for p in (prefix, trigger["route"]) if p)
        for method in trigger["methods"]:
            routes[(shape(path), method.lower())] = trigger
    return routes


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS & item.keys():
            yield path, method, item[method]


def doc_operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    server = doc["servers"][0]["url"].rstrip("/")
    return {(shape(server + path), method): op for path, method, op in operations(doc)}


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def schemas_in_operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object an operation uses inline: parameters, bodies, responses, headers."""
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        params = doc["paths"][path].get("parameters", []) + op.get("parameters", [])
        for param in params:
            yield f"{where} parameter", resolve(doc, param)["schema"]
        bodies = [resolve(doc, op["requestBody"])] if "requestBody" in op else []
        for code, response in op["responses"].items():
            response = resolve(doc, response)
            bodies.append(response)
            for header in response.get("headers", {}).values():
                yield f"{where} {code} header", resolve(doc, header)["schema"]
        for body in bodies:
            for media, content in body.get("content", {}).items():
                yield f"{where} {media}", content["schema"]


def validator(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer`, with the document's $refs resolvable."""
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry = Registry().with_resource(DOC_URI, resource)
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry)


# -- the document and the app agree --------------------------------------------------------


def test_the_committed_document_is_the_generated_one() -> None:
    """scripts/openapi.py writes the document from the models; run it after changing one."""
    generated = subprocess.run(
        [sys.executable, "scripts/openapi.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout[-3000:] + generated.stderr[-3000:]


def templated_route(path: str, method: str, routes: dict[tuple[str, str], Any]) -> bool:
    """A concrete path (/api/jobs/order) that a templated route (/api/jobs/{}) serves."""
    parts = path.split("/")
    return any(
        m == method
        and len(shape_parts := route.split("/")) == len(parts)
        and all(r in ("{}", p) for r, p in zip(shape_parts, parts, strict=True))
        for route, m in routes
    )


def test_every_http_route_is_a_documented_path_and_nothing_else(
    doc: dict[str, Any], http_triggers: list[dict[str, Any]]
) -> None:
    routes, documented = app_routes(http_triggers), doc_operations(doc)
    assert routes, "indexing found no HTTP triggers"
    assert sorted(routes.keys() - documented.keys()) == [], "routes missing from the document"
    extra = [key for key in documented.keys() - routes.keys() if not templated_route(*key, routes)]
    assert extra == [], "documented paths with no route"
    # The concrete ones are each job type's start, served by POST /api/jobs/{job}.
    concrete = sorted(path for path, _ in documented.keys() - routes.keys())
    assert concrete == sorted(f"/api/jobs/{name}" for name in JOB_TYPES)


def test_operation_ids_are_the_function_names(
    doc: dict[str, Any], http_triggers: list[dict[str, Any]]
) -> None:
    routes, documented = app_routes(http_triggers), doc_operations(doc)
    assert {key: documented[key]["operationId"] for key in routes} == {
        key: trigger["function"] for key, trigger in routes.items()
    }
    for name in JOB_TYPES:  # each type's start names the function and the type
        op = documented[(f"/api/jobs/{name}", "post")]
        assert op["operationId"] == f"jobs_start_{name.replace('-', '_')}"


def test_security_matches_each_routes_auth_level(
    doc: dict[str, Any], http_triggers: list[dict[str, Any]]
) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {
        ("query", "code"),
        ("header", "x-functions-key"),
    }
    assert doc["security"] == [{name: []} for name in schemes]
    documented, routes = doc_operations(doc), app_routes(http_triggers)
    served = {key: routes[("/api/jobs/{}", "post")] for key in documented.keys() - routes.keys()}
    for key, trigger in {**routes, **served}.items():
        op = documented[key]
        if trigger["authLevel"] == "ANONYMOUS":
            assert op.get("security") == [], f"{key} is anonymous"
        else:
            assert "security" not in op, f"{key} needs a function key: the global requirement"
            assert "401" in op["responses"], f"{key}: a missing key is answered 401 in Azure"


def test_job_types_in_the_document_are_the_registry(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert set(schemas["JobType"]["enum"]) == set(JOB_TYPES)
    # One request, result and id form per type: adding a type means documenting it too.
    for name in ("JobRequest", "JobResult", "JobId"):
        assert len(schemas[name]["anyOf"]) == len(JOB_TYPES), name
    ids = validator(doc, "/components/schemas/JobId")
    for job_id in ("order-A-1", "order-x_2", "order-" + "9" * 64):
        assert ORDER_JOB.owns(job_id) and ids.is_valid(job_id), job_id
    for job_id in ("order-", "order--x", "A-1", "order-a b", "order-" + "9" * 65):
        assert not ORDER_JOB.owns(job_id) and not ids.is_valid(job_id), job_id


def test_enums_in_the_document_are_the_codes(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert set(schemas["Step"]["enum"]) == {str(step) for step in Step}
    assert set(schemas["OrderStatus"]["enum"]) == {str(status) for status in OrderStatus}
    assert schemas["WorkflowResult"]["properties"]["status"] == {
        "$ref": "#/components/schemas/OrderStatus"
    }
    assert set(schemas["RuntimeStatus"]["enum"]) == {s.value for s in OrchestrationRuntimeStatus}
    assert set(schemas["OrderRequest"]["properties"]["currency"]["enum"]) == set(CURRENCIES)


# -- the document is well formed -----------------------------------------------------------


def test_the_document_is_openapi_3_1_shaped(doc: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"][0]["url"] == "/" + route_prefix()
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    shapes = [shape(path) for path in doc["paths"]]
    assert len(shapes) == len(set(shapes)), "two paths differ only in parameter names"
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op["responses"], where
        for code, response in op["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", code), f"{where}: {code}"
            assert resolve(doc, response)["description"], f"{where} {code}"
            # Client errors are problem details; a 5xx may be either (the health probe's 503
            # is its report).
            expected = {"2": {JSON}, "4": {PROBLEM}, "5": {JSON, PROBLEM}}.get(code[0], set())
            if method == "get" and op["tags"] == ["approvals"]:  # the page and its files
                expected = {"text/html", "text/javascript", "text/css"}
            assert set(resolve(doc, response).get("content", {})) <= expected, f"{where} {code}"
        params = doc["paths"][path].get("parameters", []) + op.get("parameters", [])
        in_path = {p["name"] for p in map(lambda p: resolve(doc, p), params) if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{([^}]+)\}", path)), where
        assert all(resolve(doc, p)["required"] for p in params if resolve(doc, p)["in"] == "path")


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        assert resolve(doc, {"$ref": ref}) is not None


def test_every_component_schema_is_valid_json_schema_2020_12(doc: dict[str, Any]) -> None:
    for name, schema in doc["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:
            pytest.fail(f"components/schemas/{name}: {error}")


def test_every_schema_an_operation_uses_is_valid_json_schema_2020_12(
    doc: dict[str, Any],
) -> None:
    found = list(schemas_in_operations(doc))
    assert len(found) > 20
    for where, schema in found:
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:
            pytest.fail(f"{where}: {error}")


def test_the_problem_schema_takes_rfc_9457_bodies(doc: dict[str, Any]) -> None:
    problem = validator(doc, "/components/schemas/Problem")
    body = {
        "type": "urn:problem-type:jobs:invalid-request",
        "title": "Invalid job request",
        "status": 400,
        "detail": "The request has problems listed in errors.",
        "errors": [{"detail": "currency: one of EUR, GBP, USD", "pointer": "#/currency"}],
    }
    problem.validate(body)
    assert not problem.is_valid({**body, "status": "400"})
    assert not problem.is_valid({k: v for k, v in body.items() if k != "type"})


# -- job status views the live tests cannot easily produce ---------------------------------


def _status(runtime: str, output: Any, custom: Any) -> DurableOrchestrationStatus:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return DurableOrchestrationStatus(
        name="process_order",
        instanceId="order-A-1",
        createdTime=moment.isoformat(),
        lastUpdatedTime=moment.isoformat(),
        input='{"order": "never shown"}',
        output=output,
        runtimeStatus=runtime,
        customStatus=custom,
    )


URLS = JobUrls("https://app.example/api/jobs")


def test_a_failed_jobs_view_gives_the_first_line_of_its_error(doc: dict[str, Any]) -> None:
    failed = _status(
        "Failed",
        "Orchestrator function 'process_order' failed: boom \n Traceback ...\n  line 2",
        {"step": "compensating", "progress": 90},
    )
    view = job_view(ORDER_JOB, failed, URLS)
    validator(doc, "/components/schemas/JobView").validate(view)
    assert view["error"] == "Orchestrator function 'process_order' failed: boom"
    assert "result" not in view and "cancel_url" not in view
    assert "never shown" not in json.dumps(view)


def test_a_running_jobs_view_offers_cancelling(doc: dict[str, Any]) -> None:
    view = job_view(ORDER_JOB, _status("Running", None, None), URLS)
    validator(doc, "/components/schemas/JobView").validate(view)
    assert (view["step"], view["progress"]) == (None, None)
    assert view["status_url"] == "https://app.example/api/jobs/order-A-1"
    assert view["cancel_url"] == "https://app.example/api/jobs/order-A-1/cancel"
    assert view["created_time"] == "2026-01-02T03:04:05+00:00"


def patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)


# Compiles each pattern as JavaScript does, with the `u` flag JSON Schema validators use.
_ECMA_SCRIPT = """
const failed = [];
for (const p of JSON.parse(require("fs").readFileSync(0, "utf8"))) {
  try { new RegExp(p, "u"); } catch (e) { failed.push(p + ": " + e.message); }
}
console.log(JSON.stringify(failed));
"""


def test_every_pattern_is_an_ecma_262_regular_expression(doc: dict[str, Any]) -> None:
    """JSON Schema patterns are ECMA-262 regular expressions (2020-12, "Regular Expressions"):
    a Python-only construct would be refused or read differently by clients in other
    languages. Node, which the tests' Azurite runs on, compiles each one."""
    found = sorted(set(patterns(doc)))
    assert len(found) > 10
    done = subprocess.run(
        ["node", "-e", _ECMA_SCRIPT],
        input=json.dumps(found),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == []
