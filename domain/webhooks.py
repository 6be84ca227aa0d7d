"""How webhook bodies are signed and how receivers verify them (the URL rules are the outbound
guard's, domain/outbound.py): HMAC-SHA256 over `f"{timestamp}.".encode() + body`, sent in the
Webhook-Id, Webhook-Timestamp and Webhook-Signature headers; `verify` is the receiver's side."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationError, model_validator

from domain.outbound import MAX_URL_LENGTH
from domain.payload import CorrelationId, Model, NullsWritten, Timestamp

MAX_BODY_BYTES = 256 * 1024
MIN_KEY_BYTES = 32
DEFAULT_TOLERANCE_SECONDS = 300

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
SIGNATURE_VERSION = "v1"

# Delivery ids travel in a header and key the receiver's duplicate check: header-safe text.
DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_SIGNATURE = re.compile(rf"^{SIGNATURE_VERSION}=([0-9a-f]{{64}})$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class InvalidSignature(ValueError):
    """A webhook that was not signed with the key, was altered, or is outside the time window."""


def signing_key(key: str | bytes) -> bytes:
    """The key as bytes (text is UTF-8); at least MIN_KEY_BYTES long. Never logged."""
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"a webhook signing key needs at least {MIN_KEY_BYTES} bytes")
    return raw


def signature(body: bytes, timestamp: int | str, key: str | bytes) -> str:
    """Hex HMAC-SHA256 of `f"{timestamp}.".encode() + body`."""
    signed = f"{timestamp}.".encode("ascii") + body
    return hmac.new(signing_key(key), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, key: str | bytes, *, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The three headers that sign `body` for delivery `delivery_id` at `timestamp` (unix s)."""
    if not DELIVERY_ID.match(delivery_id):
        raise ValueError("delivery_id: 1-128 letters, digits and _ . : -")
    if timestamp < 0:
        raise ValueError("timestamp: unix seconds")
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={signature(body, timestamp, key)}",
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    key: str | bytes,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """For receivers: check a webhook and return its JSON payload; raises InvalidSignature.

    `body` is the raw request body (before any JSON parsing), `headers` the request headers
    (any case), `now` the receiver's clock in unix seconds. The signature is compared in
    constant time, and a timestamp more than `tolerance_seconds` away from `now` is refused, so
    a captured request cannot be replayed later. The payload's `delivery_id` must equal the
    Webhook-Id header: it is the signed copy of the id to drop duplicates by.
    """
    secret = signing_key(key)
    lower = {name.lower(): value for name, value in headers.items()}
    delivery_id = lower.get(ID_HEADER.lower(), "")
    timestamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    offered = lower.get(SIGNATURE_HEADER.lower(), "").split()
    if not DELIVERY_ID.match(delivery_id) or not _TIMESTAMP.match(timestamp) or not offered:
        raise InvalidSignature("missing or malformed webhook headers")
    expected = signature(body, timestamp, secret)
    # Several space-separated signatures may be offered (e.g. during a key rotation).
    matches = [m.group(1) for m in map(_SIGNATURE.match, offered) if m is not None]
    if not any(hmac.compare_digest(expected, candidate) for candidate in matches):
        raise InvalidSignature("bad signature")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance window")
    try:
        payload = SignedBody.model_validate_json(body)
    except ValidationError as error:
        if any(problem["type"] == "json_invalid" for problem in error.errors()):
            raise InvalidSignature("the body is not JSON") from None
        raise InvalidSignature(MISMATCHED_ID) from None
    if payload.delivery_id != delivery_id:
        raise InvalidSignature(MISMATCHED_ID)
    return payload.model_dump()


MISMATCHED_ID = "the body's delivery_id does not match the Webhook-Id header"


class SignedBody(Model):
    """What `verify` reads from a genuine body: the signed copy of the delivery id, and every
    other member as sent (the event, the correlation id, members a newer sender adds)."""

    model_config = ConfigDict(extra="allow")

    delivery_id: str


class WebhookResult(Model):
    """What `deliver_webhook` returns when the receiver took the webhook."""

    delivered: bool
    status: int
    attempt_at: Timestamp


class WebhookRequest(NullsWritten):
    """`deliver_webhook`'s input: where to send which event, under which stable delivery id.

    The same `delivery_id` on every retry (and the same body bytes) lets receivers drop
    duplicates; the orchestrator derives it from its instance id, never from a clock.
    """

    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    event: dict[str, Any]
    delivery_id: Annotated[
        str,
        Field(pattern=DELIVERY_ID.pattern, description="1-128 letters, digits and _ . : -"),
    ]
    correlation_id: CorrelationId | None = None

    @model_validator(mode="after")
    def _sendable(self) -> WebhookRequest:
        self.body()  # refuse an event that cannot be sent now, not at delivery time
        return self

    def body(self) -> bytes:
        """The JSON body, byte for byte the same on every retry: the delivery id (signed, unlike
        the header), the correlation id when there is one, and the event."""
        payload: dict[str, Any] = {"delivery_id": self.delivery_id, "event": self.event}
        if self.correlation_id is not None:
            payload["correlation_id"] = self.correlation_id
        try:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError("event: JSON values only") from error
        raw = text.encode("utf-8")
        if len(raw) > MAX_BODY_BYTES:
            raise ValueError(f"event: at most {MAX_BODY_BYTES} bytes of JSON")
        return raw
