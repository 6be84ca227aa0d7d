"""Claim-check references: where personal data lives (`claim://container/name`), never the data."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationError

from domain.orders import ORDER_ID
from domain.payload import Model

SCHEME = "claim://"
# Blob container rules: 3-63 lower-case letters, digits and single hyphens, no hyphen at an end.
CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
# Names this app writes: plain segments, no "..", nothing a URL would need to escape.
NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
MAX_NAME = 255
# What each part's rule says when a reference breaks it (never the reference itself).
_REFUSALS = {
    "container": "a claim reference names a valid blob container",
    "name": "a claim reference names a plain blob path",
}


class InvalidClaimRef(ValueError):
    """Text that is not a claim-check reference this app could have issued."""


class ClaimRef(Model):
    """A parsed reference: the private container and the blob name inside it."""

    # The rules use look-aheads, which only Python's engine has.
    model_config = ConfigDict(regex_engine="python-re")

    container: Annotated[str, Field(pattern=CONTAINER.pattern)]
    name: Annotated[str, Field(max_length=MAX_NAME, pattern=NAME.pattern)]

    def __init__(self, container: str, name: str) -> None:
        """`ClaimRef(container, name)`; InvalidClaimRef naming the first part that breaks its
        rule."""
        try:
            super().__init__(container=container, name=name)
        except ValidationError as error:
            raise InvalidClaimRef(_REFUSALS[str(error.errors()[0]["loc"][0])]) from None

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
