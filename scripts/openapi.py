"""Writes api/openapi.json from the app's payload models: the API's one description, generated.

`python scripts/openapi.py` writes the document; `--check` exits 1 with a diff when the committed
one is stale (tests/unit/test_openapi_document.py runs the same comparison). Request bodies are
the models the routes read (validation-mode schemas), answers the models they build
(serialization-mode), each job type's start is a path of its own from the job registry, and
what a schema cannot say (cross-field rules) is in the operation's description.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from pydantic.json_schema import models_json_schema  # noqa: E402

from domain.fulfilment import (  # noqa: E402
    ApprovalLinkDecision,
    ApprovalLinkRequest,
    ApprovalRequest,
    CancelRequest,
)
from domain.health import HealthReport  # noqa: E402
from domain.order_requests import OrderRequest  # noqa: E402
from triggers.correlation import PATTERN as CORRELATION_ID_PATTERN  # noqa: E402
from triggers.job_registry import JOB_TYPES  # noqa: E402
from triggers.views import (  # noqa: E402
    ApprovalSummary,
    JobAccepted,
    JobCancelAccepted,
    JobView,
    OrderAccepted,
    OrderCommandAccepted,
    OrderView,
    Problem,
)

OUTPUT = ROOT / "api" / "openapi.json"
REF = "#/components/schemas/{model}"
JSON, PROBLEM_JSON = "application/json", "application/problem+json"


def schema(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def body(model: type[BaseModel] | str, *, media: str = JSON) -> dict[str, Any]:
    name = model if isinstance(model, str) else model.__name__
    return {media: {"schema": schema(name)}}


def answer(description: str, model: type[BaseModel] | str | None = None, **kw: Any) -> dict:
    """One response: its description, its body's model, and headers by component name."""
    response: dict[str, Any] = {"description": description}
    if model is not None:
        media = PROBLEM_JSON if model is Problem else JSON
        response["content"] = body(model, media=media)
    if headers := kw.get("headers"):
        response["headers"] = {
            name: {"$ref": f"#/components/headers/{ref}"} for name, ref in headers.items()
        }
    return response


def problem(description: str) -> dict[str, Any]:
    return answer(description, Problem)


def shared(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


STARTED = {"Location": "Location", "Retry-After": "RetryAfter"}
KEY = shared("FunctionKeyRequired")
CORRELATION = {"$ref": "#/components/parameters/CorrelationId"}
ORDER_ID = {"$ref": "#/components/parameters/OrderId"}
ASYNC_REQUEST_REPLY = (
    "Asynchronous Request-Reply: answers 202 with this app's own status and cancel URLs, never "
    "the Durable extension's management URLs (they carry the system key). Idempotent: a repeated "
    "start returns the existing job."
)
CANCEL_400 = "The body is not JSON, or not a CancelRequest (problems in `errors`)."


def job_path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema("JobId"),
    }


def job_started(not_found: str | None = None) -> dict[str, Any]:
    """The answers to a job start: 202 started or running, 200 already ran, 400, 401, and a
    404 where the start can name something that does not exist."""
    responses = {
        "202": answer(
            "Started, or already running (`duplicate`). Poll `Location`.",
            JobAccepted,
            headers=STARTED,
        ),
        "200": answer(
            "The job already ran: its status and result.", JobView, headers={"Location": "Location"}
        ),
        "400": shared("InvalidRequest"),
        "401": KEY,
    }
    if not_found:
        responses["404"] = problem(not_found)
    return responses


def start_operation(job: Any) -> dict[str, Any]:
    """POST /jobs/<type>: that type's request and answers."""
    rules = f" {job.rules}" if job.rules else ""
    not_found = "There is no upload of this name." if job.name == "thumbnail" else None
    responses = job_started(not_found)
    return {
        "operationId": f"jobs_start_{job.name.replace('-', '_')}",
        "tags": ["jobs"],
        "summary": f"Start a `{job.name}` job",
        "description": ASYNC_REQUEST_REPLY + rules,
        "parameters": [CORRELATION],
        "requestBody": {"required": True, "content": body(job.request)},
        "responses": responses,
    }


def paths() -> dict[str, Any]:
    job_types = {
        "post": {
            "operationId": "jobs_start",
            "tags": ["jobs"],
            "summary": "Start a job of a type",
            "description": ASYNC_REQUEST_REPLY
            + " The path's type picks the request form; /jobs/<type> describes each one.",
            "parameters": [
                {
                    "name": "job",
                    "in": "path",
                    "required": True,
                    "description": "The job type.",
                    "schema": schema("JobType"),
                },
                CORRELATION,
            ],
            "requestBody": {"required": True, "content": body("JobRequest")},
            "responses": job_started(
                "There is no job type of this name, or (thumbnail jobs) no upload of this name."
            ),
        },
        "get": {
            "operationId": "jobs_status",
            "tags": ["jobs"],
            "summary": "A job's status, progress and result",
            "parameters": [job_path("job", "The job's id (`id` in the start answer).")],
            "responses": {
                "200": answer(
                    "Runtime status, step, progress, and result or error once finished.", JobView
                ),
                "401": KEY,
                "404": shared("JobNotFound"),
            },
        },
    }
    document: dict[str, Any] = {
        "/health": {
            "get": {
                "operationId": "health",
                "tags": ["operations"],
                "summary": "Health probe",
                "description": "Anonymous, for load balancers and availability tests. Holds no "
                "secret or stack trace.",
                "security": [],
                "responses": {
                    "200": answer("Every dependency answered.", HealthReport),
                    "503": answer("A dependency failed; treat the instance as down.", HealthReport),
                },
            }
        },
        "/orders": {
            "post": {
                "operationId": "orders_start",
                "tags": ["orders"],
                "summary": "Place an order (starts its workflow once)",
                "description": "The same as POST /jobs/order. Each sku at most once in `lines` "
                "(a rule JSON Schema cannot state).",
                "parameters": [CORRELATION],
                "requestBody": {"required": True, "content": body(OrderRequest)},
                "responses": {
                    "202": answer(
                        "Started, or already running (`duplicate`). Poll `Location`.",
                        OrderAccepted,
                        headers=STARTED,
                    ),
                    "200": answer(
                        "The order already ran: its outcome.",
                        OrderView,
                        headers={"Location": "Location"},
                    ),
                    "400": shared("InvalidRequest"),
                    "401": KEY,
                },
            }
        },
        "/orders/{order_id}": {
            "parameters": [ORDER_ID],
            "get": {
                "operationId": "orders_status",
                "tags": ["orders"],
                "summary": "An order's workflow status",
                "responses": {
                    "200": answer("Status, step, progress and outcome.", OrderView),
                    "401": KEY,
                    "404": shared("OrderNotFound"),
                },
            },
        },
        "/orders/{order_id}/cancel": {
            "parameters": [ORDER_ID],
            "post": {
                "operationId": "orders_cancel",
                "tags": ["orders"],
                "summary": "Cancel an order",
                "description": "Raises the workflow's cancellation event (never a terminate): "
                "completed steps are undone in reverse. The body is optional: none (or white "
                "space only) asks without a reason.",
                "requestBody": {"required": False, "content": body(CancelRequest)},
                "responses": {
                    "202": answer("Cancellation requested.", OrderCommandAccepted),
                    "400": problem(CANCEL_400),
                    "401": KEY,
                    "404": shared("OrderNotFound"),
                    "409": problem("The order has finished or is already being shipped."),
                },
            },
        },
        "/orders/{order_id}/approval": {
            "parameters": [ORDER_ID],
            "post": {
                "operationId": "orders_approval",
                "tags": ["orders"],
                "summary": "Approve or reject an order waiting for approval",
                "requestBody": {"required": True, "content": body(ApprovalRequest)},
                "responses": {
                    "202": answer("Decision accepted.", OrderCommandAccepted),
                    "400": problem(
                        "The body is not JSON or not an ApprovalRequest (problems in `errors`)."
                    ),
                    "401": problem(
                        "The approval token is missing or not valid (malformed, forged or "
                        "expired); in Azure also a missing function key (empty body)."
                    ),
                    "403": problem("The approval token is for another order."),
                    "404": shared("OrderNotFound"),
                    "409": problem(
                        "The order is not waiting for an approval decision, or another decision "
                        "came first."
                    ),
                    "503": problem(
                        "Approvals are not configured (no signing key), or the decision could "
                        "not be delivered (nothing changed; try again)."
                    ),
                },
            },
        },
        **approval_page_paths(),
        "/jobs/{job}": job_types,
        "/jobs/{job}/cancel": {
            "post": {
                "operationId": "jobs_cancel",
                "tags": ["jobs"],
                "summary": "Cancel a job",
                "description": "For orders the same as POST /orders/{order_id}/cancel: an event, "
                "and completed steps are undone. For monitors an event: the monitor stops "
                "polling and reports `cancelled`. The body is optional.",
                "parameters": [job_path("job", "The job's id.")],
                "requestBody": {"required": False, "content": body(CancelRequest)},
                "responses": {
                    "202": answer(
                        "Cancellation requested; poll `Location` for the outcome.",
                        JobCancelAccepted,
                        headers={"Location": "Location"},
                    ),
                    "400": problem(CANCEL_400),
                    "401": KEY,
                    "404": shared("JobNotFound"),
                    "409": problem(
                        "The job has finished or is past the point where it can be cancelled."
                    ),
                },
            }
        },
        "/monitors": {
            "post": {
                **start_operation(JOB_TYPES["monitor"]),
                "operationId": "monitors_start",
                "summary": "Start a monitor of an external operation (a job of type `monitor`)",
                "description": "The same as POST /jobs/monitor. The monitor polls `status_url` "
                "through the outbound guard on durable timers with backoff until `condition` "
                "holds on its JSON answer, `failure_condition` holds, or it expires; then it "
                "reports through the job API, the status record, the topic and the optional "
                "callback webhook. See docs/monitor.md. " + JOB_TYPES["monitor"].rules,
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi_document",
                "tags": ["operations"],
                "summary": "This OpenAPI document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The document.",
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["openapi", "info", "paths"],
                                }
                            }
                        },
                    }
                },
            }
        },
    }
    for job in JOB_TYPES.values():
        document[f"/jobs/{job.name}"] = {"post": start_operation(job)}
    return document


TEXT = {"schema": {"type": "string"}}
APPROVAL_PAGE = (
    "Anonymous: the token from the link's fragment, sent in the body, is the only credential."
)


def approval_page_paths() -> dict[str, Any]:
    """The approval page (triggers/approval_page.py): a page, its assets, and two POSTs."""
    token_401 = problem("The token is malformed, forged or expired.")
    unavailable = "Approvals are not configured (no signing key)"
    return {
        "/approvals": {
            "get": {
                "operationId": "approval_page",
                "tags": ["approvals"],
                "summary": "The approval page an approval link opens",
                "description": "The same HTML for everyone: the link's token is in its "
                "fragment, which browsers never send. Changes nothing.",
                "security": [],
                "responses": {"200": {"description": "The page.", "content": {"text/html": TEXT}}},
            }
        },
        "/approvals/assets/{name}": {
            "get": {
                "operationId": "approval_asset",
                "tags": ["approvals"],
                "summary": "The approval page's script and style sheet",
                "security": [],
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "description": "approval.js or approval.css.",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "content": {"text/javascript": TEXT, "text/css": TEXT},
                    },
                    "404": {"description": "No such file (empty body)."},
                },
            }
        },
        "/approvals/summary": {
            "post": {
                "operationId": "approval_summary",
                "tags": ["approvals"],
                "summary": "What the approver of a link sees before deciding",
                "description": APPROVAL_PAGE + " Reads only.",
                "security": [],
                "requestBody": {"required": True, "content": body(ApprovalLinkRequest)},
                "responses": {
                    "200": answer("The order as the approver needs it.", ApprovalSummary),
                    "400": problem("The body is not JSON or not an ApprovalLinkRequest."),
                    "401": token_401,
                    "404": shared("OrderNotFound"),
                    "503": problem(unavailable + "."),
                },
            }
        },
        "/approvals/decision": {
            "post": {
                "operationId": "approval_decision",
                "tags": ["approvals"],
                "summary": "Approve or reject the order an approval link names",
                "description": APPROVAL_PAGE + " The first decision on an order wins.",
                "security": [],
                "requestBody": {"required": True, "content": body(ApprovalLinkDecision)},
                "responses": {
                    "202": answer("Decision accepted.", OrderCommandAccepted),
                    "400": problem("The body is not JSON or not an ApprovalLinkDecision."),
                    "401": token_401,
                    "403": problem(
                        "APPROVAL_REQUIRE_SIGNED_IN is on and the signed-in user is not the "
                        "link's approver."
                    ),
                    "404": shared("OrderNotFound"),
                    "409": problem(
                        "The order is not waiting for a decision, or another decision came first."
                    ),
                    "503": problem(
                        unavailable + ", or the decision could not be delivered (nothing "
                        "changed; try again)."
                    ),
                },
            }
        },
    }


def schemas() -> dict[str, Any]:
    """Every model's schema under #/components/schemas/<its name>, and the job registry's."""
    requests = [OrderRequest, CancelRequest, ApprovalRequest, ApprovalLinkRequest]
    requests += [ApprovalLinkDecision]
    requests += [job.request for job in JOB_TYPES.values()]
    answers: list[type[BaseModel]] = [
        Problem,
        HealthReport,
        OrderAccepted,
        OrderView,
        OrderCommandAccepted,
        ApprovalSummary,
        JobAccepted,
        JobView,
        JobCancelAccepted,
    ]
    answers += [job.result for job in JOB_TYPES.values()]
    pairs: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (model, "validation") for model in dict.fromkeys(requests)
    ] + [(model, "serialization") for model in dict.fromkeys(answers)]
    _, top = models_json_schema(pairs, ref_template=REF)
    found: dict[str, Any] = components(dict(sorted(top.get("$defs", {}).items())))
    names = [job.name for job in JOB_TYPES.values()]
    found["JobType"] = {"description": "A job type the API offers.", "enum": names}
    found["JobId"] = {
        "description": "A job's id: its orchestration instance id, of the form its type gives.",
        "anyOf": [
            {"type": "string", "pattern": f"^{job.ids.pattern}$"} for job in JOB_TYPES.values()
        ],
    }
    found["JobRequest"] = {
        "description": "What a job type takes; the path's type picks the form, and a body of "
        "another type's form is answered 400.",
        "anyOf": [schema(job.request.__name__) for job in JOB_TYPES.values()],
    }
    found["JobResult"] = {
        "description": "A finished job's result, of its type's form.",
        "anyOf": [schema(job.result.__name__) for job in JOB_TYPES.values()],
    }
    return found


def components(node: Any) -> Any:
    """A member marked `x-component` (triggers/views.py) becomes a reference to that component,
    which this script writes from the job registry."""
    if isinstance(node, dict):
        if "x-component" in node:
            return schema(node["x-component"])
        return {key: components(value) for key, value in node.items()}
    if isinstance(node, list):
        return [components(value) for value in node]
    return node


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Background jobs on Azure Durable Functions",
            "version": "1.0.0",
            "description": "Start background jobs and follow them (Asynchronous Request-Reply), "
            "place and manage orders, monitor external operations, probe health. Every route "
            "except /health and /openapi.json needs a function key in Azure. Generated from the "
            "app's models by scripts/openapi.py. See docs/job-api.md.",
        },
        "servers": [
            {
                "url": "/api",
                "description": "The Function app's routes, under host.json's routePrefix.",
            }
        ],
        "security": [{"functionKeyHeader": []}, {"functionKeyQuery": []}],
        "tags": [
            {"name": "jobs", "description": "The job API: start, status, cancel."},
            {"name": "orders", "description": "The order workflow's own endpoints."},
            {"name": "approvals", "description": "The page an approval link opens."},
            {"name": "operations", "description": "Health and this document."},
        ],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "responses": {
                "FunctionKeyRequired": {
                    "description": "In Azure: no valid function key was given (the Functions "
                    "host answers with an empty body). Not enforced by devhost."
                },
                "OrderNotFound": problem(
                    "No order with this id has been started (or its history was purged), or the "
                    "id is malformed."
                ),
                "JobNotFound": problem(
                    "No job with this id has been started (or its history was purged), or no job "
                    "type gives ids of this form."
                ),
                "InvalidRequest": problem(
                    "The body is not JSON (nesting is bounded, no NaN or Infinity, no unpaired "
                    "surrogate escapes, no member name twice in one object), or it has the "
                    "problems listed in `errors` (members the schema does not name are refused); "
                    "or the x-correlation-id header is malformed."
                ),
            },
            "parameters": {
                "CorrelationId": {
                    "name": "x-correlation-id",
                    "in": "header",
                    "required": False,
                    "description": "Carried through every step, log line and message of the "
                    "job; a new id when missing. Anything else than 1-128 letters, digits or "
                    "`._:-` (an empty value too) is refused (400).",
                    "schema": {"type": "string", "pattern": CORRELATION_ID_PATTERN},
                },
                "OrderId": {
                    "name": "order_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The order's id (a malformed one is answered 404).",
                },
            },
            "headers": {
                "Location": {
                    "description": "This app's status URL for the job or order.",
                    "required": True,
                    "schema": {"type": "string", "format": "uri"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before polling the status URL.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
            },
            "securitySchemes": {
                "functionKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-functions-key",
                    "description": "A function key or the host's default key (`az functionapp "
                    "function keys list`, `az functionapp keys list`).",
                },
                "functionKeyQuery": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "code",
                    "description": "The same key as a query parameter; prefer the header, query "
                    "strings end up in logs.",
                },
            },
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if api/openapi.json is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current == text:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                "api/openapi.json (committed)",
                "api/openapi.json (generated)",
            )
        )
        return 1
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
