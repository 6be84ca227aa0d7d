"""Shipping behind a port, with an in-tree carrier that records one shipment per order.

A real carrier implements `ShippingPort` (the order id as its idempotency reference). The
in-tree `LocalCarrier` writes one row per order insert-if-absent, so a retry gets the first
tracking id, and refuses SKUs starting with "NOSHIP-" (domain/shipping.py) for tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Protocol

from adapters.tables import TableStore, check_key, get_or_none, insert_if_absent
from domain.shipping import ShipmentRefused, refused_skus

ROW = "shipment"


class ShippingPort(Protocol):
    def ship(self, order_id: str, skus: Sequence[str]) -> str:
        """Book the order's parcel once; returns its tracking id (the same on every retry).

        Raises ShipmentRefused (permanent) when the carrier will not take it.
        """
        ...


class LocalCarrier(TableStore):
    """The in-tree ShippingPort: a shipments table standing in for a carrier's booking API."""

    def ship(self, order_id: str, skus: Sequence[str]) -> str:
        existing = get_or_none(self._table, check_key(order_id), ROW)
        if existing is not None:
            return str(existing["tracking_id"])
        refused = refused_skus(skus)
        if refused:
            raise ShipmentRefused(f"carrier refused {', '.join(refused)}")
        shipment = {
            "PartitionKey": order_id,
            "RowKey": ROW,
            "tracking_id": f"TRK-{uuid.uuid4().hex[:12].upper()}",
            "skus": json.dumps(sorted(skus)),
            "booked_at": self._now(),
        }
        stored, created = insert_if_absent(self._table, shipment)
        if created:
            self._fault("shipping.shipped")
        return str(stored["tracking_id"])
