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


@pytest.mark.parametrize(
    ("container", "name", "refusal"),
    [
        ("Orders", "x.json", "valid blob container"),
        ("ab", "x.json", "valid blob container"),
        ("a" * 64, "x.json", "valid blob container"),
        ("orders--private", "x.json", "valid blob container"),
        ("-orders", "x.json", "valid blob container"),
        ("Orders", "../x", "valid blob container"),  # the container is checked first
        ("orders-private", "a..b", "plain blob path"),
        ("orders-private", "a/..b", "plain blob path"),
        ("orders-private", ".x", "plain blob path"),
        ("orders-private", "a//b", "plain blob path"),
        ("orders-private", "x" * 256, "plain blob path"),
        ("orders-private", "", "plain blob path"),
        ("orders-private", "a b", "plain blob path"),
    ],
)
def test_each_part_is_refused_by_its_rule_without_quoting_it(
    container: str, name: str, refusal: str
) -> None:
    with pytest.raises(InvalidClaimRef) as refused:
        ClaimRef(container, name)
    assert str(refused.value) == f"a claim reference names a {refusal}"
    assert refused.value.__cause__ is None


def test_names_up_to_the_limit_with_single_dots_are_plain() -> None:
    for name in ("x" * 255, "a.b.c", "a./b", "a_b-c.json", "customers/o-1.json"):
        ref = ClaimRef("orders-private", name)
        assert ClaimRef.parse(str(ref)) == ref and hash(ClaimRef.parse(str(ref))) == hash(ref)
