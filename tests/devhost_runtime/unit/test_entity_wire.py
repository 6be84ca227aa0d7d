"""Entity messages in the extension's wire shapes, checked against the SDK that reads them."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest
from azure.durable_functions import DurableEntityContext, Entity
from azure.durable_functions.models.entities.ResponseMessage import ResponseMessage

from devhost.durable import entity_wire

AT = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def dotnet_deterministic_guid(namespace: str, name: str) -> str:
    """A line-by-line port of the extension's GuidManager.CreateDeterministicGuid (V5)."""

    def swap(b: bytearray) -> None:
        for left, right in ((0, 3), (1, 2), (4, 5), (6, 7)):
            b[left], b[right] = b[right], b[left]

    namespace_bytes = bytearray(uuid.UUID(namespace).bytes_le)  # Guid.ToByteArray()
    swap(namespace_bytes)
    digest = bytearray(hashlib.sha1(bytes(namespace_bytes) + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | (5 << 4)
    digest[8] = (digest[8] & 0x3F) | 0x80
    swap(digest)
    return str(uuid.UUID(bytes_le=bytes(digest)))  # new Guid(byte[]) then ToString()


def test_request_id_is_the_extensions_new_guid() -> None:
    expected = dotnet_deterministic_guid(
        "9e952959-5e33-4daf-827f-2fa12937b875", "abc_2024-05-01T10:00:00.1234560Z_3"
    )
    assert entity_wire.request_id("abc", AT, 3) == expected
    assert entity_wire.request_id("abc", AT, 4) != expected


def test_dotnet_roundtrip_has_seven_fraction_digits() -> None:
    assert entity_wire.dotnet_roundtrip(AT) == "2024-05-01T10:00:00.1234560Z"


def test_scheduler_ids() -> None:
    assert entity_wire.scheduler_id("Counter", "a@b") == "@counter@a@b"
    assert entity_wire.parse_scheduler_id("@counter@a@b") == ("counter", "a@b")
    assert entity_wire.parse_scheduler_id("@counter@") == ("counter", "")
    with pytest.raises(entity_wire.EntityWireError):
        entity_wire.parse_scheduler_id("counter")


def test_keys_with_reserved_characters_are_refused() -> None:
    entity_wire.validate_key("ok-key @1")
    for bad in ("a/b", "a\\b", "a#b", "a?b", "a\nb"):
        with pytest.raises(entity_wire.EntityWireError, match="Entity keys must not contain"):
            entity_wire.validate_key(bad)


def test_orchestration_request_shape() -> None:
    message = entity_wire.request_message(
        "add",
        entity_wire.orchestration_input("5"),
        "the-id",
        signal=True,
        parent="orch",
        parent_execution="exec",
    )
    assert entity_wire.request_text(message) == (
        '{"op":"add","signal":true,"input":"\\"5\\"","id":"the-id",'
        '"parent":"orch","parentExecution":"exec"}'
    )
    call = entity_wire.request_message("get", None, "id2", signal=False)
    assert entity_wire.request_text(call) == '{"op":"get","id":"id2"}'


def test_client_input_follows_the_http_api() -> None:
    assert entity_wire.client_input("", "application/json") is None
    # The SDK double-encodes: the body is a JSON string, and stays one.
    assert entity_wire.client_input(json.dumps(json.dumps({"a": 1})), "application/json") == (
        '"{\\"a\\": 1}"'
    )
    assert entity_wire.client_input('{ "a" : 1 }', "application/json") == '{"a":1}'
    assert entity_wire.client_input("plain text", "text/plain") == '"plain text"'
    with pytest.raises(entity_wire.EntityWireError, match="Could not parse JSON content"):
        entity_wire.client_input("{nope", "application/json")


def test_response_text_has_exception_type_only_on_error() -> None:
    assert entity_wire.response_text("13", False) == '{"result":"13"}'
    assert entity_wire.response_text('"boom"', True) == (
        '{"result":"\\"boom\\"","exceptionType":"Error"}'
    )
    ok = ResponseMessage.from_dict(json.loads(entity_wire.response_text("13", False)))
    failed = ResponseMessage.from_dict(json.loads(entity_wire.response_text('"x"', True)))
    assert (ok.is_exception, failed.is_exception) == (False, True)


def _counter(context: DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
        context.set_state(value)
    elif context.operation_name == "fail":
        raise ValueError("no")
    elif context.operation_name == "delete":
        context.destruct_on_exit()
        return
    context.set_result(value)


def _run_sdk(trigger: str) -> entity_wire.BatchOutcome:
    context, batch = DurableEntityContext.from_json(trigger)
    output = Entity(_counter).handle(context, batch)
    return entity_wire.parse_batch_output(output, len(batch))


def _requests(*ops: tuple[str, object]) -> list[dict[str, object]]:
    return [
        entity_wire.request_message(
            op,
            entity_wire.orchestration_input(json.dumps(value)),
            f"id{i}",
            signal=i % 2 == 0,
        )
        for i, (op, value) in enumerate(ops)
    ]


def test_the_sdk_reads_the_trigger_input_and_its_output_parses() -> None:
    trigger = entity_wire.trigger_input(
        "counter", "k", True, "5", _requests(("add", 3), ("fail", None), ("add", 2))
    )
    assert json.loads(trigger)["batch"][0] == {"name": "add", "input": '"3"', "isSignal": True}
    outcome = _run_sdk(trigger)
    # A failed operation does not roll back the ones before it, nor stop the ones after it.
    assert outcome.exists is True
    assert outcome.state == "10"
    assert [(r.is_error, r.result) for r in outcome.results] == [
        (False, "8"),
        (True, '"no"'),
        (False, "10"),
    ]


def test_a_new_entity_and_destruct_on_exit() -> None:
    fresh = _run_sdk(entity_wire.trigger_input("counter", "k", False, None, _requests(("add", 1))))
    assert (fresh.exists, fresh.state) == (True, "1")
    gone = _run_sdk(
        entity_wire.trigger_input("counter", "k", True, "4", _requests(("delete", None)))
    )
    assert (gone.exists, gone.state) == (False, None)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (None, "returned no state"),
        ("{", "invalid JSON"),
        ('{"entityExists": true}', "no results list"),
        ('{"entityExists": true, "entityState": "1", "results": []}', "0 results for 1"),
        ('{"entityExists": true, "entityState": 1, "results": [{}]}', "not JSON text"),
    ],
)
def test_bad_entity_output_is_refused(output: str | None, message: str) -> None:
    with pytest.raises(entity_wire.EntityWireError, match=message):
        entity_wire.parse_batch_output(output, 1)


def test_unknown_entity_message() -> None:
    assert entity_wire.unknown_entity_message("x", frozenset({"b", "a"})) == (
        "The function 'x' doesn't exist, is disabled, or is not an entity function. "
        "Additional info: The following are the known entity functions: 'a', 'b'."
    )
    assert entity_wire.unknown_entity_message("x", frozenset()).endswith(
        "No entity functions are currently registered!"
    )
