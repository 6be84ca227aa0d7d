"""domain.claims: references name a container and a plain path, and parse back exactly."""

from __future__ import annotations

import pytest

from domain.claims import ClaimRef, InvalidClaimRef, claim_name_for


def test_an_order_has_one_deterministic_name() -> None:
    assert claim_name_for("o-1") == "customers/o-1.json"
    assert str(ClaimRef("orders-private", claim_name_for("o-1"))) == (
        "claim://orders-private/customers/o-1.json"
    )


def test_a_reference_parses_back() -> None:
    ref = "claim://orders-private/customers/o-1.json"

    assert ClaimRef.parse(ref) == ClaimRef("orders-private", "customers/o-1.json")
    assert str(ClaimRef.parse(ref)) == ref


@pytest.mark.parametrize(
    "ref",
    [
        None,
        "https://acct.blob.core.windows.net/orders-private/x.json",
        "claim://orders-private/",
        "claim://Orders/x.json",
        "claim://orders-private/../secrets.json",
        "claim://orders-private/a/../../b",
        "claim://orders-private//x",
        "claim://orders-private/x?sig=1",
        "claim://o/x.json",
    ],
)
def test_anything_else_is_refused(ref: object) -> None:
    with pytest.raises(InvalidClaimRef):
        ClaimRef.parse(ref)


def test_names_need_a_valid_order_id() -> None:
    with pytest.raises(ValueError):
        claim_name_for("../etc")
