"""Job updates: numbered, validated, round-trip through JSON, applied only forwards."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from domain.job_updates import (
    JobUpdate,
    PublishOutcome,
    PublishRequest,
    ResultRouting,
    UpdateKind,
    reply_queue_for,
    supersedes,
)
from domain.payload import InvalidPayload, problems, read


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
    assert read(JobUpdate, roundtrip(milestone.dump())) == milestone
    assert read(JobUpdate, roundtrip(final.dump())) == final
    assert "result" not in milestone.dump()


def test_an_update_is_written_as_subscribers_and_recorded_histories_have_it() -> None:
    """correlation_id always (null when there is none), result only when there is one, null
    values inside the result kept, in this order."""
    bare = update(correlation_id=None, result={"reason": None, "ratio": 1.0})
    assert json.dumps(bare.dump()) == (
        '{"job_id": "order-o-1", "job_type": "order", "sequence": 1, "kind": "milestone", '
        '"step": "paid", "progress": 50, "status": "Paid", '
        '"occurred_at": "2026-11-22T10:00:00+00:00", "correlation_id": null, '
        '"result": {"reason": null, "ratio": 1.0}}'
    )
    request = PublishRequest(update=update(), routing=ResultRouting())
    assert json.dumps(request.dump()).endswith(
        '"correlation_id": "corr-1"}, "routing": {"reply_queue": null, "callback_url": null}}'
    )


def test_an_old_update_still_reads() -> None:
    """A publish_job_update input as recorded, with members added by a later version."""
    recorded = (
        '{"update": {"job_id": "monitor-hist-done-after-waits", "job_type": "monitor", '
        '"sequence": 2, "kind": "completed", "step": "completed", "progress": 100, '
        '"status": "completed", "occurred_at": "2026-11-22T04:10:58.940317+00:00", '
        '"correlation_id": "corr-1", "result": {"monitor_id": "hist-done-after-waits", '
        '"status": "completed", "polls": 3, "started_at": "2026-11-22T04:10:28.902609+00:00", '
        '"ended_at": "2026-11-22T04:10:58.940317+00:00", "last_http_status": 200}}, '
        '"routing": {"reply_queue": null, "callback_url": null}}'
    )
    data = json.loads(recorded)
    data["update"]["added_later"] = 1
    data["routing"]["added_later"] = 1
    request = read(PublishRequest, data)
    assert json.dumps(request.dump()) == recorded
    without_routing = read(PublishRequest, {"update": json.loads(recorded)["update"]})
    assert without_routing.routing == ResultRouting()
    done = read(PublishOutcome, {"sequence": 2, "status_applied": True, "replied_to": None})
    assert done.dump() == {"sequence": 2, "status_applied": True, "replied_to": None}


def test_the_message_id_is_stable_per_update_and_the_subject_names_type_and_kind() -> None:
    assert update(3).message_id == "order-o-1:3"
    assert update(3).message_id == update(3, step="other").message_id
    assert update(3, UpdateKind.ENDED).subject == "order.ended"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"sequence": 0}, "sequence: Input should be greater than or equal to 1"),
        ({"sequence": True}, "sequence: Input should be a valid integer"),
        ({"progress": 101}, "progress: Input should be less than or equal to 100"),
        ({"job_id": "has space"}, "job_id: String should match pattern"),
        ({"job_type": "Order"}, "job_type: String should match pattern"),
        ({"correlation_id": "x" * 129}, "correlation_id: String should have at most 128"),
        ({"result": {"blob": "x" * 20_000}}, "result: an object of at most 16384 bytes"),
    ],
)
def test_invalid_updates_are_refused_naming_the_field(fields: dict, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        update(**fields)
    assert problems(caught.value)[0].startswith(problem)


def test_reading_refuses_what_is_not_an_update() -> None:
    with pytest.raises(InvalidPayload, match="kind"):
        read(JobUpdate, {**update().dump(), "kind": "done"})
    with pytest.raises(InvalidPayload, match="step"):
        read(JobUpdate, {**update().dump(), "step": 3})
    with pytest.raises(InvalidPayload, match="dictionary"):
        read(JobUpdate, [1])


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
    milestone = PublishRequest(update=update(), routing=routing)
    final = PublishRequest(update=update(2, UpdateKind.ENDED, status="Failed"), routing=routing)
    assert milestone.reply_queue is None
    assert final.reply_queue == "replies"
    assert PublishRequest(update=final.update).reply_queue is None
    assert read(PublishRequest, roundtrip(final.dump())) == final


def test_a_publish_request_refuses_a_bad_reply_queue() -> None:
    data = PublishRequest(update=update(), routing=ResultRouting(reply_queue="replies")).dump()
    data["routing"]["reply_queue"] = "../etc"
    with pytest.raises(InvalidPayload, match=r"routing\.reply_queue"):
        read(PublishRequest, data)
    with pytest.raises(InvalidPayload, match="routing"):
        read(PublishRequest, {**data, "routing": "replies"})


def test_routing_is_written_whole_and_read_back() -> None:
    assert ResultRouting().dump() == {"reply_queue": None, "callback_url": None}
    routed = ResultRouting(reply_queue="replies", callback_url="https://h.example/x")
    assert read(ResultRouting, routed.dump()) == routed
    assert read(ResultRouting, {}) == ResultRouting()
