"""Signed, expiring approval tokens: HMAC-SHA256 over the order id, the approver and the expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field, ValidationError

from domain.orders import OrderId
from domain.payload import InvalidPayload, Model, problems

VERSION = "v1"
MIN_KEY_LENGTH = 32
MAX_TOKEN_LENGTH = 2048
APPROVER_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,128}$")


class InvalidApprovalToken(ValueError):
    """The token is malformed, forged, signed with another key or expired (HTTP 401)."""


class TokenForAnotherOrder(InvalidApprovalToken):
    """A genuine, unexpired token that approves a different order (HTTP 403)."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_bytes(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if len(raw) < MIN_KEY_LENGTH:
        raise ValueError(f"an approval signing key needs at least {MIN_KEY_LENGTH} bytes")
    return raw


def _signature(signed: str, key: bytes) -> bytes:
    return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()


# The latest expiry a datetime can hold (9999-12-31T23:59:59Z).
MAX_EXPIRY = 253_402_300_799


class TokenClaims(Model):
    """What a token carries: who may decide on which order, until when (`exp`, unix seconds).

    Signed as compact JSON with the members in this, alphabetical, order: the bytes every token
    has had since v1 (they were written with `json.dumps(..., sort_keys=True)`), so tokens
    already in approvers' mailboxes still verify."""

    approver: Annotated[str, Field(pattern=APPROVER_PATTERN.pattern)]
    exp: Annotated[int, Field(ge=0, le=MAX_EXPIRY)]
    order_id: OrderId

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)


def issue(order_id: str, approver: str, expires_at: datetime, key: str | bytes) -> str:
    """A token that lets `approver` decide on `order_id` until `expires_at` (timezone-aware)."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    try:
        claims = TokenClaims(approver=approver, exp=int(expires_at.timestamp()), order_id=order_id)
    except ValidationError as error:
        raise InvalidPayload(problems(error)) from None
    body = _b64encode(claims.model_dump_json(ensure_ascii=True).encode("ascii"))
    signed = f"{VERSION}.{body}"
    return f"{signed}.{_b64encode(_signature(signed, _key_bytes(key)))}"


def read_claims(token: str, now: datetime, key: str | bytes) -> TokenClaims:
    """The claims of a genuine, unexpired token; InvalidApprovalToken otherwise. The signature
    is checked, in constant time, before anything in the token is read; the messages never
    contain the token, and nothing from it is chained to them."""
    secret = _key_bytes(key)
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise InvalidApprovalToken("malformed token")
    if not token.isascii():  # the signature is over ASCII; anything else was never issued
        raise InvalidApprovalToken("malformed token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidApprovalToken("malformed token")
    try:
        given = _b64decode(parts[2])
    except ValueError:  # binascii.Error
        raise InvalidApprovalToken("malformed token") from None
    if not hmac.compare_digest(given, _signature(f"{parts[0]}.{parts[1]}", secret)):
        raise InvalidApprovalToken("bad signature")
    try:  # strict: exactly these members, an integer expiry, nothing converted
        claims = TokenClaims.model_validate_json(_b64decode(parts[1]))
    except ValueError:  # binascii.Error, pydantic's ValidationError
        raise InvalidApprovalToken("malformed token") from None
    if now.timestamp() >= claims.exp:
        raise InvalidApprovalToken("token expired")
    return claims


def verify(token: str, order_id: str, now: datetime, key: str | bytes) -> str:
    """The approver a genuine token names for `order_id`; raises InvalidApprovalToken (or its
    subclass TokenForAnotherOrder) otherwise."""
    claims = read_claims(token, now, key)
    if not hmac.compare_digest(claims.order_id.encode("utf-8"), order_id.encode("utf-8")):
        raise TokenForAnotherOrder("token is for another order")
    return claims.approver
