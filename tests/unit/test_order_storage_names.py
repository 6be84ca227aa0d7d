"""app_config.order_storage_names: Azurite-ready defaults, overrides, loud failure on bad names."""

from __future__ import annotations

import pytest

from app_config import ORDER_STORAGE_SETTINGS, OrderStorageNames, order_storage_names


def test_defaults() -> None:
    names = order_storage_names({})

    assert names == OrderStorageNames()
    assert (names.orders_table, names.claim_check_container) == ("orders", "orders-private")


def test_each_name_has_a_setting() -> None:
    env = {
        setting: f"x{field.replace('_', '')}" for field, setting in ORDER_STORAGE_SETTINGS.items()
    }
    env["CLAIM_CHECK_CONTAINER"] = "private-claims"

    names = order_storage_names(env)

    assert names.payments_table == "xpaymentstable"
    assert names.claim_check_container == "private-claims"


@pytest.mark.parametrize(
    ("setting", "value"),
    [("ORDERS_TABLE", "orders-table"), ("STOCK_TABLE", "1stock"), ("CLAIM_CHECK_CONTAINER", "Up")],
)
def test_invalid_names_fail_loudly(setting: str, value: str) -> None:
    with pytest.raises(ValueError, match=setting):
        order_storage_names({setting: value})
