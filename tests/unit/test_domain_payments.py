"""domain.payments: one key per order and operation, and the simulated card network."""

from __future__ import annotations

from domain.payments import (
    FLAKY_FAILURES,
    IDEMPOTENCY_KEY,
    ChargeOutcome,
    charge_key,
    counts_attempts,
    refund_key,
    simulated_charge,
)


def test_keys_derive_from_the_order() -> None:
    assert charge_key("o-1") == "order-o-1-charge"
    assert refund_key("o-1") == "order-o-1-refund"
    assert IDEMPOTENCY_KEY.match(charge_key("A_very-long_order-id"))


def test_ordinary_orders_are_approved() -> None:
    assert simulated_charge("o-1", 1) is ChargeOutcome.APPROVED
    assert not counts_attempts("o-1")


def test_decline_and_down_do_not_depend_on_the_attempt() -> None:
    for attempt in (1, 5):
        assert simulated_charge("Decline-1", attempt) is ChargeOutcome.DECLINED
        assert simulated_charge("paydown-1", attempt) is ChargeOutcome.UNAVAILABLE


def test_flaky_fails_its_first_attempts_then_succeeds() -> None:
    outcomes = [simulated_charge("payflaky-1", n) for n in range(1, FLAKY_FAILURES + 2)]

    assert outcomes == [ChargeOutcome.UNAVAILABLE] * FLAKY_FAILURES + [ChargeOutcome.APPROVED]
    assert counts_attempts("payflaky-1")
