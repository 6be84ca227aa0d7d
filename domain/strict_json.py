"""Strict, depth-bounded JSON for what callers send: RFC 8259 values only, no RecursionError."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# No request or message of the app nests more than a few levels (a monitor's condition, the
# deepest, about ten); Python's decoder recurses once per level and fails near 1,000.
MAX_DEPTH = 32
# Integers beyond this are no field's value; it keeps the decoder far from Python's own limit
# (4,300 digits), whose error message would not say which rule was broken.
MAX_INTEGER_DIGITS = 100

# A string, or an unterminated one up to the end: matched in one pass whatever the text holds.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """Text the app will not read as JSON. `reason` never quotes the text; `malformed` is True
    when it is not JSON at all (not UTF-8, a syntax error), False when it is JSON the app
    refuses (too deep, NaN, a number out of range, an unpaired surrogate)."""

    def __init__(self, reason: str, *, malformed: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


def parse_json(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in `data` (UTF-8 bytes or text); InvalidJson for anything else.

    Refused besides syntax errors: nesting deeper than `max_depth` arrays and objects (checked
    before decoding, so the decoder never recurses deeper), a member name repeated within one
    object (readers disagree on which value wins), NaN and Infinity (not JSON), numbers
    a double cannot hold or integers of more than MAX_INTEGER_DIGITS digits, and strings or
    names with an unpaired UTF-16 surrogate escape (not Unicode text: they cannot be encoded).
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidJson(str(error), malformed=True) from None
    else:
        text = data
    if nesting_depth(text, limit=max_depth) > max_depth:
        raise InvalidJson(f"it nests deeper than {max_depth} levels", malformed=False)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_integer,
        )
    except InvalidJson:
        raise
    except ValueError as error:  # JSONDecodeError: the position, never the text
        raise InvalidJson(str(error), malformed=True) from None
    if _has_surrogate(value):
        raise InvalidJson(
            "a string holds an unpaired surrogate (\\ud800-\\udfff): not Unicode text",
            malformed=False,
        )
    return value


def nesting_depth(text: str, *, limit: int | None = None) -> int:
    """How deep arrays and objects nest in `text` (0 for a scalar), without decoding it.

    Brackets inside strings do not count. Counting stops once it passes `limit`. Text that is
    not JSON gets a number too; the decoder refuses it afterwards.
    """
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves a repeated name to the reader; Python keeps the last, so `"customer": {...},
    # "customer": null` would slip personal data past a check that sees only null.
    value = dict(pairs)
    if len(value) != len(pairs):
        raise InvalidJson("a member name appears twice in one object", malformed=False)
    return value


def _constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number", malformed=False)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson("a number is too large", malformed=False)
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidJson(f"an integer has more than {MAX_INTEGER_DIGITS} digits", malformed=False)
    return int(text)


def _has_surrogate(value: Any) -> bool:
    """Whether any string or member name in `value` (already depth-bounded) has a surrogate."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
