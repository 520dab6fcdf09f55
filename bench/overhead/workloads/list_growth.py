"""Workload: list growth. Large lists grow by append and are rebuilt by comprehensions.

Each round appends 500,000 ints (most above the small-int cache, so each is a new object) to a
list one by one, then derives two lists from it by comprehension, and keeps the last round's
lists alive into the next, so the peak holds several million objects. The scale is
``BENCH_SCALE`` (default 1.0).
"""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(10 * SCALE))
N = 500_000


def main():
    keep = []
    total = 0
    for r in range(ROUNDS):
        grown = []
        for i in range(N):
            grown.append(i * 3 + r)
        squares = [x * x for x in grown if x & 1]
        pairs = [[x, x + 1] for x in grown[::4]]
        total += len(grown) + len(squares) + len(pairs)
        keep = [grown, squares, pairs]
    print(total, len(keep))


if __name__ == "__main__":
    main()
