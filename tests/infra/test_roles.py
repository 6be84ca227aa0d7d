"""Role assignments: every GUID is the documented built-in role, the set of (role, principal,
scope) equals the table in docs/infra.md, Service Bus roles sit on exactly the entities each
app's code triggers on or sends to, the express app's identity holds exactly the roles of the
express order path, and Event Grid's identity may write its dead-letter container only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Built-in role definition ids as Microsoft documents them (Learn "Azure built-in roles";
# shared/reference/infra-anchors.md section 3). The same in every subscription.
BUILT_IN_ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Azure Service Bus Data Owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
    "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Communication and Email Service Owner": "09976791-48a7-449e-bb21-39d1a415f350",
}

ROLES_FILE = "modules/roles.bicep"
# The roles every app's identity holds: roles.bicep deploys it once per app.
APP_ROLES_FILE = "modules/app-roles.bicep"
ROLE_FILES = (ROLES_FILE, APP_ROLES_FILE)

# How a scope's symbolic resource in roles.bicep reads in the docs table.
SCOPE_KINDS = {
    "Microsoft.Storage/storageAccounts": "storage account",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "container",
    "Microsoft.ServiceBus/namespaces/queues": "queues",
    "Microsoft.ServiceBus/namespaces/topics": "topics",
    "Microsoft.KeyVault/vaults": "key vault",
    "Microsoft.Insights/components": "application insights",
    "Microsoft.Communication/communicationServices": "communication service",
}
# Principals by the roles.bicep parameter that carries them.
PRINCIPALS = {
    "mainPrincipalId": "main app identity",
    "expressPrincipalId": "express app identity",
    "deployerPrincipalId": "deployer",
    "eventGridPrincipalId": "event grid system topic",
}
APP_PRINCIPALS = {"main": "main app identity", "express": "express app identity"}
# Managed identities: their assignments say ServicePrincipal (no directory lookup that a new
# identity's replication delay could fail).
MANAGED_IDENTITIES = {"main app identity", "express app identity", "event grid system topic"}


def _key(name: str) -> str:
    return re.sub(r"^azure", "", name.replace(" ", "").lower())


def _role_names(templates) -> dict[str, str]:
    """roles.bicep's roleIds keys mapped to the built-in role names they stand for."""
    by_key = {_key(name): name for name in BUILT_IN_ROLES}
    role_ids = templates[ROLES_FILE]["variables"]["roleIds"]["value"]
    names = {}
    for key in role_ids:
        assert _key(key) in by_key, f"roleIds.{key} names no documented built-in role"
        names[key] = by_key[_key(key)]
    return names


def test_every_role_guid_is_the_documented_built_in_one(templates):
    role_ids = templates[ROLES_FILE]["variables"]["roleIds"]["value"]
    for key, name in _role_names(templates).items():
        assert role_ids[key] == BUILT_IN_ROLES[name], f"roleIds.{key} is not {name}"


def test_no_role_guid_is_written_outside_the_roles_table(h):
    guid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
    for path in h.INFRA.rglob("*.bicep"):
        if path.name != "roles.bicep":
            assert not guid.search(path.read_text()), f"{path}: a GUID outside roles.bicep"


Lift = Callable[[str], Any]


def _instances(templates, h) -> Iterator[tuple[str, Lift]]:
    """Each deployment of a role file, with how a parameter of that file reads as a parameter
    of roles.bicep: roles.bicep itself once, app-roles.bicep once per element of the list its
    `appRoles` module loops over (one per app)."""
    yield ROLES_FILE, lambda name: name
    module = templates[ROLES_FILE]["modules"]["appRoles"]
    assert module["detail"]["path"] == "app-roles.bicep"
    loop = module["config"]["loop_type"]["detail"]
    arguments = module["config"]["config"]["params"]
    assert arguments["roleIds"] == "roleIds"  # the one table of GUIDs
    for element in templates[ROLES_FILE]["variables"][loop["array_name"]]["value"]:

        def lift(name: str, element: dict[str, Any] = element) -> Any:
            path = h.accessor(arguments[name])
            return element[path[1]] if path[:1] == (loop["item_name"],) else arguments[name]

        yield APP_ROLES_FILE, lift


def _roles_argument(templates, h, name: str) -> Any:
    """A parameter of roles.bicep as main.bicep passes it, resolved through main's variables."""
    main = templates["main.bicep"]
    return h.resolve(main["modules"]["roles"]["config"]["params"][name], main["variables"])


def _assignments(templates, h) -> set[tuple[str, str, str, frozenset[str]]]:
    """(role, principal, scope kind, entity names) of every role assignment the templates
    deploy, each deployment of a role file with its own arguments."""
    for file, name, _ in h.resources(templates, "Microsoft.Authorization/roleAssignments"):
        assert file in ROLE_FILES, f"{file}:{name}: keep role assignments in {ROLE_FILES}"
    names = _role_names(templates)
    found = set()
    for file, lift in _instances(templates, h):
        template = templates[file]
        for name, resource in template["resources"].items():
            if resource["type"] != "Microsoft.Authorization/roleAssignments":
                continue
            properties = h.resource_body(resource)["properties"]
            definition = properties["roleDefinitionId"]["function"]
            assert definition["type"] == "subscription_resource_id"
            role_key = h.accessor(definition["parameters"]["resource_name_1"])
            assert role_key[0] == "roleIds", f"{name}: role id not from roleIds"
            principal = PRINCIPALS[lift(properties["principalId"])]
            if principal in MANAGED_IDENTITIES:
                assert properties["principalType"] == "ServicePrincipal", name
            scope = h.accessor(h.resource_body(resource)["scope"])
            assert scope, f"{name}: no scope (it would be the whole resource group)"
            target = template["resources"][scope[0]]
            entities: frozenset[str] = frozenset()
            loop = target["config"].get("loop_type")
            if loop:
                array = lift(loop["detail"]["array_name"])
                entities = frozenset(_roles_argument(templates, h, array))
            elif "parent" in target["config"]:  # one child resource named by a parameter
                parameter = lift(target["config"]["name"])
                entities = frozenset([_roles_argument(templates, h, parameter)])
            found.add((names[role_key[1]], principal, SCOPE_KINDS[target["type"]], entities))
    return found


def _documented(h) -> set[tuple[str, str, str, frozenset[str]]]:
    """The docs table's rows; a row may name several principals, comma-separated."""
    rows = set()
    for row in h.docs_table("Roles"):
        kind = row["Scope"].split("`")[0].strip()
        for principal in row["Principal"].split(","):
            entities = frozenset(h.code_spans(row["Scope"]))
            rows.add((row["Role"], principal.strip(), kind, entities))
    return rows


def test_role_assignments_equal_the_docs_table(templates, h):
    assert _assignments(templates, h) == _documented(h)


def test_every_documented_role_says_who_needs_it_and_why(h):
    for row in h.docs_table("Roles"):
        assert row["Role"] in BUILT_IN_ROLES, row["Role"]
        assert row["Needed by"] and row["Why"], row


def _trigger_queues(functions: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(
        binding["queueName"]
        for function in functions
        for binding in function["bindings"]
        if binding["type"] == "serviceBusTrigger"
    )


@pytest.mark.parametrize("app", list(APP_PRINCIPALS))
def test_service_bus_roles_cover_exactly_what_the_code_uses(templates, h, functions_by_app, app):
    """Each app's identity receives (Data Owner, for the scale controller) on exactly the
    queues its own triggers listen on, and sends to the reply queues and event topics the
    order path publishes to (publish_job_update runs in both apps)."""
    everything = [f for functions in functions_by_app.values() for f in functions]
    all_triggers = _trigger_queues(everything)
    entities = h.entities_used_by_code()
    service_bus_queues = frozenset(entities["queue"] - h.storage_queues(everything))
    mine = {a for a in _assignments(templates, h) if a[1] == APP_PRINCIPALS[app]}
    owner = {a[3] for a in mine if a[0] == "Azure Service Bus Data Owner"}
    senders = {(a[2], a[3]) for a in mine if a[0] == "Azure Service Bus Data Sender"}
    assert owner == {_trigger_queues(functions_by_app[app])}
    assert senders == {
        ("queues", service_bus_queues - all_triggers),
        ("topics", frozenset(entities["topic"])),
    }
    assert not {a for a in mine if a[0] == "Azure Service Bus Data Receiver"}


def test_the_express_identity_holds_exactly_the_express_order_paths_roles(templates, h):
    """The express app's identity: host storage, its task hub and the order tables and claim
    checks (blob, queue, table on the shared account), its own queue's trigger, the replies
    and events publish_job_update sends, the webhook signing key deliver_webhook reads, and
    telemetry. No mail, no Event Grid, no `orders` queue, nothing on the reports."""
    express = APP_PRINCIPALS["express"]
    assert {a for a in _assignments(templates, h) if a[1] == express} == {
        ("Storage Blob Data Owner", express, "storage account", frozenset()),
        ("Storage Queue Data Contributor", express, "storage account", frozenset()),
        ("Storage Table Data Contributor", express, "storage account", frozenset()),
        ("Azure Service Bus Data Owner", express, "queues", frozenset({"orders-express"})),
        ("Azure Service Bus Data Sender", express, "queues", frozenset({"replies"})),
        ("Azure Service Bus Data Sender", express, "topics", frozenset({"order-events"})),
        ("Key Vault Secrets User", express, "key vault", frozenset()),
        ("Monitoring Metrics Publisher", express, "application insights", frozenset()),
    }


def test_each_app_has_its_own_identity(templates, h):
    """Two user-assigned identities, one per app, each passed to roles.bicep as its app's."""
    identities = h.resources(templates, "Microsoft.ManagedIdentity/userAssignedIdentities")
    assert {name for file, name, _ in identities if file == "main.bicep"} == {
        "identity",
        "expressIdentity",
    }
    for parameter, identity in (
        ("mainPrincipalId", "identity"),
        ("expressPrincipalId", "expressIdentity"),
    ):
        passed = templates["main.bicep"]["modules"]["roles"]["config"]["params"][parameter]
        assert h.accessor(passed) == (identity, "properties", "principalId")


def test_no_role_is_granted_on_the_namespace_or_resource_group(templates, h):
    for file, name, body in h.resources(templates, "Microsoft.Authorization/roleAssignments"):
        scope = h.accessor(body["scope"])
        target = templates[file]["resources"][scope[0]]
        assert target["type"] != "Microsoft.ServiceBus/namespaces", name


def test_event_grid_may_write_only_its_dead_letter_container(templates, h):
    """The system topic's identity dead-letters with Storage Blob Data Contributor (what Event
    Grid documents for blob dead-letter destinations), on the container eventgrid.bicep
    dead-letters to and nothing else: not the account that holds the app's data."""
    event_grid = {a for a in _assignments(templates, h) if a[1] == "event grid system topic"}
    main = templates["main.bicep"]["variables"]
    container = h.resolve("deadLetterContainer", main)
    assert event_grid == {
        (
            "Storage Blob Data Contributor",
            "event grid system topic",
            "container",
            frozenset([container]),
        )
    }
    assert container == h.resolve(
        "deadLetterContainerName", templates["eventgrid.bicep"]["variables"]
    )
    assert container in h.resolve("containers", main)
