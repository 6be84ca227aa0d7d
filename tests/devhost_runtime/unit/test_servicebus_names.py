"""Service Bus queue names mapped onto storage queue names for the local stand-in."""

from __future__ import annotations

import re

import pytest

from devhost.servicebus.names import (
    EntityNameError,
    QueuePath,
    active_queue_name,
    dead_letter_queue_name,
)

STORAGE_QUEUE = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")


def test_plain_names_map_readably() -> None:
    assert active_queue_name("orders") == "sb-q-orders"
    assert dead_letter_queue_name("orders") == "sb-dlq-orders"
    assert active_queue_name("orders-express") == "sb-q-orders-express"


@pytest.mark.parametrize(
    "name",
    ["Orders", "orders.eu", "orders_eu", "orders/eu", "a--b", "x" * 260, "Q1", "a"],
)
def test_every_valid_name_maps_to_a_valid_storage_queue_name(name: str) -> None:
    for mapped in (active_queue_name(name), dead_letter_queue_name(name)):
        assert STORAGE_QUEUE.fullmatch(mapped), mapped


def test_names_that_differ_only_in_case_share_a_queue_as_in_service_bus() -> None:
    assert active_queue_name("Orders") == active_queue_name("orders") == "sb-q-orders"


def test_names_that_would_collide_after_cleaning_do_not() -> None:
    names = ["orders.eu", "orders_eu", "orders/eu", "orders-eu"]
    assert len({active_queue_name(n) for n in names}) == len(names)
    long_a, long_b = "a" * 100 + "1", "a" * 100 + "2"
    assert active_queue_name(long_a) != active_queue_name(long_b)


def test_active_and_dead_letter_queues_never_collide() -> None:
    assert active_queue_name("dlq-orders") != dead_letter_queue_name("orders")


def test_the_dead_letter_sub_queue_path() -> None:
    path = QueuePath.parse("orders/$deadletterqueue")
    assert path == QueuePath("orders", dead_letter=True)
    assert path.storage_queue == "sb-dlq-orders"
    assert str(path) == "orders/$deadletterqueue"
    assert QueuePath.parse("orders").storage_queue == "sb-q-orders"


@pytest.mark.parametrize("name", ["", "-orders", "orders-", "ord ers", "x" * 261, "ünicode"])
def test_invalid_service_bus_names_are_refused(name: str) -> None:
    with pytest.raises(EntityNameError, match="not a valid Service Bus queue name"):
        QueuePath.parse(name)
