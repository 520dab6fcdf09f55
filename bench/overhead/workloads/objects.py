"""Workload: object creation. Many small class instances are created and dropped.

Instances of a plain class (three attributes, ``__init__`` in Python) and of a ``__slots__``
class are built in batches of 1,000 that are kept only until the next batch, so almost every
block is freed soon after it is allocated. The scale is ``BENCH_SCALE`` (default 1.0).
"""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(2_400 * SCALE))


class Point:
    def __init__(self, x, y, z):
        self.x = x
        self.y = y
        self.z = z


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


def main():
    total = 0
    for r in range(ROUNDS):
        batch = [Point(i, i + r, float(i)) for i in range(1_000)]
        pairs = [Slotted(p, p.x) for p in batch]
        total += sum(s.b for s in pairs) + len(batch)
    print(total)


if __name__ == "__main__":
    main()
