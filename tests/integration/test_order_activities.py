"""Every side-effecting order activity is idempotent, proven on Azurite three ways.

Each scenario runs its activity in a fresh world once (the reference), then in other fresh
worlds twice in sequence, twice concurrently, and once crashed right after its side effect
(an adapter fault point) and run again. Storage (every row and blob, generated ids masked) and
the activity's result must equal the reference: one run's effects, whatever happened.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from activities import orders
from domain.failures import FailureKind, JobFailure, failure_kind, failure_reason
from domain.order_payloads import (
    OrderIdInput,
    RecordOrderInput,
    RefundPaymentInput,
    ReserveStockInput,
    SendConfirmationInput,
    SendNotificationInput,
    SetOrderStatusInput,
    TakePaymentInput,
)
from domain.orders import Order, OrderLine, OrderStatus
from domain.stock import StockLine

# The `world` fixture's type (tests/integration/conftest.py); test modules cannot import it.
World = Any
RECEIVED_AT = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
REF = "claim://orders-private/customers/o-1.json"
_GENERATED = re.compile(r"pay_.+_[0-9a-f]{16}|re_[0-9a-f]{24}|TRK-[0-9A-F]{12}")


def an_order(order_id: str = "o-1", *skus: str) -> Order:
    lines = tuple(
        OrderLine(sku=sku, quantity=2, unit_price_cents=1_250) for sku in skus or ("SKU-A", "SKU-B")
    )
    return Order(order_id=order_id, customer_ref=REF, currency="EUR", lines=lines)


def run(world: World, activity: str, payload: dict[str, Any]) -> Any:
    return getattr(orders, activity)(payload, world.adapters)


def recorded(world: World, order: Order | None = None) -> Order:
    order = order or an_order()
    run(world, "record_order", RecordOrderInput(order=order, received_at=RECEIVED_AT).dump())
    return order


def stocked(world: World) -> None:
    world.adapters.stock.set_level("SKU-A", 5)
    world.adapters.stock.set_level("SKU-B", 3)


def reserve_payload(order_id: str = "o-1") -> dict[str, Any]:
    lines = (StockLine(sku="SKU-A", quantity=2), StockLine(sku="SKU-B", quantity=1))
    return ReserveStockInput(order_id=order_id, lines=lines).dump()


def pay_payload(order_id: str = "o-1", amount: int = 5_000) -> dict[str, Any]:
    return TakePaymentInput(order_id=order_id, amount_cents=amount, currency="EUR").dump()


# Each scenario prepares a world and returns the payload of the activity under test.


def setup_record(world: World) -> dict[str, Any]:
    return RecordOrderInput(
        order=an_order(), received_at=RECEIVED_AT, correlation_id="corr-1"
    ).dump()


def setup_reserve(world: World) -> dict[str, Any]:
    stocked(world)
    return reserve_payload()


def setup_release(world: World) -> dict[str, Any]:
    stocked(world)
    run(world, "reserve_stock", reserve_payload())
    return OrderIdInput(order_id="o-1").dump()


def setup_pay(world: World) -> dict[str, Any]:
    return pay_payload()


def setup_refund(world: World) -> dict[str, Any]:
    payment_id = run(world, "take_payment", pay_payload())["payment_id"]
    return RefundPaymentInput(order_id="o-1", payment_id=payment_id).dump()


def setup_ship(world: World) -> dict[str, Any]:
    recorded(world)
    return OrderIdInput(order_id="o-1").dump()


def setup_confirm(world: World) -> dict[str, Any]:
    return SendConfirmationInput(order_id="o-1", customer_ref=REF).dump()


def setup_notify(world: World) -> dict[str, Any]:
    return SendNotificationInput(order_id="o-1", kind="escalation").dump()


def setup_status(world: World) -> dict[str, Any]:
    recorded(world)
    return SetOrderStatusInput(
        order_id="o-1", status=OrderStatus.FAILED, reason="payment declined: card"
    ).dump()


@dataclass(frozen=True)
class Scenario:
    activity: str
    setup: Callable[[World], dict[str, Any]]
    fault_points: tuple[str, ...]


SCENARIOS = [
    Scenario("record_order", setup_record, ("orders.indexed", "orders.created")),
    Scenario("reserve_stock", setup_reserve, ("stock.reserved",)),
    Scenario("release_stock", setup_release, ("stock.released",)),
    Scenario("take_payment", setup_pay, ("payments.charged",)),
    Scenario("refund_payment", setup_refund, ("payments.refunded",)),
    Scenario("ship_order", setup_ship, ("shipping.shipped",)),
    Scenario("send_confirmation", setup_confirm, ("outbox.queued",)),
    Scenario("send_notification", setup_notify, ("outbox.queued",)),
    Scenario("set_order_status", setup_status, ("orders.status-updated",)),
]
CRASHES = [(s, point) for s in SCENARIOS for point in s.fault_points]


def masked(result: Any) -> Any:
    return {
        k: _GENERATED.sub("<generated>", v) if isinstance(v, str) else v for k, v in result.items()
    }


@pytest.fixture
def reference(make_world: Callable[[], World]) -> Callable[[Scenario], tuple[Any, dict]]:
    """One run of the scenario in its own world: the result and the storage it leaves."""

    def once(scenario: Scenario) -> tuple[Any, dict]:
        world = make_world()
        result = run(world, scenario.activity, scenario.setup(world))
        return masked(result), world.snapshot()

    return once


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.activity)
def test_twice_in_sequence_equals_one_run(
    scenario: Scenario, world: World, reference: Callable[[Scenario], tuple[Any, dict]]
) -> None:
    expected_result, expected_state = reference(scenario)
    payload = scenario.setup(world)

    first = run(world, scenario.activity, payload)
    second = run(world, scenario.activity, payload)

    assert first == second
    assert masked(first) == expected_result
    assert world.snapshot() == expected_state


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.activity)
def test_twice_concurrently_equals_one_run(
    scenario: Scenario, world: World, reference: Callable[[Scenario], tuple[Any, dict]]
) -> None:
    expected_result, expected_state = reference(scenario)
    payload = scenario.setup(world)
    start = threading.Barrier(2)
    results: list[Any] = []

    def call() -> None:
        start.wait()
        results.append(run(world, scenario.activity, payload))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 2 and results[0] == results[1]
    assert masked(results[0]) == expected_result
    assert world.snapshot() == expected_state


@pytest.mark.parametrize(
    ("scenario", "point"), CRASHES, ids=[f"{s.activity}-{p}" for s, p in CRASHES]
)
def test_a_crash_after_the_side_effect_then_a_retry_equals_one_run(
    scenario: Scenario,
    point: str,
    world: World,
    reference: Callable[[Scenario], tuple[Any, dict]],
    crash: type[Exception],
) -> None:
    expected_result, expected_state = reference(scenario)
    payload = scenario.setup(world)
    world.faults.armed.add(point)

    with pytest.raises(crash):
        run(world, scenario.activity, payload)
    assert point in world.faults.hits  # it crashed where the test meant it to
    retried = run(world, scenario.activity, payload)

    assert masked(retried) == expected_result
    assert world.snapshot() == expected_state


# -- outcomes that are failures, and what they leave behind --------------------------------


def failure_of(action: Callable[[], Any]) -> JobFailure:
    with pytest.raises(JobFailure) as caught:
        action()
    return caught.value


def test_short_stock_reserves_nothing_and_names_the_sku(world: World) -> None:
    world.adapters.stock.set_level("SKU-A", 5)
    world.adapters.stock.set_level("SKU-B", 0)
    before = world.snapshot()

    error = failure_of(lambda: run(world, "reserve_stock", reserve_payload()))

    assert str(error) == "[permanent] out of stock: SKU-B"
    assert failure_kind(error) is FailureKind.PERMANENT
    assert world.snapshot() == before


def test_an_unknown_sku_is_out_of_stock(world: World) -> None:
    error = failure_of(lambda: run(world, "reserve_stock", reserve_payload()))

    assert failure_reason(error) == "out of stock: SKU-A"


def test_release_without_a_reservation_blocks_a_late_reservation(world: World) -> None:
    stocked(world)

    assert run(world, "release_stock", {"order_id": "o-1"}) == {"released": False}
    error = failure_of(lambda: run(world, "reserve_stock", reserve_payload()))

    assert failure_kind(error) is FailureKind.PERMANENT
    assert failure_reason(error) == "stock reservation of order o-1 was already released"
    assert world.adapters.stock.level("SKU-A").available == 5


def test_release_gives_the_units_back(world: World) -> None:
    stocked(world)
    run(world, "reserve_stock", reserve_payload())
    assert world.adapters.stock.level("SKU-A").available == 3

    assert run(world, "release_stock", {"order_id": "o-1"}) == {"released": True}
    assert run(world, "release_stock", {"order_id": "o-1"}) == {"released": True}

    level = world.adapters.stock.level("SKU-A")
    assert (level.available, level.reserved) == (5, 0)


def test_a_declined_card_fails_permanently_every_time_with_one_ledger_row(world: World) -> None:
    payload = pay_payload("decline-7")

    first = failure_of(lambda: run(world, "take_payment", payload))
    second = failure_of(lambda: run(world, "take_payment", payload))

    assert str(first) == str(second) == "[permanent] payment declined: card declined"
    rows = world.adapters.payments.entries("decline-7")  # type: ignore[attr-defined]
    assert [(r["RowKey"], r["status"]) for r in rows] == [("order-decline-7-charge", "declined")]


def test_a_flaky_provider_fails_transiently_then_charges_once(world: World) -> None:
    payload = pay_payload("payflaky-1")

    for _ in range(2):
        error = failure_of(lambda: run(world, "take_payment", payload))
        assert failure_kind(error) is FailureKind.TRANSIENT
        assert failure_reason(error).startswith("payment provider unavailable")
    payment = run(world, "take_payment", payload)

    assert payment == run(world, "take_payment", payload)
    rows = world.adapters.payments.entries("payflaky-1")  # type: ignore[attr-defined]
    assert [r["payment_id"] for r in rows] == [payment["payment_id"]]


def test_a_provider_that_is_down_never_charges(world: World) -> None:
    error = failure_of(lambda: run(world, "take_payment", pay_payload("paydown-1")))

    assert failure_kind(error) is FailureKind.TRANSIENT
    assert world.adapters.payments.entries("paydown-1") == []  # type: ignore[attr-defined]


def test_the_same_charge_key_with_another_amount_is_refused(world: World) -> None:
    run(world, "take_payment", pay_payload(amount=5_000))

    error = failure_of(lambda: run(world, "take_payment", pay_payload(amount=6_000)))

    assert failure_kind(error) is FailureKind.PERMANENT
    assert failure_reason(error).startswith("idempotency key reused")


def test_refunding_an_unknown_payment_fails_permanently(world: World) -> None:
    payload = RefundPaymentInput(order_id="o-1", payment_id="pay_o-1_0123456789abcdef").dump()

    error = failure_of(lambda: run(world, "refund_payment", payload))

    assert failure_kind(error) is FailureKind.PERMANENT
    assert failure_reason(error).startswith("payment not found")


def test_a_refused_shipment_fails_permanently_and_books_nothing(world: World) -> None:
    recorded(world, an_order("o-1", "SKU-A", "NOSHIP-9"))

    error = failure_of(lambda: run(world, "ship_order", {"order_id": "o-1"}))

    assert str(error) == "[permanent] shipping failed: carrier refused NOSHIP-9"
    assert world.snapshot()["shipments"] == []


def test_shipping_an_unknown_or_ended_order_fails_permanently(world: World) -> None:
    unknown = failure_of(lambda: run(world, "ship_order", {"order_id": "nope"}))
    recorded(world)
    run(world, "set_order_status", {"order_id": "o-1", "status": "Cancelled"})
    cancelled = failure_of(lambda: run(world, "ship_order", {"order_id": "o-1"}))

    assert str(unknown) == "[permanent] order not found: nope"
    assert str(cancelled) == "[permanent] order o-1 is Cancelled: not shipped"


def test_a_terminal_status_is_never_overwritten(world: World) -> None:
    recorded(world)
    done = {"order_id": "o-1", "status": "Completed"}
    assert run(world, "set_order_status", done) == {"status": "Completed"}

    later = {"order_id": "o-1", "status": "Failed", "reason": "late"}
    assert run(world, "set_order_status", later) == {"status": "Completed"}
    assert world.adapters.orders.require("o-1").reason == ""


def test_record_order_reports_a_finished_order_instead_of_redoing_it(world: World) -> None:
    recorded(world)
    run(world, "set_order_status", {"order_id": "o-1", "status": "Completed"})

    again = RecordOrderInput(order=an_order(), received_at=datetime(2026, 3, 9, tzinfo=UTC)).dump()

    assert run(world, "record_order", again) == {"status": "Completed"}


def test_set_status_of_an_unknown_order_fails_permanently(world: World) -> None:
    error = failure_of(lambda: run(world, "set_order_status", {"order_id": "x", "status": "Paid"}))

    assert str(error) == "[permanent] order not found: x"


@pytest.mark.parametrize(
    ("activity", "payload"),
    [
        ("record_order", {"order": {"order_id": "o-1"}, "received_at": "2026-03-01T00:00:00Z"}),
        ("reserve_stock", {"order_id": "o-1", "lines": []}),
        ("take_payment", {"order_id": "o-1", "amount_cents": -1, "currency": "EUR"}),
        ("set_order_status", {"order_id": "o-1", "status": "Teleported"}),
        ("send_confirmation", {"order_id": "o-1", "customer_ref": "jane@example.com"}),
        ("ship_order", "o-1"),
    ],
)
def test_invalid_input_fails_permanently(world: World, activity: str, payload: Any) -> None:
    error = failure_of(lambda: run(world, activity, payload))

    assert failure_kind(error) is FailureKind.PERMANENT
    assert failure_reason(error).startswith(f"invalid {activity} input: ")
    assert "jane@example.com" not in str(error)


def test_logs_carry_ids_but_no_customer_reference_content(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    ref = world.adapters.claims.put("o-1", {"name": "Canary Name", "email": "canary@x.invalid"})
    line = OrderLine(sku="SKU-A", quantity=1, unit_price_cents=100)
    order = Order(order_id="o-1", customer_ref=ref, currency="EUR", lines=(line,))
    caplog.set_level("DEBUG")

    run(
        world,
        "record_order",
        RecordOrderInput(order=order, received_at=RECEIVED_AT, correlation_id="corr-9").dump(),
    )
    run(world, "send_confirmation", {"order_id": "o-1", "customer_ref": ref})

    assert "order o-1 [correlation corr-9]" in caplog.text
    assert "Canary" not in caplog.text and "canary@" not in caplog.text


def test_a_refund_without_a_payment_id_refunds_what_the_charge_key_took(world: World) -> None:
    """Compensation for a charge whose outcome the workflow never learned."""
    never_charged = RefundPaymentInput(order_id="o-2").dump()
    assert run(world, "refund_payment", never_charged) == {"refund_id": None}
    assert run(world, "refund_payment", never_charged) == {"refund_id": None}

    payment_id = run(world, "take_payment", pay_payload())["payment_id"]
    unknown_outcome = RefundPaymentInput(order_id="o-1").dump()
    first = run(world, "refund_payment", unknown_outcome)
    again = run(
        world, "refund_payment", RefundPaymentInput(order_id="o-1", payment_id=payment_id).dump()
    )

    assert first["refund_id"] and first == again  # one refund, whichever way it is asked
    kinds = sorted(row["kind"] for row in world.snapshot()["payments"])
    assert kinds == ["charge", "refund"]


def test_a_declined_charge_is_not_refunded(world: World) -> None:
    declined = pay_payload(order_id="decline-1")
    failure_of(lambda: run(world, "take_payment", declined))
    assert run(world, "refund_payment", {"order_id": "decline-1"}) == {"refund_id": None}
