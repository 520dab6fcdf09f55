"""Catalogue import, already lean: one slotted dataclass per product, a bounded cache for the
tax lookup, totals from generator expressions. memslim should report no finding."""

import functools
import random
from dataclasses import dataclass

FAMILIES = ("bolt", "nut", "washer", "bracket", "hinge", "spring")


@dataclass(slots=True)
class Product:
    id: int
    name: str
    price: float
    qty: int


def catalogue_lines(count, seed=3):
    """The lines of the supplier's CSV export, as the file would deliver them."""
    rng = random.Random(seed)
    yield "id,name,price,qty"
    for product_id in range(500_000, 500_000 + count):
        family = rng.choice(FAMILIES)
        price = rng.randrange(5, 90_000) / 100
        yield f"{product_id},{family}-{product_id:07d},{price:.2f},{rng.randrange(0, 5_000)}"


def parse_product(line):
    product_id, name, price, qty = line.split(",")
    return Product(id=int(product_id), name=name, price=float(price), qty=int(qty))


@functools.lru_cache(maxsize=64)
def tax_rate(family):
    # Stands in for a lookup in the tax service.
    return 0.07 if family in ("bolt", "nut") else 0.19


def main():
    lines = catalogue_lines(150_000)
    next(lines)
    products = [parse_product(line) for line in lines]
    stock_value = sum(product.price * product.qty for product in products)
    tax = sum(
        product.price * product.qty * tax_rate(product.name.partition("-")[0])
        for product in products
    )
    print(f"{len(products)} products, stock value {stock_value:,.2f}, tax {tax:,.2f}")


if __name__ == "__main__":
    main()
