"""Claim-check references: where personal data lives (`claim://container/name`), never the data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.orders import ORDER_ID

SCHEME = "claim://"
# Blob container rules: 3-63 lower-case letters, digits and single hyphens, no hyphen at an end.
CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
# Names this app writes: plain segments, no "..", nothing a URL would need to escape.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
MAX_NAME = 255


class InvalidClaimRef(ValueError):
    """Text that is not a claim-check reference this app could have issued."""


@dataclass(frozen=True)
class ClaimRef:
    """A parsed reference: the private container and the blob name inside it."""

    container: str
    name: str

    def __post_init__(self) -> None:
        if not CONTAINER.match(self.container):
            raise InvalidClaimRef("a claim reference names a valid blob container")
        if len(self.name) > MAX_NAME or not NAME.match(self.name) or ".." in self.name:
            raise InvalidClaimRef("a claim reference names a plain blob path")

    def __str__(self) -> str:
        return f"{SCHEME}{self.container}/{self.name}"

    @classmethod
    def parse(cls, ref: object) -> ClaimRef:
        if not isinstance(ref, str) or not ref.startswith(SCHEME):
            raise InvalidClaimRef(f"a claim reference starts with {SCHEME}")
        container, _, name = ref.removeprefix(SCHEME).partition("/")
        return cls(container, name)


def claim_name_for(order_id: str) -> str:
    """The blob that holds an order's personal data: one per order, the same on every retry."""
    if not ORDER_ID.match(order_id):
        raise ValueError("not a valid order id")
    return f"customers/{order_id}.json"


class ClaimNotFound(Exception):
    """Nothing is stored under the reference (never stored, or deleted by retention)."""
