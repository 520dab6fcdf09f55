"""Terrain survey: samples a height field into a point cloud, keeps it, reports its extent.

before.py: finding `tuple` on the line appending [x, y, z] in sample_terrain, 700,000 lists of
three that are never resized alive at the peak. after.py: tuples built at that line.
"""

import math
import random


def sample_terrain(width, depth, seed=5):
    rng = random.Random(seed)
    points = []
    for row in range(depth):
        y = row * 0.5
        for column in range(width):
            x = column * 0.5 + rng.random() * 0.1
            z = 40.0 * math.sin(x / 35.0) * math.cos(y / 50.0) + rng.random()
            points.append([x, y, z])
    return points


def summarise(points):
    lowest = min(point[2] for point in points)
    highest = max(point[2] for point in points)
    above_sea = sum(1 for point in points if point[2] > 0.0)
    return lowest, highest, above_sea


def main():
    points = sample_terrain(width=1_000, depth=700)
    lowest, highest, above_sea = summarise(points)
    print(
        f"{len(points)} points, height {lowest:.3f} to {highest:.3f} m, {above_sea} above sea level"
    )


if __name__ == "__main__":
    main()
