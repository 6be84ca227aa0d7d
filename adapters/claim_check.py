"""The claim check: personal data in a private blob container, everything else holds a reference.

An order's personal data is written once to `customers/<order id>.json` in the private
container and referred to as `claim://orders-private/customers/<order id>.json`: messages,
orchestration inputs and outputs, tables and logs carry only that. The first write wins
(If-None-Match: *), so a duplicate request never replaces what the order was placed with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from adapters.faults import FaultHook, no_fault
from domain.claims import ClaimNotFound, ClaimRef, InvalidClaimRef, claim_name_for

_JSON = ContentSettings(content_type="application/json")


class ClaimCheckStore:
    """Put, read and delete personal data by reference, only inside its own container."""

    def __init__(self, container: ContainerClient, *, fault: FaultHook = no_fault) -> None:
        self._container = container
        self._fault = fault

    @property
    def container_name(self) -> str:
        return self._container.container_name

    def put(self, order_id: str, data: Mapping[str, Any]) -> str:
        """Store the order's personal data (once) and return its reference."""
        ref = ClaimRef(self.container_name, claim_name_for(order_id))
        body = json.dumps(dict(data), ensure_ascii=False).encode()
        try:
            self._container.upload_blob(ref.name, body, overwrite=False, content_settings=_JSON)
        except ResourceExistsError:
            return str(ref)  # stored by an earlier attempt or request: keep the first
        self._fault("claims.stored")
        return str(ref)

    def read(self, ref: str) -> dict[str, Any]:
        claim = self._own(ref)
        try:
            body = self._container.download_blob(claim.name).readall()
        except ResourceNotFoundError as error:
            raise ClaimNotFound(f"nothing stored under {claim}") from error
        return json.loads(body)

    def _own(self, ref: str) -> ClaimRef:
        # A reference must not become a way to read other containers (a gatekeeper's rule).
        claim = ClaimRef.parse(ref)
        if claim.container != self.container_name:
            raise InvalidClaimRef("the reference names another container")
        return claim
