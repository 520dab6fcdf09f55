"""Route planner: builds a graph's edges as attrs classes (`@attr.s`) and keeps them all.

before.py: finding `slots` on the attrs class Edge, 300,000 live instances at the peak, each with
the values array of an instance dictionary. after.py: `@attr.s(slots=True)`, as memslim suggests.
"""

import random

import attr


@attr.s(slots=True)
class Edge:
    source = attr.ib()
    target = attr.ib()
    metres = attr.ib()
    minutes = attr.ib()


def build_edges(count, seed=3):
    rng = random.Random(seed)
    edges = []
    for source in range(count):
        metres = rng.randrange(50, 5_000)
        edges.append(Edge(source, rng.randrange(count), metres, metres // 60 + 1))
    return edges


def main():
    edges = build_edges(300_000)
    long_ones = sum(1 for e in edges if e.metres > 4_000)
    minutes = sum(e.minutes for e in edges)
    print(f"{len(edges)} edges, {long_ones} over 4 km, {minutes} minutes in all")


if __name__ == "__main__":
    main()
