"""Strict, depth-bounded JSON: what the app reads from bodies and messages, and what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.strict_json import (
    MAX_DEPTH,
    MAX_INTEGER_DIGITS,
    InvalidJson,
    nesting_depth,
    parse_json,
)


def refused(data: bytes | str, **kwargs: Any) -> InvalidJson:
    with pytest.raises(InvalidJson) as raised:
        parse_json(data, **kwargs)
    return raised.value


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, -3e10, true, false, null, "x"]}',
        '"\\ud83d\\ude00"',  # a surrogate pair is one character
        '{"brackets in a string": "[[[[{{{{"}',
        '{"escaped quote": "\\"[[["}',
        "  7  ",
        "-" + "9" * MAX_INTEGER_DIGITS,
    ],
)
def test_strict_json_reads_what_json_reads(text: str) -> None:
    assert parse_json(text) == json.loads(text)
    assert parse_json(text.encode()) == json.loads(text)


def test_nesting_up_to_the_bound_is_read_and_one_more_is_refused() -> None:
    at_bound = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert nesting_depth(at_bound) == MAX_DEPTH
    assert parse_json(at_bound) is not None
    over = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    invalid = refused(over)
    assert (invalid.reason, invalid.malformed) == (
        f"it nests deeper than {MAX_DEPTH} levels",
        False,
    )
    assert refused('{"a": ' * 40 + "1" + "}" * 40).reason.startswith("it nests deeper")


def test_a_body_deeper_than_the_decoders_recursion_limit_is_refused_not_raised() -> None:
    deep = "[" * 1500 + "]" * 1500
    with pytest.raises(RecursionError):
        json.loads(deep)
    assert refused(deep).reason == f"it nests deeper than {MAX_DEPTH} levels"
    assert nesting_depth("[" * 100_000, limit=MAX_DEPTH) == MAX_DEPTH + 1  # counting stops


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[{"', 0),
        ("[[], {}]", 2),
        ('{"a": {"b": ["c", {"d": 1}]}}', 4),
        ('["\\\\", [1]]', 2),  # an escaped backslash ends before the quote
        ('"unterminated [[[', 0),
        ('"ends in a backslash\\', 0),
    ],
)
def test_nesting_depth_skips_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe{}", "'utf-8' codec can't decode"),
        (b"{not json", "Expecting property name"),
        (b"", "Expecting value"),
        (b"[1, 2", "Expecting ','"),
    ],
)
def test_what_is_not_json_is_malformed(data: bytes, reason: str) -> None:
    invalid = refused(data)
    assert invalid.malformed is True
    assert reason in invalid.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("1e400", "a number is too large"),
        ("-1e400", "a number is too large"),
        ("1" * (MAX_INTEGER_DIGITS + 1), f"more than {MAX_INTEGER_DIGITS} digits"),
        ("9" * 5000, f"more than {MAX_INTEGER_DIGITS} digits"),  # Python's own limit is 4300
        ('"\\ud800"', "unpaired surrogate"),
        ('{"\\udc00": 1}', "unpaired surrogate"),  # a member name too
        ('[["a", {"k": ["\\ud83d"]}]]', "unpaired surrogate"),
        ('{"customer": {"name": "Ada"}, "customer": null}', "appears twice"),
        ('[{"a": 1, "b": {"a": 2, "a": 3}}]', "appears twice"),  # at any depth
    ],
)
def test_json_the_app_will_not_hold_is_refused(text: str, reason: str) -> None:
    invalid = refused(text)
    assert invalid.malformed is False
    assert reason in invalid.reason


def test_reasons_never_quote_the_text() -> None:
    for text in ('{"secret": NaN}', '{"secret": "\\ud800"}', '{"secret": 1e999}', '{"secret"'):
        assert "secret" not in refused(text).reason


def test_pathological_strings_are_scanned_in_one_pass() -> None:
    # Every quote escaped, never closed: a naive string pattern retries from each quote.
    assert nesting_depth('"' + '\\"' * 200_000) == 0
    assert refused('"' + '\\"' * 200_000).malformed is True
