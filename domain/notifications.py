"""The outbox's queue message, when the sender tries a notification again, and the id every
attempt at it shares."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import ConfigDict

from domain.payload import Model, TableKey

# A fixed namespace: the same outbox row gives the same mail id on every machine, forever.
_MAIL_IDS = uuid.UUID("6f1d3c52-8a8e-4f57-9d55-2b9f0b7c1e01")
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# A sender holds a row this long while it sends: the other sender (queue or timer) waits.
LEASE = timedelta(minutes=2)


def mail_id(order_id: str, row_key: str) -> str:
    """The row's mail id: ACS's operation id, SMTP's Message-ID, the .eml file's name."""
    return str(uuid.uuid5(_MAIL_IDS, f"{order_id}/{row_key}"))


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """After `attempts` failed attempts: `first` (30 s), then twice as long each time, at
    most an hour."""
    return min(first * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


class OutboxRowKeys(Model):
    """The `notifications` queue's message: one outbox row's keys (PartitionKey = the order id,
    RowKey = `row`) and nothing of its content. A member a newer sender adds is ignored."""

    model_config = ConfigDict(extra="ignore")

    order_id: TableKey
    row: TableKey
