"""Signed, expiring approval tokens: HMAC-SHA256 over the order id, the approver and the expiry."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

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


def issue(order_id: str, approver: str, expires_at: datetime, key: str | bytes) -> str:
    """A token that lets `approver` decide on `order_id` until `expires_at` (timezone-aware)."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    if not APPROVER_PATTERN.match(approver):
        raise ValueError("approver must be 1-128 letters, digits or ._@+-")
    claims = {"order_id": order_id, "approver": approver, "exp": int(expires_at.timestamp())}
    body = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed = f"{VERSION}.{body}"
    return f"{signed}.{_b64encode(_signature(signed, _key_bytes(key)))}"


@dataclass(frozen=True)
class TokenClaims:
    """What a genuine, unexpired token says: who may decide on which order, until when."""

    order_id: str
    approver: str
    expires_at: datetime


def read_claims(token: str, now: datetime, key: str | bytes) -> TokenClaims:
    """The claims of a genuine, unexpired token; InvalidApprovalToken otherwise. The signature
    is checked, in constant time, before anything in the token is read; the messages never
    contain the token."""
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
    except (binascii.Error, ValueError) as error:
        raise InvalidApprovalToken("malformed token") from error
    if not hmac.compare_digest(given, _signature(f"{parts[0]}.{parts[1]}", secret)):
        raise InvalidApprovalToken("bad signature")
    try:
        claims = json.loads(_b64decode(parts[1]))
    except (binascii.Error, ValueError) as error:
        raise InvalidApprovalToken("malformed token") from error
    if not isinstance(claims, dict):
        raise InvalidApprovalToken("malformed token")
    approver, subject, expiry = claims.get("approver"), claims.get("order_id"), claims.get("exp")
    if not (isinstance(approver, str) and APPROVER_PATTERN.match(approver)):
        raise InvalidApprovalToken("malformed token")
    if not isinstance(subject, str) or isinstance(expiry, bool) or not isinstance(expiry, int):
        raise InvalidApprovalToken("malformed token")
    if now.timestamp() >= expiry:
        raise InvalidApprovalToken("token expired")
    return TokenClaims(subject, approver, datetime.fromtimestamp(expiry, UTC))


def verify(token: str, order_id: str, now: datetime, key: str | bytes) -> str:
    """The approver a genuine token names for `order_id`; raises InvalidApprovalToken (or its
    subclass TokenForAnotherOrder) otherwise."""
    claims = read_claims(token, now, key)
    if not hmac.compare_digest(claims.order_id.encode("utf-8"), order_id.encode("utf-8")):
        raise TokenForAnotherOrder("token is for another order")
    return claims.approver
