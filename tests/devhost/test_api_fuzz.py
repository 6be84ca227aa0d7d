"""Schemathesis fuzzes the app on devhost from api/openapi.json: every answer is as documented."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from devhost.azurite import Azurite
from devhost.testing import PROJECT_ROOT

DOCUMENT = PROJECT_ROOT / "api" / "openapi.json"
# The same requests every run: the seed fixes the data Hypothesis draws (which also depends on
# the document and on the constants of the app modules the test session has imported).
SEED = 20_261_207
# Random requests per operation, after the document's examples and schemathesis's coverage
# cases (boundaries, missing and wrongly typed members, undeclared methods). The whole module
# takes about a minute on two cores, with the workflows that valid orders, monitors and
# reports start running in the background.
MAX_EXAMPLES = 50

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            # A failure is reported as generated: shrinking would send many more requests.
            "no-shrink": True,
            # No example database: nothing replays a previous run's failures.
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)

# Schema-violating requests refused and schema-valid ones accepted count a documented answer to
# generated data as right: 404 for an id nobody started, 401 for an approval token nobody
# signed, 409 for a finished order. Not run: `unsupported_method`, which wants 405 for a method
# an operation does not declare (TRACE /api/health); devhost answers 404, as the Functions host
# does when no function's route takes the method.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
    schemathesis.checks.positive_data_acceptance,
]

ENV = {
    "PAYMENT_PROVIDER": "simulated",
    "APPROVAL_SIGNING_KEY": "api-fuzz-test-approval-signing-key-0123456789",
    "WEBHOOK_SIGNING_KEY": "api-fuzz-test-webhook-signing-key-0123456789",
    # Nothing is allow-listed: generated status and callback URLs meet the outbound guard's
    # rules for Azure (and, with no DNS answer for their hosts, fail their first call for good).
    "OUTBOUND_ALLOWED_HOSTS": "",
    "WEBHOOK_ALLOWED_HOSTS": "",
    # The probe's 503 is documented, but a 5xx fails not_a_server_error: a busy machine must not
    # make the storage check time out.
    "HEALTH_TIMEOUT_SECONDS": "30",
}
DEFAULT_INTERVAL_SECONDS = 30
MAX_TESTS = 20


@pytest.fixture(scope="module")
def app_url(
    tmp_path_factory: pytest.TempPathFactory,
    both_apps: Callable[..., AbstractContextManager[Any]],
) -> Iterator[str]:
    """The main app's /api on a devhost of its own (free port, own Azurite, virtual time), with
    the express app beside it: a generated order marked express runs in its hub."""
    azurite = Azurite(tmp_path_factory.mktemp("api-fuzz-azurite"), project_root=PROJECT_ROOT)
    azurite.start()
    try:
        env = {**ENV, "AzureWebJobsStorage": azurite.connection_string}
        state = tmp_path_factory.mktemp("api-fuzz-devhost")
        # No fsync: this state is thrown away, and every valid order starts a workflow.
        with both_apps(
            PROJECT_ROOT, state_dir=state, virtual_time=True, env=env, fsync=False
        ) as apps:
            yield apps.main.url("/api")
    finally:
        azurite.stop()


@schema.parametrize()
def test_every_answer_is_documented(case: schemathesis.Case, app_url: str) -> None:
    """No server error; status, content type, headers and body as documented; schema-violating
    requests refused, schema-valid ones accepted."""
    within_documented_rules(case)
    case.call_and_validate(base_url=app_url, checks=CHECKS, timeout=30)


# -- rules the document states in words ------------------------------------------------------


def _form(name: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        "urn:api", Resource.from_contents(schema.raw_schema, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:api#/components/schemas/{name}"}, registry=registry)


# Each job type and the request form it takes (JobRequest in the document).
JOB_FORMS = {
    "order": _form("OrderRequest"),
    "monitor": _form("MonitorRequest"),
    "thumbnail": _form("ThumbnailRequest"),
    "nightly-report": _form("ReportRequest"),
}


def within_documented_rules(case: schemathesis.Case) -> None:
    """Make a schema-valid request keep the rules the document states but JSON Schema cannot.

    - POST /jobs/{job}: the type in the path picks the JobRequest form (it becomes a type
      whose form the body is);
    - an order names each sku at most once (a line with a sku seen before is dropped);
    - a monitor's `max_interval_seconds` and `expires_in_seconds` are at least its
      `interval_seconds` (raised to it), and a condition holds at most 20 tests (a larger one
      is cut down to its first test);
    - a nightly report's day is not after today, UTC (a later day becomes today).

    Requests generated to violate the schema are sent as they are.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    body: dict[str, Any] = case.body
    if case.operation.label == "POST /jobs/{job}":
        forms = [name for name, form in JOB_FORMS.items() if form.is_valid(body)]
        if forms and case.path_parameters.get("job") not in forms:
            case.path_parameters["job"] = forms[0]
    if JOB_FORMS["order"].is_valid(body):
        _one_line_per_sku(body)
    if JOB_FORMS["monitor"].is_valid(body):
        _monitor_rules(body)
    if JOB_FORMS["nightly-report"].is_valid(body):
        body["day"] = min(body["day"], datetime.now(UTC).date().isoformat())


def _one_line_per_sku(order: dict[str, Any]) -> None:
    seen: set[str] = set()
    lines = []
    for line in order["lines"]:
        if line["sku"] not in seen:
            seen.add(line["sku"])
            lines.append(line)
    order["lines"] = lines


def _monitor_rules(monitor: dict[str, Any]) -> None:
    interval = monitor.get("interval_seconds")
    interval = DEFAULT_INTERVAL_SECONDS if interval is None else interval
    for name in ("max_interval_seconds", "expires_in_seconds"):
        if monitor.get(name) is not None and monitor[name] < interval:
            monitor[name] = interval
    for name in ("condition", "failure_condition"):
        condition = monitor.get(name)
        if condition is not None and _tests_in(condition) > MAX_TESTS:
            monitor[name] = _first_test(condition)


def _terms(condition: dict[str, Any]) -> list[dict[str, Any]]:
    """The conditions under an all/any/not (a test has none)."""
    if "pointer" in condition:
        return []
    if "not" in condition:
        return [condition["not"]]
    (terms,) = condition.values()
    return list(terms)


def _tests_in(condition: dict[str, Any]) -> int:
    terms = _terms(condition)
    return sum(_tests_in(term) for term in terms) if terms else 1


def _first_test(condition: dict[str, Any]) -> dict[str, Any]:
    terms = _terms(condition)
    return _first_test(terms[0]) if terms else condition
