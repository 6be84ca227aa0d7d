"""Job updates: numbered, validated, round-trip through JSON, applied only forwards."""

from __future__ import annotations

import json

import pytest

from domain.job_updates import (
    JobUpdate,
    PublishRequest,
    ResultRouting,
    UpdateKind,
    reply_queue_for,
    supersedes,
)
from domain.order_payloads import InvalidPayload


def update(sequence: int = 1, kind: UpdateKind = UpdateKind.MILESTONE, **fields) -> JobUpdate:
    values = {
        "job_id": "order-o-1",
        "job_type": "order",
        "sequence": sequence,
        "kind": kind,
        "step": "paid",
        "progress": 50,
        "status": "Paid",
        "occurred_at": "2026-11-22T10:00:00+00:00",
        "correlation_id": "corr-1",
    }
    return JobUpdate(**{**values, **fields})


def roundtrip(data: dict) -> dict:
    return json.loads(json.dumps(data))


def test_an_update_round_trips_through_json_with_and_without_a_result() -> None:
    milestone = update()
    final = update(4, UpdateKind.COMPLETED, result={"order_id": "o-1", "status": "Completed"})
    assert JobUpdate.from_dict(roundtrip(milestone.to_dict())) == milestone
    assert JobUpdate.from_dict(roundtrip(final.to_dict())) == final
    assert "result" not in milestone.to_dict()


def test_the_message_id_is_stable_per_update_and_the_subject_names_type_and_kind() -> None:
    assert update(3).message_id == "order-o-1:3"
    assert update(3).message_id == update(3, step="other").message_id
    assert update(3, UpdateKind.ENDED).subject == "order.ended"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"sequence": 0}, "sequence: 1 or more"),
        ({"sequence": True}, "sequence: a whole number"),
        ({"progress": 101}, "progress: 0 to 100"),
        ({"job_id": "has space"}, "job_id"),
        ({"job_type": "Order"}, "job_type"),
        ({"correlation_id": "x" * 129}, "correlation_id"),
        ({"result": {"blob": "x" * 20_000}}, "result"),
    ],
)
def test_invalid_updates_are_refused_naming_the_field(fields: dict, problem: str) -> None:
    with pytest.raises(InvalidPayload, match=problem):
        update(**fields)


def test_from_dict_refuses_what_is_not_an_update() -> None:
    with pytest.raises(InvalidPayload, match="kind"):
        JobUpdate.from_dict({**update().to_dict(), "kind": "done"})
    with pytest.raises(InvalidPayload, match="step"):
        JobUpdate.from_dict({**update().to_dict(), "step": 3})
    with pytest.raises(InvalidPayload, match="object"):
        JobUpdate.from_dict([1])


def test_only_a_higher_sequence_number_supersedes() -> None:
    assert supersedes(1, None)
    assert supersedes(3, 2)
    assert not supersedes(2, 2)
    assert not supersedes(2, 3)


def test_replies_go_to_the_reply_to_queue_only_when_it_is_declared() -> None:
    declared = frozenset({"replies", "partner-replies"})
    assert reply_queue_for("partner-replies", "replies", declared) == "partner-replies"
    assert reply_queue_for("attacker-queue", "replies", declared) == "replies"
    assert reply_queue_for(None, "replies", declared) == "replies"
    assert reply_queue_for("", "replies", declared) == "replies"


def test_a_publish_request_replies_only_with_the_final_update() -> None:
    routing = ResultRouting(reply_queue="replies", callback_url="https://hooks.example.com/x")
    milestone = PublishRequest(update(), routing)
    final = PublishRequest(update(2, UpdateKind.ENDED, status="Failed"), routing)
    assert milestone.reply_queue is None
    assert final.reply_queue == "replies"
    assert PublishRequest(final.update, ResultRouting()).reply_queue is None
    assert PublishRequest.from_dict(roundtrip(final.to_dict())) == final


def test_a_publish_request_refuses_a_bad_reply_queue() -> None:
    data = PublishRequest(update(), ResultRouting(reply_queue="replies")).to_dict()
    data["routing"]["reply_queue"] = "../etc"
    with pytest.raises(InvalidPayload, match="reply_queue"):
        PublishRequest.from_dict(data)
    with pytest.raises(InvalidPayload, match="routing"):
        PublishRequest.from_dict({**data, "routing": "replies"})
