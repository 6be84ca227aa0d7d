"""The monitor's condition language (docs/monitor.md): JSON pointer tests combined with all, any
and not; a caller's condition is data, never code (no eval, no regular expressions)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from domain.payload import Model

MAX_DEPTH = 4
MAX_TERMS = 20
MAX_POINTER_LENGTH = 256
MAX_STRING_LENGTH = 256
MAX_IN_VALUES = 20

EQUALITY = ("equals", "not_equals")
ORDERING = ("gt", "gte", "lt", "lte")
OPERATORS = (*EQUALITY, *ORDERING, "in", "exists")
COMBINATORS = ("all", "any", "not")

_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")
# "" (the whole document) or "/"-separated tokens in which ~ is only ~0 or ~1.
POINTER_PATTERN = r"^(/([^~]|~[01])*)?$"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool) or _is_number(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_STRING_LENGTH:
        return value
    raise ValueError(
        f"a string of at most {MAX_STRING_LENGTH} characters, a number, true, false or null"
    )


def _number(value: Any) -> Any:
    if not _is_number(value):
        raise ValueError("a number")
    return value


def _no_default(schema: dict[str, Any]) -> None:
    """For an operand: absent is not the same as null, so the schema names no default."""
    schema.pop("default", None)


def _present(schema: dict[str, Any]) -> None:
    """For a member that is absent or has a value (null is refused): the schema says so."""
    _no_default(schema)
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options


# One validator each (not a union), so a wrong value is one problem at the member's own path;
# numbers keep their JSON form (1 stays 1, 1.5 stays 1.5) in the orchestration's input.
Scalar = Annotated[
    Any,
    AfterValidator(_scalar),
    WithJsonSchema(
        {
            "description": f"A string (at most {MAX_STRING_LENGTH} characters), number, "
            "boolean or null.",
            "anyOf": [
                {"type": "string", "maxLength": MAX_STRING_LENGTH},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ],
        }
    ),
]
Number = Annotated[Any, AfterValidator(_number), WithJsonSchema({"type": "number"})]
Pointer = Annotated[
    str,
    Field(
        max_length=MAX_POINTER_LENGTH,
        pattern=POINTER_PATTERN,
        description='RFC 6901, e.g. /status or /items/0/state; "" is the whole document; '
        "~ only as ~0 (~) or ~1 (/).",
    ),
]
Values = Annotated[list[Scalar], Field(min_length=1, max_length=MAX_IN_VALUES)]
# Each member given exactly once: a test has its pointer and one operator, nothing else.
_A_TEST = {"required": ["pointer"], "minProperties": 2, "maxProperties": 2}


class MonitorTest(Model):
    """A JSON pointer and exactly one operator: a condition's deepest level."""

    model_config = ConfigDict(json_schema_extra=_A_TEST)

    pointer: Pointer | None = Field(None, json_schema_extra=_present)
    # equals and not_equals may compare with null; every other operand is a value.
    equals: Scalar = Field(None, json_schema_extra=_no_default)
    not_equals: Scalar = Field(None, json_schema_extra=_no_default)
    gt: Number = Field(None, json_schema_extra=_present)
    gte: Number = Field(None, json_schema_extra=_present)
    lt: Number = Field(None, json_schema_extra=_present)
    lte: Number = Field(None, json_schema_extra=_present)
    in_: Values | None = Field(None, alias="in", json_schema_extra=_present)
    exists: bool | None = Field(None, json_schema_extra=_present)

    # Every member but equals and not_equals (they may compare with null), at every level.
    @field_validator(
        "pointer",
        *ORDERING,
        "in_",
        "exists",
        "all",
        "any",
        "not_",
        mode="after",
        check_fields=False,
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:  # only a value given as null gets here: defaults are not validated
            raise ValueError("a value, not null")
        return value

    @model_validator(mode="before")
    @classmethod
    def _not_deeper(cls, data: Any) -> Any:
        if cls is MonitorTest and isinstance(data, Mapping) and set(data) & set(COMBINATORS):
            raise ValueError(f"conditions nest at most {MAX_DEPTH} deep")
        return data

    @model_validator(mode="after")
    def _one_test(self) -> MonitorTest:
        given = self._given()
        if self.combinator is not None:
            if len(given) != 1:
                raise ValueError("all, any or not stands alone in its object")
            return self
        if len(given - {"pointer"}) != 1:
            raise ValueError(f"exactly one operator of {', '.join(OPERATORS)}")
        if "pointer" not in given:
            raise ValueError("a pointer to test, e.g. /status")
        return self

    def __eq__(self, other: object) -> bool:
        # By the JSON form: which operator was given is not a field value (equals: null is
        # not not_equals: null).
        return isinstance(other, MonitorTest) and self.dump() == other.dump()

    def _given(self) -> set[str]:
        """The members the JSON had, by their JSON names."""
        aliases = {"in_": "in", "not_": "not"}
        return {aliases.get(name, name) for name in self.model_fields_set}

    @property
    def combinator(self) -> str | None:
        """all, any or not when this level combines conditions; None for a test."""
        return None

    @property
    def terms(self) -> tuple[MonitorTest, ...]:
        return ()

    @property
    def operator(self) -> str:
        (operator,) = self._given() & set(OPERATORS)
        return operator

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.operator == "in" else self.operator)

    @property
    def tokens(self) -> tuple[str, ...]:
        """The pointer's reference tokens, unescaped (~1 is /, ~0 is ~)."""
        if not self.pointer:
            return ()
        return tuple(t.replace("~1", "/").replace("~0", "~") for t in self.pointer[1:].split("/"))

    @property
    def tests(self) -> int:
        """How many tests the condition holds in all."""
        return sum(term.tests for term in self.terms) if self.combinator else 1

    def holds(self, document: Any) -> bool:
        if self.combinator == "all":
            return all(term.holds(document) for term in self.terms)
        if self.combinator == "any":
            return any(term.holds(document) for term in self.terms)
        if self.combinator == "not":
            return not self.terms[0].holds(document)
        return _test(self.operator, self.operand, self.tokens, document)

    @model_serializer(mode="plain")
    def _json_form(self) -> dict[str, Any]:
        # The members given, in the JSON form they were read in (equals may be null).
        if self.combinator == "not":
            return {"not": self.terms[0]}
        if self.combinator is not None:
            return {self.combinator: list(self.terms)}
        return {"pointer": self.pointer, self.operator: self.operand}


_TERMS = Field(min_length=1, max_length=MAX_TERMS)
Tests = Annotated[list[MonitorTest], _TERMS]


class _Combined(MonitorTest):
    """A level that may also combine conditions of the next level with all, any or not (each
    level below declares the three with its own next level)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {**_A_TEST, "not": {"anyOf": [{"required": [c]} for c in COMBINATORS]}},
                *({"required": [c], "maxProperties": 1} for c in COMBINATORS),
            ]
        }
    )

    all: Tests | None = Field(None, json_schema_extra=_present)
    any: Tests | None = Field(None, json_schema_extra=_present)
    not_: MonitorTest | None = Field(None, alias="not", json_schema_extra=_present)

    @property
    def combinator(self) -> str | None:
        found = self._given() & set(COMBINATORS)
        return found.pop() if found else None

    @property
    def terms(self) -> tuple[MonitorTest, ...]:
        if self.combinator == "not" and self.not_ is not None:
            return (self.not_,)
        if self.combinator == "all" and self.all is not None:
            return tuple(self.all)
        if self.combinator == "any" and self.any is not None:
            return tuple(self.any)
        return ()


class MonitorCondition3(_Combined):
    """A condition at depth 3: a test, or all/any/not over tests."""


Conditions3 = Annotated[list[MonitorCondition3], _TERMS]


class MonitorCondition2(_Combined):
    """A condition at depth 2."""

    all: Conditions3 | None = Field(None, json_schema_extra=_present)
    any: Conditions3 | None = Field(None, json_schema_extra=_present)
    not_: MonitorCondition3 | None = Field(None, alias="not", json_schema_extra=_present)


Conditions2 = Annotated[list[MonitorCondition2], _TERMS]


class MonitorCondition(_Combined):
    """A test on the status URL's JSON answer: a JSON pointer and exactly one operator, or
    all/any/not over conditions; at most 4 deep (MonitorCondition2, MonitorCondition3, then
    MonitorTest) and 20 tests in all. No expressions are ever evaluated."""

    all: Conditions2 | None = Field(None, json_schema_extra=_present)
    any: Conditions2 | None = Field(None, json_schema_extra=_present)
    not_: MonitorCondition2 | None = Field(None, alias="not", json_schema_extra=_present)

    @model_validator(mode="after")
    def _not_too_many(self) -> MonitorCondition:
        if self.tests > MAX_TERMS:
            raise ValueError(f"at most {MAX_TERMS} tests in all")
        return self


def _test(operator: str, operand: Any, pointer: tuple[str, ...], document: Any) -> bool:
    found, value = resolve(pointer, document)
    if operator == "exists":
        return found is bool(operand)
    if not found:
        return False
    if operator == "equals":
        return same(value, operand)
    if operator == "not_equals":
        return not same(value, operand)
    if operator == "in":
        return any(same(value, option) for option in operand)
    if not _is_number(value):
        return False
    return {
        "gt": value > operand,
        "gte": value >= operand,
        "lt": value < operand,
        "lte": value <= operand,
    }[operator]


def same(a: Any, b: Any) -> bool:
    """JSON equality: booleans are never numbers, and 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def resolve(pointer: tuple[str, ...], document: Any) -> tuple[bool, Any]:
    """(found, value) for an RFC 6901 pointer; array indices are digits without leading 0."""
    value = document
    for token in pointer:
        if isinstance(value, Mapping):
            if token not in value:
                return False, None
            value = value[token]
        elif isinstance(value, list):
            if not _INDEX.fullmatch(token):
                return False, None
            index = int(token)
            if index >= len(value):
                return False, None
            value = value[index]
        else:
            return False, None
    return True, value
