"""The order adapters on Azurite: stock under contention, order partitions, ledger, claim check."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from adapters.errors import storage_errors
from adapters.payments import LedgerPaymentProvider
from adapters.stock import ReservationState
from domain.claims import ClaimNotFound, ClaimRef, InvalidClaimRef
from domain.failures import TransientFailure
from domain.order_records import OrderNotFound
from domain.orders import Order, OrderLine, OrderStatus
from domain.payments import PaymentAlreadyRefunded
from domain.stock import OutOfStock

T = TypeVar("T")

World = Any  # the `world` fixture (tests/integration/conftest.py)

REF = "claim://orders-private/customers/o-1.json"
PERSONAL = {"name": "Canary McCanaryface", "email": "canary@example.invalid", "address": "1 Rd"}


def an_order(order_id: str, price: int = 1_000, quantity: int = 1) -> Order:
    line = OrderLine(sku="SKU-A", quantity=quantity, unit_price_cents=price)
    return Order(order_id=order_id, customer_ref=REF, currency="EUR", lines=(line,))


def as_an_activity(what: str, call: Callable[[], T], attempts: int = 10) -> T:
    """Call as the workflow runs an activity under load: a storage outage (Azurite resetting a
    connection) is a TransientFailure, as the activity envelope labels it, and is tried again."""
    for attempt in range(1, attempts + 1):
        try:
            with storage_errors(what):
                return call()
        except TransientFailure:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


# -- stock -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_200_concurrent_orders_for_50_units_reserve_exactly_50(world: World) -> None:
    stock = world.adapters.stock
    stock.set_level("HOT-1", 50)
    start = threading.Barrier(200)
    retries: list[int] = []

    def order(number: int) -> str:
        start.wait()
        while True:
            try:
                # As the activity envelope does: a storage outage (Azurite resetting a connection
                # under this load) is a TransientFailure, and the workflow tries again.
                with storage_errors("reserve_stock"):
                    stock.reserve(f"o-{number}", {"HOT-1": 1})
            except OutOfStock as short:
                return f"out of stock: {short.sku}"
            except TransientFailure:
                retries.append(number)  # as the workflow would: try the activity again
                continue
            return "reserved"

    with ThreadPoolExecutor(max_workers=200) as pool:
        outcomes = list(pool.map(order, range(200)))

    assert outcomes.count("reserved") == 50
    assert outcomes.count("out of stock: HOT-1") == 150
    level = stock.level("HOT-1")
    assert (level.available, level.reserved) == (0, 50)
    reservations = [stock.reservation(f"o-{n}") for n in range(200)]
    assert sum(r is not None for r in reservations) == 50


def test_a_reservation_takes_every_line_or_none(world: World) -> None:
    stock = world.adapters.stock
    stock.set_level("SKU-A", 10)
    stock.set_level("SKU-B", 1)

    with pytest.raises(OutOfStock) as short:
        stock.reserve("o-1", {"SKU-A": 4, "SKU-B": 2})

    assert short.value.sku == "SKU-B"
    assert stock.level("SKU-A").available == 10 and stock.level("SKU-B").available == 1
    assert stock.reservation("o-1") is None


def test_release_records_the_state_and_restores_every_line(world: World) -> None:
    stock = world.adapters.stock
    stock.set_level("SKU-A", 10)
    stock.set_level("SKU-B", 5)
    assert stock.reserve("o-1", {"SKU-A": 4, "SKU-B": 2}) is True
    assert stock.reserve("o-1", {"SKU-A": 4, "SKU-B": 2}) is False  # already reserved

    assert stock.release("o-1") is True

    assert stock.reservation("o-1") == (ReservationState.RELEASED, {"SKU-A": 4, "SKU-B": 2})
    assert (stock.level("SKU-A").available, stock.level("SKU-B").available) == (10, 5)


def test_a_stock_take_keeps_reservations(world: World) -> None:
    stock = world.adapters.stock
    stock.set_level("SKU-A", 10)
    stock.reserve("o-1", {"SKU-A": 3})

    stock.set_level("SKU-A", 20)

    level = stock.level("SKU-A")
    assert (level.available, level.reserved) == (20, 3)


# -- the order store -------------------------------------------------------------------------


def test_of_racing_decisions_on_an_order_exactly_one_claims_it(world: World) -> None:
    """Two approvers, or two clicks, at once: one decision reaches the workflow."""
    orders = world.adapters.orders
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda n: orders.claim_decision("o-9", f"a{n}", n % 2 == 0), range(8)))
    assert won.count(True) == 1
    assert orders.decision_of("o-9") is (won.index(True) % 2 == 0)
    assert orders.decision_of("o-10") is None
    # Given back when its event could not be raised: the next decision can claim it.
    orders.release_decision("o-9")
    assert orders.decision_of("o-9") is None
    assert orders.claim_decision("o-9", "a1", False) is True


def test_of_racing_starters_in_two_task_hubs_exactly_one_claims_the_order(world: World) -> None:
    """One order sent on both queues at once: every starter learns the one hub that runs it."""
    orders = world.adapters.orders
    hubs = ["main", "express"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        claimed = list(pool.map(lambda hub: orders.claim_hub("o-11", hub), hubs))
    assert len(set(claimed)) == 1
    assert orders.hub_of("o-11") == claimed[0]
    assert orders.hub_of("o-12") is None  # never claimed: started before there were claims


def test_orders_are_partitioned_by_utc_day_with_an_index_row(world: World) -> None:
    orders = world.adapters.orders
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    orders.create_if_absent(an_order("o-1"), late)
    orders.create_if_absent(an_order("o-2"), datetime(2026, 3, 2, 0, 30, tzinfo=UTC))

    table = TableServiceClient.from_connection_string(world.connection_string).get_table_client(
        world.names.orders_table
    )
    row = table.get_entity("2026-03-01", "o-1")
    assert table.get_entity("order-index", "o-1")["day"] == "2026-03-01"
    assert row["status"] == "Received" and row["line_count"] == 1
    assert row["customer_ref"] == REF and row["currency"] == "EUR" and row["express"] is False
    assert orders.order_ids_of_day("2026-03-01", None, 10) == ["o-1"]
    assert orders.order_ids_of_day("2026-03-02", None, 10) == ["o-2"]


def test_a_duplicate_after_midnight_lands_on_the_first_row(world: World) -> None:
    orders = world.adapters.orders
    first, created = orders.create_if_absent(
        an_order("o-1"), datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    )
    again, created_again = orders.create_if_absent(
        an_order("o-1", price=9_999), datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
    )

    assert (created, created_again) == (True, False)
    assert again == first and again.total_cents == 1_000  # the first version is kept
    assert orders.order_ids_of_day("2026-03-02", None, 10) == []


def test_totals_beyond_32_bits_round_trip(world: World) -> None:
    big = an_order("o-big", price=3_000_000, quantity=1_000)  # 3e9 cents

    record, _ = world.adapters.orders.create_if_absent(big, datetime.now(UTC))

    assert record.total_cents == 3_000_000_000
    assert world.adapters.orders.require("o-big").total_cents == 3_000_000_000


def test_status_updates_race_without_losing_the_terminal_one(world: World) -> None:
    orders = world.adapters.orders
    orders.create_if_absent(an_order("o-1"), datetime.now(UTC))
    statuses = [OrderStatus.SHIPPED, OrderStatus.COMPLETED] * 10
    start = threading.Barrier(len(statuses))

    def update(status: OrderStatus) -> OrderStatus:
        start.wait()
        return as_an_activity("update_status", lambda: orders.update_status("o-1", status)).status

    with ThreadPoolExecutor(max_workers=len(statuses)) as pool:
        list(pool.map(update, statuses))

    # Shipped may land before Completed, never after it.
    assert orders.require("o-1").status is OrderStatus.COMPLETED


def test_unknown_orders(world: World) -> None:
    assert world.adapters.orders.get("nope") is None
    with pytest.raises(OrderNotFound):
        world.adapters.orders.update_status("nope", OrderStatus.PAID)


# -- the payment ledger ----------------------------------------------------------------------


def test_concurrent_charges_with_one_key_charge_once(world: World) -> None:
    payments = world.adapters.payments
    start = threading.Barrier(10)

    def charge(_: int) -> str:
        start.wait()
        return as_an_activity(
            "take_payment", lambda: payments.charge("order-o-1-charge", 5_000, "EUR", "o-1")
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = set(pool.map(charge, range(10)))

    assert len(ids) == 1
    assert len(payments.entries("o-1")) == 1


def test_a_payment_is_refunded_once_whatever_the_key(world: World) -> None:
    payments = world.adapters.payments
    payment_id = payments.charge("order-o-1-charge", 5_000, "EUR", "o-1")
    refund_id = payments.refund("order-o-1-refund", payment_id)

    with pytest.raises(PaymentAlreadyRefunded):
        payments.refund("support-ticket-42", payment_id)

    assert payments.refund("order-o-1-refund", payment_id) == refund_id
    entries = {e["RowKey"]: e for e in payments.entries("o-1")}
    assert entries["order-o-1-charge"]["refunded_by"] == "order-o-1-refund"
    assert entries["order-o-1-refund"]["amount_cents"] == 5_000


def test_a_refund_whose_twin_lands_between_its_two_reads_is_replayed_not_refused(
    world: World,
) -> None:
    """Two deliveries of one refund: the second reads "no refund under this key", then the first
    commits, then the second reads the charge, now refunded by that very key. It must answer the
    first's refund id, not PaymentAlreadyRefunded (CI once caught this race between threads)."""
    payments = world.adapters.payments
    payment_id = payments.charge("order-o-2-charge", 5_000, "EUR", "o-2")
    ledger = payments._table
    twin: list[str] = []

    class TwinLandsFirst:
        """The ledger, except that the twin's refund commits right before the charge is read."""

        def __getattr__(self, name: str) -> Any:
            return getattr(ledger, name)

        def query_entities(self, *args: Any, **kwargs: Any) -> Any:
            if not twin:
                twin.append(payments.refund("order-o-2-refund", payment_id))
            return ledger.query_entities(*args, **kwargs)

    second = LedgerPaymentProvider(TwinLandsFirst())  # type: ignore[arg-type]
    assert second.refund("order-o-2-refund", payment_id) == twin[0]
    assert [e["kind"] for e in payments.entries("o-2")].count("refund") == 1


# -- the claim check -------------------------------------------------------------------------


def test_personal_data_round_trips_by_reference(world: World) -> None:
    claims = world.adapters.claims

    ref = claims.put("o-1", PERSONAL)

    assert ref == f"claim://{world.names.claim_check_container}/customers/o-1.json"
    assert claims.read(ref) == PERSONAL
    with pytest.raises(ClaimNotFound):
        claims.read(ref.replace("o-1", "o-2"))


def test_the_first_write_wins(world: World) -> None:
    claims = world.adapters.claims
    ref = claims.put("o-1", PERSONAL)

    assert claims.put("o-1", {"name": "Someone Else"}) == ref
    assert claims.read(ref) == PERSONAL


def test_a_reference_cannot_reach_another_container(world: World) -> None:
    claims = world.adapters.claims
    claims.put("o-1", PERSONAL)

    for ref in ("claim://public-stuff/customers/o-1.json", "https://evil/x", "claim://a/../b"):
        with pytest.raises(InvalidClaimRef):
            claims.read(ref)


def test_the_container_is_private(world: World) -> None:
    world.adapters.claims.put("o-1", PERSONAL)
    service = BlobServiceClient.from_connection_string(world.connection_string)
    container = service.get_container_client(world.names.claim_check_container)

    assert container.get_container_properties().public_access is None


def test_the_claim_check_never_logs_the_data(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    ref = world.adapters.claims.put("o-2", PERSONAL)
    world.adapters.claims.read(ref)

    assert all(value not in caplog.text for value in PERSONAL.values())
    assert str(ClaimRef.parse(ref)) == ref
