"""Payments behind a port: the in-tree simulated ledger, and the seam for a real provider.

`PAYMENT_PROVIDER` chooses, with no default: `simulated` is `LedgerPaymentProvider`; anything
else, or nothing, gives `UnconfiguredPayments`, so orders fail permanently saying what to set
while the rest of the app runs (and /api/health reports it). A real provider implements
`PaymentPort` and is added to PAYMENT_PROVIDERS in adapters/factory.py (docs/order-workflow.md).

The ledger keeps charges and refunds in a Table (PartitionKey = order id, RowKey = idempotency
key): a charge is one insert-if-absent row, a decline included (replayed as the same decline); a
refund is one transaction that marks the charge refunded (If-Match) and inserts its row, so a
payment is refunded once whichever key asks second. Outcomes follow the order id
(domain/payments.py): "decline-...", "payflaky-..." (unavailable twice), "paydown-...".
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableTransactionError, UpdateMode

from adapters.tables import TableStore, check_key, get_or_none, insert_if_absent, int64, plain
from domain.failures import PermanentFailure, TransientFailure
from domain.payments import (
    DECLINE_REASON,
    IDEMPOTENCY_KEY,
    ChargeOutcome,
    IdempotencyKeyReused,
    PaymentAlreadyRefunded,
    PaymentDeclined,
    PaymentNotFound,
    PaymentUnavailable,
    counts_attempts,
    simulated_charge,
)

# PAYMENT_PROVIDER's name for the ledger below, which takes no money (local runs, tests, demos).
SIMULATED = "simulated"
ATTEMPTS_PARTITION = "simulated-attempts"
SUCCEEDED, DECLINED = "succeeded", "declined"
CHARGE, REFUND = "charge", "refund"


class PaymentPort(Protocol):
    """What the order activities need from a payment provider. Both calls are idempotent."""

    def charge(self, idempotency_key: str, amount_cents: int, currency: str, order_id: str) -> str:
        """Take the amount once per key; returns the payment id (the same for every retry).
        Raises PaymentDeclined, PaymentUnavailable (nothing charged), IdempotencyKeyReused."""
        ...

    def refund(self, idempotency_key: str, payment_id: str) -> str:
        """Refund the whole payment once; returns the refund id (the same for every retry).
        Raises PaymentNotFound, PaymentAlreadyRefunded (by another key), PaymentUnavailable."""
        ...

    def find_charge(self, idempotency_key: str, order_id: str) -> str | None:
        """The payment id a charge key took, or None (never tried, failed or declined): how
        compensation learns a charge's outcome. Raises PaymentUnavailable."""
        ...


class PaymentProviderNotConfigured(PermanentFailure):
    """PAYMENT_PROVIDER is missing or names no provider of this app: no payment can be taken."""

    def __init__(self, provider: str | None) -> None:
        problem = "is not set" if provider is None else "names no payment provider of this app"
        super().__init__(
            f"PAYMENT_PROVIDER {problem} ({SIMULATED} is the in-tree ledger, which takes no money)"
        )


class UnconfiguredPayments:
    """The PaymentPort while PAYMENT_PROVIDER chooses none: every call fails permanently, saying
    why, so the orders fail with that reason and nothing else stops."""

    def __init__(self, provider: str | None) -> None:
        self.provider = provider

    def charge(self, idempotency_key: str, amount_cents: int, currency: str, order_id: str) -> str:
        raise PaymentProviderNotConfigured(self.provider)

    def refund(self, idempotency_key: str, payment_id: str) -> str:
        raise PaymentProviderNotConfigured(self.provider)

    def find_charge(self, idempotency_key: str, order_id: str) -> str | None:
        raise PaymentProviderNotConfigured(self.provider)


def _key(idempotency_key: str) -> str:
    if not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ValueError("an idempotency key is 1-200 letters, digits and _ . : -")
    return idempotency_key


def _order_of(payment_id: str) -> str:
    """The in-tree payment ids are `pay_<order id>_<random>`: the order locates the ledger rows."""
    order_id, _, suffix = payment_id.removeprefix("pay_").rpartition("_")
    if not payment_id.startswith("pay_") or not order_id or not suffix:
        raise PaymentNotFound(payment_id)
    return order_id


class LedgerPaymentProvider(TableStore):
    """The in-tree PaymentPort: a Table ledger that behaves like an idempotent card provider."""

    def charge(self, idempotency_key: str, amount_cents: int, currency: str, order_id: str) -> str:
        key = _key(idempotency_key)
        existing = get_or_none(self._table, check_key(order_id), key)
        if existing is not None:
            return _replay_charge(existing, amount_cents, currency)
        attempt = self._count_attempt(key) if counts_attempts(order_id) else 1
        outcome = simulated_charge(order_id, attempt)
        if outcome is ChargeOutcome.UNAVAILABLE:
            raise PaymentUnavailable("simulated outage")
        approved = outcome is ChargeOutcome.APPROVED
        entry = {
            "PartitionKey": order_id,
            "RowKey": key,
            "kind": CHARGE,
            "status": SUCCEEDED if approved else DECLINED,
            "payment_id": f"pay_{order_id}_{uuid.uuid4().hex[:16]}" if approved else "",
            "amount_cents": int64(amount_cents),
            "currency": currency,
            "reason": "" if approved else DECLINE_REASON,
            "refunded_by": "",
            "created_at": self._now(),
        }
        stored, created = insert_if_absent(self._table, entry)
        if created:
            self._fault("payments.charged")
        return _replay_charge(stored, amount_cents, currency)

    def refund(self, idempotency_key: str, payment_id: str) -> str:
        key, order_id = _key(idempotency_key), _order_of(payment_id)
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            existing = get_or_none(self._table, check_key(order_id), key)
            if existing is not None:
                return _replay_refund(existing, payment_id)
            charge = self._charge_of(order_id, payment_id)
            refunded_by = charge.get("refunded_by")  # set together with the refund row
            if refunded_by == key:
                continue  # this key's refund landed between the two reads: replay it next pass
            if refunded_by:
                raise PaymentAlreadyRefunded(payment_id)
            refund_id = f"re_{uuid.uuid4().hex[:24]}"
            etag = charge.metadata["etag"]  # type: ignore[attr-defined]
            charge["refunded_by"] = key
            refund = {
                "PartitionKey": order_id,
                "RowKey": key,
                "kind": REFUND,
                "status": SUCCEEDED,
                "payment_id": payment_id,
                "refund_id": refund_id,
                "amount_cents": int64(int(plain(charge["amount_cents"]))),
                "currency": charge["currency"],
                "created_at": self._now(),
            }
            condition = MatchConditions.IfNotModified
            update = {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": condition}
            try:
                self._table.submit_transaction([("update", charge, update), ("create", refund)])
            except TableTransactionError as error:
                if error.status_code not in (409, 412):
                    raise
                self.BACKOFF.wait(attempt)
                continue
            self._fault("payments.refunded")
            return refund_id
        raise TransientFailure(f"refund of {payment_id}: too many concurrent attempts")

    def find_charge(self, idempotency_key: str, order_id: str) -> str | None:
        entry = get_or_none(self._table, check_key(order_id), _key(idempotency_key))
        if entry is None or entry.get("kind") != CHARGE or entry["status"] != SUCCEEDED:
            return None
        return str(entry["payment_id"])

    def entries(self, order_id: str) -> list[dict[str, Any]]:
        """The order's ledger rows (charges and refunds), for support tools and tests."""
        rows = self._table.query_entities("PartitionKey eq @o", parameters={"o": order_id})
        return [{k: plain(v) for k, v in row.items()} for row in rows]

    def _charge_of(self, order_id: str, payment_id: str) -> Any:
        rows = self._table.query_entities(
            "PartitionKey eq @o and kind eq @k and payment_id eq @p",
            parameters={"o": order_id, "k": CHARGE, "p": payment_id},
        )
        charge = next(iter(rows), None)
        if charge is None or charge["status"] != SUCCEEDED:
            raise PaymentNotFound(payment_id)
        return charge

    def _count_attempt(self, key: str) -> int:
        """How many times this key was tried, this try included (the flaky simulation's state)."""
        for _ in range(self.MAX_ATTEMPTS):
            row = get_or_none(self._table, ATTEMPTS_PARTITION, key)
            if row is None:
                _, created = insert_if_absent(
                    self._table, {"PartitionKey": ATTEMPTS_PARTITION, "RowKey": key, "count": 1}
                )
                if created:
                    return 1
                continue
            etag = row.metadata["etag"]  # type: ignore[attr-defined]
            row["count"] = int(row["count"]) + 1
            try:
                self._table.update_entity(
                    row, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError:
                continue
            return int(row["count"])
        raise TransientFailure(f"payment attempt counter for {key}: too many concurrent attempts")


def _replay_charge(entry: Any, amount_cents: int, currency: str) -> str:
    """The stored answer to a charge key, or IdempotencyKeyReused if the request differs."""
    same = (
        entry.get("kind") == CHARGE
        and int(plain(entry["amount_cents"])) == amount_cents
        and entry["currency"] == currency
    )
    if not same:
        raise IdempotencyKeyReused(f"key {entry['RowKey']} was used for another request")
    if entry["status"] == DECLINED:
        raise PaymentDeclined(entry.get("reason") or DECLINE_REASON)
    return str(entry["payment_id"])


def _replay_refund(entry: Any, payment_id: str) -> str:
    if entry.get("kind") != REFUND or entry.get("payment_id") != payment_id:
        raise IdempotencyKeyReused(f"key {entry['RowKey']} was used for another request")
    return str(entry["refund_id"])
