"""Bank statement check: keeps each CSV row as its fields, then totals and checks them.

before.py: finding `tuple` on the line appending line.split(",") in read_rows, 200,000 lists
from str.split, which reserves room for twelve items, alive at the peak. after.py: the same
fields as a tuple at that line.
"""

import random


def statement_text(count, seed=17):
    rng = random.Random(seed)
    start_ms = 1_704_067_200_000
    lines = []
    for number in range(count):
        timestamp = start_ms + number * 1_500 + rng.randrange(1_000)
        account = f"ACC{rng.randrange(10_000_000, 99_999_999)}"
        amount = rng.randrange(-250_000, 400_000)
        lines.append(f"TX{number:09d},{timestamp},{account},{amount}")
    return "\n".join(lines)


def read_rows(text):
    rows = []
    for line in text.splitlines():
        rows.append(tuple(line.split(",")))
    return rows


def main():
    rows = read_rows(statement_text(200_000))
    balance = sum(int(row[3]) for row in rows)
    largest = max(rows, key=lambda row: int(row[3]))
    ordered = all(int(a[1]) < int(b[1]) for a, b in zip(rows, rows[1:]))
    print(f"{len(rows)} rows, balance {balance / 100:,.2f}, largest {largest[0]}, ordered {ordered}")


if __name__ == "__main__":
    main()
