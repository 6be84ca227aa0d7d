"""Approval tokens: a genuine token names its approver; anything else is refused with a reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.approval_tokens import (
    InvalidApprovalToken,
    TokenForAnotherOrder,
    issue,
    verify,
)

KEY = "k" * 32
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def test_a_genuine_token_names_its_approver() -> None:
    token = issue("o-1", "alice@example.invalid", LATER, KEY)
    assert verify(token, "o-1", NOW, KEY) == "alice@example.invalid"
    assert verify(token, "o-1", NOW, KEY.encode()) == "alice@example.invalid"


def test_an_expired_token_is_refused() -> None:
    token = issue("o-1", "alice", LATER, KEY)
    with pytest.raises(InvalidApprovalToken, match="expired"):
        verify(token, "o-1", LATER, KEY)


def test_a_token_for_another_order_is_forbidden() -> None:
    token = issue("o-1", "alice", LATER, KEY)
    with pytest.raises(TokenForAnotherOrder):
        verify(token, "o-2", NOW, KEY)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = issue("o-1", "alice", LATER, "x" * 32)
    with pytest.raises(InvalidApprovalToken, match="signature") as refused:
        verify(token, "o-1", NOW, KEY)
    assert not isinstance(refused.value, TokenForAnotherOrder)


def _tamper(token: str, **changes: object) -> str:
    version, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    raw = json.dumps(claims).encode()
    return ".".join([version, base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), signature])


@pytest.mark.parametrize(
    "changes", [{"approver": "mallory"}, {"order_id": "o-2"}, {"exp": 9_999_999_999}]
)
def test_a_tampered_token_is_refused(changes: dict[str, object]) -> None:
    token = _tamper(issue("o-1", "alice", LATER, KEY), **changes)
    with pytest.raises(InvalidApprovalToken, match="signature") as refused:
        verify(token, "o-1", NOW, KEY)
    assert not isinstance(refused.value, TokenForAnotherOrder)


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1.abc", "v2.abc.def", "v1.abc.def.ghi", "v1.!!.@@", "x" * 5000, "v1..", None],
)
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidApprovalToken):
        verify(token, "o-1", NOW, KEY)


def test_a_signed_but_malformed_body_is_refused() -> None:
    import hashlib
    import hmac

    body = base64.urlsafe_b64encode(b'["not", "claims"]').rstrip(b"=").decode()
    signed = f"v1.{body}"
    mac = hmac.new(KEY.encode(), signed.encode(), hashlib.sha256).digest()
    token = f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(InvalidApprovalToken, match="malformed"):
        verify(token, "o-1", NOW, KEY)


def test_short_keys_and_naive_expiries_are_refused() -> None:
    with pytest.raises(ValueError):
        issue("o-1", "alice", LATER, "short")
    with pytest.raises(ValueError):
        verify(issue("o-1", "alice", LATER, KEY), "o-1", NOW, "short")
    with pytest.raises(ValueError):
        issue("o-1", "alice", LATER.replace(tzinfo=None), KEY)
    with pytest.raises(ValueError):
        issue("o-1", "has space", LATER, KEY)


def test_errors_never_contain_the_token() -> None:
    token = issue("o-1", "alice", LATER, KEY)
    with pytest.raises(InvalidApprovalToken) as refused:
        verify(token + "x", "o-1", NOW, KEY)
    assert token not in str(refused.value)
