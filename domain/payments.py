"""Payment rules: per-order idempotency keys and the outcomes the in-tree provider simulates."""

from __future__ import annotations

import re
from enum import StrEnum

# Safe as a Table key and as a provider's Idempotency-Key header.
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")

# The in-tree ledger provider simulates a card network from the order id, so any test can pick
# an outcome without a test double: "decline-..." is declined, "payflaky-..." fails transiently
# on its first FLAKY_FAILURES attempts and then succeeds, "paydown-..." always fails transiently.
DECLINE_PREFIX = "decline-"
FLAKY_PREFIX = "payflaky-"
DOWN_PREFIX = "paydown-"
FLAKY_FAILURES = 2
DECLINE_REASON = "card declined"


class PaymentDeclined(Exception):
    """The provider refused the charge; the same request will be refused again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentUnavailable(Exception):
    """The provider could not be reached or asked us to retry; nothing was charged."""


class PaymentNotFound(Exception):
    """A refund names a payment the provider never took."""


class PaymentAlreadyRefunded(Exception):
    """A refund under a new key for a payment another key has already refunded."""


class IdempotencyKeyReused(Exception):
    """A key already used for a different request (another amount, currency or operation)."""


class ChargeOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    UNAVAILABLE = "unavailable"


def charge_key(order_id: str) -> str:
    """The idempotency key of an order's one charge: a retried or duplicate run charges once."""
    return f"order-{order_id}-charge"


def refund_key(order_id: str) -> str:
    """The idempotency key of an order's one refund."""
    return f"order-{order_id}-refund"


def counts_attempts(order_id: str) -> bool:
    """Whether the simulated outcome depends on the attempt number (only flaky orders)."""
    return order_id.lower().startswith(FLAKY_PREFIX)


def simulated_charge(order_id: str, attempt: int) -> ChargeOutcome:
    """What the in-tree provider does with the `attempt`-th (1-based) try of an order's charge."""
    order = order_id.lower()
    if order.startswith(DECLINE_PREFIX):
        return ChargeOutcome.DECLINED
    if order.startswith(DOWN_PREFIX):
        return ChargeOutcome.UNAVAILABLE
    if order.startswith(FLAKY_PREFIX) and attempt <= FLAKY_FAILURES:
        return ChargeOutcome.UNAVAILABLE
    return ChargeOutcome.APPROVED
