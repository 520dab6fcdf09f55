"""Strain gauge log, already lean: readings and their timestamps in array.array, statistics from
generator expressions. memslim should report no finding."""

import array
import random


def adc_samples(count, seed=23):
    """(timestamp in ms, raw 16-bit sample) as the acquisition card delivers them."""
    rng = random.Random(seed)
    level = 32_768
    timestamp = 1_704_067_200_000
    for _ in range(count):
        level += rng.getrandbits(7) - 64
        if level < 0:
            level = 0
        elif level > 65_535:
            level = 65_535
        timestamp += 1 + rng.getrandbits(1)
        yield timestamp, level


def acquire(count, gain=0.00381, offset=-124.9):
    timestamps = array.array("q")
    readings = array.array("d")
    for timestamp, sample in adc_samples(count):
        timestamps.append(timestamp)
        readings.append(sample * gain + offset)
    return timestamps, readings


def main():
    timestamps, readings = acquire(1_200_000)
    mean = sum(readings) / len(readings)
    spread = max(readings) - min(readings)
    over_limit = sum(1 for reading in readings if abs(reading - mean) > 10.0)
    seconds = (timestamps[-1] - timestamps[0]) / 1000
    print(
        f"{len(readings)} readings over {seconds:.1f} s, mean {mean:.4f}, "
        f"spread {spread:.4f}, {over_limit} beyond +-10 of the mean"
    )


if __name__ == "__main__":
    main()
