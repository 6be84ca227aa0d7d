"""Alerts query what the app emits: every log alert's KQL names only metrics, dimensions, values
and log lines that adapters/telemetry.py defines, and the metric alerts name Service Bus's own
platform metrics.

Log alerts read the worker's own telemetry (azure-monitor-opentelemetry): a metric is a
customMetrics row whose `name` is the instrument's name and whose `customDimensions` are its
attributes; a log line is a traces row whose `message` is the formatted line. The Functions
host's fields in OpenTelemetry mode are not used (infra/modules/alerts.bicep says why).
tests/unit/test_telemetry.py checks that what the code exports carries the same constants, so a
renamed metric fails one of the two.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters import telemetry

ALERTS = "modules/alerts.bicep"
QUERY_RULE = "Microsoft.Insights/scheduledQueryRules"
METRIC_ALERT = "Microsoft.Insights/metricAlerts"

# The Application Insights tables the worker's exporter writes and what each holds.
APP_TABLES = {"customMetrics": "metrics", "traces": "log lines"}

# Service Bus platform metrics the metric alerts may use, with their dimension (Azure Monitor,
# "Supported metrics - Microsoft.ServiceBus/Namespaces": both are Count, aggregated as Average,
# Minimum or Maximum, dimension EntityName).
SERVICE_BUS_METRICS = {"DeadletteredMessages", "ActiveMessages"}
SERVICE_BUS_DIMENSIONS = {"EntityName"}
SERVICE_BUS_AGGREGATIONS = {"Average", "Minimum", "Maximum"}

# The values an alert may compare a dimension with, and whether case matters. job.outcome is
# "Failed" for orders and "failed" elsewhere: only a case-insensitive comparison (=~) sees both.
CASE_INSENSITIVE = {telemetry.ATTR_JOB_OUTCOME}


def express_latency_metric() -> str:
    """The express orders' latency histogram as adapters/telemetry.py names it, read from its
    source (METRIC_EXPRESS_LATENCY; EXPRESS_LATENCY_METRIC also counts), so that this module
    passes before the constant is there as after; until then, the name issue 20 gives it."""
    source = Path(telemetry.__file__).read_text()
    found = re.search(
        r'^(?:METRIC_EXPRESS_LATENCY|EXPRESS_LATENCY_METRIC)\s*=\s*"([^"]+)"', source, re.M
    )
    return found.group(1) if found else "orders.express_latency"


# Every metric the code records, with its attributes; the express latency histogram counts with
# no attribute before adapters/telemetry.py lists it.
EMITTED_METRICS: dict[str, frozenset[str]] = {
    express_latency_metric(): frozenset(),
    **telemetry.METRIC_ATTRIBUTES,
}


def allowed_values(heartbeat_jobs: Iterable[str]) -> dict[str, set[str]]:
    return {
        telemetry.ATTR_JOB_OUTCOME: {telemetry.OUTCOME_COMPLETED, telemetry.OUTCOME_FAILED},
        telemetry.ATTR_SUPERVISOR_ACTION: {str(action) for action in _supervisor_actions()},
        telemetry.ATTR_SUPERVISOR_OUTCOME: {telemetry.SUPERVISION_FAILED},
        telemetry.ATTR_HEARTBEAT_JOB: set(heartbeat_jobs),
    }


def _supervisor_actions() -> Iterable[Any]:
    from domain.supervision import Action

    return Action


# --- Reading a query -----------------------------------------------------------------------

STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
TABLE = re.compile(r"(?:^|[(,])\s*([A-Za-z_]\w*)\s*\|")
METRIC_EQUALS = re.compile(r'\bname\s*(?:==|=~)\s*"([^"]*)"')
METRIC_IN = re.compile(r"\bname\s+in\s*\(([^)]*)\)")
DIMENSION = re.compile(r'customDimensions\s*\[\s*"([^"]*)"\s*\]')
DIMENSION_DOT = re.compile(r"customDimensions\.(\w+)")
ALIAS = re.compile(r'(\w+)\s*=\s*tostring\(\s*customDimensions\s*\[\s*"([^"]*)"\s*\]\s*\)')
DIRECT_VALUE = re.compile(
    r'tostring\(\s*customDimensions\s*\[\s*"([^"]*)"\s*\]\s*\)\s*(==|=~|!=|!~)\s*"([^"]*)"'
)
MESSAGE = re.compile(
    r'\bmessage\s+(startswith|startswith_cs|hasprefix|has|contains|==)\s*"([^"]*)"'
)
INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


@dataclass
class QueryNames:
    """What one KQL query names: tables, metric names, dimension keys, compared values, lines."""

    tables: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)
    dimensions: set[str] = field(default_factory=set)
    values: set[tuple[str, str, str]] = field(default_factory=set)  # (dimension, op, value)
    messages: set[tuple[str, str]] = field(default_factory=set)  # (op, text)
    strings: list[str] = field(default_factory=list)  # every string literal, in order


def read_query(query: str) -> QueryNames:
    names = QueryNames(strings=STRING.findall(query))
    names.tables = set(TABLE.findall(query))
    names.metrics = set(METRIC_EQUALS.findall(query))
    for listed in METRIC_IN.findall(query):
        names.metrics |= set(STRING.findall(listed))
    names.dimensions = set(DIMENSION.findall(query)) | set(DIMENSION_DOT.findall(query))
    names.values = {(key, op, value) for key, op, value in DIRECT_VALUE.findall(query)}
    for alias, key in ALIAS.findall(query):
        compared = re.compile(rf'\b{re.escape(alias)}\s*(==|=~|!=|!~)\s*"([^"]*)"')
        names.values |= {(key, op, value) for op, value in compared.findall(query)}
    names.messages = set(MESSAGE.findall(query))
    return names


def check_query(
    query: str,
    *,
    log_lines: Iterable[str],
    values: Mapping[str, set[str]],
    metrics: Mapping[str, frozenset[str]] = EMITTED_METRICS,
) -> list[str]:
    """Problems of one rendered query: a name, value or line the code does not emit.

    `log_lines` are lines the code logs (examples rendered from its formats); a message filter
    must match one of them. Every string literal must be one of the recognised names, so a
    field the reader does not understand is reported rather than passed over.
    """
    problems: list[str] = []
    lines = list(log_lines)
    for unresolved in INTERPOLATION.findall(query):
        problems.append(f"unresolved Bicep interpolation ${{{unresolved}}}")
    names = read_query(query)
    if not names.tables:
        problems.append("no table: the query must start from customMetrics or traces")
    for table in sorted(names.tables - set(APP_TABLES)):
        problems.append(f"table {table}: the app's exporter writes only {sorted(APP_TABLES)}")
    if "customMetrics" in names.tables and not names.metrics:
        problems.append("customMetrics without a metric name filter")
    for metric in sorted(names.metrics - set(metrics)):
        problems.append(f"metric {metric!r} is not one adapters/telemetry.py records")
    known_dimensions: set[str] = set()
    for metric in names.metrics & set(metrics):
        known_dimensions |= metrics[metric]
    for dimension in sorted(names.dimensions - known_dimensions):
        problems.append(
            f"dimension {dimension!r} is not an attribute of {sorted(names.metrics) or 'any'}"
            " metric the query names"
        )
    for dimension, op, value in sorted(names.values):
        allowed = values.get(dimension)
        if allowed is None:
            problems.append(f"{dimension} {op} {value!r}: no value of {dimension} is known")
            continue
        if dimension in CASE_INSENSITIVE:
            if op not in ("=~", "!~"):
                problems.append(f"{dimension} {op} {value!r}: compare it case-insensitively (=~)")
            if value.lower() not in {v.lower() for v in allowed}:
                problems.append(f"{dimension} {op} {value!r}: not a value the code records")
        elif value not in allowed:
            problems.append(f"{dimension} {op} {value!r}: not a value the code records")
    if "traces" in names.tables and not names.messages:
        problems.append("traces without a message filter")
    for op, text in sorted(names.messages):
        if not any(_matches(op, text, line) for line in lines):
            problems.append(f"message {op} {text!r}: no line the code logs matches")
    recognised = (
        names.metrics
        | names.dimensions
        | {value for _, _, value in names.values}
        | {text for _, text in names.messages}
    )
    for literal in names.strings:
        if literal not in recognised:
            problems.append(f"string {literal!r}: not a metric, dimension, value or log line")
    return problems


def _matches(op: str, text: str, line: str) -> bool:
    if op in ("startswith", "hasprefix"):
        return line.lower().startswith(text.lower())
    if op == "startswith_cs":
        return line.startswith(text)
    if op == "==":
        return line == text
    return text.lower() in line.lower()  # has, contains


# --- The templates' side -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    file: str
    name: str
    query: str  # as written, with Bicep interpolations
    loop: str | None  # the loop variable of a `for` resource


def query_rules(templates: dict[str, dict[str, Any]]) -> list[Rule]:
    rules = []
    for file, parsed in templates.items():
        for name, resource in parsed.get("resources", {}).items():
            if resource["type"].lower() != QUERY_RULE.lower():
                continue
            config = resource["config"]
            loop = config.get("loop_type", {}).get("detail", {}).get("item_name")
            while "loop_type" in config or ("condition" in config and "config" in config):
                config = config["config"]
            for criterion in config["properties"]["criteria"]["allOf"]:
                rules.append(Rule(file, name, criterion["query"], loop))
    return rules


def heartbeat_jobs(templates: dict[str, dict[str, Any]]) -> list[str]:
    return templates["main.bicep"]["modules"]["alerts"]["config"]["params"]["heartbeatJobNames"]


def heartbeat_max_age(templates: dict[str, dict[str, Any]]) -> dict[str, str]:
    return templates[ALERTS]["parameters"]["heartbeatMaxAge"]["default"]


def renderings(rule: Rule, templates: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, query) with the interpolations this module knows replaced: `${job}` and
    `${heartbeatMaxAge[job]}` once per heartbeat job for a rule looping over them."""
    if rule.loop is None:
        return [(rule.name, rule.query)]
    max_age = heartbeat_max_age(templates)
    rendered = []
    for job in heartbeat_jobs(templates):
        query = rule.query.replace(f"${{heartbeatMaxAge[{rule.loop}]}}", max_age.get(job, ""))
        rendered.append((f"{rule.name}[{job}]", query.replace(f"${{{rule.loop}}}", job)))
    return rendered


def jobs_with_a_heartbeat(h: Any) -> set[str]:
    """Every job name the triggers pass to telemetry.heartbeat(): a string or a module-level
    string constant."""
    jobs: set[str] = set()
    for path in sorted((h.REPO / "triggers").glob("*.py")):
        tree = ast.parse(path.read_text())
        constants = {
            node.targets[0].id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            callee = node.func
            called = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if called != "heartbeat":
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                jobs.add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                jobs.add(constants[first.id])
            else:
                pytest.fail(f"{path.name}: heartbeat() with a job name this test cannot read")
    return jobs


@pytest.fixture(scope="module")
def emitted(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    jobs = heartbeat_jobs(templates)
    return {
        "log_lines": [
            telemetry.HEARTBEAT_MESSAGE % (job, "2026-01-01T02:00:00+00:00", suffix)
            for job in jobs
            for suffix in ("", " (past due)")
        ],
        "values": allowed_values(jobs),
    }


# --- Tests ---------------------------------------------------------------------------------


def test_every_log_alert_queries_names_the_code_emits(templates, emitted):
    rules = query_rules(templates)
    assert rules, "no scheduled query rules found"
    problems = [
        f"{rule.file}:{label}: {problem}"
        for rule in rules
        for label, query in renderings(rule, templates)
        for problem in check_query(query, **emitted)
    ]
    assert not problems, "\n".join(problems)


def test_the_alerts_use_exactly_these_constants(templates):
    """The names in alerts.bicep equal telemetry's constants: renaming a constant's value
    (and so what is emitted, tests/unit/test_telemetry.py) fails here until the alert follows."""
    metrics: set[str] = set()
    dimensions: set[str] = set()
    for rule in query_rules(templates):
        if rule.file != ALERTS:
            continue
        for _, query in renderings(rule, templates):
            names = read_query(query)
            metrics |= names.metrics
            dimensions |= names.dimensions
    assert metrics == {
        telemetry.METRIC_HEARTBEAT,
        telemetry.METRIC_JOB_DURATION,
        telemetry.METRIC_JOB_FAILURES,
        telemetry.METRIC_SUPERVISOR_FINDINGS,
        telemetry.METRIC_NOTIFICATIONS_DEAD,
        express_latency_metric(),
    }
    assert dimensions == {
        telemetry.ATTR_HEARTBEAT_JOB,
        telemetry.ATTR_JOB_TYPE,
        telemetry.ATTR_JOB_OUTCOME,
        telemetry.ATTR_ORCHESTRATOR,
        telemetry.ATTR_SUPERVISOR_ACTION,
        telemetry.ATTR_SUPERVISOR_OUTCOME,
        telemetry.ATTR_NOTIFICATION_KIND,
    }


def test_a_renamed_metric_breaks_the_alerts(templates, emitted):
    """What the first test would say if jobs.failures were renamed in the code only."""
    renamed = dict(telemetry.METRIC_ATTRIBUTES)
    renamed["jobs.failed"] = renamed.pop(telemetry.METRIC_JOB_FAILURES)
    problems = [
        problem
        for rule in query_rules(templates)
        for _, query in renderings(rule, templates)
        for problem in check_query(query, metrics=renamed, **emitted)
    ]
    assert f"metric {telemetry.METRIC_JOB_FAILURES!r} is not one adapters/telemetry.py records" in (
        problems
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'customMetrics | where name == "jobs.failed" | summarize sum(value)',
            "metric 'jobs.failed' is not one adapters/telemetry.py records",
        ),
        (
            'customMetrics | where name == "jobs.failures"'
            ' | where tostring(customDimensions["job.status"]) =~ "failed"',
            "dimension 'job.status' is not an attribute of ['jobs.failures'] metric"
            " the query names",
        ),
        (
            'customMetrics | where name == "jobs.failures"'
            ' | where tostring(customDimensions["job.outcome"]) == "failed"',
            "job.outcome == 'failed': compare it case-insensitively (=~)",
        ),
        (
            'customMetrics | where name == "jobs.failures"'
            ' | extend outcome = tostring(customDimensions["job.outcome"])'
            ' | where outcome =~ "broken"',
            "job.outcome =~ 'broken': not a value the code records",
        ),
        (
            'traces | where message startswith "Heartbeat: nightly job ran"',
            "message startswith 'Heartbeat: nightly job ran': no line the code logs matches",
        ),
        (
            # The classic Application Insights fields this alert used before OpenTelemetry mode.
            'traces | where tostring(customDimensions["Category"]) == "Host.Triggers.DurableTask"'
            ' and tostring(customDimensions["prop__state"]) == "Failed"',
            "dimension 'prop__state' is not an attribute of any metric the query names",
        ),
        (
            "requests | where success == false | summarize count()",
            "table requests: the app's exporter writes only ['customMetrics', 'traces']",
        ),
        (
            'customMetrics | where name == "jobs.heartbeat" and customDimensions.job == "${job}"',
            "unresolved Bicep interpolation ${job}",
        ),
        (
            'customMetrics | where name == "jobs.duration" and cloud_RoleName == "func-x"',
            "string 'func-x': not a metric, dimension, value or log line",
        ),
    ],
    ids=[
        "unknown-metric",
        "unknown-dimension",
        "case-sensitive-outcome",
        "unknown-value",
        "unknown-log-line",
        "classic-host-fields",
        "unknown-table",
        "unresolved-interpolation",
        "unrecognised-string",
    ],
)
def test_a_query_naming_what_the_code_does_not_emit_is_reported(query, expected, emitted):
    assert expected in check_query(query, **emitted)


def test_the_heartbeat_alerts_cover_every_job_with_a_heartbeat(templates, h):
    jobs = heartbeat_jobs(templates)
    assert sorted(jobs) == sorted(jobs_with_a_heartbeat(h))
    max_age = heartbeat_max_age(templates)
    assert set(jobs) <= set(max_age), f"jobs without a heartbeatMaxAge: {set(jobs) - set(max_age)}"
    for job, age in max_age.items():
        assert re.fullmatch(r"\d+[mhd]", age), f"{job}: {age!r} is not a KQL timespan"
    missed = [rule for rule in query_rules(templates) if rule.loop is not None]
    assert [rule.name for rule in missed] == ["missedRun"]
    for label, query in renderings(missed[0], templates):
        job = label.split("[")[1].rstrip("]")
        names = read_query(query)
        assert (telemetry.ATTR_HEARTBEAT_JOB, "==", job) in names.values, label
        assert {text for _, text in names.messages} == {
            telemetry.HEARTBEAT_MESSAGE.split("%s")[0] + job + " ran at "
        }, label


def test_dead_notifications_alert_on_any_one_in_fifteen_minutes(templates, h):
    """The outbox sender's notifications.dead counter (telemetry.METRIC_NOTIFICATIONS_DEAD, by
    ATTR_NOTIFICATION_KIND): one dead notification in a 15-minute window alerts, per kind."""
    [(_, _, rule)] = [
        (file, name, body)
        for file, name, body in h.resources(templates, QUERY_RULE)
        if file == ALERTS and name == "deadNotifications"
    ]
    properties = rule["properties"]
    assert properties["evaluationFrequency"] == properties["windowSize"] == "PT15M"
    [criterion] = properties["criteria"]["allOf"]
    names = read_query(criterion["query"])
    assert names.tables == {"customMetrics"}
    assert names.metrics == {telemetry.METRIC_NOTIFICATIONS_DEAD}
    assert names.dimensions == {telemetry.ATTR_NOTIFICATION_KIND}
    assert not names.values, "every kind counts: no value filter"
    assert criterion["timeAggregation"] == "Total"
    assert criterion["operator"] == "GreaterThan" and criterion["threshold"] == 0
    assert criterion["metricMeasureColumn"] in criterion["query"]
    assert [d["name"] for d in criterion["dimensions"]] == ["kind"]
    assert h.accessor(properties["actions"]["actionGroups"][0]) == ("actionGroup", "id")


def test_slow_express_orders_alert_on_their_average_latency_over_five_minutes(templates, h):
    """The express latency histogram (seconds from an express order's enqueue to its end): its
    average over 5 minutes, sum(value) / sum(valueCount) as a histogram's customMetrics rows
    hold it, above expressLatencyTargetSeconds (5 by default) alerts. No express order in the
    window gives no row, not a zero division."""
    [(_, _, rule)] = [
        (file, name, body)
        for file, name, body in h.resources(templates, QUERY_RULE)
        if file == ALERTS and name == "expressLatency"
    ]
    properties = rule["properties"]
    assert properties["displayName"] == "Express orders slow"
    assert properties["evaluationFrequency"] == properties["windowSize"] == "PT5M"
    [criterion] = properties["criteria"]["allOf"]
    query = criterion["query"]
    names = read_query(query)
    assert names.tables == {"customMetrics"}
    assert names.metrics == {express_latency_metric()}
    assert not names.dimensions and not names.values, "every express order counts"
    assert re.search(r"(\w+) = sum\(value\), (\w+) = sum\(valueCount\)", query)
    assert re.search(r"\| where orders > 0 \| extend latency = total / orders$", query)
    assert criterion["metricMeasureColumn"] == "latency"
    assert criterion["timeAggregation"] == "Average"
    assert criterion["operator"] == "GreaterThan"
    assert criterion["threshold"] == "expressLatencyTargetSeconds"
    target = templates[ALERTS]["parameters"]["expressLatencyTargetSeconds"]
    assert target["type"] == "int" and target["default"] == 5
    assert "dimensions" not in criterion
    assert h.accessor(properties["actions"]["actionGroups"][0]) == ("actionGroup", "id")


def test_metric_alerts_use_service_bus_platform_metrics(templates, h):
    found = h.resources(templates, METRIC_ALERT)
    ours = [(file, name, body) for file, name, body in found if file == ALERTS]
    assert {name for _, name, _ in ours} == {"deadLetters", "backlogAge"}
    for _, name, body in ours:
        for criterion in body["properties"]["criteria"]["allOf"]:
            assert criterion["metricNamespace"] == "Microsoft.ServiceBus/namespaces", name
            assert criterion["metricName"] in SERVICE_BUS_METRICS, name
            assert criterion["timeAggregation"] in SERVICE_BUS_AGGREGATIONS, name
            assert {d["name"] for d in criterion["dimensions"]} <= SERVICE_BUS_DIMENSIONS, name


def test_the_docs_name_what_each_alert_queries(templates, h):
    rows = h.docs_table("Alerts")
    documented = " ".join(row["Signal"] for row in rows)
    used: set[str] = set()
    for rule in query_rules(templates):
        if rule.file == ALERTS:
            for _, query in renderings(rule, templates):
                used |= read_query(query).metrics
    used |= SERVICE_BUS_METRICS
    missing = {name for name in used if f"`{name}`" not in documented}
    assert not missing, f"docs/infra.md, Alerts: name {sorted(missing)}"
    assert "orchestration" not in documented.lower(), "the Durable host-log alert is gone"
