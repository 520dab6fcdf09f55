"""Sensor log: parses a day of readings into dataclass instances and keeps them all.

before.py: finding `slots` on the dataclass Reading, 300,000 live instances at the peak, each with
the values array of an instance dictionary. after.py: `@dataclass(slots=True)`.
"""

import random
from dataclasses import dataclass


@dataclass(slots=True)
class Reading:
    sensor: int
    minute: int
    celsius: float
    status: int


def load_readings(count, seed=5):
    rng = random.Random(seed)
    return [
        Reading(rng.randrange(400), minute % 1440, rng.uniform(-5.0, 35.0), rng.randrange(3))
        for minute in range(count)
    ]


def main():
    readings = load_readings(300_000)
    hot = sum(1 for r in readings if r.celsius > 30.0)
    alarms = sum(1 for r in readings if r.status == 2)
    mean = sum(r.celsius for r in readings) / len(readings)
    print(f"{len(readings)} readings, {hot} hot, {alarms} alarms, mean {mean:.3f} C")


if __name__ == "__main__":
    main()
