"""Workload: deep recursion. A recursive function builds and walks chains of small tuples.

Each round builds a nested chain ``(n, (n - 1, (...)))`` of depth 5,000 recursively, walks it
recursively to sum it, and builds a binary tree of small tuples of depth 12 by double
recursion. The Python stack is thousands of frames deep for most of the run. The scale is
``BENCH_SCALE`` (default 1.0).
"""

import os
import sys

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = max(1, int(360 * SCALE))
DEPTH = 5_000


def chain(n):
    if n == 0:
        return ()
    return (n, chain(n - 1))


def total(node):
    if not node:
        return 0
    return node[0] + total(node[1])


def tree(depth, label):
    if depth == 0:
        return (label,)
    return (label, tree(depth - 1, label * 2), tree(depth - 1, label * 2 + 1))


def count(node):
    if len(node) == 1:
        return 1
    return 1 + count(node[1]) + count(node[2])


def main():
    sys.setrecursionlimit(DEPTH + 1_000)
    result = 0
    for r in range(ROUNDS):
        result += total(chain(DEPTH))
        result += count(tree(12, r))
    print(result)


if __name__ == "__main__":
    main()
