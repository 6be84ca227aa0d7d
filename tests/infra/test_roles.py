"""Role assignments: every GUID is the documented built-in role, the set of (role, principal,
scope) equals the table in docs/infra.md, Service Bus roles sit on exactly the entities the
code triggers on or sends to, and Event Grid's identity may write its dead-letter container
only."""

from __future__ import annotations

import re

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
PRINCIPALS = {
    "principalId": "app identity",
    "deployerPrincipalId": "deployer",
    "eventGridPrincipalId": "event grid system topic",
}
# Managed identities: their assignments say ServicePrincipal (no directory lookup that a new
# identity's replication delay could fail).
MANAGED_IDENTITIES = {"app identity", "event grid system topic"}


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


def _assignments(templates, h) -> set[tuple[str, str, str, frozenset[str]]]:
    """(role, principal, scope kind, entity names) of every role assignment in the templates."""
    roles_template = templates[ROLES_FILE]
    names = _role_names(templates)
    main = templates["main.bicep"]
    module_params = main["modules"]["roles"]["config"]["params"]
    found = set()
    for file, name, body in h.resources(templates, "Microsoft.Authorization/roleAssignments"):
        assert file == ROLES_FILE, f"{file}:{name}: keep role assignments in {ROLES_FILE}"
        properties = body["properties"]
        definition = properties["roleDefinitionId"]["function"]
        assert definition["type"] == "subscription_resource_id"
        role_key = h.accessor(definition["parameters"]["resource_name_1"])
        assert role_key[0] == "roleIds", f"{name}: role id not from roleIds"
        principal = PRINCIPALS[properties["principalId"]]
        if principal in MANAGED_IDENTITIES:
            assert properties["principalType"] == "ServicePrincipal", name
        scope = h.accessor(body["scope"])
        assert scope, f"{name}: no scope (it would be the whole resource group)"
        target = roles_template["resources"][scope[0]]
        entities: frozenset[str] = frozenset()
        loop = target["config"].get("loop_type")
        if loop:
            array = loop["detail"]["array_name"]
            entities = frozenset(h.resolve(module_params[array], main["variables"]))
        elif "parent" in target["config"]:  # one child resource named by a parameter
            parameter = target["config"]["name"]
            entities = frozenset([h.resolve(module_params[parameter], main["variables"])])
        found.add((names[role_key[1]], principal, SCOPE_KINDS[target["type"]], entities))
    return found


def _documented(h) -> set[tuple[str, str, str, frozenset[str]]]:
    rows = set()
    for row in h.docs_table("Roles"):
        kind = row["Scope"].split("`")[0].strip()
        rows.add((row["Role"], row["Principal"], kind, frozenset(h.code_spans(row["Scope"]))))
    return rows


def test_role_assignments_equal_the_docs_table(templates, h):
    assert _assignments(templates, h) == _documented(h)


def test_every_documented_role_says_who_needs_it_and_why(h):
    for row in h.docs_table("Roles"):
        assert row["Role"] in BUILT_IN_ROLES, row["Role"]
        assert row["Needed by"] and row["Why"], row


def test_service_bus_roles_cover_exactly_what_the_code_uses(templates, h, app_functions):
    trigger_queues = {
        binding["queueName"]
        for function in app_functions
        for binding in function["bindings"]
        if binding["type"] == "serviceBusTrigger"
    }
    entities = h.entities_used_by_code()
    service_bus_queues = frozenset(entities["queue"] - h.storage_queues(app_functions))
    assignments = _assignments(templates, h)
    owner = {a[3] for a in assignments if a[0] == "Azure Service Bus Data Owner"}
    senders = {(a[2], a[3]) for a in assignments if a[0] == "Azure Service Bus Data Sender"}
    assert owner == {frozenset(trigger_queues)}
    assert senders == {
        ("queues", service_bus_queues - frozenset(trigger_queues)),
        ("topics", frozenset(entities["topic"])),
    }


def test_no_role_is_granted_on_the_namespace_or_resource_group(templates, h):
    for _, name, body in h.resources(templates, "Microsoft.Authorization/roleAssignments"):
        scope = h.accessor(body["scope"])
        target = templates[ROLES_FILE]["resources"][scope[0]]
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
