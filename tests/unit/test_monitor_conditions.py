"""domain.monitor_conditions: the monitor's condition language, parsed and evaluated strictly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.monitor_conditions import (
    MAX_DEPTH,
    MAX_TERMS,
    MonitorCondition,
    MonitorTest,
    resolve,
)
from domain.payload import InvalidPayload, Model, parse_request, read
from triggers.problem_details import pointer


class Body(Model):
    """A request holding one condition, as the monitor's request does."""

    condition: MonitorCondition


def parse_condition(condition: Any) -> MonitorCondition:
    return parse_request(Body, json.dumps({"condition": condition})).condition


DOC = {
    "status": "done",
    "progress": 100,
    "ratio": 0.5,
    "ok": True,
    "none": None,
    "items": [{"state": "succeeded"}, {"state": "running"}],
    "a/b": {"c~d": 1},
    "": "empty key",
}


def holds(condition: dict[str, Any], document: Any = DOC) -> bool:
    return parse_condition(condition).holds(document)


def problems(condition: Any) -> list[str]:
    with pytest.raises(InvalidPayload) as caught:
        parse_condition(condition)
    return caught.value.problems


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"pointer": "/status", "equals": "done"}, True),
        ({"pointer": "/status", "equals": "Done"}, False),
        ({"pointer": "/status", "not_equals": "done"}, False),
        ({"pointer": "/status", "in": ["failed", "done"]}, True),
        ({"pointer": "/status", "in": ["failed"]}, False),
        ({"pointer": "/progress", "gte": 100}, True),
        ({"pointer": "/progress", "gt": 100}, False),
        ({"pointer": "/ratio", "lt": 1}, True),
        ({"pointer": "/ratio", "lte": 0.5}, True),
        ({"pointer": "/progress", "equals": 100.0}, True),
        ({"pointer": "/none", "equals": None}, True),
        ({"pointer": "/none", "exists": True}, True),
        ({"pointer": "/missing", "exists": False}, True),
        ({"pointer": "/missing", "exists": True}, False),
        ({"pointer": "/items/0/state", "equals": "succeeded"}, True),
        ({"pointer": "/items/1/state", "equals": "succeeded"}, False),
        ({"pointer": "/items/2/state", "exists": True}, False),
        ({"pointer": "/a~1b/c~0d", "equals": 1}, True),
        ({"pointer": "/", "equals": "empty key"}, True),
        ({"pointer": "", "exists": True}, True),
    ],
)
def test_operators_on_a_document(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


def test_comparisons_are_strict_json() -> None:
    # true is not 1, "100" is not 100, and ordering never compares text.
    assert not holds({"pointer": "/ok", "equals": 1})
    assert holds({"pointer": "/ok", "equals": True})
    assert not holds({"pointer": "/progress", "equals": True}, {"progress": 1})
    assert not holds({"pointer": "/progress", "equals": "100"})
    assert not holds({"pointer": "/status", "gt": 0})
    assert not holds({"pointer": "/ok", "gte": 0})
    assert not holds({"pointer": "/progress", "in": [True, "100"]}, {"progress": 1})


def test_a_missing_value_makes_every_operator_false_but_not_exists() -> None:
    for operator, operand in [("equals", None), ("not_equals", "x"), ("in", [None]), ("lt", 5)]:
        assert not holds({"pointer": "/nothing/here", operator: operand}), operator
    assert not holds({"pointer": "/status/deeper", "exists": True})


def test_array_indices_are_plain_decimal() -> None:
    doc = {"items": ["a", "b"]}
    assert holds({"pointer": "/items/1", "equals": "b"}, doc)
    for token in ("01", "-1", "1.0", "²", "+1", "999999999999"):
        assert not holds({"pointer": f"/items/{token}", "exists": True}, doc), token
    assert resolve(("items", "0"), doc) == (True, "a")


def test_all_any_and_not_combine() -> None:
    done = {"pointer": "/status", "equals": "done"}
    failed = {"pointer": "/status", "equals": "failed"}
    assert holds({"all": [done, {"pointer": "/progress", "gte": 100}]})
    assert not holds({"all": [done, failed]})
    assert holds({"any": [failed, done]})
    assert not holds({"any": [failed]})
    assert holds({"not": failed})
    assert holds({"not": {"not": done}})


def test_the_document_can_be_any_json() -> None:
    assert holds({"pointer": "", "equals": "done"}, "done")
    assert holds({"pointer": "/0", "equals": 1}, [1])
    assert not holds({"pointer": "/status", "equals": "done"}, ["done"])
    assert not holds({"pointer": "/status", "exists": True}, None)


@pytest.mark.parametrize(
    ("condition", "where", "problem"),
    [
        ("status == 'done'", "#/condition", "object"),
        ({"pointer": "/status"}, "#/condition", "exactly one operator"),
        ({"pointer": "/status", "equals": "a", "in": ["b"]}, "#/condition", "exactly one operator"),
        ({"pointer": "/status", "matches": "^d"}, "#/condition/matches", "not permitted"),
        ({"equals": "done"}, "#/condition", "a pointer"),
        ({"pointer": None, "equals": "done"}, "#/condition/pointer", "not null"),
        ({"pointer": "status", "equals": "done"}, "#/condition/pointer", "pattern"),
        ({"pointer": "/a~2", "equals": 1}, "#/condition/pointer", "pattern"),
        ({"pointer": "/" + "a" * 300, "equals": 1}, "#/condition/pointer", "at most 256"),
        ({"pointer": "/n", "gt": "5"}, "#/condition/gt", "a number"),
        ({"pointer": "/n", "gt": True}, "#/condition/gt", "a number"),
        ({"pointer": "/n", "gt": None}, "#/condition/gt", "a number"),
        ({"pointer": "/n", "exists": "yes"}, "#/condition/exists", "boolean"),
        ({"pointer": "/n", "in": []}, "#/condition/in", "at least 1 item"),
        ({"pointer": "/n", "in": [[1]]}, "#/condition/in/0", "a string"),
        ({"pointer": "/n", "in": list(range(21))}, "#/condition/in", "at most 20 items"),
        ({"pointer": "/n", "equals": {"a": 1}}, "#/condition/equals", "a string of"),
        ({"pointer": "/n", "equals": "x" * 257}, "#/condition/equals", "at most 256 characters"),
        ({"all": []}, "#/condition/all", "at least 1 item"),
        ({"any": "x"}, "#/condition/any", "array"),
        ({"not": None}, "#/condition/not", "not null"),
        (
            {"all": [{"pointer": "/a", "exists": True}], "pointer": "/b"},
            "#/condition",
            "stands alone",
        ),
        ({"all": [{"pointer": "/a"}]}, "#/condition/all/0", "exactly one operator"),
    ],
)
def test_invalid_conditions_name_their_problem(condition: Any, where: str, problem: str) -> None:
    found = problems(condition)
    assert [pointer(text) for text in found] == [where], found
    assert problem in found[0], found


def test_numbers_that_json_cannot_carry_are_refused() -> None:
    for raw in ('{"pointer": "/n", "gt": NaN}', '{"pointer": "/n", "equals": Infinity}'):
        with pytest.raises(InvalidPayload) as caught:
            parse_request(Body, f'{{"condition": {raw}}}')
        assert len(caught.value.problems) == 1


def test_every_problem_is_listed_and_values_are_not_echoed() -> None:
    found = problems({"any": [{"pointer": "secret-1", "equals": 1}, {"pointer": "/x", "gt": "s"}]})
    assert [pointer(text) for text in found] == [
        "#/condition/any/0/pointer",
        "#/condition/any/1/gt",
    ]
    assert not any("secret-1" in text for text in found)


def test_depth_and_size_are_limited() -> None:
    leaf: dict[str, Any] = {"pointer": "/a", "exists": True}
    nested = leaf
    for _ in range(MAX_DEPTH - 1):
        nested = {"not": nested}
    assert holds(nested, {})  # MAX_DEPTH levels: fine
    assert problems({"not": nested}) == [
        f"condition.not.not.not: conditions nest at most {MAX_DEPTH} deep"
    ]
    for deeper in ({"all": [nested]}, {"any": [{"not": nested}]}):
        assert any("nest at most" in text for text in problems(deeper))
    wide = {"any": [{"all": [leaf] * MAX_TERMS}, leaf]}
    assert problems(wide) == [f"condition: at most {MAX_TERMS} tests in all"]
    assert parse_condition({"any": [{"all": [leaf] * (MAX_TERMS - 1)}, leaf]}).tests == MAX_TERMS


def test_the_schema_states_the_depth_and_the_shape_of_a_test() -> None:
    schema = MonitorCondition.model_json_schema()
    levels = schema["$defs"]
    assert levels["MonitorCondition2"]["properties"]["not"] == {"$ref": "#/$defs/MonitorCondition3"}
    assert levels["MonitorCondition3"]["properties"]["all"]["items"] == {
        "$ref": "#/$defs/MonitorTest"
    }
    assert "all" not in levels["MonitorTest"]["properties"]
    assert levels["MonitorTest"]["required"] == ["pointer"]
    assert levels["MonitorTest"]["maxProperties"] == 2
    assert levels["MonitorTest"]["properties"]["exists"] == {"title": "Exists", "type": "boolean"}
    assert "null" in json.dumps(levels["MonitorTest"]["properties"]["equals"])
    assert len(schema["oneOf"]) == 4 and schema["additionalProperties"] is False


def test_a_condition_round_trips_through_its_json_form() -> None:
    condition = {
        "all": [
            {"pointer": "/a~1b/c~0d", "in": ["x", 1, None]},
            {"not": {"pointer": "", "exists": False}},
            {"any": [{"pointer": "/n", "lte": 2.5}]},
            {"pointer": "/none", "equals": None},
        ]
    }
    parsed = parse_condition(condition)
    assert parsed.dump() == condition
    assert json.dumps(read(MonitorCondition, parsed.dump()).dump()) == json.dumps(condition)
    assert read(MonitorTest, {"pointer": "/a", "equals": None}) != read(
        MonitorTest, {"pointer": "/a", "not_equals": None}
    )


def test_an_old_condition_still_reads() -> None:
    """As recorded histories hold it (pointer first), with a member added by a later version."""
    recorded = {"pointer": "/status", "equals": "done"}
    old = read(MonitorCondition, {"equals": "done", "pointer": "/status", "added_later": 1})
    assert old.dump() == recorded and old.holds({"status": "done"})
