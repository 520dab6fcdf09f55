"""A small inventory job of the kind memslim is for: it loads records, indexes them and caches
rendered labels. Run it under memslim to see what each of its globals really costs:

    python -m memslim sizeof examples/inventory.py
"""

from __future__ import annotations

import random
import sys


class Item:
    def __init__(self, sku: str, name: str, price: float, quantity: int, warehouse: str) -> None:
        self.sku = sku
        self.name = name
        self.price = price
        self.quantity = quantity
        self.warehouse = warehouse


def load_items(count: int, seed: int = 7) -> list[Item]:
    rng = random.Random(seed)
    warehouses = ["north", "south", "east", "west"]
    return [
        Item(
            sku=f"SKU-{i:07d}",
            name=f"part {rng.randrange(10_000)} type {rng.choice('ABCDEF')}",
            price=round(rng.uniform(0.5, 500.0), 2),
            quantity=rng.randrange(1_000, 100_000),
            warehouse=rng.choice(warehouses),
        )
        for i in range(count)
    ]


count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
items = load_items(count)
by_sku = {item.sku: item for item in items}
by_warehouse: dict[str, list[Item]] = {}
for item in items:
    by_warehouse.setdefault(item.warehouse, []).append(item)
labels = [f"{item.sku}: {item.name} @ {item.price:.2f}" for item in items]
daily_quantities = [[item.quantity + day for day in range(7)] for item in items[:10_000]]

total_value = sum(item.price * item.quantity for item in items)
print(f"{len(items)} items in {len(by_warehouse)} warehouses, stock value {total_value:,.2f}")
