"""Order export: reads a CSV of 300,000 orders with pandas, keeps the frame, totals the
amounts by city and labels every order.

before.py: finding `usecols`: of the six columns read, the program uses `city` and `amount`;
the other four (a customer name and a delivery note per order above all) are held for nothing.
after.py: `usecols=["city", "amount"]` in read_csv.
"""

import os
import random
import tempfile

import pandas as pd

CITIES = ["Lyon", "Porto", "Gent", "Turku", "Split", "Cork", "Brno", "Graz"]


def orders_csv(path, rows, seed=5):
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("order,customer,city,amount,qty,note\n")
        for order in range(rows):
            customer = f"customer-{rng.randrange(10**9):09d}"
            note = f"leave at door {rng.randrange(10**6)} and ring twice"
            city = rng.choice(CITIES)
            amount, qty = rng.randrange(100, 90_000) / 100, rng.randrange(1, 9)
            f.write(f"{order},{customer},{city},{amount},{qty},{note}\n")


def main():
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "orders.csv")
        orders_csv(path, 300_000)
        orders = pd.read_csv(path, usecols=["city", "amount"])
    by_city = orders.groupby("city")["amount"].sum()
    big = int((orders["amount"] > 800).sum())
    labels = [
        f"{city}:{amount:.2f}"
        for city, amount in zip(orders["city"], orders["amount"], strict=True)
    ]
    print(f"{len(orders)} orders, {big} over 800; Lyon {by_city['Lyon']:,.2f}")
    print(f"{len(set(labels))} distinct labels")


if __name__ == "__main__":
    main()
