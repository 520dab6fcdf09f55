"""Order book: loads a day's orders into objects, keeps them all, reports revenue per region.

before.py: finding `slots` on class Order, 350,000 live instances at the peak, each with the
values array of an instance dictionary. after.py: that class with __slots__.
"""

import random


class Order:
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
        region = customer_id % 7
        quantity = rng.randrange(1, 12)
        unit_cents = rng.randrange(250, 80_000)
        orders.append(Order(order_id, customer_id, region, quantity, unit_cents))
    return orders


def revenue_by_region(orders):
    revenue = [0] * 7
    for order in orders:
        revenue[order.region] += order.total_cents()
    return revenue


def main():
    orders = load_orders(350_000)
    revenue = revenue_by_region(orders)
    best = max(range(7), key=revenue.__getitem__)
    large = sum(1 for order in orders if order.total_cents() > 500_000)
    print(
        f"{len(orders)} orders, revenue {sum(revenue) / 100:,.2f}, "
        f"best region {best}, {large} large orders"
    )


if __name__ == "__main__":
    main()
