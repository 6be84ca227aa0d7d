"""Every property path in infra/ exists in Azure's published type: typos fail here, not in Azure."""

from __future__ import annotations

import difflib
import functools
import json
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from pycep.transformer import BicepElement

Node = Mapping[str, Any]  # one entry of a types.json array

READ_ONLY = 2  # ObjectPropertyFlags.ReadOnly in Azure/bicep-types-az
# Keys of a resource declaration that are Bicep's own, not properties of the resource type.
BICEP_KEYS = frozenset({"parent", "scope", "dependsOn"})
EXISTING_KEYS = frozenset({"name", "parent", "scope"})
LOOP_KEYS = frozenset({"loop_type", "condition", "config"})
CONDITION_KEYS = frozenset({"condition", "config"})
SCALAR_KINDS = {
    "StringType": "string",
    "StringLiteralType": "string",
    "IntegerType": "int",
    "BooleanType": "bool",
}
KINDS = {
    **SCALAR_KINDS,
    "ArrayType": "array",
    "ObjectType": "object",
    "DiscriminatedObjectType": "object",
}
# A `resource` declaration that is indented sits inside its parent's body.
NESTED_DECLARATION = re.compile(r"^[ \t]+resource\s+(\w+)\s", re.MULTILINE)
NESTED_MESSAGE = "a nested resource declaration: declare it at the top level with parent:"


# --- The published types -------------------------------------------------------------------


@functools.cache
def load_types(path: Path) -> tuple[Node, ...]:
    """One types.json, read once per session."""
    return tuple(json.loads(path.read_text()))


class TypeLibrary:
    """The types.json files SOURCE.json lists, found by namespace and API version."""

    def __init__(self, root: Path) -> None:
        manifest = json.loads((root / "SOURCE.json").read_text())
        self.commit: str = manifest["commit"]
        self._files: dict[tuple[str, str], list[Path]] = {}
        for listed in manifest["files"]:
            # generated/<spec folder>/<namespace>/<api version>/types.json
            spec, namespace, version, name = PurePosixPath(listed).parts[-4:]
            key = (namespace.lower(), version.lower())
            self._files.setdefault(key, []).append(root / spec / namespace / version / name)

    def find(self, resource_type: str, api_version: str) -> tuple[Sequence[Node], Node] | None:
        """The types of the file that declares the type, and its ResourceType entry."""
        namespace = resource_type.split("/", 1)[0].lower()
        wanted = f"{resource_type}@{api_version}".lower()
        for path in self._files.get((namespace, api_version.lower()), []):
            if not path.is_file():
                continue
            types = load_types(path)
            for entry in types:
                if entry["$type"] == "ResourceType" and entry["name"].lower() == wanted:
                    return types, entry
        return None


# --- pycep's tree --------------------------------------------------------------------------


def unquote(key: str) -> str:
    """pycep keeps the quotes of a quoted object key ('odata.type')."""
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def is_expression(value: dict[str, Any]) -> bool:
    """pycep's {"function": {...}} and {"operator": {...}} wrappers (not an object literal that
    happens to have a key named `operator`)."""
    if len(value) != 1:
        return False
    ((key, inner),) = value.items()
    return key in ("function", "operator") and isinstance(inner, dict) and "type" in inner


def value_kind(value: Any) -> str:
    """What a value is before deployment: a literal kind, 'loop', or 'unknown' (references,
    which pycep writes as a BicepElement, interpolations, function calls and operators are
    only known at deployment). A value read from JSON is a literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "unknown" if isinstance(value, BicepElement) or "${" in value else "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        if is_expression(value):
            return "unknown"
        return "loop" if set(value) == LOOP_KEYS else "object"
    return "unknown"


def declaration_body(config: dict[str, Any]) -> dict[str, Any]:
    """A resource's body inside its `[for ...]` loop or `if (...)` condition."""
    while set(config) in (LOOP_KEYS, CONDITION_KEYS):
        config = config["config"]
    return config


# --- The walker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str
    message: str


def join(path: str, key: str) -> str:
    shown = f"'{key}'" if "." in key else key
    return f"{path}.{shown}" if path else shown


def describe_value(value: Any, kind: str) -> str:
    shown = {"loop": "a for-expression (an array)", "object": "an object", "array": "an array"}
    return shown.get(kind, f"{kind} {value!r}")


@dataclass(frozen=True)
class Walker:
    """Checks values against the types of one types.json file."""

    types: Sequence[Node]

    def node(self, ref: Mapping[str, str]) -> Node:
        return self.types[int(ref["$ref"].removeprefix("#/"))]

    def describe(self, node: Node) -> str:
        match node["$type"]:
            case "StringLiteralType":
                return repr(node["value"])
            case "UnionType":
                return " | ".join(self.describe(self.node(e)) for e in node["elements"])
            case "ObjectType" | "DiscriminatedObjectType":
                return f"object {node['name']}"
            case kind:
                return KINDS.get(kind, kind)

    def fits_kind(self, kind: str, node: Node) -> bool:
        if node["$type"] == "AnyType":
            return True
        if node["$type"] == "UnionType":
            return any(self.fits_kind(kind, self.node(e)) for e in node["elements"])
        return KINDS.get(node["$type"]) == ("array" if kind == "loop" else kind)

    def check(self, value: Any, node: Node, path: str) -> list[Problem]:
        kind = value_kind(value)
        if kind in ("unknown", "null") or node["$type"] == "AnyType":
            return []
        if not self.fits_kind(kind, node):
            expected = self.describe(node)
            return [Problem(path, f"expected {expected}, got {describe_value(value, kind)}")]
        match node["$type"]:
            case "UnionType":
                return self.check_union(value, kind, node, path)
            case "StringLiteralType" if value != node["value"]:
                return [Problem(path, f"{value!r} is not {node['value']!r}")]
            case "ArrayType":
                return self.check_array(value, kind, node, path)
            case "ObjectType":
                return self.check_object(value, node, node.get("properties", {}), path)
            case "DiscriminatedObjectType":
                return self.check_discriminated(value, node, path)
        return []

    def check_union(self, value: Any, kind: str, node: Node, path: str) -> list[Problem]:
        options = [self.node(e) for e in node["elements"]]
        attempts = [self.check(value, option, path) for option in options]
        if any(not problems for problems in attempts):
            return []
        strings = [o for o in options if SCALAR_KINDS.get(o["$type"]) == "string"]
        if kind == "string" and all(o["$type"] == "StringLiteralType" for o in strings):
            allowed = ", ".join(repr(o["value"]) for o in strings)
            return [Problem(path, f"{value!r} is not one of {allowed}")]
        fitting = [p for o, p in zip(options, attempts, strict=True) if self.fits_kind(kind, o)]
        return min(fitting, key=len)

    def check_array(self, value: Any, kind: str, node: Node, path: str) -> list[Problem]:
        item = self.node(node["itemType"])
        if kind == "loop":
            # The loop body is one element of the array; its keys are checked, its values
            # (mostly the loop variable) are unknown.
            return self.check(value["config"], item, f"{path}[*]")
        return [p for i, v in enumerate(value) for p in self.check(v, item, f"{path}[{i}]")]

    def check_object(
        self, value: dict[str, Any], node: Node, properties: Mapping[str, Any], path: str
    ) -> list[Problem]:
        extra = node.get("additionalProperties")
        problems: list[Problem] = []
        for raw_key, item in value.items():
            key = unquote(raw_key)
            where = join(path, key)
            if key in properties:
                problems += self.check_property(item, properties[key], where)
            elif extra:
                problems += self.check(item, self.node(extra), where)
            elif "${" not in key:  # a computed key: only a map says what its value must be
                problems.append(Problem(where, self.unknown_property(key, node, properties)))
        return problems

    def check_property(self, value: Any, spec: Mapping[str, Any], path: str) -> list[Problem]:
        if spec["flags"] & READ_ONLY:
            return [Problem(path, "is read-only: Resource Manager sets it, a template cannot")]
        return self.check(value, self.node(spec["type"]), path)

    def unknown_property(self, key: str, node: Node, properties: Mapping[str, Any]) -> str:
        message = f"is not a property of {node['name']}"
        writable = [name for name, spec in properties.items() if not spec["flags"] & READ_ONLY]
        close = difflib.get_close_matches(key, writable, n=1) or [
            name for name in writable if name.lower() == key.lower()
        ]
        return f"{message} (did you mean {close[0]!r}?)" if close else message

    def check_discriminated(self, value: dict[str, Any], node: Node, path: str) -> list[Problem]:
        name = node["discriminator"]
        base = node.get("baseProperties", {})
        elements = {tag: self.node(ref) for tag, ref in node["elements"].items()}
        tags = [raw for raw in value if unquote(raw) == name]
        if not tags:
            listed = ", ".join(map(repr, elements))
            return [Problem(join(path, name), f"is missing: {node['name']} needs one of {listed}")]
        tag = value[tags[0]]
        if value_kind(tag) != "string":
            # An unknown tag: the object must fit one of the branches.
            attempts = [
                self.check_object(value, e, {**base, **e["properties"]}, path)
                for e in elements.values()
            ]
            return [] if any(not a for a in attempts) else min(attempts, key=len)
        if tag not in elements:
            listed = ", ".join(map(repr, elements))
            return [Problem(join(path, name), f"{tag!r} is not one of {listed}")]
        element = elements[tag]
        return self.check_object(value, element, {**base, **element["properties"]}, path)


# --- Templates -----------------------------------------------------------------------------


def last_name_segment(name: Any) -> Any:
    """Without `parent:` a child's name is the full `parent/child`; the type describes the
    last segment only."""
    if value_kind(name) == "string":
        return name.rsplit("/", 1)[-1]
    return name


def resource_problems(
    file: str, symbol: str, resource: Mapping[str, Any], library: TypeLibrary
) -> list[str]:
    """`file: symbol (Type@version): path a.b.c: problem` for one resource declaration."""
    resource_type, api_version = resource["type"], resource["api_version"]
    label = f"{file}: {symbol} ({resource_type}@{api_version})"
    found = library.find(resource_type, api_version)
    if found is None:
        return [
            f"{label}: this type and API version are not in the shared reference "
            f"(bicep-types, Azure/bicep-types-az at {library.commit})"
        ]
    walker, entry = Walker(found[0]), found[1]
    body = declaration_body(resource["config"])
    problems: list[Problem] = []
    if resource["existing"]:
        problems += [
            Problem(key, "is not allowed on an existing resource (only name, parent, scope)")
            for key in body
            if key not in EXISTING_KEYS
        ]
        typed = {key: value for key, value in body.items() if key == "name"}
    else:
        typed = {key: value for key, value in body.items() if unquote(key) not in BICEP_KEYS}
        if entry.get("writableScopes") == 0:
            problems.append(Problem("", "the type is read-only: it can only be `existing`"))
    if "name" in typed and "parent" not in body and resource_type.count("/") > 1:
        typed["name"] = last_name_segment(typed["name"])
    problems += walker.check(typed, walker.node(entry["body"]), "")
    return [
        f"{label}: path {p.path}: {p.message}" if p.path else f"{label}: {p.message}"
        for p in problems
    ]


def bicep_problems(file: str, path: Path, h: Any, library: TypeLibrary) -> list[str]:
    """Every problem of every resource of one Bicep file. pycep expands a nested declaration
    only outside loops and conditions, and keeps one of several in a body, so a nested one
    fails rather than be skipped."""
    nested = NESTED_DECLARATION.findall(path.read_text())
    if nested:
        return [f"{file}: {name}: {NESTED_MESSAGE}" for name in nested]
    resources = h.parse(path).get("resources") or {}
    return [p for s, r in resources.items() for p in resource_problems(file, s, r, library)]


def servicebus_problems(
    entities: Mapping[str, Any], versions: Mapping[str, str], library: TypeLibrary
) -> list[str]:
    """Each queue, topic and subscription of servicebus.json as the resource the Bicep modules
    declare from it (`properties: queue.properties`), at the API version they declare."""
    declared = [("queues", f"queues[{q['name']}]", q) for q in entities.get("queues", [])]
    for topic in entities.get("topics", []):
        where = f"topics[{topic['name']}]"
        declared.append(("topics", where, topic))
        declared += [
            ("topics/subscriptions", f"{where}.subscriptions[{s['name']}]", s)
            for s in topic.get("subscriptions", [])
        ]
    problems: list[str] = []
    for kind, where, entry in declared:
        resource_type = f"Microsoft.ServiceBus/namespaces/{kind}"
        resource = {
            "type": resource_type,
            "api_version": versions[resource_type],
            "existing": False,
            "config": {"name": entry["name"], "properties": entry.get("properties", {})},
        }
        problems += resource_problems("servicebus.json", where, resource, library)
    return problems


# --- Tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def library(shared_reference: Path) -> TypeLibrary:
    return TypeLibrary(shared_reference / "bicep-types")


@pytest.fixture(scope="module")
def versions(templates: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The API version infra/ declares each resource type at."""
    return {
        resource["type"]: resource["api_version"]
        for parsed in templates.values()
        for resource in (parsed.get("resources") or {}).values()
    }


@pytest.fixture
def check_bicep(h: Any, library: TypeLibrary, tmp_path: Path) -> Callable[[str], list[str]]:
    """The problems found in a Bicep snippet (parsed by pycep like infra/)."""

    def check(text: str) -> list[str]:
        path = tmp_path / f"snippet{len(list(tmp_path.glob('*.bicep')))}.bicep"
        path.write_text(textwrap.dedent(text))
        return bicep_problems(path.name, path, h, library)

    return check


def test_every_property_path_exists_in_the_published_type(
    bicep_path: Path, h: Any, library: TypeLibrary
) -> None:
    """Resource Manager's types: every resource's type and API version is published, and every
    property path it writes exists in that type, is writable and has a fitting kind (values
    known only at deployment are not judged, their keys are).

    Source: Azure/bicep-types-az generated types (commit in the shared reference's
    bicep-types/SOURCE.json); Bicep docs "Resource declaration in Bicep"
    """
    problems = bicep_problems(str(bicep_path.relative_to(h.INFRA)), bicep_path, h, library)
    assert not problems, "\n".join(problems)


def test_every_servicebus_json_entity_fits_its_published_type(
    h: Any, library: TypeLibrary, versions: dict[str, str]
) -> None:
    """Resource Manager's types: infra/servicebus.json reaches Bicep through loadJsonContent()
    and loop variables, which the Bicep walk cannot see into, so each queue's, topic's and
    subscription's properties are checked here against Microsoft.ServiceBus/namespaces/queues,
    .../topics and .../topics/subscriptions at the API version infra/ declares (a duration
    such as 'PT1M' is a string to Resource Manager's types).

    Source: Azure/bicep-types-az generated types, Microsoft.ServiceBus (SBQueueProperties,
    SBTopicProperties, SBSubscriptionProperties); Bicep docs "loadJsonContent"
    """
    entities = json.loads((h.INFRA / "servicebus.json").read_text())
    assert entities["queues"] and entities["topics"], "servicebus.json declares no entities"
    problems = servicebus_problems(entities, versions, library)
    assert not problems, "\n".join(problems)


def test_a_wrong_servicebus_json_property_is_rejected(
    library: TypeLibrary, versions: dict[str, str]
) -> None:
    """Resource Manager's types: a servicebus.json entry is judged like a Bicep body: an
    unknown key (with the closest name), a read-only key and a value of the wrong kind fail.

    Source: Azure/bicep-types-az generated types, Microsoft.ServiceBus (SBQueueProperties,
    SBSubscriptionProperties)
    """
    queue = {"maxDeliveryCnt": 5, "lockDuration": "PT1M", "messageCount": 0}
    subscription = {"name": "all", "properties": {"requiresSession": "no"}}
    entities = {
        "queues": [{"name": "orders", "properties": queue}],
        "topics": [{"name": "events", "properties": {}, "subscriptions": [subscription]}],
    }
    sb = "Microsoft.ServiceBus/namespaces"
    queue = f"servicebus.json: queues[orders] ({sb}/queues@{versions[sb + '/queues']}): path "
    sub = f"servicebus.json: topics[events].subscriptions[all] ({sb}/topics/subscriptions"
    sub += f"@{versions[sb + '/topics/subscriptions']}): path "
    assert servicebus_problems(entities, versions, library) == [
        f"{queue}properties.maxDeliveryCnt: is not a property of SBQueueProperties (did you "
        "mean 'maxDeliveryCount'?)",
        f"{queue}properties.messageCount: is read-only: Resource Manager sets it, a template "
        "cannot",
        f"{sub}properties.requiresSession: expected bool, got string 'no'",
    ]


def test_a_misspelled_or_read_only_property_is_rejected(
    check_bicep: Callable[[str], list[str]],
) -> None:
    """Resource Manager's types: a property the type does not declare is an error (the closest
    writable name is suggested), and one flagged ReadOnly (2) is set by Resource Manager and
    must not be written by a template.

    Source: Azure/bicep-types-az ObjectPropertyFlags (ReadOnly = 1 << 1); generated types,
    Microsoft.Web/sites@2024-04-01 (SiteProperties.httpsOnly, .defaultHostName)
    """
    problems = check_bicep("""
        resource app 'Microsoft.Web/sites@2024-04-01' = {
          name: 'app'
          location: 'westeurope'
          properties: {
            httpsOnly: true
            httpsOnyl: true
            defaultHostName: 'app.azurewebsites.net'
          }
        }
        """)
    site = "snippet0.bicep: app (Microsoft.Web/sites@2024-04-01): path properties."
    assert problems == [
        f"{site}httpsOnyl: is not a property of SiteProperties (did you mean 'httpsOnly'?)",
        f"{site}defaultHostName: is read-only: Resource Manager sets it, a template cannot",
    ]


def test_a_literal_of_the_wrong_kind_or_outside_a_closed_set_is_rejected(
    check_bicep: Callable[[str], list[str]],
) -> None:
    """Resource Manager's types: a literal must have the property's kind (string, int, bool,
    object, array), each array element is checked, and a string must be one of a closed
    literal set (a union of string literals only; a set with a string member is open). A
    discriminated resource body (the policy name) must name one of its branches, and a child
    named `account/default` without `parent:` is judged by its last segment, 'default'.

    Source: Azure/bicep-types-az generated types, Microsoft.Web/sites@2024-04-01 (SiteConfig,
    ManagedServiceIdentity.type, basicPublishingCredentialsPolicies) and
    Microsoft.Storage/storageAccounts/blobServices@2024-01-01 (DeleteRetentionPolicy.days)
    """
    problems = check_bicep("""
        resource app 'Microsoft.Web/sites@2024-04-01' = {
          name: 'app'
          location: 'westeurope'
          identity: { type: 'UserAsigned' }
          properties: {
            httpsOnly: 'yes'
            hostNameSslStates: {}
            siteConfig: {
              ftpsState: 'SomethingNew'
              numberOfWorkers: '2'
              ipSecurityRestrictions: [{ priority: 100 }, { priority: 'first' }]
            }
          }
        }
        resource ftps 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
          parent: app
          name: 'ftps'
          properties: { allow: false }
        }
        resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
          name: 'st/default'
          properties: { deleteRetentionPolicy: { days: 'seven' } }
        }
        """)
    site = "snippet0.bicep: app (Microsoft.Web/sites@2024-04-01): path "
    ftps = (
        "snippet0.bicep: ftps (Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01)"
    )
    blobs = "snippet0.bicep: blobs (Microsoft.Storage/storageAccounts/blobServices@2024-01-01)"
    assert problems == [
        f"{site}identity.type: 'UserAsigned' is not one of 'SystemAssigned', 'UserAssigned', "
        "'SystemAssigned, UserAssigned', 'None'",
        f"{site}properties.httpsOnly: expected bool, got string 'yes'",
        f"{site}properties.hostNameSslStates: expected array, got an object",
        f"{site}properties.siteConfig.numberOfWorkers: expected int, got string '2'",
        f"{site}properties.siteConfig.ipSecurityRestrictions[1].priority: expected int, got "
        "string 'first'",
        f"{ftps}: path name: 'ftps' is not one of 'ftp', 'scm'",
        f"{blobs}: path properties.deleteRetentionPolicy.days: expected int, got string 'seven'",
    ]


def test_the_event_grid_destination_is_checked_by_its_endpoint_type(
    check_bicep: Callable[[str], list[str]],
) -> None:
    """Resource Manager's types: an Event Grid destination is a discriminated object; its
    endpointType picks the branch whose properties apply (a WebHook takes endpointUrl, not a
    StorageQueue's queueName), an unknown endpointType and a missing one are errors.

    Source: Azure/bicep-types-az generated types, Microsoft.EventGrid@2022-06-15
    (EventSubscriptionDestination, discriminator endpointType)
    """
    subscription = """
        param url string
        resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {{ name: 'topic' }}
        resource sub 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {{
          parent: topic
          name: 'sub'
          properties: {{ destination: {destination} }}
        }}
        """
    prefix = (
        "snippet{}.bicep: sub (Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15): "
        "path properties.destination."
    )
    other_branch = "{ endpointType: 'WebHook', properties: { endpointUrl: url, queueName: 'q' } }"
    assert check_bicep(subscription.format(destination=other_branch)) == [
        prefix.format(0) + "properties.queueName: is not a property of "
        "WebHookEventSubscriptionDestinationProperties"
    ]
    misspelled = "{ endpointType: 'Webhook', properties: { endpointUrl: url } }"
    assert check_bicep(subscription.format(destination=misspelled)) == [
        prefix.format(1) + "endpointType: 'Webhook' is not one of 'AzureFunction', 'EventHub', "
        "'HybridConnection', 'ServiceBusQueue', 'ServiceBusTopic', 'StorageQueue', 'WebHook'"
    ]
    missing = "{ properties: { endpointUrl: url } }"
    assert check_bicep(subscription.format(destination=missing)) == [
        prefix.format(2) + "endpointType: is missing: EventSubscriptionDestination needs one of "
        "'AzureFunction', 'EventHub', 'HybridConnection', 'ServiceBusQueue', 'ServiceBusTopic', "
        "'StorageQueue', 'WebHook'"
    ]


def test_values_known_only_at_deployment_are_not_judged_but_their_keys_are(
    check_bicep: Callable[[str], list[str]],
) -> None:
    """Bicep's expressions: parameters, variables, resource references, interpolations,
    function calls, ternaries and loop variables have no value before deployment, so only the
    key paths around them are checked, loop bodies included.

    Source: Bicep docs "Iterative loops in Bicep" and "Bicep functions"; Azure/bicep-types-az
    generated types, Microsoft.Web/sites@2024-04-01 (SiteConfig.appSettings: NameValuePair[])
    """
    problems = check_bicep("""
        param settings object
        param workers int
        param mode string
        var tier = 'Disabled'
        resource app 'Microsoft.Web/sites@2024-04-01' = {
          name: 'app-${mode}'
          location: resourceGroup().location
          tags: union({}, { a: 'b' })
          identity: { type: mode }
          properties: {
            httpsOnly: empty(mode) ? true : false
            siteConfig: {
              numberOfWorkers: workers
              ftpsState: tier
              appSettings: [
                for setting in items(settings): {
                  name: setting.key
                  vaule: setting.value
                }
              ]
            }
          }
        }
        """)
    assert problems == [
        "snippet0.bicep: app (Microsoft.Web/sites@2024-04-01): path "
        "properties.siteConfig.appSettings[*].vaule: is not a property of NameValuePair "
        "(did you mean 'value'?)"
    ]


def test_a_type_or_api_version_missing_from_the_reference_fails(
    check_bicep: Callable[[str], list[str]], library: TypeLibrary
) -> None:
    """Resource Manager's types: a type or API version that is not published fails by name,
    for `existing` resources too (their body holds only name, parent and scope).

    Source: Azure/bicep-types-az generated types (commit in the shared reference's
    bicep-types/SOURCE.json); Bicep docs "Existing resources in Bicep"
    """
    problems = check_bicep("""
        resource future 'Microsoft.Web/sites@2099-01-01' = {
          name: 'app'
          location: 'westeurope'
        }
        resource typo 'Microsoft.Web/sitez@2024-04-01' existing = { name: 'app' }
        resource old 'Microsoft.Web/sites@2024-04-01' existing = {
          name: 'app'
          properties: {}
        }
        """)
    missing = (
        "this type and API version are not in the shared reference (bicep-types, "
        f"Azure/bicep-types-az at {library.commit})"
    )
    assert problems == [
        f"snippet0.bicep: future (Microsoft.Web/sites@2099-01-01): {missing}",
        f"snippet0.bicep: typo (Microsoft.Web/sitez@2024-04-01): {missing}",
        "snippet0.bicep: old (Microsoft.Web/sites@2024-04-01): path properties: is not allowed "
        "on an existing resource (only name, parent, scope)",
    ]


def test_bicep_keys_are_allowed_and_location_only_where_the_type_has_it(
    check_bicep: Callable[[str], list[str]],
) -> None:
    """Bicep's resource declaration: parent, scope and dependsOn are Bicep's own keys; name and
    location are the type's (a blob service has no location); a read-only type can only be
    `existing`.

    Source: Bicep docs "Resource declaration in Bicep" and "Set name and type for child
    resources in Bicep"; Azure/bicep-types-az generated types, Microsoft.Storage@2024-01-01
    and Microsoft.EventGrid@2022-06-15 (topicTypes: writableScopes 0)
    """
    problems = check_bicep("""
        resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
          name: 'stjobs'
          location: 'westeurope'
          kind: 'StorageV2'
          sku: { name: 'Standard_LRS' }
        }
        resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
          parent: storage
          name: 'default'
          location: 'westeurope'
          dependsOn: [storage]
        }
        resource lock 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
          name: guid('x')
          scope: storage
          properties: { principalId: 'p', roleDefinitionId: 'r' }
        }
        resource topicType 'Microsoft.EventGrid/topicTypes@2022-06-15' = { name: 'topicType' }
        """)
    assert problems == [
        "snippet0.bicep: blobs (Microsoft.Storage/storageAccounts/blobServices@2024-01-01): "
        "path location: is not a property of Microsoft.Storage/storageAccounts/blobServices",
        "snippet0.bicep: topicType (Microsoft.EventGrid/topicTypes@2022-06-15): the type is "
        "read-only: it can only be `existing`",
    ]


def test_a_nested_resource_declaration_is_reported(
    check_bicep: Callable[[str], list[str]],
) -> None:
    """Bicep's nested resources: pycep moves a child declared inside its parent's body out only
    outside loops and conditions, and keeps only the last of several, so a nested declaration
    fails by name rather than be checked by halves; declared at the top level with `parent:`
    it is checked like any other.

    Source: Bicep docs "Set name and type for child resources in Bicep"; pycep-parser
    (child resources)
    """
    problems = check_bicep("""
        resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
          name: 'stjobs'
          resource blobs 'blobServices' = {
            name: 'default'
          }
        }
        """)
    assert problems == [f"snippet0.bicep: blobs: {NESTED_MESSAGE}"]
