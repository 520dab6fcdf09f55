"""Stock counts: reads a CSV of 300,000 barcode counts into a pandas DataFrame, keeps it, and
lists what to restock.

before.py: finding `downcast` on the `count` column (int64 holding values under 250; the barcodes
need all 64 bits). after.py: `dtype={"count": "uint8"}` in read_csv, as memslim suggests.
"""

import io
import random

import pandas as pd


def counts_csv(rows, seed=23):
    rng = random.Random(seed)
    buffer = io.BytesIO()
    buffer.write(b"barcode,count\n")
    for _ in range(rows):
        buffer.write(f"{rng.randrange(2**62, 2**63)},{rng.randrange(250)}\n".encode())
    buffer.seek(0)
    return buffer


def main():
    stock = pd.read_csv(counts_csv(300_000), dtype={"count": "uint8"})
    pairs = zip(stock["barcode"], stock["count"], strict=True)
    restock = [f"{code}: {count} left" for code, count in pairs]
    total = int(stock["count"].sum())
    print(f"{len(stock)} shelves counted, {total} items, {len(restock)} lines to restock")


if __name__ == "__main__":
    main()
