"""Strain gauge log: calibrates a day of raw ADC samples into readings, keeps them, reports stats.

before.py: finding `array` on the list comprehension in calibrate, a list of 1,500,000 floats
alive at the peak. after.py: array.array("d") built from the same values at that line.
"""

import array
import random


def adc_samples(count, seed=23):
    """Raw 16-bit samples as the acquisition card delivers them."""
    rng = random.Random(seed)
    level = 32_768
    for _ in range(count):
        level += rng.getrandbits(7) - 64
        if level < 0:
            level = 0
        elif level > 65_535:
            level = 65_535
        yield level


def calibrate(samples, gain=0.00381, offset=-124.9):
    readings = array.array("d", (sample * gain + offset for sample in samples))
    return readings


def report(readings, limit=10.0):
    mean = sum(readings) / len(readings)
    spread = max(readings) - min(readings)
    over_limit = sum(1 for reading in readings if abs(reading - mean) > limit)
    return mean, spread, over_limit


def main():
    readings = calibrate(adc_samples(1_500_000))
    mean, spread, over_limit = report(readings)
    print(
        f"{len(readings)} readings, mean {mean:.4f} microstrain, spread {spread:.4f} microstrain, "
        f"{over_limit} beyond +-10 of the mean"
    )


if __name__ == "__main__":
    main()
