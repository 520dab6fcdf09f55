"""Order book, already lean: 300,000 orders in a slotted class, totals from generator
expressions. memslim should report no finding."""

import random

REGIONS = 7


class Order:
    __slots__ = ("customer_id", "order_id", "quantity", "region", "unit_cents")

    def __init__(self, order_id, customer_id, region, quantity, unit_cents):
        self.customer_id = customer_id
        self.order_id = order_id
        self.quantity = quantity
        self.region = region
        self.unit_cents = unit_cents

    def total_cents(self):
        return self.quantity * self.unit_cents


def load_orders(count, seed=11):
    rng = random.Random(seed)
    orders = []
    for order_id in range(1_000_000, 1_000_000 + count):
        customer_id = rng.randrange(40_000, 90_000)
        quantity = rng.randrange(1, 12)
        unit_cents = rng.randrange(250, 80_000)
        orders.append(Order(order_id, customer_id, customer_id % REGIONS, quantity, unit_cents))
    return orders


def main():
    orders = load_orders(300_000)
    revenue = sum(order.total_cents() for order in orders)
    by_region = [
        sum(order.total_cents() for order in orders if order.region == region)
        for region in range(REGIONS)
    ]
    best = max(range(REGIONS), key=by_region.__getitem__)
    print(f"{len(orders)} orders, revenue {revenue / 100:,.2f}, best region {best}")


if __name__ == "__main__":
    main()
