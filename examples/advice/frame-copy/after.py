"""Weather readings: 600,000 rows of four float64 measurements in a pandas DataFrame, copied
before a derived column is added to the copy, and both frames kept for a comparison.

before.py: finding `frame-copy` at the `.copy()` line (the four measured columns exist twice,
with the same values). after.py: `.copy(deep=False)`, as memslim suggests: pandas 3 copies on
write, so the copy shares the measured columns and adding a column writes none of them.
"""

import numpy as np
import pandas as pd


def load_readings(rows, seed=7):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temperature": rng.normal(14.0, 8.0, rows),
            "pressure": rng.normal(1013.0, 9.0, rows),
            "humidity": rng.uniform(20.0, 100.0, rows),
            "wind": rng.gamma(2.0, 3.0, rows),
        }
    )


def main():
    readings = load_readings(600_000)
    calibrated = readings.copy(deep=False)
    calibrated["feels_like"] = calibrated["temperature"] - 0.7 * calibrated["wind"]
    ranks = calibrated.rank(pct=True)
    drift = float((ranks["feels_like"] - ranks["temperature"]).abs().max())
    shift = float((calibrated["feels_like"] - readings["temperature"]).mean())
    print(f"{len(readings)} readings, mean shift {shift:.3f}, largest rank drift {drift:.3f}")


if __name__ == "__main__":
    main()
