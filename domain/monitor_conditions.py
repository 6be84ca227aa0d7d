"""The monitor's condition language: a small JSON tree tested against a status document.

A caller says when an external operation is done (or has failed) without the app ever running
the caller's code: no eval, no expressions, no regular expressions (no ReDoS), only a JSON
pointer (RFC 6901) into the status response and one operator, combined with all/any/not.

    {"pointer": "/status", "equals": "done"}
    {"pointer": "/progress", "gte": 100}
    {"pointer": "/state", "in": ["succeeded", "skipped"]}
    {"pointer": "/error", "exists": true}
    {"all": [{"pointer": "/status", "equals": "done"}, {"pointer": "/count", "gt": 0}]}
    {"any": [...]}   {"not": {...}}

Comparisons are strict JSON: true is not 1, "1" is not 1. A pointer to nothing makes every
operator false except `"exists": false`. Ordering operators take numbers only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


class InvalidCondition(ValueError):
    """A condition that cannot be evaluated; `problems` name the field, never echo values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Test:
    """One operator applied to the value a pointer selects."""

    pointer: tuple[str, ...]
    operator: str
    operand: Any

    def holds(self, document: Any) -> bool:
        found, value = resolve(self.pointer, document)
        if self.operator == "exists":
            return found is bool(self.operand)
        if not found:
            return False
        if self.operator == "equals":
            return same(value, self.operand)
        if self.operator == "not_equals":
            return not same(value, self.operand)
        if self.operator == "in":
            return any(same(value, option) for option in self.operand)
        if not _is_number(value):
            return False
        return {
            "gt": value > self.operand,
            "gte": value >= self.operand,
            "lt": value < self.operand,
            "lte": value <= self.operand,
        }[self.operator]


@dataclass(frozen=True)
class Combined:
    """all / any over several conditions, or not over one."""

    combinator: str
    terms: tuple[Condition, ...]

    def holds(self, document: Any) -> bool:
        if self.combinator == "all":
            return all(term.holds(document) for term in self.terms)
        if self.combinator == "any":
            return any(term.holds(document) for term in self.terms)
        return not self.terms[0].holds(document)


Condition = Test | Combined


def parse_condition(data: Any, where: str = "condition") -> Condition:
    """The condition a JSON object describes; raises InvalidCondition listing every problem."""
    problems: list[str] = []
    counter = [0]
    condition = _parse(data, where, 1, problems, counter)
    if counter[0] > MAX_TERMS:
        problems.append(f"{where}: at most {MAX_TERMS} tests in all")
    if problems or condition is None:
        raise InvalidCondition(problems or [f"{where}: a condition object"])
    return condition


def _parse(
    data: Any, where: str, depth: int, problems: list[str], counter: list[int]
) -> Condition | None:
    if not isinstance(data, Mapping):
        problems.append(f"{where}: an object with a pointer and one operator, or all/any/not")
        return None
    if depth > MAX_DEPTH:
        problems.append(f"{where}: conditions nest at most {MAX_DEPTH} deep")
        return None
    combinators = [key for key in COMBINATORS if key in data]
    if combinators:
        if len(data) != 1:
            problems.append(f"{where}: all, any or not stands alone in its object")
            return None
        return _parse_combined(data, combinators[0], where, depth, problems, counter)
    counter[0] += 1
    operators = [key for key in OPERATORS if key in data]
    unknown = sorted(set(data) - {"pointer", *OPERATORS})
    if unknown:
        problems.append(f"{where}: unknown members (use pointer and one of {', '.join(OPERATORS)})")
    if len(operators) != 1:
        problems.append(f"{where}: exactly one operator of {', '.join(OPERATORS)}")
    pointer = _parse_pointer(data.get("pointer"), f"{where}.pointer", problems)
    if len(operators) != 1 or pointer is None:
        return None
    operator = operators[0]
    operand = _parse_operand(operator, data[operator], f"{where}.{operator}", problems)
    return None if operand is _INVALID else Test(pointer, operator, operand)


def _parse_combined(
    data: Mapping[str, Any],
    combinator: str,
    where: str,
    depth: int,
    problems: list[str],
    counter: list[int],
) -> Condition | None:
    if combinator == "not":
        term = _parse(data["not"], f"{where}.not", depth + 1, problems, counter)
        return None if term is None else Combined("not", (term,))
    items = data[combinator]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_TERMS:
        problems.append(f"{where}.{combinator}: a list of 1 to {MAX_TERMS} conditions")
        return None
    terms = [
        _parse(item, f"{where}.{combinator}[{index}]", depth + 1, problems, counter)
        for index, item in enumerate(items)
    ]
    if any(term is None for term in terms):
        return None
    return Combined(combinator, tuple(term for term in terms if term is not None))


def _parse_pointer(raw: Any, where: str, problems: list[str]) -> tuple[str, ...] | None:
    """RFC 6901: "" is the whole document, otherwise "/"-separated tokens with ~0 and ~1."""
    if not isinstance(raw, str) or len(raw) > MAX_POINTER_LENGTH:
        problems.append(f"{where}: a JSON pointer such as /status (at most 256 characters)")
        return None
    if raw == "":
        return ()
    if not raw.startswith("/"):
        problems.append(f"{where}: a JSON pointer starts with / (e.g. /status)")
        return None
    tokens = raw[1:].split("/")
    if any("~" in token.replace("~0", "").replace("~1", "") for token in tokens):
        problems.append(f"{where}: ~ must be written ~0 (and / inside a name ~1)")
        return None
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


_INVALID = object()


def _parse_operand(operator: str, value: Any, where: str, problems: list[str]) -> Any:
    if operator == "exists":
        if not isinstance(value, bool):
            problems.append(f"{where}: true or false")
            return _INVALID
        return value
    if operator in ORDERING:
        if not _is_number(value):
            problems.append(f"{where}: a number")
            return _INVALID
        return value
    if operator == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            problems.append(f"{where}: a list of 1 to {MAX_IN_VALUES} values")
            return _INVALID
        if not all(_is_scalar(item) for item in value):
            problems.append(f"{where}: strings, numbers, true, false or null only")
            return _INVALID
        return tuple(value)
    if not _is_scalar(value):
        problems.append(f"{where}: a string, number, true, false or null")
        return _INVALID
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_STRING_LENGTH
    return value is None or isinstance(value, bool) or _is_number(value)


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


def condition_to_dict(condition: Condition) -> dict[str, Any]:
    """The JSON form again (what parse_condition read), for an orchestration's input."""
    if isinstance(condition, Combined):
        if condition.combinator == "not":
            return {"not": condition_to_dict(condition.terms[0])}
        return {condition.combinator: [condition_to_dict(term) for term in condition.terms]}
    pointer = "".join(
        "/" + token.replace("~", "~0").replace("/", "~1") for token in condition.pointer
    )
    operand = list(condition.operand) if condition.operator == "in" else condition.operand
    return {"pointer": pointer, condition.operator: operand}
