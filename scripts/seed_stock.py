"""Put stock on the shelf for local runs: `python scripts/seed_stock.py SKU-1=50 BOOK-2=10`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.factory import root  # noqa: E402  (the app's modules live at the root)


def _level(text: str) -> tuple[str, int]:
    sku, _, quantity = text.partition("=")
    if not sku or not quantity.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not SKU=QUANTITY")
    return sku, int(quantity)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("levels", nargs="+", type=_level, metavar="SKU=QUANTITY")
    args = parser.parse_args()
    stock = root.orders().stock
    for sku, quantity in args.levels:
        stock.set_level(sku, quantity)
        print(f"{sku}: {quantity} on the shelf")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
