"""The notifications queue's message: a row's keys under the Table key rules, and a message that
breaks them is recorded and completed, never retried into the poison queue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from azure.functions.queue import QueueMessage

import triggers.notifications as trigger
from adapters.rejected_messages import RejectedMessage
from adapters.tables import check_key
from domain.notifications import OutboxRowKeys
from domain.payload import MAX_TABLE_KEY, InvalidPayload, parse_request


@pytest.mark.parametrize(
    ("order_id", "row"),
    [
        ("o-1", "confirmation"),
        ("n-3f2a", "approval_request.escalation.carol"),
        ("o-1", "approval_request.approval.alice+ops@example.com"),
        ("x" * MAX_TABLE_KEY, "é ü ☃ spaces and ünicode"),
    ],
)
def test_the_keys_the_outbox_writes_are_read_back(order_id: str, row: str) -> None:
    # adapters/notifications.py's notify: the row's keys, nothing else.
    body = json.dumps({"order_id": order_id, "row": row})
    assert parse_request(OutboxRowKeys, body) == OutboxRowKeys(order_id=order_id, row=row)


def test_a_member_a_newer_sender_adds_is_ignored() -> None:
    body = '{"order_id": "o-1", "row": "confirmation", "priority": 2}'
    assert parse_request(OutboxRowKeys, body) == OutboxRowKeys(order_id="o-1", row="confirmation")


@pytest.mark.parametrize(
    "key",
    ["a/b", "a\\b", "a#b", "a?b", "a\tb", "a\nb", "\x00", "a\x1fb", "a\x7fb", "a\x85b", "a\x9fb"],
)
@pytest.mark.parametrize("member", ["order_id", "row"])
def test_a_key_the_table_service_refuses_is_refused_naming_the_member(
    key: str, member: str
) -> None:
    keys = {"order_id": "o-1", "row": "confirmation", member: key}
    with pytest.raises(InvalidPayload) as refused:
        parse_request(OutboxRowKeys, json.dumps(keys))
    assert [problem.split(":")[0] for problem in refused.value.problems] == [member]
    assert key not in str(refused.value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"order_id": "", "row": "x"}', "order_id: String should have at least 1 character"),
        (
            json.dumps({"order_id": "o", "row": "x" * (MAX_TABLE_KEY + 1)}),
            f"row: String should have at most {MAX_TABLE_KEY} characters",
        ),
        ('{"order_id": 7, "row": "x"}', "order_id: Input should be a valid string"),
        ('{"order_id": "o-1"}', "row: Field required"),
        ('["o-1", "confirmation"]', "Input should be an object"),
        ("o-1/confirmation", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        ('{"order_id": "o", "order_id": "p", "row": "x"}', "a member name is repeated"),
    ],
)
def test_a_message_of_the_wrong_shape_is_refused(body: str | bytes, problem: str) -> None:
    with pytest.raises(InvalidPayload) as refused:
        parse_request(OutboxRowKeys, body)
    assert problem in str(refused.value)


# -- the queue trigger, with hand-written stand-ins for the outbox sender and the store ---------


@dataclass
class FakeRoot:
    sent: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[RejectedMessage] = field(default_factory=list)
    failure: Exception | None = None

    def outbox_sender(self) -> FakeRoot:
        return self

    def send_row(self, order_id: str, row_key: str) -> str:
        if self.failure is not None:
            raise self.failure
        self.sent.append((order_id, row_key))
        return "sent"

    def rejected_messages(self) -> FakeRoot:
        return self

    def record(self, message: RejectedMessage) -> None:
        self.rejected.append(message)


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> FakeRoot:
    fake = FakeRoot()
    monkeypatch.setattr(trigger, "root", fake)
    return fake


INSERTED = datetime(2026, 11, 22, 10, 0)  # the worker's metadata: naive, holding UTC


def message(body: str | bytes, dequeue_count: int = 1) -> QueueMessage:
    return QueueMessage(
        id="6b1c0d5e-0000-4000-8000-000000000001",
        body=body,
        dequeue_count=dequeue_count,
        insertion_time=INSERTED,
    )


def test_a_row_s_keys_are_sent(root: FakeRoot) -> None:
    trigger.notifications_from_queue(message('{"order_id": "o-1", "row": "confirmation"}'))
    assert root.sent == [("o-1", "confirmation")] and root.rejected == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"order_id": "a/b", "row": "x"}', "order_id: String should match pattern"),
        ("not json", "the body is not JSON"),
        ('{"order": "o-1"}', "order_id: Field required"),
    ],
)
def test_a_malformed_message_is_recorded_and_completed(
    root: FakeRoot, body: str, reason: str
) -> None:
    trigger.notifications_from_queue(message(body, dequeue_count=2))  # returns: completed

    assert root.sent == []
    [record] = root.rejected
    assert reason in record.reason and body not in record.reason
    assert (record.queue, record.message_id) == ("notifications", message(body).id)
    assert (record.delivery_count, record.body_bytes) == (2, len(body.encode()))
    assert record.enqueued_at == INSERTED.replace(tzinfo=UTC)
    assert record.rejected_at.tzinfo is not None


def test_any_other_failure_raises_so_the_message_is_tried_again(root: FakeRoot) -> None:
    root.failure = ConnectionError("storage unreachable")
    with pytest.raises(ConnectionError):
        trigger.notifications_from_queue(message('{"order_id": "o-1", "row": "confirmation"}'))
    assert root.rejected == []


@pytest.mark.parametrize("key", ["a/b", "a#b", "a?b", "a\\b", "a\x7fb", "a\x85b", "", "x" * 513])
def test_the_table_adapters_refuse_what_the_table_key_rule_refuses(key: str) -> None:
    """adapters/tables.py's last line of defence holds the same rule as the message model."""
    with pytest.raises(ValueError, match="not usable as a Table key"):
        check_key(key)
    assert check_key("x" * MAX_TABLE_KEY) and check_key("é ü ☃")
