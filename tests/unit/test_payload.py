"""The payload base: strict for callers, lax for history, problems that quote nothing."""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from pydantic import Field

from domain.payload import (
    NOT_A_NUMBER,
    REPEATED_MEMBER,
    WHOLE,
    InvalidPayload,
    Model,
    Timestamp,
    parse_request,
    read,
)


class Line(Model):
    sku: Annotated[str, Field(pattern=r"^[A-Z]{1,8}$")]
    quantity: Annotated[int, Field(ge=1, le=10), WHOLE]


class Body(Model):
    lines: Annotated[tuple[Line, ...], Field(min_length=1)]
    at: Timestamp
    note: str | None = None


GOOD = {"lines": [{"sku": "AB", "quantity": 2}], "at": "2026-12-07T10:00:00Z"}


def problems_of(raw: str) -> list[str]:
    with pytest.raises(InvalidPayload) as raised:
        parse_request(Body, raw)
    return raised.value.problems


def test_a_request_is_read_from_its_bytes_and_dumped_as_plain_json() -> None:
    body = parse_request(Body, json.dumps(GOOD).encode())
    assert body.lines[0] == Line(sku="AB", quantity=2)
    assert body.dump() == {
        "lines": [{"sku": "AB", "quantity": 2}],
        "at": "2026-12-07T10:00:00+00:00",  # isoformat, as recorded histories hold it
    }
    assert json.loads(json.dumps(body.dump())) == body.dump()


def test_a_whole_float_is_an_integer_but_a_string_or_boolean_is_not() -> None:
    whole = {**GOOD, "lines": [{"sku": "AB", "quantity": 2.0}]}
    assert parse_request(Body, json.dumps(whole)).lines[0].quantity == 2
    for bad in ("2", True, 2.5):
        body = {**GOOD, "lines": [{"sku": "AB", "quantity": bad}]}
        assert problems_of(json.dumps(body)) == [
            "lines[0].quantity: Input should be a valid integer"
        ]


def test_problems_name_each_field_with_its_path_and_never_quote_a_value() -> None:
    secret = "SECRET-VALUE-123"
    body = {"lines": [{"sku": secret, "quantity": 0}], "at": secret, "extra": secret}
    found = problems_of(json.dumps(body))
    assert [p.split(":", 1)[0] for p in found] == [
        "lines[0].sku",
        "lines[0].quantity",
        "at",
        "extra",
    ]
    assert not any(secret in p for p in found)


def test_an_unknown_member_with_an_unsafe_name_is_reported_at_its_parent() -> None:
    body = {**GOOD, "lines": [{"sku": "AB", "quantity": 1, "<script>": 1}]}
    assert problems_of(json.dumps(body)) == [
        "lines[0]: a member name that is not part of this object"
    ]


def test_deep_nesting_malformed_text_and_repeated_members_are_problems_not_crashes() -> None:
    assert problems_of("[" * 1500 + "]" * 1500)[0].startswith("the body is not JSON: ")
    assert problems_of(b"\xff")[0].startswith("the body is not JSON: ")  # type: ignore[arg-type]
    repeated = '{"lines": [{"sku": "AB", "quantity": 1}], "at": "2026-12-07T10:00:00Z", "at": "x"}'
    assert problems_of(repeated)[0].startswith("at: ")  # the last one is validated first
    twice = '{"lines": [{"sku": "AB", "quantity": 1, "sku": "AB"}], "at": "2026-12-07T10:00:00Z"}'
    assert problems_of(twice) == [REPEATED_MEMBER]


def test_nan_and_infinity_are_refused_even_where_any_value_is_taken() -> None:
    class Event(Model):
        data: Any

    for raw in ('{"data": NaN}', '{"data": [1, {"x": -Infinity}]}', '{"data": -1e400}'):
        with pytest.raises(InvalidPayload) as raised:
            parse_request(Event, raw)
        assert raised.value.problems == [NOT_A_NUMBER]
    assert parse_request(Event, '{"data": [1.5, {"x": "NaN"}]}').data == [1.5, {"x": "NaN"}]


def test_history_is_read_laxly_so_older_and_newer_shapes_replay() -> None:
    written = {**GOOD, "at": "2026-12-07T10:00:00+00:00", "added_later": {"x": 1}}
    body = read(Body, written)
    assert body.note is None and body.lines[0].quantity == 2
    with pytest.raises(InvalidPayload) as raised:
        read(Body, {"lines": []})
    assert [p.split(":", 1)[0] for p in raised.value.problems] == ["lines", "at"]


def test_timestamps_are_utc_whatever_offset_or_none_they_were_written_with() -> None:
    plus_two = timezone(timedelta(hours=2))
    at = read(Body, {**GOOD, "at": datetime(2026, 12, 7, 12, tzinfo=plus_two)}).at
    assert at == datetime(2026, 12, 7, 10, tzinfo=UTC) and at.tzinfo is UTC
    naive = read(Body, {**GOOD, "at": "2026-12-07T10:00:00"}).at
    assert naive.tzinfo is UTC


def _every_model() -> list[type[Model]]:
    import domain
    import triggers

    for package in (domain, triggers):
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    found, todo = [], [Model]
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return found


def test_no_model_default_reads_the_clock_or_random_numbers() -> None:
    """Orchestrators build models on replay: a default that read the clock or random numbers
    would differ between replays. Defaults are values; a factory may only build an empty
    container or another model from its own defaults."""
    models = _every_model()
    assert len(models) > 50
    pure = {list, tuple, dict, set, frozenset}
    for model in models:
        for name, field in model.model_fields.items():
            factory = field.default_factory
            if factory is None:
                continue
            is_model = isinstance(factory, type) and issubclass(factory, Model)
            assert factory in pure or is_model, f"{model.__name__}.{name}: {factory!r}"
