"""The in-tree carrier's rule: SKUs it refuses, so a test can make shipping fail on purpose."""

from __future__ import annotations

from collections.abc import Iterable

REFUSED_SKU_PREFIX = "NOSHIP-"


class ShipmentRefused(Exception):
    """The carrier will not take the parcel; asking again will not change its mind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refused_skus(skus: Iterable[str]) -> tuple[str, ...]:
    """The SKUs the in-tree carrier refuses, in order."""
    return tuple(sorted(sku for sku in skus if sku.startswith(REFUSED_SKU_PREFIX)))
