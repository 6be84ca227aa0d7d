"""The Service Bus emulator's generated configuration and compose file, against its rules."""

# No Docker engine runs here, so the emulator never starts: these tests check that
# infra/servicebus-emulator/Config.json is what scripts/servicebus_emulator_config.py makes of
# infra/servicebus.json, that it passes the emulator's schema and limits, and that the compose
# file is well formed, pinned and wired to that file and to the app's connection string.

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import isodate
import jsonschema
import pytest
import yaml

from scripts import servicebus_emulator_config as generator

REPO = Path(__file__).resolve().parents[3]
EMULATOR_DIR = REPO / "infra" / "servicebus-emulator"
CONFIG = EMULATOR_DIR / "Config.json"
COMPOSE = EMULATOR_DIR / "docker-compose.yaml"
SERVICEBUS_JSON = REPO / "infra" / "servicebus.json"
DOC = REPO / "docs" / "servicebus-emulator.md"
SETTINGS_EXAMPLE = REPO / "local.settings.json.example"

# Where the emulator reads its configuration (Microsoft's compose templates mount it there).
CONTAINER_CONFIG_PATH = "/ServiceBus_Emulator/ConfigFiles/Config.json"
EMULATOR_IMAGE = "mcr.microsoft.com/azure-messaging/servicebus-emulator"
SQL_SERVER_IMAGE = "mcr.microsoft.com/mssql/server"
AMQP_PORT = 5672  # IANA's port for AMQP over TCP; the SDK's default without TLS
EMULATOR_HTTP_PORT = 5300  # the emulator's health and management API


@pytest.fixture(scope="session")
def schema(shared_reference: Path) -> dict[str, Any]:
    return json.loads((shared_reference / "servicebus-emulator" / "Config-schema.json").read_text())


def python_patterns(node: Any) -> Any:
    """The schema with its ECMA-262 patterns in Python's dialect. JSON Schema patterns are
    ECMA-262 regexes, where a hyphen after a class escape in a set (`[\\w-\\.]`, the schema's
    name pattern) is a literal hyphen; Python's re refuses it as a bad range."""
    if isinstance(node, dict):
        return {
            key: re.sub(r"(\\[dDsSwW])-", r"\1\\-", value)
            if key == "pattern" and isinstance(value, str)
            else python_patterns(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [python_patterns(item) for item in node]
    return node


def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    translated = python_patterns(schema)
    jsonschema.Draft7Validator.check_schema(translated)
    return jsonschema.Draft7Validator(translated)


@pytest.fixture(scope="session")
def config() -> dict[str, Any]:
    return json.loads(CONFIG.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def source() -> dict[str, Any]:
    return json.loads(SERVICEBUS_JSON.read_text(encoding="utf-8"))


# --- Walking the configuration and the schema together ----------------------------------------

# The schema's node for each kind of entity, as a path of property names from UserConfig.
SCHEMA_PATHS = {
    "queue": ("Namespaces", "Queues"),
    "topic": ("Namespaces", "Topics"),
    "subscription": ("Namespaces", "Topics", "Subscriptions"),
}


def schema_items(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    """The schema of one queue, topic or subscription entry."""
    node = schema["properties"]["UserConfig"]
    for name in SCHEMA_PATHS[kind]:
        node = node["properties"][name]["items"]
    return node


def entities(config: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, name, Properties) of every queue, topic and subscription ("topic/sub")."""
    for namespace in config["UserConfig"]["Namespaces"]:
        for queue in namespace.get("Queues", []):
            yield "queue", queue["Name"], queue.get("Properties", {})
        for topic in namespace.get("Topics", []):
            yield "topic", topic["Name"], topic.get("Properties", {})
            for sub in topic.get("Subscriptions", []):
                yield "subscription", f"{topic['Name']}/{sub['Name']}", sub.get("Properties", {})


def undeclared_keys(value: Any, node: dict[str, Any], path: str = "$") -> list[str]:
    """Paths of keys the schema does not declare where they stand. An object schema without
    `properties` (a correlation filter's user properties) takes any key."""
    found: list[str] = []
    if isinstance(value, dict) and "properties" in node:
        for key, child in value.items():
            if key not in node["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += undeclared_keys(child, node["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            found += undeclared_keys(item, node["items"], f"{path}[{index}]")
    return found


def duration(text: str) -> timedelta:
    """Parsed with isodate, not with the generator's own parser, so one checks the other."""
    parsed = isodate.parse_duration(text)
    assert isinstance(parsed, timedelta), f"{text} has years or months"
    return parsed


# --- The generated file ------------------------------------------------------------------------


def test_config_is_what_the_generator_makes_of_servicebus_json() -> None:
    """Config.json is generated, never edited: regenerating it from infra/servicebus.json gives
    the committed file byte for byte. The emulator creates its entities from this file alone,
    when it starts, so a stale file means entities that differ from Azure's.
    Source: Learn, overview-emulator.md, 'Quota configuration changes'."""
    text, _ = generator.render_file(SERVICEBUS_JSON)
    assert CONFIG.read_bytes() == text.encode("utf-8")


def test_check_flag_passes_on_the_committed_file_and_fails_on_a_stale_one(tmp_path: Path) -> None:
    """`--check` is the CI guard: exit 0 when Config.json is current, exit 1 and a diff naming
    the stale value when it is not, and nothing is written in either case.
    Source: Learn, overview-emulator.md, 'Quota configuration changes'."""
    script = REPO / "scripts" / "servicebus_emulator_config.py"
    ok = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "Config.json"
    stale.write_text(CONFIG.read_text().replace('"PT5M"', '"PT4M"', 1))
    before = stale.read_text()
    result = subprocess.run(
        [sys.executable, str(script), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is stale" in result.stderr
    assert '"DuplicateDetectionHistoryTimeWindow": "PT4M"' in result.stderr
    assert stale.read_text() == before


def test_config_validates_against_the_emulators_schema(
    config: dict[str, Any], schema: dict[str, Any]
) -> None:
    """The configuration passes the emulator's published JSON schema (draft 7).
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    validator(schema).validate(config)
    names = [name.split("/")[-1] for _, name, _ in entities(config)]
    assert any("-" in name for name in names)  # so the hyphen in the name pattern is exercised
    bad = copy.deepcopy(config)
    bad["UserConfig"]["Namespaces"][0]["Queues"][0]["Name"] = "orders!"
    assert not validator(schema).is_valid(bad)


def test_every_key_is_one_the_schema_declares_where_it_stands(
    config: dict[str, Any], schema: dict[str, Any]
) -> None:
    """Every key of Config.json is a property the schema declares at that spot: the schema has
    no `additionalProperties: false`, so a misspelled key would validate and be ignored.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    assert undeclared_keys(config, schema) == []


def test_a_misspelled_key_passes_the_schema_but_not_the_key_check(
    config: dict[str, Any], schema: dict[str, Any]
) -> None:
    """Why the key check exists: `MaxDeliveryCnt` validates against the schema (the emulator
    would ignore it and use its default of 3) and only the key walk catches it.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    broken = copy.deepcopy(config)
    queue = broken["UserConfig"]["Namespaces"][0]["Queues"][0]
    queue["Properties"]["MaxDeliveryCnt"] = queue["Properties"].pop("MaxDeliveryCount")
    validator(schema).validate(broken)  # the schema alone: no complaint
    assert undeclared_keys(broken, schema) == [
        "$.UserConfig.Namespaces[0].Queues[0].Properties.MaxDeliveryCnt"
    ]


@pytest.mark.parametrize(
    "name", ["orders", "order-events", "a", "a.b/c_d", "-x", "x-", "o!", "", "a b"]
)
def test_the_generators_name_check_is_the_schemas_pattern(
    name: str, schema: dict[str, Any]
) -> None:
    """Entity names follow the schema's pattern, an ECMA-262 regex in which the hyphen of
    `[\\w-\\.\\/]` is literal: the generator refuses exactly the names the schema refuses.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer); ECMA-262, Annex B."""
    queue_name = python_patterns(schema_items(schema, "queue"))["properties"]["Name"]["pattern"]
    assert bool(re.search(queue_name, name)) is bool(generator.NAME.fullmatch(name))


@pytest.mark.parametrize("kind", sorted(generator.KINDS))
def test_the_generator_maps_to_exactly_the_schemas_properties(
    kind: str, schema: dict[str, Any]
) -> None:
    """The generator's ARM-to-emulator property names are exactly the properties the schema
    declares for that kind of entity: none misspelled, none the emulator takes left unmapped.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    declared = set(schema_items(schema, kind)["properties"]["Properties"]["properties"])
    assert set(generator.KINDS[kind].properties.values()) == declared
    assert not set(generator.KINDS[kind].dropped) & set(generator.KINDS[kind].properties)


def test_an_unknown_arm_property_is_an_error_not_a_silent_drop(
    source: dict[str, Any], tmp_path: Path
) -> None:
    """A property of servicebus.json the emulator's schema does not know stops the generator
    with its name, unless the generator lists it as dropped with a reason.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    unknown = copy.deepcopy(source)
    unknown["queues"][0]["properties"]["maxDeliveryCnt"] = 5
    with pytest.raises(generator.ConfigError, match="'maxDeliveryCnt' is not a property"):
        generator.build(unknown)
    (tmp_path / "servicebus.json").write_text(json.dumps(unknown))
    output = tmp_path / "Config.json"
    script = REPO / "scripts" / "servicebus_emulator_config.py"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--source",
            str(tmp_path / "servicebus.json"),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "maxDeliveryCnt" in result.stderr
    assert not output.exists()
    dropped = copy.deepcopy(source)
    dropped["queues"][0]["properties"]["maxSizeInMegabytes"] = 1024
    assert generator.build(dropped)[0] == generator.build(source)[0]


def test_nothing_of_servicebus_json_is_left_out(
    config: dict[str, Any], source: dict[str, Any]
) -> None:
    """Every queue, topic and subscription of infra/servicebus.json (what Bicep deploys and
    devhost stands in for) exists in the emulator under the same name: the emulator creates only
    the entities its configuration lists.
    Source: Learn, overview-emulator.md, 'Quota configuration changes'."""
    declared = {("queue", q["name"]) for q in source["queues"]}
    for topic in source["topics"]:
        declared.add(("topic", topic["name"]))
        declared |= {
            ("subscription", f"{topic['name']}/{s['name']}") for s in topic["subscriptions"]
        }
    assert {(kind, name) for kind, name, _ in entities(config)} == declared


def test_unchanged_properties_keep_their_azure_values(
    config: dict[str, Any], source: dict[str, Any]
) -> None:
    """A property is either carried over with its Azure value or listed as an adjustment (a
    clamp, or Azure's default written out): no other value changes on the way.
    Source: Learn, overview-emulator.md, 'Usage quotas'."""
    _, adjustments = generator.render_file(SERVICEBUS_JSON)
    adjusted = {(a.kind, a.entity, a.property) for a in adjustments}
    arm = {("queue", q["name"]): q["properties"] for q in source["queues"]}
    for topic in source["topics"]:
        arm[("topic", topic["name"])] = topic["properties"]
        for sub in topic["subscriptions"]:
            arm[("subscription", f"{topic['name']}/{sub['name']}")] = sub["properties"]
    for kind, name, properties in entities(config):
        for key, value in properties.items():
            if (kind, name, key) in adjusted:
                continue
            original = arm[(kind, name)][key[0].lower() + key[1:]]
            if isinstance(value, str) and value.startswith("P"):
                assert duration(value) == duration(original), (kind, name, key)
            else:
                assert value == original, (kind, name, key)


# --- The emulator's limits, one check each -----------------------------------------------------

# (kind, property, minimum, maximum), as the schema's descriptions state them.
DURATION_LIMITS = [
    ("queue", "DefaultMessageTimeToLive", "PT5M", "PT1H"),
    ("topic", "DefaultMessageTimeToLive", "PT5M", "PT1H"),
    ("subscription", "DefaultMessageTimeToLive", "PT5M", "PT1H"),
    ("queue", "DuplicateDetectionHistoryTimeWindow", "PT5S", "PT5M"),
    ("topic", "DuplicateDetectionHistoryTimeWindow", "PT5S", "PT5M"),
    ("queue", "LockDuration", "PT5S", "PT5M"),
    ("subscription", "LockDuration", "PT1M", "PT5M"),
]
LIMIT_IDS = [f"{kind}-{prop}" for kind, prop, _, _ in DURATION_LIMITS]


@pytest.mark.parametrize(("kind", "prop", "low", "high"), DURATION_LIMITS, ids=LIMIT_IDS)
def test_each_duration_limit_is_the_one_the_schema_states(
    kind: str, prop: str, low: str, high: str, schema: dict[str, Any]
) -> None:
    """The limits written here and in the generator are the schema's own words: "the minimum
    value is X" and "the maximum value is Y" in the property's description.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    description = schema_items(schema, kind)["properties"]["Properties"]["properties"][prop][
        "description"
    ]
    assert re.search(rf"minimum value is {low}\b", description), description
    assert re.search(rf"maximum value is {high}\b", description), description
    limit = generator.KINDS[kind].limits[prop]
    assert (limit.low, limit.high) == (duration(low), duration(high))


@pytest.mark.parametrize(("kind", "prop", "low", "high"), DURATION_LIMITS, ids=LIMIT_IDS)
def test_each_duration_in_the_config_is_within_its_limit(
    kind: str, prop: str, low: str, high: str, config: dict[str, Any]
) -> None:
    """Time to live PT5M-PT1H, duplicate-detection window PT5S-PT5M, lock duration at most PT5M
    (at least PT5S on a queue, PT1M on a subscription): the emulator takes no other values.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    for entity_kind, name, properties in entities(config):
        if entity_kind == kind and prop in properties:
            assert duration(low) <= duration(properties[prop]) <= duration(high), (name, prop)


def test_max_delivery_count_is_between_1_and_10(
    config: dict[str, Any], schema: dict[str, Any]
) -> None:
    """MaxDeliveryCount of queues and subscriptions is 1 to 10 in the emulator (Standard
    allows far more).
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    for kind in ("queue", "subscription"):
        declared = schema_items(schema, kind)["properties"]["Properties"]["properties"]
        count = declared["MaxDeliveryCount"]
        assert (count["minimum"], count["maximum"]) == (1, 10)
    limit = generator.MAX_DELIVERY_COUNT
    assert (limit.low, limit.high) == (1, 10)
    counts = [p["MaxDeliveryCount"] for _, _, p in entities(config) if "MaxDeliveryCount" in p]
    assert counts and all(1 <= count <= 10 for count in counts)


def test_one_namespace_named_sbemulatorns(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """The emulator has one namespace and it cannot be renamed: `sbemulatorns`.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer);
    Learn, overview-emulator.md, 'Usage quotas' and 'Quota configuration changes'."""
    namespaces = schema["properties"]["UserConfig"]["properties"]["Namespaces"]
    assert namespaces["items"]["properties"]["Name"]["enum"] == [generator.NAMESPACE]
    assert [ns["Name"] for ns in config["UserConfig"]["Namespaces"]] == ["sbemulatorns"]


def test_at_most_50_queues_and_topics(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Queues and topics together: at most 50 per namespace.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer);
    Learn, overview-emulator.md, 'Usage quotas'."""
    namespace_schema = schema["properties"]["UserConfig"]["properties"]["Namespaces"]["items"]
    description = namespace_schema["properties"]["Queues"]["description"]
    assert "Max Queues + Topics per namespace is 50" in description
    assert generator.MAX_ENTITIES == 50
    namespace = config["UserConfig"]["Namespaces"][0]
    assert len(namespace["Queues"]) + len(namespace["Topics"]) <= 50


def test_every_topic_has_1_to_50_subscriptions(
    config: dict[str, Any], schema: dict[str, Any]
) -> None:
    """A topic needs at least one subscription and takes at most 50.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    topic_schema = schema_items(schema, "topic")
    assert "Subscriptions" in topic_schema["required"]
    subs = topic_schema["properties"]["Subscriptions"]
    assert (subs["minItems"], subs["maxItems"]) == (1, 50)
    for topic in config["UserConfig"]["Namespaces"][0]["Topics"]:
        assert 1 <= len(topic["Subscriptions"]) <= 50, topic["Name"]
    empty = {"queues": [], "topics": [{"name": "t", "properties": {}, "subscriptions": []}]}
    with pytest.raises(generator.ConfigError, match="subscriptions per topic"):
        generator.build(empty)


def test_a_logging_section_is_present(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """UserConfig requires a Logging section, with a Type of File, Console or both.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    user_config = schema["properties"]["UserConfig"]
    assert "Logging" in user_config["required"]
    allowed = user_config["properties"]["Logging"]["properties"]["Type"]["enum"]
    assert config["UserConfig"]["Logging"]["Type"] in allowed


def test_azure_defaults_that_differ_are_written_out() -> None:
    """A property servicebus.json leaves to Azure's default is written with that default when
    the emulator's default differs (max delivery count: Azure 10, emulator 3; duplicate window:
    Azure 10 minutes, emulator 20 seconds), clamped if needed.
    Source: Azure/bicep-types-az, microsoft.servicebus/2022-10-01-preview types.json;
    Learn, service-bus-dead-letter-queues.md, 'Maximum delivery count'."""
    bare = {"queues": [{"name": "q", "properties": {"requiresDuplicateDetection": True}}]}
    config, adjustments = generator.build(bare)
    properties = config["UserConfig"]["Namespaces"][0]["Queues"][0]["Properties"]
    assert properties["MaxDeliveryCount"] == 10
    assert properties["DuplicateDetectionHistoryTimeWindow"] == "PT5M"
    assert {(a.property, a.azure, a.emulator, a.unset) for a in adjustments} == {
        ("MaxDeliveryCount", "10", "10", True),
        ("DuplicateDetectionHistoryTimeWindow", "PT10M", "PT5M", True),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1M", "PT1M"),
        ("PT60S", "PT1M"),
        ("P14D", "P14D"),
        ("P1DT1H30M", "P1DT1H30M"),
        ("P2W", "P14D"),
        ("PT0S", "PT0S"),
    ],
)
def test_durations_round_trip_in_the_emulators_form(text: str, expected: str) -> None:
    """ISO 8601 durations are read as fixed lengths and written as the schema's pattern takes
    them (days, hours, minutes, whole seconds).
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    assert generator.format_duration(generator.parse_duration(text)) == expected
    assert generator.parse_duration(text) == duration(text)


@pytest.mark.parametrize("text", ["P1M", "P1Y", "PT", "P", "14 days", "PT1.5S"])
def test_durations_without_a_fixed_length_or_form_are_refused(text: str) -> None:
    """Months and years have no fixed length, and the schema's pattern takes whole seconds only.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    with pytest.raises(generator.ConfigError):
        generator.format_duration(generator.parse_duration(text))


# --- docs/servicebus-emulator.md ---------------------------------------------------------------


def test_the_doc_lists_exactly_the_values_the_generator_changes(h: Any) -> None:
    """Every value that differs between Azure and the emulator is in the docs' table, with the
    same entity, property, both values and a reason; nothing more.
    Source: Config-schema.json (Azure/azure-service-bus-emulator-installer)."""
    _, adjustments = generator.render_file(SERVICEBUS_JSON)
    expected = {(a.kind, a.entity, a.property, a.azure, a.emulator) for a in adjustments}
    documented = set()
    for row in h.docs_table("Values changed for the emulator", DOC):
        kind = row["Entity"].split()[0]
        assert row["Why"], row
        unset = {(a.kind, a.entity, a.property) for a in adjustments if a.unset}
        key = (kind, h.code_spans(row["Entity"])[0], h.code_spans(row["Property"])[0])
        assert ("unset" in row["Azure value"]) is (key in unset), row
        values = (h.code_spans(row["Azure value"])[0], h.code_spans(row["Emulator value"])[0])
        documented.add((*key, *values))
    assert documented == expected


def test_the_doc_names_every_dropped_property() -> None:
    """Each ARM property the generator drops (rather than refuses) is named in the docs.
    Source: Learn, overview-emulator.md, 'Known limitations' and 'Usage quotas'."""
    text = DOC.read_text(encoding="utf-8")
    dropped = {name for kind in generator.KINDS.values() for name in kind.dropped}
    assert {name for name in dropped if f"`{name}`" not in text} == set()


# --- The compose file --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def published_ports(service: dict[str, Any]) -> dict[int, tuple[str | None, int]]:
    """Container port -> (host address or None, host port), from the short syntax."""
    found = {}
    for entry in service.get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        address = parts[0] if len(parts) == 3 else None
        host, container = int(parts[-2]), int(parts[-1])
        found[container] = (address, host)
    return found


def image_parts(image: str) -> tuple[str, str | None]:
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    return name, tag or None


def test_compose_file_parses_with_the_two_services(compose: dict[str, Any]) -> None:
    """The compose file is well-formed YAML with the emulator and a SQL Server it depends on,
    as Microsoft's templates pair them (the emulator keeps its state in SQL Server).
    Source: Azure/azure-service-bus-emulator-installer, Docker-Compose-Template/*.yml."""
    services = compose["services"]
    assert set(services) == {"emulator", "sqlserver"}
    assert "sqlserver" in services["emulator"]["depends_on"]
    assert image_parts(services["emulator"]["image"])[0] == EMULATOR_IMAGE
    assert image_parts(services["sqlserver"]["image"])[0] == SQL_SERVER_IMAGE


def test_every_image_tag_is_pinned(compose: dict[str, Any]) -> None:
    """Each image names a fixed tag: no missing tag, no `latest` or `<version>-latest` (those
    move, and the templates' `pull_policy: always` pulls whatever is newest).
    Source: Docker docs, 'docker image tag' (no tag means `latest`); Compose spec, 'pull_policy'."""
    for name, service in compose["services"].items():
        _, tag = image_parts(service["image"])
        assert tag is not None and "latest" not in tag.lower(), (name, service["image"])
        assert service.get("pull_policy", "missing") != "always", name


def test_no_azure_sql_edge(compose: dict[str, Any]) -> None:
    """Azure SQL Edge, the database of Microsoft's default template, is retired: SQL Server
    takes its place.
    Source: Learn, Azure SQL Edge docs, retirement notice (retired September 30, 2025)."""
    assert "azure-sql-edge" not in COMPOSE.read_text().lower()
    assert all("sql-edge" not in s["image"] for s in compose["services"].values())


def test_the_config_mount_is_the_generated_file_at_the_emulators_path(
    compose: dict[str, Any],
) -> None:
    """The emulator reads /ServiceBus_Emulator/ConfigFiles/Config.json; the mount's host side
    (relative to the compose file) is the committed, generated Config.json.
    Source: Azure/azure-service-bus-emulator-installer, docker-compose-standalone-emulator.yml."""
    mounts = {}
    for volume in compose["services"]["emulator"]["volumes"]:
        host, container, *_options = str(volume).split(":")
        mounts[container] = (COMPOSE.parent / host).resolve()
    assert mounts.get(CONTAINER_CONFIG_PATH) == CONFIG.resolve()
    assert CONFIG.is_file()


def test_the_emulator_gets_the_settings_it_needs(compose: dict[str, Any]) -> None:
    """ACCEPT_EULA, SQL_SERVER, MSSQL_SA_PASSWORD and SQL_WAIT_INTERVAL are set; SQL_SERVER
    names the compose file's SQL Server unless the user gives another; the password and the
    licence acceptance come from the user's .env, never from the repository.
    Source: Azure/azure-service-bus-emulator-installer, Docker-Compose-Template/*.yml."""
    emulator = compose["services"]["emulator"]["environment"]
    sql = compose["services"]["sqlserver"]["environment"]
    assert {"ACCEPT_EULA", "SQL_SERVER", "MSSQL_SA_PASSWORD", "SQL_WAIT_INTERVAL"} <= set(emulator)
    assert re.fullmatch(r"\$\{SQL_SERVER:-sqlserver\}", emulator["SQL_SERVER"])
    for environment in (emulator, sql):
        for name in ("ACCEPT_EULA", "MSSQL_SA_PASSWORD"):
            assert re.fullmatch(rf"\$\{{{name}:\?[^}}]*\}}", environment[name]), name
    example = (EMULATOR_DIR / ".env.example").read_text()
    assert re.search(r"^MSSQL_SA_PASSWORD=$", example, re.MULTILINE)
    assert re.search(r"^ACCEPT_EULA=N$", example, re.MULTILINE)
    assert ".env" in (EMULATOR_DIR / ".gitignore").read_text().split()


def test_amqp_and_the_health_port_are_published(compose: dict[str, Any]) -> None:
    """AMQP (5672) is published for the app; the HTTP port for the health check and management
    API (5300, EMULATOR_HTTP_PORT) too. SQL Server publishes nothing.
    Source: Azure/azure-service-bus-emulator-installer, docker-compose-standalone-emulator.yml;
    ServiceBus-Emulator/Schema/HealthCheckApiSchema.md."""
    emulator = compose["services"]["emulator"]
    ports = published_ports(emulator)
    assert AMQP_PORT in ports and EMULATOR_HTTP_PORT in ports
    assert int(emulator["environment"]["EMULATOR_HTTP_PORT"]) == EMULATOR_HTTP_PORT
    assert "ports" not in compose["services"]["sqlserver"]


def test_the_apps_connection_string_is_the_emulators_and_reaches_the_published_port(
    compose: dict[str, Any],
) -> None:
    """ServiceBusConnection in local.settings.json.example is the emulator's documented
    connection string (UseDevelopmentEmulator=true, its static key) and its endpoint is the
    host port the compose file publishes for AMQP (5672 when the endpoint names no port).
    Source: Learn, test-locally-with-service-bus-emulator.md, 'Interact with the emulator';
    azure-servicebus 7.15.0, _pyamqp/_transport.py (AMQP_PORT = 5672)."""
    settings = json.loads(SETTINGS_EXAMPLE.read_text())["Values"]
    pairs = dict(
        part.split("=", 1) for part in settings["ServiceBusConnection"].strip(";").split(";")
    )
    assert pairs["UseDevelopmentEmulator"] == "true"
    assert pairs["SharedAccessKeyName"] == "RootManageSharedAccessKey"
    assert pairs["SharedAccessKey"] == "SAS_KEY_VALUE"
    endpoint = urlparse(pairs["Endpoint"])
    assert (endpoint.scheme, endpoint.hostname) == ("sb", "localhost")
    address, host_port = published_ports(compose["services"]["emulator"])[AMQP_PORT]
    assert (endpoint.port or AMQP_PORT) == host_port
    assert address in (None, "127.0.0.1", "0.0.0.0")
