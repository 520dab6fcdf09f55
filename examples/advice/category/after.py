"""Sales ledger: reads a CSV of 400,000 sales into a pandas DataFrame, keeps it, and labels
every sale.

before.py: finding `category` on the `region` column (8 distinct strings, one pointer per row).
after.py: `dtype={"region": "category"}` in read_csv.
"""

import io
import random

import pandas as pd

REGIONS = ["north", "south", "east", "west", "centre", "coast", "hills", "islands"]


def ledger_csv(rows, seed=17):
    rng = random.Random(seed)
    buffer = io.BytesIO()
    buffer.write(b"sale,region,cents\n")
    for sale in range(rows):
        buffer.write(f"{sale},{rng.choice(REGIONS)},{rng.randrange(100, 90_000)}\n".encode())
    buffer.seek(0)
    return buffer


def main():
    sales = pd.read_csv(ledger_csv(400_000), dtype={"region": "category"})
    north = int(sales.loc[sales["region"] == "north", "cents"].sum())
    labels = [f"{sale}:{cents}" for sale, cents in zip(sales["sale"], sales["cents"], strict=True)]
    print(f"{len(sales)} sales in {sales['region'].nunique()} regions, north {north / 100:,.2f}")
    print(f"{len(set(labels))} distinct labels")


if __name__ == "__main__":
    main()
