"""The one base of every payload: pydantic models crossing HTTP, queues and the Durable history."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)

M = TypeVar("M", bound="Model")

# A member name safe to repeat in a problem; any other unknown member is reported at its parent.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
REPEATED_MEMBER = "the body: a member name is repeated within one object"
NOT_A_NUMBER = "the body is not JSON: NaN, Infinity and numbers beyond a double are refused"


class InvalidPayload(ValueError):
    """A payload that can never be processed. `problems` has one entry per field, each starting
    with the field's path (`lines[0].sku: ...`); none quotes a value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Model(BaseModel):
    """Strict and closed as callers see it (the JSON schema says so); `read` relaxes both."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    def dump(self) -> dict[str, Any]:
        """Plain JSON values, never an object the SDK would wrap with its class and module names;
        absent optional fields are left out rather than written as null."""
        return self.model_dump(mode="json", exclude_none=True)


class NullsWritten(Model):
    """A payload that writes its absent fields as null: the form the hand-written payloads had
    and recorded histories hold (activity inputs are compared byte for byte on replay)."""

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_request(model: type[M], raw: bytes | str) -> M:
    """What a caller sent, read strictly from its raw bytes; InvalidPayload lists every problem."""
    try:
        value = model.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidPayload(problems(error)) from None
    _refuse_what_json_is_not(raw)
    return value


def read(model: type[M], data: Any) -> M:
    """What this app wrote earlier (history, rows): lax types, unknown members ignored, so a
    history recorded by an older or newer version still replays."""
    try:
        return model.model_validate(data, strict=False, extra="ignore")
    except ValidationError as error:
        raise InvalidPayload(problems(error)) from None


def problems(error: ValidationError) -> list[str]:
    """One line per error: the field's path and pydantic's message, which never quotes input."""
    errors = error.errors(include_input=False, include_url=False, include_context=False)
    failed_inside = {item["loc"][:n] for item in errors for n in range(len(item["loc"]))}
    lines = []
    for item in errors:
        loc = list(item["loc"])
        if item["type"] == "too_short" and item["loc"] in failed_inside:
            continue  # a list is short only because one of its items failed: that one is named
        if item["type"] == "extra_forbidden" and not _NAME.fullmatch(str(loc[-1])):
            loc, message = loc[:-1], "a member name that is not part of this object"
        else:  # the app's own validators start their messages with the field's path
            message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "json_invalid":
            message = "the body is not JSON: " + message.removeprefix("Invalid JSON: ")
        lines.append(f"{field_path(loc)}: {message}" if loc else message)
    return list(dict.fromkeys(lines))


def field_path(loc: list[Any]) -> str:
    """`lines[0].sku` for ("lines", 0, "sku"): the form every problem starts with."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _refuse_what_json_is_not(raw: bytes | str) -> None:
    """What the parser lets through and the app must not keep. Readers disagree on which of two
    same-named members wins (an order could carry personal data past a check that saw only the
    other); NaN and Infinity are not JSON, and a member that takes any value would carry them
    into a history no JSON reader can read. The parser has bounded the nesting already."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({name for name, _ in items}) != len(items):
            raise InvalidPayload([REPEATED_MEMBER])
        return dict(items)

    def constant(name: str) -> Any:
        raise InvalidPayload([NOT_A_NUMBER])

    def finite(text: str) -> float:
        if math.isinf(value := float(text)):  # 1e400: no double holds it
            raise InvalidPayload([NOT_A_NUMBER])
        return value

    json.loads(raw, object_pairs_hook=pairs, parse_constant=constant, parse_float=finite)


def _whole(value: Any) -> Any:
    # JSON does not tell 2 from 2.0 (JSON Schema's "integer" takes both); true stays refused.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (as the Durable SDK's are)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# An integer written 2 or 2.0; strict about anything else (a string, a boolean). Constraints
# go before it, `Annotated[int, Field(ge=1), WHOLE]`, so the JSON schema states them
# (`minimum`); after it pydantic checks them but documents them under names JSON Schema lacks.
WHOLE = BeforeValidator(_whole)
WholeNumber = Annotated[int, WHOLE]
# An aware UTC datetime (a naive one is taken to be UTC, as the Durable SDK's are), written as
# Python's isoformat (+00:00): the form recorded histories hold, so replayed inputs match.
Timestamp = Annotated[
    datetime,
    AfterValidator(utc),
    PlainSerializer(lambda moment: moment.isoformat(), return_type=str, when_used="json"),
]
# A correlation id as payloads carry it (triggers/correlation.py says which ids callers may send).
CorrelationId = Annotated[str, Field(max_length=128)]

# An Azure Table key (PartitionKey or RowKey): 1 to 512 characters (1 KiB in UTF-16), none of
# / \ # ? and no control character (U+0000-U+001F, U+007F-U+009F). adapters/tables.py's
# check_key holds every key the adapters write to it.
MAX_TABLE_KEY = 512
TABLE_KEY_PATTERN = r"^[^/\\#?\x00-\x1f\x7f-\x9f]+$"
TableKey = Annotated[str, Field(min_length=1, max_length=MAX_TABLE_KEY, pattern=TABLE_KEY_PATTERN)]
