"""Catalogue import: parses CSV lines into one record per product, keeps them, reports stock value.

before.py: finding `record-dict` on the dict literal in parse_product, 150,000 dicts with the same
four keys alive at the peak. after.py: a slotted dataclass built at that line.
"""

import random
from dataclasses import dataclass


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
        family = rng.choice(("bolt", "nut", "washer", "bracket", "hinge", "spring"))
        price = rng.randrange(5, 90_000) / 100
        yield f"{product_id},{family}-{product_id:07d},{price:.2f},{rng.randrange(0, 5_000)}"


def parse_product(line):
    product_id, name, price, qty = line.split(",")
    return Product(id=int(product_id), name=name, price=float(price), qty=int(qty))


def load_catalogue(lines):
    header = next(lines)
    assert header == "id,name,price,qty", header
    return [parse_product(line) for line in lines]


def main():
    products = load_catalogue(catalogue_lines(150_000))
    stock_value = sum(product.price * product.qty for product in products)
    out_of_stock = sum(1 for product in products if product.qty == 0)
    priciest = max(products, key=lambda product: product.price)
    print(
        f"{len(products)} products, stock value {stock_value:,.2f}, "
        f"{out_of_stock} out of stock, priciest {priciest.name}"
    )


if __name__ == "__main__":
    main()
