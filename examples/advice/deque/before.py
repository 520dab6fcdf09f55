"""Delivery planning: builds a city's street grid with closed roads, then finds how many hops
every intersection is from each depot (breadth-first search).

before.py: finding `deque` on the list used as a FIFO queue in hops_from (queue.pop(0) moves
every waiting item on each pop). after.py: collections.deque with popleft().
"""

import random


def street_grid(size, closed_fraction=0.2, seed=41):
    """Neighbour lists of a size x size grid of intersections with some streets closed."""
    rng = random.Random(seed)
    neighbours = [[] for _ in range(size * size)]
    for row in range(size):
        for column in range(size):
            here = row * size + column
            if column + 1 < size and rng.random() >= closed_fraction:
                neighbours[here].append(here + 1)
                neighbours[here + 1].append(here)
            if row + 1 < size and rng.random() >= closed_fraction:
                neighbours[here].append(here + size)
                neighbours[here + size].append(here)
    return neighbours


def hops_from(neighbours, start):
    hops = {start: 0}
    queue = [start]
    while queue:
        here = queue.pop(0)
        for there in neighbours[here]:
            if there not in hops:
                hops[there] = hops[here] + 1
                queue.append(there)
    return hops


def main():
    size = 250
    neighbours = street_grid(size)
    depots = [0, size * size // 2 + size // 2, size * size - 1]
    reach = [hops_from(neighbours, depot) for depot in depots]
    served = sum(1 for node in range(size * size) if any(node in hops for hops in reach))
    farthest = max(max(hops.values()) for hops in reach)
    print(
        f"{size * size} crossings, {served} reached from {len(depots)} depots, max {farthest} hops"
    )


if __name__ == "__main__":
    main()
