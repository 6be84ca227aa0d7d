"""app_config.order_storage_names: Azurite-ready defaults, overrides, loud failure on bad names."""

from __future__ import annotations

from dataclasses import fields

import pytest

from app_config import OrderStorageNames, order_storage_names


def test_defaults() -> None:
    names = order_storage_names({})

    assert names == OrderStorageNames()
    assert (names.orders_table, names.claim_check_container) == ("orders", "orders-private")


def test_each_name_has_a_setting() -> None:
    env = {f.metadata["setting"]: f"x{f.name.replace('_', '')}" for f in fields(OrderStorageNames)}
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
