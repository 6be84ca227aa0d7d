"""Infra matches the code: every setting app_config reads is declared (or deliberately local),
the express app gets exactly the settings its functions read, every table, container, queue and
topic the code names exists, and the Service Bus entities are created from the same declaration
devhost's stand-in reads, with valid ARM property names."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

import app_config

# Read by the code but deliberately NOT set in Azure, with the reason.
LOCAL_ONLY = {
    "AzureWebJobsStorage": "a connection string; Azure uses AzureWebJobsStorage__accountName",
    "ServiceBusConnection": "a connection string; Azure uses its __fullyQualifiedNamespace",
    "WEBHOOK_ALLOWED_HOSTS": "exempts hosts from the SSRF guard: local development only",
    "OUTBOUND_ALLOWED_HOSTS": "exempts hosts from the SSRF guard: local development only",
    "MAIL_FILE_FOLDER": "the file transport's .eml folder: local development; Azure sends by ACS",
}
# Set by the platform on every app ("Environment variables and app settings reference",
# learn.microsoft.com/azure/app-service/reference-app-settings: WEBSITE_HOSTNAME).
SET_BY_PLATFORM = {"WEBSITE_HOSTNAME": "the app's default host name: approval links' base"}
# Alternatives to a declared identity setting (the code accepts either).
ALTERNATIVES = {
    "PUBLIC_BASE_URL": "WEBSITE_HOSTNAME",  # a custom domain for approval links, when there is one
    "AzureWebJobsStorage__blobServiceUri": "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__tableServiceUri": "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__queueServiceUri": "AzureWebJobsStorage__accountName",
    # SMTP (MAIL_TRANSPORT=smtp) instead of Azure Communication Services, e.g. a provider of
    # your own: Azure sends with ACS and its managed identity, so none is set there (a password
    # would be a Key Vault reference, docs/infra.md "Mail").
    "SMTP_HOST": "ACS_EMAIL_ENDPOINT",
    "SMTP_PORT": "ACS_EMAIL_ENDPOINT",
    "SMTP_SECURITY": "ACS_EMAIL_ENDPOINT",
    "SMTP_USERNAME": "ACS_EMAIL_CLIENT_ID",
    "SMTP_PASSWORD": "ACS_EMAIL_CLIENT_ID",
}
# Declared for the platform or the host, not read by app_config.
PLATFORM = {
    "AzureWebJobsStorage__credential",
    "ServiceBusConnection__credential",
    # Read by the host and the Python worker, not by the app (docs/operations.md says why).
    "PYTHON_ENABLE_OPENTELEMETRY",
    "PYTHON_THREADPOOL_THREAD_COUNT",
    # The host's id (Learn, "App settings reference for Azure Functions"): the express app's
    # only, so that the two apps sharing the storage account never share one.
    "AzureFunctionsWebHost__hostid",
    # A host.json override (test_express_app.py checks it names a setting host.json has): the
    # express app polls its quiet task hub's queues at least once a second.
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval",
}
APPS = ("main", "express")
each_app = pytest.mark.parametrize("app", APPS)

# Writable ARM properties (Microsoft.ServiceBus 2022-10-01-preview) of each entity kind.
ARM_PROPERTIES = {
    "queues": {
        "autoDeleteOnIdle",
        "deadLetteringOnMessageExpiration",
        "defaultMessageTimeToLive",
        "duplicateDetectionHistoryTimeWindow",
        "enableBatchedOperations",
        "enableExpress",
        "enablePartitioning",
        "forwardDeadLetteredMessagesTo",
        "forwardTo",
        "lockDuration",
        "maxDeliveryCount",
        "maxMessageSizeInKilobytes",
        "maxSizeInMegabytes",
        "requiresDuplicateDetection",
        "requiresSession",
        "status",
    },
    "topics": {
        "autoDeleteOnIdle",
        "defaultMessageTimeToLive",
        "duplicateDetectionHistoryTimeWindow",
        "enableBatchedOperations",
        "enableExpress",
        "enablePartitioning",
        "maxMessageSizeInKilobytes",
        "maxSizeInMegabytes",
        "requiresDuplicateDetection",
        "status",
        "supportOrdering",
    },
    "subscriptions": {
        "autoDeleteOnIdle",
        "clientAffineProperties",
        "deadLetteringOnFilterEvaluationExceptions",
        "deadLetteringOnMessageExpiration",
        "defaultMessageTimeToLive",
        "duplicateDetectionHistoryTimeWindow",
        "enableBatchedOperations",
        "forwardDeadLetteredMessagesTo",
        "forwardTo",
        "isClientAffine",
        "lockDuration",
        "maxDeliveryCount",
        "requiresSession",
        "status",
    },
}


def _declared(templates, h, app: str = "main") -> dict:
    """An app's settings; a value that names a parameter of main.bicep is its default (pycep
    writes a parameter reference as its bare name)."""
    parameters = templates["main.bicep"]["parameters"]
    return {
        name: parameters[value]["default"]
        if isinstance(value, str) and "default" in parameters.get(value, {})
        else value
        for name, value in h.app_settings(templates, app).items()
    }


def _read_by_host(h) -> set[str]:
    """Settings host.json names as `%NAME%` (the task hub's name): the host reads them."""
    return set(re.findall(r"%([^%]+)%", (h.REPO / "host.json").read_text()))


def _placeholder_env(settings: dict) -> dict[str, str]:
    """The declared settings as the code would see them (references become placeholders)."""
    return {
        name: value if isinstance(value, str) else "placeholder" for name, value in settings.items()
    }


def _servicebus(h) -> dict:
    return json.loads((h.INFRA / "servicebus.json").read_text())


def _storage_lists(templates, h) -> tuple[set[str], set[str]]:
    variables = templates["main.bicep"]["variables"]
    return set(h.resolve(variables["containers"]["value"], variables)), set(
        h.resolve(variables["tables"]["value"], variables)
    )


def test_every_setting_the_code_reads_is_declared(templates, h):
    declared = _declared(templates, h)
    read = h.settings_read_by_code(_placeholder_env(declared))
    missing = read - set(declared) - set(LOCAL_ONLY) - set(ALTERNATIVES) - set(SET_BY_PLATFORM)
    assert not missing, f"settings the code reads that main.bicep does not declare: {missing}"


@each_app
def test_every_declared_setting_is_read_by_the_code(templates, h, app):
    declared = _declared(templates, h, app)
    read = h.settings_read_by_code(_placeholder_env(declared)) | _read_by_host(h)
    unused = set(declared) - read - PLATFORM
    assert not unused, f"{app}: declared settings nothing reads: {unused}"


def test_each_app_declares_what_host_json_reads(templates, h):
    """host.json takes the task hub's name from TASK_HUB_NAME: both apps must set it, or the
    host would not start."""
    assert "TASK_HUB_NAME" in _read_by_host(h)
    for app in APPS:
        assert _read_by_host(h) <= set(_declared(templates, h, app)), app


@each_app
def test_local_only_settings_are_never_declared(templates, h, app):
    assert not set(LOCAL_ONLY) & set(_declared(templates, h, app))


def test_each_alternative_stands_in_for_a_setting_azure_has(templates, h):
    """An alternative is left out because Azure has the setting it replaces: declared, or set
    by the platform; the alternative itself is never declared as well, by either app."""
    declared = set(_declared(templates, h))
    for alternative, replaced in ALTERNATIVES.items():
        assert replaced in declared | set(SET_BY_PLATFORM), f"{alternative}: {replaced}"
        for app in APPS:
            assert alternative not in _declared(templates, h, app), (app, alternative)


@each_app
def test_declared_values_pass_the_codes_own_validation(templates, h, app):
    """Each public app_config reader accepts the declared values (no ValueError); the signing
    keys are Key Vault references here, which only the platform resolves. The express app's
    values pass the main app's readers too: nothing it leaves out is required."""
    env = _placeholder_env(_declared(templates, h, app))
    env = {k: v for k, v in env.items() if not v.startswith("@Microsoft.KeyVault(")}
    for name, function in inspect.getmembers(app_config, inspect.isfunction):
        if name.startswith("_") or function.__module__ != "app_config":
            continue
        parameters = inspect.signature(function).parameters
        required = [p for p, s in parameters.items() if p != "env" and s.default is s.empty]
        if "env" in parameters and not required and not name.endswith("_signing_key"):
            function(env=env)


@each_app
def test_entity_settings_name_entities_that_exist(templates, h, app):
    containers, tables = _storage_lists(templates, h)
    servicebus = _servicebus(h)
    queues = {q["name"] for q in servicebus["queues"]}
    topics = {t["name"] for t in servicebus["topics"]}
    for setting, value in _declared(templates, h, app).items():
        if setting.endswith("_TABLE"):
            assert value in tables, setting
        elif setting.endswith("_CONTAINER"):
            assert value in containers, setting
        elif setting.endswith("_QUEUE") or setting.endswith("_QUEUES"):
            assert set(value.split(",")) <= queues, setting
        elif setting.endswith("_TOPIC"):
            assert value in topics, setting


def test_every_table_and_container_the_code_uses_exists(templates, h):
    containers, tables = _storage_lists(templates, h)
    used = h.entities_used_by_code()
    assert used["table"] <= tables, f"tables missing: {used['table'] - tables}"
    assert used["container"] <= containers, f"containers missing: {used['container'] - containers}"
    # Declared now for the thumbnail and nightly-report jobs, whatever their code names, and
    # each app's deployment container.
    assert {"uploads", "thumbnails", "reports", "app-package", "app-package-express"} <= containers


def test_every_queue_and_topic_the_code_uses_is_declared(h, app_functions, express_functions):
    servicebus = _servicebus(h)
    queues = {q["name"] for q in servicebus["queues"]}
    topics = {t["name"] for t in servicebus["topics"]}
    used = h.entities_used_by_code()
    for function in app_functions + express_functions:
        for binding in function["bindings"]:
            if binding["type"] == "serviceBusTrigger":
                used["queue"].add(binding["queueName"])
    used["queue"] -= h.storage_queues(app_functions)
    assert used["queue"] <= queues, f"queues missing: {used['queue'] - queues}"
    assert used["topic"] <= topics, f"topics missing: {used['topic'] - topics}"


def test_every_storage_queue_the_code_uses_is_created(templates, h, app_functions):
    """Storage queues (queue bindings on AzureWebJobsStorage, e.g. the notification outbox)
    are declared in main.bicep's storageQueues and created by modules/storage.bicep; the app
    may also create them, but none is left to chance. None is in servicebus.json."""
    variables = templates["main.bicep"]["variables"]
    declared = set(h.resolve(variables["storageQueues"]["value"], variables))
    used = h.storage_queues(app_functions)
    assert used, "no queue binding found: is the notification outbox gone?"
    assert used <= declared, f"storage queues missing: {used - declared}"
    params = templates["main.bicep"]["modules"]["storage"]["config"]["params"]
    assert params["queues"] == "storageQueues"
    created = templates["modules/storage.bicep"]["resources"]["storageQueues"]["config"]
    assert created["loop_type"]["detail"]["array_name"] == "queues"
    assert not used & {q["name"] for q in _servicebus(h)["queues"]}


def test_every_blob_trigger_container_exists(templates, h, app_functions):
    containers, _ = _storage_lists(templates, h)
    for function in app_functions:
        for binding in function["bindings"]:
            if binding["type"] in ("blobTrigger", "blob"):
                container = binding["path"].split("/", 1)[0]
                assert container in containers, f"{function['name']}: {container}"


@each_app
def test_every_binding_connection_has_identity_settings(templates, h, functions_by_app, app):
    declared = _declared(templates, h, app)
    for function in functions_by_app[app]:
        for binding in function["bindings"]:
            connection = binding.get("connection")
            if binding["type"] in ("serviceBusTrigger", "serviceBus"):
                assert f"{connection}__fullyQualifiedNamespace" in declared, function["name"]
            elif binding["type"] in ("blobTrigger", "blob", "queueTrigger", "queue"):
                prefix = connection or "AzureWebJobsStorage"
                assert f"{prefix}__accountName" in declared, function["name"]
            if connection:
                assert connection not in declared, f"{connection} would be a connection string"


def test_servicebus_entities_come_from_the_shared_declaration(templates, h):
    module = templates["modules/servicebus.bicep"]
    load = module["variables"]["entities"]["value"]["function"]
    assert load["type"] == "load_json_content"
    assert load["parameters"]["file_path"] == "../servicebus.json"
    queues = module["resources"]["queues"]["config"]
    assert h.accessor(queues["loop_type"]["detail"]["array_name"]) == ("entities", "queues")
    assert h.accessor(queues["config"]["name"]) == ("queue", "name")
    assert h.accessor(queues["config"]["properties"]) == ("queue", "properties")
    topics = module["modules"]["topics"]["config"]
    assert h.accessor(topics["loop_type"]["detail"]["array_name"]) == ("entities", "topics")
    assert topics["config"]["params"]["topic"] == "topic"
    topic = templates["modules/servicebus-topic.bicep"]["resources"]
    assert h.accessor(topic["serviceBusTopic"]["config"]["properties"]) == ("topic", "properties")
    subscriptions = topic["subscriptions"]["config"]
    assert h.accessor(subscriptions["config"]["properties"]) == ("subscription", "properties")


def test_servicebus_json_uses_valid_arm_property_names(h):
    servicebus = _servicebus(h)
    for queue in servicebus["queues"]:
        assert set(queue["properties"]) <= ARM_PROPERTIES["queues"], queue["name"]
    for topic in servicebus["topics"]:
        assert set(topic["properties"]) <= ARM_PROPERTIES["topics"], topic["name"]
        for subscription in topic.get("subscriptions", []):
            assert set(subscription["properties"]) <= ARM_PROPERTIES["subscriptions"]


def test_every_queue_dead_letters(h):
    """Poison messages end in a dead-letter queue with a bounded delivery count."""
    servicebus = _servicebus(h)
    for entity in [
        *servicebus["queues"],
        *(s for t in servicebus["topics"] for s in t.get("subscriptions", [])),
    ]:
        assert 1 <= entity["properties"]["maxDeliveryCount"] <= 10, entity["name"]
        assert entity["properties"]["deadLetteringOnMessageExpiration"] is True, entity["name"]


def _trigger_queues(functions: list[dict[str, Any]]) -> set[str]:
    return {
        b["queueName"] for f in functions for b in f["bindings"] if b["type"] == "serviceBusTrigger"
    }


def test_role_lists_in_main_match_the_code(templates, h, app_functions, express_functions):
    """Each app's trigger queues are the ones its role's functions listen on; the rest of the
    Service Bus queues the code names are the reply queues both apps send to."""
    variables = templates["main.bicep"]["variables"]
    main, express = _trigger_queues(app_functions), _trigger_queues(express_functions)
    used = h.entities_used_by_code()
    service_bus_queues = used["queue"] - h.storage_queues(app_functions)
    assert set(variables["triggerQueueNames"]["value"]) == main
    assert set(variables["expressTriggerQueueNames"]["value"]) == express
    assert set(variables["replyQueueNames"]["value"]) == service_bus_queues - main - express
    assert set(variables["eventTopicNames"]["value"]) == used["topic"]


@each_app
def test_every_setting_a_binding_names_is_declared(templates, h, functions_by_app, app):
    """`%NAME%` in a binding (queue names, paths, schedules) is resolved from app settings."""
    declared = set(_declared(templates, h, app))
    for function in functions_by_app[app]:
        for binding in function["bindings"]:
            for value in binding.values():
                for name in re.findall(r"%([^%]+)%", value if isinstance(value, str) else ""):
                    assert name in declared, f"{function['name']}: %{name}% is not declared"


# --- The express app's settings: exactly what its functions read -------------------------

PACKAGES = ("triggers", "activities", "adapters", "orchestrators", "domain")
FACTORY = "adapters.factory"


def _parse(h, module: str) -> ast.Module | None:
    path = h.REPO / Path(*module.split(".")).with_suffix(".py")
    return ast.parse(path.read_text()) if path.is_file() else None


def _names_of(tree: ast.AST, owner: str) -> set[str]:
    """The attributes read off a module-level name (`app_config.x`, `root.x`)."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == owner
    }


def _imported(tree: ast.AST, module: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def _express_blueprints(h) -> set[str]:
    """The modules of the blueprints function_app.py registers for the express role
    (ROLES["express"], a list of blueprint names, starred lists and sums of lists)."""
    tree = ast.parse((h.REPO / "function_app.py").read_text())
    modules = {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def names(expr: ast.expr) -> list[str]:
        if isinstance(expr, ast.Name):
            return names(assigned[expr.id]) if expr.id in assigned else [expr.id]
        if isinstance(expr, ast.Starred):
            return names(expr.value)
        if isinstance(expr, ast.List):
            return [name for element in expr.elts for name in names(element)]
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return names(expr.left) + names(expr.right)
        raise AssertionError(f"function_app.py: cannot read {ast.unparse(expr)}")

    roles = assigned["ROLES"]
    assert isinstance(roles, ast.Dict)
    [express] = [
        value
        for key, value in zip(roles.keys, roles.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "express"
    ]
    return {modules[name] for name in names(express)}


def _express_modules(h) -> set[str]:
    """The express blueprints' modules and every module of the app they import, transitively."""
    seen: set[str] = set()
    todo = list(_express_blueprints(h))
    while todo:
        module = todo.pop()
        tree = _parse(h, module)
        if module in seen or tree is None:
            continue
        seen.add(module)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                todo.append(node.module)
                todo += [f"{node.module}.{alias.name}" for alias in node.names]
    return seen


def _factory_readers(h, modules: set[str]) -> set[str]:
    """The app_config readers adapters/factory.py runs for `modules`: the root's methods they
    use and the functions they import from it, followed through the factory's own calls (the
    factory also builds what only the main app's functions use)."""
    entries: set[str] = set()
    for module in modules - {FACTORY}:
        tree = _parse(h, module)
        assert tree is not None
        entries |= {f"Root.{name}" for name in _names_of(tree, "root")}
        entries |= _imported(tree, FACTORY)
    factory = _parse(h, FACTORY)
    assert factory is not None
    units: dict[str, ast.AST] = {}
    for node in factory.body:
        if isinstance(node, ast.FunctionDef):
            units[node.name] = node
        if isinstance(node, ast.ClassDef) and node.name == "Root":
            units |= {f"Root.{f.name}": f for f in node.body if isinstance(f, ast.FunctionDef)}
    readers: set[str] = set()
    seen: set[str] = set()
    todo = [entry for entry in entries if entry in units]
    while todo:
        unit = todo.pop()
        if unit in seen:
            continue
        seen.add(unit)
        readers |= _names_of(units[unit], "app_config")
        calls = {node.id for node in ast.walk(units[unit]) if isinstance(node, ast.Name)}
        calls |= {f"Root.{name}" for name in _names_of(units[unit], "self")}
        todo += [name for name in calls if name in units]
    return readers


def _express_readers(h) -> set[str]:
    """The app_config functions the express app runs: at start (function_app.py), in its
    functions' modules, and through the factory."""
    modules = _express_modules(h)
    readers = _names_of(ast.parse((h.REPO / "function_app.py").read_text()), "app_config")
    for module in modules - {FACTORY}:
        tree = _parse(h, module)
        assert tree is not None
        readers |= _names_of(tree, "app_config") | _imported(tree, "app_config")
    readers |= _factory_readers(h, modules)
    return {name for name in readers if inspect.isfunction(getattr(app_config, name, None))}


def test_the_express_app_declares_exactly_what_its_functions_read(templates, h):
    """The express app's settings are the ones its functions (the express queue's trigger, the
    order orchestrator and its activities, publish_job_update, deliver_webhook) and its start
    read, minus what stays local or has an alternative, plus what the host and platform read:
    nothing of the reports, thumbnails, timers, mail or the approval page."""
    declared = _declared(templates, h, "express")
    readers = _express_readers(h)
    # What the order path reads: if these are not found, the reading above went wrong.
    assert {"order_storage_names", "result_channels", "webhook_signing_key"} <= readers
    assert not {"mail_settings", "reports_container", "approval_signing_key"} & readers
    read = h.settings_read_by_code(_placeholder_env(declared), readers=readers)
    needed = read - set(LOCAL_ONLY) - set(ALTERNATIVES) - set(SET_BY_PLATFORM)
    assert set(declared) - PLATFORM - _read_by_host(h) == needed
    assert set(declared) >= PLATFORM
