"""domain.shipping: the in-tree carrier refuses NOSHIP- SKUs and nothing else."""

from __future__ import annotations

from domain.shipping import refused_skus


def test_refused_skus() -> None:
    assert refused_skus(["SKU-A", "NOSHIP-2", "NOSHIP-1"]) == ("NOSHIP-1", "NOSHIP-2")
    assert refused_skus(["SKU-A", "SHIP-NOSHIP"]) == ()
