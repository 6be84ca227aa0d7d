"""PAYMENT_PROVIDER chooses the provider; without one, payments fail for good, saying why."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from activities import orders
from adapters.factory import PAYMENT_PROVIDERS, check_payment_provider
from adapters.payments import SIMULATED, PaymentProviderNotConfigured, UnconfiguredPayments
from domain.failures import FailureKind, JobFailure, failure_kind, failure_reason
from domain.order_payloads import RefundPaymentInput, TakePaymentInput


def test_the_simulated_ledger_is_chosen_only_by_name() -> None:
    assert set(PAYMENT_PROVIDERS) == {SIMULATED}
    check_payment_provider(SIMULATED)
    for provider, problem in ((None, "is not set"), ("stripe", "names no payment provider")):
        with pytest.raises(PaymentProviderNotConfigured, match=f"PAYMENT_PROVIDER {problem}"):
            check_payment_provider(provider)


@pytest.mark.parametrize(
    ("activity", "payload"),
    [
        ("take_payment", TakePaymentInput(order_id="o-1", amount_cents=100, currency="EUR")),
        ("refund_payment", RefundPaymentInput(order_id="o-1")),
        ("refund_payment", RefundPaymentInput(order_id="o-1", payment_id="pay_o-1_0")),
    ],
)
def test_without_a_provider_the_payment_activities_fail_permanently(
    activity: str, payload: Any
) -> None:
    adapters = SimpleNamespace(payments=UnconfiguredPayments(None))
    with pytest.raises(JobFailure) as raised:
        getattr(orders, activity)(payload.dump(), adapters)
    assert failure_kind(raised.value) is FailureKind.PERMANENT  # no retry can fix a setting
    assert failure_reason(raised.value).startswith("PAYMENT_PROVIDER is not set (simulated is")
