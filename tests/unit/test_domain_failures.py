"""domain.failures: the kind of an activity's failure survives the trip through the SDK."""

from __future__ import annotations

from domain.failures import (
    FailureKind,
    PermanentFailure,
    TransientFailure,
    failure_kind,
    failure_reason,
)


def test_the_message_starts_with_the_kind() -> None:
    assert str(PermanentFailure("out of stock: SKU-A")) == "[permanent] out of stock: SKU-A"
    assert str(TransientFailure("busy")) == "[transient] busy"
    assert PermanentFailure("x").reason == "x"


def test_the_kind_is_read_back_from_a_wrapped_message() -> None:
    wrapped = "Activity function 'take_payment' failed: [permanent] payment declined \n Traceback"

    assert failure_kind(wrapped) is FailureKind.PERMANENT
    assert failure_reason(wrapped) == "payment declined"
    assert failure_kind(Exception(wrapped)) is FailureKind.PERMANENT


def test_unlabelled_failures_count_as_transient() -> None:
    assert failure_kind(RuntimeError("connection reset")) is FailureKind.TRANSIENT
    assert failure_reason("connection reset \n Traceback") == "connection reset"
